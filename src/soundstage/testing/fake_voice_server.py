"""A local stand-in for an OpenAI-compatible speech API that speaks its REAL wire protocol.

``POST /v1/audio/speech`` with JSON ``{"model", "input", "voice", "response_format", "speed"}``
answers the audio bytes (``audio/wav``, ``audio/mpeg`` or ``audio/aac``), or OpenAI's
``{"error": {"message", "type", "param", "code"}}`` with 400/401/404. The audio is real speech-like
sound synthesised deterministically from the text and the voice: each character is a 60 ms
two-formant vowel (formants from the character, pitch from the voice), so the same request always
answers the same samples and a different line or voice answers different ones. Tests script 429/5xx
answers (``script``) to exercise retries, exactly as with the image servers.
"""

from __future__ import annotations

import hashlib
import io
import wave
from typing import Any

import numpy as np

from soundstage.testing.fake_servers import Seen, _FakeServer

RATE = 24_000
CHAR_SECONDS = 0.06
MAX_INPUT_CHARS = 4096  # OpenAI's limit
FORMATS = {"wav": "audio/wav", "mp3": "audio/mpeg", "aac": "audio/aac"}


def speak(text: str, voice: str, speed: float = 1.0, rate: int = RATE) -> np.ndarray:
    """Deterministic two-formant 'speech' for a line in a voice: float32 mono."""
    pitch = 90.0 + int(hashlib.sha256(voice.encode()).hexdigest()[:4], 16) % 120  # 90-210 Hz
    n = max(1, int(round(CHAR_SECONDS / speed * rate)))
    t = np.arange(n) / rate
    env = np.sin(np.pi * np.arange(n) / n) ** 2
    noise = np.random.default_rng(int(hashlib.sha256(f"{voice}|{text}".encode()).hexdigest()[:8], 16))
    source = sum(np.sin(2 * np.pi * pitch * k * t) / k for k in range(1, 30) if pitch * k < rate / 2)
    out = []
    for ch in text:
        if ch.isspace():
            out.append(np.zeros(n, np.float32))
            continue
        code = ord(ch)
        f1, f2 = 300.0 + (code * 37) % 600, 900.0 + (code * 91) % 1800
        shaped = source * (0.6 * np.sin(2 * np.pi * f1 * t) + 0.4 * np.sin(2 * np.pi * f2 * t))
        # consonants are breath noise, vowels keep a little of it (aspiration), as in real speech
        breath = noise.standard_normal(n) * (0.5 if ch.lower() not in "aeiouy" else 0.12)
        out.append((0.25 * env * (shaped / 3.0 + breath)).astype(np.float32))
    return np.concatenate(out).astype(np.float32)


def encode(samples: np.ndarray, fmt: str, rate: int = RATE) -> bytes:
    if fmt == "wav":
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2").tobytes())
        return buf.getvalue()
    import av

    buf = io.BytesIO()
    codec = {"mp3": "libmp3lame", "aac": "aac"}[fmt]
    with av.open(buf, "w", format={"mp3": "mp3", "aac": "adts"}[fmt]) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        stream.bit_rate = 64000
        size = stream.codec_context.frame_size or 1152
        fmt_name = stream.codec_context.format.name
        for start in range(0, samples.size, size):
            chunk = samples[start:start + size].astype(np.float32)
            if fmt_name.startswith("s16"):
                data = np.clip(np.round(chunk * 32767), -32768, 32767).astype(np.int16)[None, :]
            elif fmt_name.startswith("s32"):
                data = np.clip(np.round(chunk.astype(np.float64) * 2147483647), -2**31, 2**31 - 1) \
                    .astype(np.int32)[None, :]
            else:
                data = chunk[None, :]
            frame = av.AudioFrame.from_ndarray(data, format=fmt_name, layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


class FakeOpenAISpeech(_FakeServer):
    """``POST /v1/audio/speech``; ``api_key`` set: requests need ``Authorization: Bearer <key>``."""

    def __init__(self, *, api_key: str | None = None, models: tuple[str, ...] = ("tts-studio",)) -> None:
        super().__init__()
        self.api_key = api_key
        self.models = models

    def _error(self, status: int, message: str, kind: str = "invalid_request_error",
               param: str | None = None) -> tuple[int, bytes, str]:
        return self._json(status, {"error": {"message": message, "type": kind, "param": param, "code": None}})

    def respond(self, seen: Seen) -> tuple[int, bytes, str]:
        if seen.method != "POST" or seen.path != "/v1/audio/speech":
            return self._error(404, f"Unknown request URL: {seen.method} {seen.path}")
        if self.api_key is not None and seen.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(401, "Incorrect API key provided", "invalid_api_key")
        body: Any = seen.json
        if not isinstance(body, dict):
            return self._error(400, "We could not parse the JSON body of your request.")
        for name in ("model", "input", "voice"):
            if not isinstance(body.get(name), str) or not body[name]:
                return self._error(400, f"Missing required parameter: '{name}'.", param=name)
        if body["model"] not in self.models:
            return self._error(404, f"The model '{body['model']}' does not exist", "invalid_request_error", "model")
        if len(body["input"]) > MAX_INPUT_CHARS:
            return self._error(400, f"'input' is longer than {MAX_INPUT_CHARS} characters", param="input")
        fmt = body.get("response_format", "mp3")
        if fmt not in FORMATS:
            return self._error(400, f"'{fmt}' is not one of {sorted(FORMATS)} - 'response_format'",
                               param="response_format")
        speed = body.get("speed", 1.0)
        if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0.25 <= speed <= 4.0:
            return self._error(400, "'speed' must be between 0.25 and 4.0", param="speed")
        return 200, encode(speak(body["input"], body["voice"], float(speed)), fmt), FORMATS[fmt]


def register_speech_model(ws, server: FakeOpenAISpeech, voices: dict[str, str], *,
                          model_id: str = "studio.tts") -> dict:
    """Register ``model_id`` in ``ws``'s model registry as the ``openai-speech`` voice backend on
    ``server`` (key from STUDIO_TTS_KEY, no retry back-off), licensed, keeping nothing, with
    ``voices`` (performer id -> the server's voice name). Returns the registry's record."""
    from soundstage.domain.safeguards import ModelCard
    from soundstage.services import models

    card = ModelCard(id=model_id, name="Studio TTS", licence="contract", training_data="licensed",
                     stores_inputs=False, trains_on_inputs=False, runs_in_production_env=True)
    return models.register_model(ws, card, actor="setup", backend="voice",
                             config={"engine": "openai-speech", "model": "tts-studio", "base_url": server.url + "/v1",
                                     "api_key_env": "STUDIO_TTS_KEY", "backoff_s": 0, "voices": dict(voices)})
