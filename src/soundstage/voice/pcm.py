"""Audio bytes in and out through PyAV, bounded: what engines return and what voice jobs write.

(``soundstage.media.audio`` reads and writes the production's audio files; this module only decodes
an engine's answer in memory and writes the WAV of a synthetic line.)
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

from soundstage.errors import BackendError, ParseError
from soundstage.voice.protocol import MAX_LINE_SECONDS

__all__ = ["decode_bytes", "write_wav16", "read_wav16", "resample"]

_FORMATS = {"wav": "wav", "mp3": "mp3", "aac": "aac", "flac": "flac"}



def frame_samples(frame) -> np.ndarray:
    """One decoded PyAV audio frame as float32 samples, shape (n, channels), integers scaled to [-1, 1)."""
    block = frame.to_ndarray()
    block = block.T if frame.format.is_planar else block.reshape(-1, len(frame.layout.channels))
    if block.dtype == np.int16:
        return block.astype(np.float32) / 32768.0
    if block.dtype == np.int32:
        return block.astype(np.float32) / 2147483648.0
    return block.astype(np.float32)

def decode_bytes(data: bytes, fmt: str, *, service: str) -> tuple[np.ndarray, int]:
    """(float32 samples (n, ch), sample rate) of an encoded answer; anything that is not bounded
    audio of that format is a BackendError (the service misbehaved)."""
    import av

    if not data:
        raise BackendError(f"{service} returned an empty audio payload")
    try:
        with av.open(io.BytesIO(data), format=_FORMATS.get(fmt, fmt)) as container:
            if not container.streams.audio:
                raise BackendError(f"{service} returned {fmt} without an audio stream")
            stream = container.streams.audio[0]
            chunks, rate, total = [], None, 0
            for frame in container.decode(stream):
                rate = rate or frame.sample_rate
                block = frame_samples(frame)
                chunks.append(block)
                total += block.shape[0]
                if total > MAX_LINE_SECONDS * rate:
                    raise BackendError(f"{service} returned more than {MAX_LINE_SECONDS:.0f} s of audio for one line")
    except BackendError:
        raise
    except Exception as exc:  # noqa: BLE001 - PyAV raises many kinds for garbage
        raise BackendError(f"{service} returned something that is not {fmt} audio ({exc})".splitlines()[0]) \
            from None
    if not chunks or rate is None:
        raise BackendError(f"{service} returned {fmt} with no audio frames")
    return np.concatenate(chunks, axis=0), int(rate)


def write_wav16(path: Path, samples: np.ndarray, sample_rate: int) -> Path:
    """16-bit PCM WAV (the delivery format for a synthetic line)."""
    s = np.asarray(samples, np.float32)
    s = s[:, None] if s.ndim == 1 else s
    ints = np.clip(np.round(s * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(s.shape[1])
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(ints.tobytes())
    return Path(path)


def read_wav16(path: Path) -> tuple[np.ndarray, int]:
    """float32 samples (n, ch) of a 16-bit PCM WAV."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise BackendError(f"{Path(path).name}: only 16-bit PCM WAV is read here")
        ints = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, w.getnchannels())
        return ints.astype(np.float32) / 32768.0, w.getframerate()


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Band-limited resampling by FFT (whole-signal; lines are short)."""
    if rate == target:
        return samples.astype(np.float32)
    n = samples.shape[0]
    m = max(1, int(round(n * target / rate)))
    spec = np.fft.rfft(samples, axis=0)
    keep = min(spec.shape[0], m // 2 + 1)
    out_spec = np.zeros((m // 2 + 1, samples.shape[1]), dtype=spec.dtype)
    out_spec[:keep] = spec[:keep]
    return (np.fft.irfft(out_spec, n=m, axis=0) * (m / n)).astype(np.float32)


def read_track(path: Path, *, max_seconds: float = 600.0) -> tuple[np.ndarray, int]:
    """float32 samples (n, ch) and rate of the first audio track of any file PyAV reads (WAV, MOV,
    MP4, M4A, MP3), decoded in full - bounded by ``max_seconds``."""
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise ParseError(f"not readable audio ({exc})".splitlines()[0], source=Path(path).name) from None
    with container:
        if not container.streams.audio:
            raise ParseError("no audio track", source=Path(path).name)
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        chunks, total = [], 0
        for frame in container.decode(stream):
            block = frame_samples(frame)
            chunks.append(block)
            total += block.shape[0]
            if total > max_seconds * rate:
                raise ParseError(f"the audio lasts over {max_seconds:.0f} s", source=Path(path).name)
    if not chunks:
        raise ParseError("the audio track has no samples", source=Path(path).name)
    return np.concatenate(chunks, axis=0), int(rate)
