"""Line replacement: a timecoded range of a plate's audio replaced by a generated line.

The new clip's picture is the source's own packets, remuxed (never decoded or re-encoded), so every
video packet is byte-identical. The audio outside the range is the source's own:

* a WAV plate (16-bit PCM): only the bytes of the range change; every other byte of the file is the
  source's;
* a clip whose audio is PCM (``pcm_s16le``/``pcm_s24le``... in MOV): the track is rebuilt with the
  same codec, so every sample outside the range is bit-identical;
* a clip whose audio is AAC (or another lossy codec): an AAC frame is 1024 samples decoded with its
  neighbour (MDCT overlap), and re-encoding is a new generation of loss, so "identical" can only
  mean *what the source's decoder produced* is preserved before encoding; the track is written as
  float PCM (``pcm_f32le``, MOV) so the samples outside the range are the source decoder's output exactly
  (32-bit float PCM) - the strongest property a lossy source allows. MP4 cannot hold PCM portably, so an
  MP4 plate with AAC audio becomes a MOV.

Inside the range, the original is crossfaded out and the line in over ``crossfade`` seconds at each
edge; the line is level-matched to the RMS of the audio it replaces; the rest of the range after
the line is the line's own silence. The audio mark is embedded in the range (the altered segment)
only, by the ``mark`` callable the caller gives (the guard checks it is there). A range shorter than
the mark needs (``MIN_MARK_SECONDS``) is marked in a window widened evenly into the plate's own audio
around it, and that window is the altered segment: its samples differ from the plate's (by the mark
outside the range). A line with no plate shorter than that gets a room-tone handle (``with_handle``).
"""

from __future__ import annotations

import math
import re
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np

from soundstage.errors import InputError, ParseError
from soundstage.safeguards.watermark.audio import MIN_DETECT_SECONDS
from soundstage.voice.pcm import frame_samples, resample

__all__ = ["LineRange", "parse_time", "splice", "replace_in_wav", "replace_in_clip", "Replaced",
           "MAX_PLATE_SECONDS", "MIN_MARK_SECONDS", "marked_window", "with_handle"]

#: the longest plate whose audio a line replacement decodes (memory: 10 min of 48 kHz stereo float)
MAX_PLATE_SECONDS = 600.0
_TIMECODE = re.compile(r"(\d{1,2}):(\d{2}):(\d{2})[:;](\d{2})")
_CLOCK = re.compile(r"(?:(\d{1,2}):)?(\d{1,2}):(\d{2}(?:\.\d+)?)")

#: the shortest audio the mark is embedded in: the detector's minimum with a margin (a short "No."
#: is marked with the plate's audio around it, or a room-tone handle after it)
MIN_MARK_SECONDS = MIN_DETECT_SECONDS + 0.15
#: the level of a standalone line's room-tone handle (pink noise), under anything a mix keeps
HANDLE_DBFS = -60.0

Marker = Callable[[np.ndarray, int], np.ndarray]


@dataclass(frozen=True)
class LineRange:
    """Seconds from the start of the plate's audio."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Replaced:
    path: Path
    media_type: str
    segment: tuple[float, float]
    audio_codec: str
    sample_rate: int


def parse_time(value: str | float | int, *, fps: Fraction | None = None, start_timecode: str | None = None,
               field: str = "params.start") -> float:
    """Seconds from the plate's start, from ``12.5`` (seconds), ``00:01:02.5`` (clock) or a SMPTE
    timecode ``HH:MM:SS:FF`` read against the plate's own start timecode and frame rate."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip()
        tc = _TIMECODE.fullmatch(text)
        clock = _CLOCK.fullmatch(text)
        if tc:
            if fps is None:
                raise InputError(f"{field}: a timecode needs the plate's frame rate; give seconds instead")
            rate = round(float(fps))
            frames = lambda m: ((int(m[1]) * 60 + int(m[2])) * 60 + int(m[3])) * rate + int(m[4])  # noqa: E731
            origin = _TIMECODE.fullmatch(start_timecode or "00:00:00:00")
            if origin is None:
                raise InputError(f"{field}: the plate's start timecode {start_timecode!r} is not HH:MM:SS:FF")
            seconds = (frames(tc) - frames(origin)) / float(fps)
        elif clock:
            seconds = (int(clock[1] or 0) * 60 + int(clock[2])) * 60 + float(clock[3])
        else:
            try:
                seconds = float(text)
            except ValueError:
                raise InputError(f"{field}: {text[:40]!r} is not seconds, HH:MM:SS.s or a timecode HH:MM:SS:FF") \
                    from None
    if not np.isfinite(seconds) or seconds < 0:
        raise InputError(f"{field}: {value!r} is before the plate starts")
    return seconds


