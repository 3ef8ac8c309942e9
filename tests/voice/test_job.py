"""The voice job backend on its own (the guard around it is tested in tests/services): which inputs
a voice job takes, and that what it returns is marked where it altered."""

from __future__ import annotations

import numpy as np
import pytest

from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.errors import InputError, RefusedError
from soundstage.generate.protocol import GenerationInput, GenerationRequest
from soundstage.safeguards.watermark.audio import default_audio_engine
from soundstage.safeguards.watermark.audio_samples import speech_like
from soundstage.testing.fake_voice_server import speak
from soundstage.testing.tiny_voice import build_tiny_voice
from soundstage.voice.job import REFERENCE_KIND, VoiceGenerator
from soundstage.voice.pcm import read_track, write_wav16
from soundstage.voice.replace import MIN_MARK_SECONDS

KEY = bytes(range(32))
LINE = "Where were you on the night of the fourth"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("voicejob")
    path, digest = build_tiny_voice(root / "w")
    ref = write_wav16(root / "ref.wav", speak("a reference recording of the voice", "maya-v2"), 24000)
    tone = (0.2 * np.sin(2 * np.pi * 330 * np.arange(4 * 48000) / 48000)).astype(np.float32)
    plate = write_wav16(root / "dialogue.wav", tone, 48000)
    gen = VoiceGenerator("studio.voice", {"engine": "local-tts", "path": str(path), "weights_sha256": digest})
    return gen, ref, plate, root


def request(setup, op, inputs, params, tmp_path, prompt=LINE, performers=("p-maya",)):
    gen, ref, plate, _ = setup
    spec = JobSpec(id="j-1", production_id="prod", operation=op, requested_by="ken", model_id="studio.voice",
                   prompt=prompt, performers=performers)
    return GenerationRequest(job=spec, inputs=tuple(inputs), params={"crossfade_ms": 20, "seed": 0, **params},
                             scratch_dir=tmp_path, reserved_asset_ids=(0x1234ABCD,), watermark_key=KEY)


def ref_input(setup):
    return GenerationInput(1, setup[1], "audio/wav", REFERENCE_KIND, "ref.wav")


def plate_input(setup):
    return GenerationInput(2, setup[2], "audio/wav", "plate", "dialogue.wav")


def test_synthetic_line_is_marked_whole(setup, tmp_path):
    out, = setup[0].generate(request(setup, OperationKind.VOICE_SYNTHETIC_LINE, [ref_input(setup)], {}, tmp_path))
    samples, rate = read_track(out.path)
    assert out.segments == ((0.0, pytest.approx(samples.shape[0] / rate)),) and out.payload == 0x1234ABCD
    found = default_audio_engine(KEY).detect(samples, rate)
    assert found.found and found.payload == 0x1234ABCD
    assert out.provenance.inputs == ((1, "reference"),) and out.parents == ()


def test_adr_in_a_wav_plate_marks_only_the_range(setup, tmp_path):
    out, = setup[0].generate(request(setup, OperationKind.VOICE_ADR, [plate_input(setup), ref_input(setup)],
                                     {"start": "0.5", "end": "3.5"}, tmp_path))
    before, rate = read_track(setup[2])
    after, _ = read_track(out.path)
    a, b = int(0.5 * rate), int(3.5 * rate)
    assert np.array_equal(before[:a], after[:a]) and np.array_equal(before[b:], after[b:])
    assert out.parents == (2,) and out.operation == "genai_edit" and out.segments == ((0.5, 3.5),)
    found = default_audio_engine(KEY).detect(after[a:b], rate)
    assert found.found and found.payload == 0x1234ABCD


def test_a_short_line_is_marked_and_reads_back(setup, tmp_path):
    """"No." from the local TTS lasts well under the mark's minimum: alone it gets a room-tone handle,
    in a plate the mark spreads into the plate around the range; both read back with the id."""
    out, = setup[0].generate(request(setup, OperationKind.VOICE_SYNTHETIC_LINE, [ref_input(setup)], {}, tmp_path,
                                     prompt="No."))
    samples, rate = read_track(out.path)
    assert samples.shape[0] / rate >= MIN_MARK_SECONDS - 1e-3
    found = default_audio_engine(KEY).detect(samples, rate)
    assert found.found and found.payload == 0x1234ABCD
    (tmp_path / "adr").mkdir()
    dialogue = write_wav16(tmp_path / "adr" / "scene.wav", speech_like(4.0, 48000, seed=5), 48000)  # production sound
    plate = GenerationInput(2, dialogue, "audio/wav", "plate", "scene.wav")
    out, = setup[0].generate(request(setup, OperationKind.VOICE_ADR, [plate, ref_input(setup)],
                                     {"start": "2.0", "end": "2.6"}, tmp_path / "adr", prompt="No."))
    (lo, hi), = out.segments
    after, rate = read_track(out.path)
    assert lo < 2.0 and hi > 2.6 and hi - lo == pytest.approx(MIN_MARK_SECONDS, abs=1e-3)
    found = default_audio_engine(KEY).detect(after[int(round(lo * rate)):int(round(hi * rate))], rate)
    assert found.found and found.payload == 0x1234ABCD


@pytest.mark.parametrize("op, inputs, params, prompt, error, message", [
    (OperationKind.VOICE_ADR, ["ref"], {"start": "0.5", "end": "3"}, LINE, InputError, "replaces a line in a plate"),
    (OperationKind.VOICE_DUB, ["ref"], {"start": "0.5", "end": "3"}, LINE, InputError, "the job has no plate"),
    (OperationKind.VOICE_DUB, ["plate", "ref"], {}, LINE, InputError, "needs params start and end"),
    (OperationKind.VOICE_SYNTHETIC_LINE, [], {}, LINE, RefusedError, "exactly one enrolled voice reference"),
    (OperationKind.VOICE_SYNTHETIC_LINE, ["ref"], {}, "   ", InputError, "is empty"),
    (OperationKind.VOICE_SYNTHETIC_LINE, ["ref"], {}, "x" * 1001, InputError, "longer than 1000"),
])
def test_inputs_a_voice_job_refuses(setup, tmp_path, op, inputs, params, prompt, error, message):
    made = {"ref": ref_input(setup), "plate": plate_input(setup)}
    with pytest.raises(error, match=message):
        setup[0].generate(request(setup, op, [made[i] for i in inputs], params, tmp_path, prompt=prompt))
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_one_voice_per_job(setup, tmp_path):
    with pytest.raises(InputError, match="exactly one performer"):
        setup[0].generate(request(setup, OperationKind.VOICE_SYNTHETIC_LINE, [ref_input(setup)], {}, tmp_path,
                                  performers=("p-maya", "p-noel")))


@pytest.mark.parametrize("media_type", ["audio/mpeg", "audio/mp4", "audio/flac"])
def test_a_line_is_not_replaced_in_a_lossy_or_flac_audio_plate(setup, tmp_path, media_type):
    """An MP3/M4A/FLAC plate (ingested as audio) is refused before anything is synthesised: its
    samples outside the range could not be kept byte for byte."""
    plate = GenerationInput(3, setup[2], media_type, "plate", "temp_music.mp3")
    with pytest.raises(InputError, match=f"is {media_type}; a line is replaced in a 16-bit PCM WAV"):
        setup[0].generate(request(setup, OperationKind.VOICE_ADR, [plate, ref_input(setup)],
                                  {"start": "0.5", "end": "3"}, tmp_path))
    assert list(tmp_path.iterdir()) == []
