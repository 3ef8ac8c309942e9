"""The contract a voice engine meets, and what a voice job hands the guard.

A *voice engine* turns a line of text into speech in a performer's voice: a remote
OpenAI-compatible speech API, or a studio's own local weights. It never sees the ledger: the
guard resolves the performer's enrolled voice reference (under a consent that covers the job) and
the voice job backend (``soundstage.voice.job``) passes it on. Engines are listed in
``soundstage.voice.registry``; docs/decisions/DR018-voice-consent-and-jobs.md says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Protocol, runtime_checkable

import numpy as np

from soundstage.domain.params import Param
from soundstage.domain.safeguards import ModelCard
from soundstage.errors import BackendError

if TYPE_CHECKING:
    from soundstage.generate.protocol import OutputProvenance

__all__ = ["VoiceRequest", "Speech", "VoiceEngine", "GeneratedAudio", "MAX_LINE_CHARS", "MAX_LINE_SECONDS",
           "REFERENCE_KIND", "check_speech"]

#: the asset kind of an enrolled voice reference (``services.voice_service.enroll_voice``)
REFERENCE_KIND = "voice_reference"

#: a line is a line: bounded so neither a client nor a server can make a job run for hours
MAX_LINE_CHARS = 1000
MAX_LINE_SECONDS = 60.0


@dataclass(frozen=True)
class VoiceRequest:
    """One line to speak. ``performer`` is the id the job names; ``reference`` the enrolled voice
    reference the guard resolved for them (never a path a client chose)."""

    text: str
    performer: str
    reference: Path | None = None
    language: str = ""
    speed: float = 1.0
    seed: int = 0


@dataclass(frozen=True)
class Speech:
    """Mono or multichannel float32 samples, shape (n, channels), in [-1, 1]."""

    samples: np.ndarray
    sample_rate: int
    engine: str
    details: Mapping[str, Any] = field(default_factory=dict)


def check_speech(speech: Speech, *, engine: str) -> Speech:
    """Refuse what an engine returned when it is not bounded, finite speech."""
    s = np.asarray(speech.samples)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2 or s.shape[0] == 0 or not 1 <= s.shape[1] <= 8:
        raise BackendError(f"{engine} returned no usable audio (shape {tuple(np.shape(speech.samples))})")
    if not 8000 <= int(speech.sample_rate) <= 192000:
        raise BackendError(f"{engine} returned audio at {speech.sample_rate} Hz (8-192 kHz expected)")
    if s.shape[0] > MAX_LINE_SECONDS * speech.sample_rate:
        raise BackendError(f"{engine} returned {s.shape[0] / speech.sample_rate:.0f} s of audio; a line is at most "
                           f"{MAX_LINE_SECONDS:.0f} s")
    s = s.astype(np.float32)
    if not np.isfinite(s).all():
        raise BackendError(f"{engine} returned audio with NaN or infinite samples")
    return Speech(np.clip(s, -1.0, 1.0), int(speech.sample_rate), speech.engine, dict(speech.details))


@runtime_checkable
class VoiceEngine(Protocol):
    """A text-to-speech engine. Constructed as ``Engine(model_id=..., config={...})`` from the model
    record (server-owned); declares the per-job parameters it accepts in ``PARAMS``."""

    name: str
    PARAMS: tuple[Param, ...]

    def model_card(self) -> ModelCard: ...

    def synthesize(self, request: VoiceRequest, params: Mapping[str, Any]) -> Speech: ...


@dataclass
class GeneratedAudio:
    """A voice job's output: an audio file (WAV) or a clip whose audio track was altered.

    ``segments``: the (start, end) seconds that are synthetic or altered; the backend has embedded
    the audio watermark (payload = ``payload``, the reserved asset id) in each of them and the guard
    checks every one before it signs. Outside them the audio is the source's own."""

    path: Path
    name: str
    payload: int
    segments: tuple[tuple[float, float], ...]
    media_type: str = "audio/wav"
    parents: tuple[int, ...] = ()
    operation: str = "generated"  # generated (a new line) | genai_edit (a line replaced in a plate)
    details: dict = field(default_factory=dict)
    provenance: "OutputProvenance | None" = None