def check_range(rng: LineRange, duration: float, line_seconds: float, crossfade: float) -> None:
    if rng.end <= rng.start:
        raise InputError(f"the range ends ({rng.end:.3f} s) before it starts ({rng.start:.3f} s)")
    if rng.end > duration + 1e-6:
        raise InputError(f"the range ends at {rng.end:.3f} s; the plate's audio lasts {duration:.3f} s")
    if rng.duration < 2 * crossfade:
        raise InputError(f"the range ({rng.duration:.3f} s) is shorter than its two crossfades")
    if line_seconds > rng.duration + 1e-6:
        raise InputError(f"the generated line lasts {line_seconds:.2f} s, longer than the {rng.duration:.2f} s "
                         "range it replaces", hint="widen the range or raise params.speed")


def marked_window(a: int, b: int, total: int, rate: int) -> tuple[int, int]:
    """The samples ``[lo, hi)`` the mark goes into for the range ``[a, b)`` of a plate of ``total``
    samples: the range itself, or, when shorter than MIN_MARK_SECONDS, the range widened evenly into
    the plate around it (shifted where it meets an end). InputError if the plate itself is shorter."""
    need = int(math.ceil(MIN_MARK_SECONDS * rate))
    if b - a >= need:
        return a, b
    if total < need:
        raise InputError(f"the plate's audio lasts {total / rate:.2f} s; the audio mark needs {MIN_MARK_SECONDS:.2f} s "
                         "of it around the line", hint="replace the line in a longer plate")
    lo = max(0, a - (need - (b - a)) // 2)
    hi = min(total, lo + need)
    return hi - need, hi


def with_handle(line: np.ndarray, rate: int, seed: int) -> np.ndarray:
    """A line with no plate, as long as the mark needs: shorter ones get a tail of room tone (pink
    noise at HANDLE_DBFS, seeded, faded in over 10 ms) after the speech, as ADR is delivered with handles."""
    line = np.asarray(line, np.float32)
    need = int(math.ceil(MIN_MARK_SECONDS * rate))
    if line.shape[0] >= need:
        return line
    n = need - line.shape[0]
    rng = np.random.default_rng(seed & 0xFFFFFFFFFFFFFFFF)
    white = np.fft.rfft(rng.standard_normal(max(n, 2)))
    pink = np.fft.irfft(white / np.sqrt(np.maximum(np.arange(white.shape[0]), 1.0)), n=max(n, 2))[:n]
    pink *= 10 ** (HANDLE_DBFS / 20) / (float(np.sqrt(np.mean(pink ** 2))) + 1e-12)
    fade = min(n, int(0.01 * rate))
    pink[:fade] *= np.linspace(0.0, 1.0, fade, endpoint=False)
    tail = np.repeat(pink.astype(np.float32)[:, None], line.shape[1], axis=1) if line.ndim == 2 else pink.astype(np.float32)
    return np.concatenate([line, tail], axis=0)


def splice(original: np.ndarray, line: np.ndarray, crossfade_n: int) -> np.ndarray:
    """The new content of a range: ``original`` (n, ch) crossfaded out and ``line`` (m <= n, ch) in,
    level-matched to the original's RMS, then back to the original's edge at the end."""
    n, ch = original.shape
    line = np.asarray(line, np.float32)
    if line.shape[1] != ch:
        line = np.repeat(line.mean(axis=1, keepdims=True), ch, axis=1)
    body = np.zeros((n, ch), np.float32)
    body[:line.shape[0]] = line[:n]
    target = float(np.sqrt(np.mean(original.astype(np.float64) ** 2)))
    level = float(np.sqrt(np.mean(line.astype(np.float64) ** 2))) if line.size else 0.0
    if level > 1e-9 and target > 1e-9:
        body *= target / level
    w = np.ones(n, np.float32)
    if crossfade_n > 0:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, crossfade_n, dtype=np.float32))  # equal-gain
        w[:crossfade_n] = ramp
        w[n - crossfade_n:] = ramp[::-1]
    out = original.astype(np.float32) * (1.0 - w[:, None]) + body * w[:, None]
    return np.clip(out, -1.0, 1.0)


