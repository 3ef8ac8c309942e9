"""The voice job backend (backend ``voice`` in the generator registry): one code path for every
voice operation, whichever engine speaks.

A job's ``prompt`` is the line. Its inputs are the performer's enrolled voice reference (an asset of
kind ``voice_reference``, enrolled only under a consent that covers voice; the guard checks it is
the named performer's) and, for a line replaced in a plate, the plate (a WAV or a clip). Its
parameters are declared per operation (``OPERATIONS``), so nothing server-side can be smuggled in:
the engine and its settings (URL, voices, weights) are the model record's.

What it returns: a ``GeneratedAudio`` whose altered segment carries the audio watermark
(payload = the reserved asset id); the guard checks the mark in every segment, then signs.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from soundstage.domain.params import SEED, Param
from soundstage.domain.safeguards import ModelCard, OperationKind
from soundstage.errors import InputError, RefusedError
from soundstage.generate.protocol import GenerationInput, GenerationRequest, InputUse, OutputProvenance
from soundstage.safeguards.watermark.audio import default_audio_engine
from soundstage.vfx.media import probe
from soundstage.voice.pcm import write_wav16
from soundstage.voice.protocol import MAX_LINE_CHARS, REFERENCE_KIND, GeneratedAudio, VoiceRequest
from soundstage.voice.registry import get_engine
from soundstage.voice.replace import LineRange, parse_time, replace_in_clip, replace_in_wav, with_handle

__all__ = ["VoiceGenerator", "REFERENCE_KIND", "mark_segment"]

_RANGE = (
    Param("start", "str", "Start of the line to replace: seconds, HH:MM:SS.s, or the plate's timecode HH:MM:SS:FF.",
          None, max_length=20),
    Param("end", "str", "End of the line to replace (same forms as start).", None, max_length=20),
    Param("crossfade_ms", "int", "Crossfade at each edge of the range, in milliseconds.", 20, 0, 500),
)
_WAV_TYPES = ("audio/wav", "audio/x-wav", "audio/wave")
_LANGUAGE = Param("language", "str", "Language of the dubbed line (BCP 47, e.g. fr-FR).", None, max_length=35)


def mark_segment(samples: np.ndarray, rate: int, payload: int, key: bytes | None) -> np.ndarray:
    """Embed the audio watermark (payload = the output's asset id) in one altered segment."""
    return np.asarray(default_audio_engine(key).embed(np.asarray(samples, np.float32), rate, payload), np.float32)


class VoiceGenerator:
    """Backend "voice": ADR, dubbing and synthetic lines through one registered voice engine."""

    def __init__(self, model_id: str, config: Mapping[str, Any] | None = None) -> None:
        self.model_id = model_id
        self.config = dict(config or {})
        self.engine = get_engine(model_id, self.config)

    def operations(self) -> Mapping[str, tuple[Param, ...]]:
        spoken = tuple(self.engine.PARAMS)
        return {
            OperationKind.VOICE_ADR.value: (*spoken, *_RANGE, SEED),
            OperationKind.VOICE_DUB.value: (*spoken, _LANGUAGE, *_RANGE, SEED),
            OperationKind.VOICE_SYNTHETIC_LINE.value: (*spoken, SEED),
        }

    def model_card(self) -> ModelCard:
        return self.engine.model_card()

    def generate(self, request: GenerationRequest) -> list[GeneratedAudio]:
        job = request.job
        text = (job.prompt or "").strip()
        if not text:
            raise InputError("a voice job's prompt is the line to speak; it is empty", hint="--line TEXT")
        if len(text) > MAX_LINE_CHARS:
            raise InputError(f"the line is longer than {MAX_LINE_CHARS} characters; split it")
        if len(job.performers) != 1:
            raise InputError("a voice job speaks in exactly one performer's voice; name one performer")
        performer = job.performers[0]
        references = [i for i in request.inputs if i.kind == REFERENCE_KIND]
        plates = [i for i in request.inputs if i.kind != REFERENCE_KIND]
        if len(references) != 1:
            raise RefusedError(f"a voice job needs exactly one enrolled voice reference of {performer}")
        if len(plates) > 1:
            raise InputError("a voice job replaces a line in at most one plate")
        params = dict(request.params)
        wants_range = params.get("start") is not None or params.get("end") is not None
        if job.operation == OperationKind.VOICE_ADR and not plates:
            raise InputError("ADR replaces a line in a plate: give the plate and --start/--end")
        if plates and not wants_range:
            raise InputError("replacing a line in a plate needs params start and end")
        if wants_range and not plates:
            raise InputError("params start/end name a range in a plate; the job has no plate")
        for lossy in (p for p in plates if p.media_type.startswith("audio/") and p.media_type not in _WAV_TYPES):
            raise InputError(f"{lossy.name} is {lossy.media_type}; a line is replaced in a 16-bit PCM WAV plate or a "
                             "clip's audio track", hint="add the production track as a WAV: soundstage asset add")
        speech = self.engine.synthesize(VoiceRequest(text=text, performer=performer, reference=references[0].path,
                                                     language=str(params.get("language") or ""),
                                                     speed=float(params.get("speed") or 1.0),
                                                     seed=request.seed), params)
        if request.progress:
            request.progress(1, 2)
        payload = request.reserved_asset_ids[0]
        key = request.watermark_key
        scratch = Path(request.scratch_dir or ".")
        provenance = OutputProvenance(inputs=((references[0].asset_id, InputUse.REFERENCE),))
        details = {"voice": {"performer": performer, "engine": self.engine.name, "line_chars": len(text),
                             "language": params.get("language") or None, "operation": job.operation.value}}
        if not plates:
            out = scratch / f"{_stem(job)}.wav"
            samples = mark_segment(with_handle(speech.samples, speech.sample_rate, payload), speech.sample_rate,
                                   payload, key)
            write_wav16(out, samples, speech.sample_rate)
            seconds = samples.shape[0] / speech.sample_rate
            if request.progress:
                request.progress(2, 2)
            return [GeneratedAudio(out, out.name, payload, ((0.0, seconds),), "audio/wav", (), "generated",
                                   {**details, "asset_kind": "audio"}, provenance)]
        plate = plates[0]
        rng = self._range(plate, params)
        crossfade = int(params.get("crossfade_ms") or 0) / 1000.0

        def mark(segment: np.ndarray, rate: int) -> np.ndarray:
            return mark_segment(segment, rate, payload, key)

        if plate.media_type in _WAV_TYPES:
            replaced = replace_in_wav(plate.path, scratch / f"{_stem(job)}.wav", rng, speech.samples,
                                      speech.sample_rate, crossfade=crossfade, mark=mark)
            kind = "audio"
        else:
            replaced = replace_in_clip(plate.path, scratch, f"{_stem(job)}{Path(plate.name).suffix or '.mov'}", rng,
                                       speech.samples, speech.sample_rate, crossfade=crossfade, mark=mark)
            kind = "video"
        if request.progress:
            request.progress(2, 2)
        details["voice"].update({"range": [round(rng.start, 6), round(rng.end, 6)], "audio_codec": replaced.audio_codec,
                                 "plate": plate.name})
        return [GeneratedAudio(replaced.path, replaced.path.name, payload, (replaced.segment,), replaced.media_type,
                               (plate.asset_id,), "genai_edit", {**details, "asset_kind": kind}, provenance)]

    def _range(self, plate: GenerationInput, params: Mapping[str, Any]) -> LineRange:
        fps, timecode = None, None
        if not plate.media_type.startswith("audio/"):
            info = probe(plate.path)
            fps, timecode = Fraction(info.fps), info.timecode
        return LineRange(parse_time(params["start"], fps=fps, start_timecode=timecode, field="params.start"),
                         parse_time(params["end"], fps=fps, start_timecode=timecode, field="params.end"))


def _stem(job) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in (job.id or "voice"))[:60]
    return f"{safe}-{job.operation.value.replace('.', '-')}"