def _line_at(line: np.ndarray, line_rate: int, rate: int) -> np.ndarray:
    line = np.asarray(line, np.float32)
    return resample(line[:, None] if line.ndim == 1 else line, line_rate, rate)


def replace_in_wav(src: Path, dst: Path, rng: LineRange, line: np.ndarray, line_rate: int, *,
                   crossfade: float, mark: Marker) -> Replaced:
    """A 16-bit PCM WAV with one range replaced; every byte outside the range is the source's."""
    try:
        with wave.open(str(src), "rb") as w:
            params = w.getparams()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ParseError(f"not a PCM WAV ({exc})", source=Path(src).name) from None
    if params.sampwidth != 2:
        raise InputError(f"{Path(src).name}: {8 * params.sampwidth}-bit WAV; line replacement reads 16-bit PCM")
    rate, ch = params.framerate, params.nchannels
    total = len(raw) // (2 * ch)
    if total > MAX_PLATE_SECONDS * rate:
        raise InputError(f"{Path(src).name} lasts over {MAX_PLATE_SECONDS:.0f} s; cut the reel before replacing a line")
    line = _line_at(line, line_rate, rate)
    check_range(rng, total / rate, line.shape[0] / rate, crossfade)
    a, b = int(round(rng.start * rate)), int(round(rng.end * rate))
    lo, hi = marked_window(a, b, total, rate)
    ints = np.frombuffer(raw, "<i2").reshape(-1, ch)
    window = ints[lo:hi].astype(np.float32) / 32768.0
    window[a - lo:b - lo] = splice(window[a - lo:b - lo], line, int(round(crossfade * rate)))
    altered = mark(window, rate)
    new = np.clip(np.round(np.asarray(altered, np.float32) * 32768.0), -32768, 32767).astype("<i2")
    data = raw[:lo * 2 * ch] + new.tobytes() + raw[hi * 2 * ch:]
    src_bytes = Path(src).read_bytes()
    offset = src_bytes.find(raw[: min(len(raw), 4096)]) if raw else -1
    if offset > 0 and src_bytes[offset:offset + len(raw)] == raw:
        # the source's own header and trailing chunks, byte for byte; only the range's samples change
        Path(dst).write_bytes(src_bytes[:offset] + data + src_bytes[offset + len(raw):])
    else:  # pragma: no cover - a WAV whose data chunk is not found verbatim: write a fresh header
        with wave.open(str(dst), "wb") as w:
            w.setparams(params)
            w.writeframes(data)
    return Replaced(Path(dst), "audio/wav", (lo / rate, hi / rate), "pcm_s16le", rate)


def _decode_audio(container, stream) -> np.ndarray:
    chunks = []
    for frame in container.decode(stream):
        chunks.append(frame_samples(frame))
    return np.concatenate(chunks, axis=0) if chunks else np.zeros((0, stream.codec_context.channels), np.float32)


def replace_in_clip(src: Path, dst_dir: Path, name: str, rng: LineRange, line: np.ndarray, line_rate: int, *,
                    crossfade: float, mark: Marker) -> Replaced:
    """A clip (MOV/MP4) with one range of its first audio track replaced: video packets remuxed
    byte for byte, the audio track rebuilt (see the module docstring for what stays identical)."""
    import av

    try:
        source = av.open(str(src))
    except (av.error.FFmpegError, OSError) as exc:
        raise ParseError(f"not a readable clip ({exc})".splitlines()[0], source=Path(src).name) from None
    with source:
        if not source.streams.audio:
            raise InputError(f"{Path(src).name} has no audio track to replace a line in")
        if source.duration and source.duration / 1e6 > MAX_PLATE_SECONDS:
            raise InputError(f"{Path(src).name} lasts over {MAX_PLATE_SECONDS:.0f} s; cut the reel first")
        a_in = source.streams.audio[0]
        codec = a_in.codec_context.name
        rate = a_in.codec_context.sample_rate
        layout = a_in.codec_context.layout.name
        samples = _decode_audio(source, a_in)
    total = samples.shape[0]
    line = _line_at(line, line_rate, rate)
    check_range(rng, total / rate, line.shape[0] / rate, crossfade)
    a, b = int(round(rng.start * rate)), int(round(rng.end * rate))
    lo, hi = marked_window(a, b, total, rate)
    samples = samples.copy()
    samples[a:b] = splice(samples[a:b], line, int(round(crossfade * rate)))
    samples[lo:hi] = np.asarray(mark(samples[lo:hi], rate), np.float32)
    out_codec = codec if codec.startswith("pcm_") else "pcm_f32le"
    suffix = Path(src).suffix.lower() if codec.startswith("pcm_") else ".mov"
    dst = Path(dst_dir) / (Path(name).stem + suffix)
    _remux(Path(src), dst, samples, rate, layout, out_codec)
    return Replaced(dst, "video/quicktime" if suffix == ".mov" else "video/mp4", (lo / rate, hi / rate), out_codec,
                    rate)


def _remux(src: Path, dst: Path, samples: np.ndarray, rate: int, layout: str, codec: str) -> None:
    import av

    with av.open(str(src)) as source, av.open(str(dst), "w") as out:
        v_in = source.streams.video[0] if source.streams.video else None
        v_out = out.add_stream_from_template(v_in) if v_in is not None else None
        if v_out is not None:
            for key, value in v_in.metadata.items():
                v_out.metadata[key] = value
        a_out = out.add_stream(codec, rate=rate, layout=layout)
        fmt = a_out.codec_context.format.name  # the encoder's sample format (s16, s32...)
        packets = []
        block = 1024
        for start in range(0, samples.shape[0], block):
            chunk = samples[start:start + block]
            if fmt.startswith("s16"):
                data = np.clip(np.round(chunk * 32768.0), -32768, 32767).astype(np.int16)
            elif fmt.startswith("s32"):
                data = np.clip(np.round(chunk.astype(np.float64) * 2147483648.0), -2147483648, 2147483647) \
                    .astype(np.int32)
            else:
                data = chunk.astype(np.float32)
            planar = fmt.endswith("p")
            frame = av.AudioFrame.from_ndarray(data.T.copy() if planar else data.reshape(1, -1), format=fmt,
                                               layout=layout)
            frame.sample_rate = rate
            frame.pts = start
            packets.extend(a_out.encode(frame))
        packets.extend(a_out.encode())
        if v_in is not None:
            for packet in source.demux(v_in):
                if packet.size == 0 and packet.pts is None:
                    continue
                packet.stream = v_out
                out.mux(packet)
        for packet in packets:
            out.mux(packet)
