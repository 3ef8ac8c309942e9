"""Audio in and out (WAV, MP3, M4A/AAC) through PyAV, with one-line errors and bounded inputs.

Samples are float32 in [-1, 1] shaped (n_samples, n_channels) everywhere. The container and codec
are chosen by the file's extension: ``.wav`` PCM (16-bit, or 24-bit with ``bit_depth=24``),
``.mp3`` LAME, ``.m4a`` AAC in an MP4 (iTunes "M4A " brand), ``.aac`` AAC in ADTS. Lossy codecs
use ``bitrate`` (128 kb/s by default). Writes go to a temporary file that replaces the target
only when complete, so a failed encode never leaves half a file.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from soundstage.errors import InputError, NotFoundError, ParseError, UnsafeInputError
from soundstage.files import atomic_path
from soundstage.media.packets import last_packet_end

__all__ = ["read_audio", "write_audio", "decode_audio", "encode_audio", "AudioFormat", "FORMATS",
           "MAX_AUDIO_BYTES", "MAX_SECONDS", "MAX_CHANNELS", "AUDIO_SUFFIXES", "audio_duration", "read_audio_spans"]

MAX_AUDIO_BYTES = 2 * 1024 * 1024 * 1024
MAX_SECONDS = 30 * 60.0          # a reel's worth: 30 min of 48 kHz stereo is 0.7 GB of float32
MAX_CHANNELS = 8                 # 7.1
RATE_RANGE = (8_000, 192_000)
BITRATE_RANGE = (32_000, 512_000)


@dataclass(frozen=True)
class AudioFormat:
    suffix: str
    container: str      # FFmpeg muxer
    codec: str          # FFmpeg encoder
    lossy: bool
    rates: tuple[int, ...] | None = None  # None: any rate in RATE_RANGE


FORMATS: dict[str, AudioFormat] = {
    ".wav": AudioFormat(".wav", "wav", "pcm_s16le", lossy=False),
    ".mp3": AudioFormat(".mp3", "mp3", "libmp3lame", lossy=True,
                        rates=(8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)),
    ".m4a": AudioFormat(".m4a", "ipod", "aac", lossy=True,
                        rates=(8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)),
    ".aac": AudioFormat(".aac", "adts", "aac", lossy=True,
                        rates=(8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)),
}
AUDIO_SUFFIXES = frozenset(FORMATS)


def _checked_size(path: Path) -> int:
    """The file's size in bytes: a missing file and one over MAX_AUDIO_BYTES refused in one line."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise NotFoundError(f"audio not found: {path.name}") from None
    if size > MAX_AUDIO_BYTES:
        raise UnsafeInputError(f"{path.name}: {size} bytes is over the {MAX_AUDIO_BYTES}-byte audio limit")
    return size


def read_audio(path: Path, *, max_seconds: float = MAX_SECONDS, head_only: bool = False) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of a file: (float32 samples (n, channels), sample rate).

    Longer than `max_seconds` is refused, or, with ``head_only``, cut to its first `max_seconds`
    (what a watermark detector needs from a long file)."""
    path = Path(path)
    if _checked_size(path) == 0:
        raise ParseError("the file is empty", source=path.name)
    with open(path, "rb") as handle:
        return _decode(handle, path.name, max_seconds, head_only)


def decode_audio(data: bytes, *, name: str = "audio", max_seconds: float = MAX_SECONDS) -> tuple[np.ndarray, int]:
    """`read_audio` for bytes in memory."""
    if len(data) > MAX_AUDIO_BYTES:
        raise UnsafeInputError(f"{name}: {len(data)} bytes is over the {MAX_AUDIO_BYTES}-byte audio limit")
    if not data:
        raise ParseError("the file is empty", source=name)
    return _decode(io.BytesIO(data), name, max_seconds, False)


@contextmanager
def _first_stream(source, name: str) -> Iterator[tuple[Any, Any]]:
    """An open container (a path or a file object) and its first audio stream; a missing file, one
    no decoder reads and one without sound refused in one line."""
    import av

    try:
        container = av.open(source, mode="r")
    except FileNotFoundError:
        raise NotFoundError(f"audio not found: {name}") from None
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise ParseError(f"not a readable audio file ({_reason(exc)})", source=name) from None
    with container:
        if not container.streams.audio:
            raise ParseError("no audio stream", source=name)
        yield container, container.streams.audio[0]


def _rate_and_channels(audio, name: str) -> tuple[int, int]:
    """A stream's sample rate and channel count, each within what is read (RATE_RANGE, MAX_CHANNELS)."""
    rate = int(audio.rate or audio.codec_context.sample_rate or 0)
    channels = int(audio.codec_context.channels or 0)
    if not RATE_RANGE[0] <= rate <= RATE_RANGE[1]:
        raise ParseError(f"sample rate {rate} Hz is outside {RATE_RANGE[0]}-{RATE_RANGE[1]} Hz", source=name)
    if not 1 <= channels <= MAX_CHANNELS:
        raise UnsafeInputError(f"{name}: {channels} channels (at most {MAX_CHANNELS} are read)")
    return rate, channels


def _decode(stream, name: str, max_seconds: float, head_only: bool) -> tuple[np.ndarray, int]:
    import av

    with _first_stream(stream, name) as (container, audio):
        rate, channels = _rate_and_channels(audio, name)
        if not head_only and audio.duration is not None and audio.time_base is not None \
                and float(audio.duration * audio.time_base) > max_seconds + 1:
            raise UnsafeInputError(f"{name}: {float(audio.duration * audio.time_base):.0f} s of audio is over the "
                                   f"{max_seconds:.0f} s limit", hint="cut the file, or raise max_seconds")
        limit = int(max_seconds * rate)
        resampler = av.AudioResampler(format="fltp", rate=rate)
        chunks: list[np.ndarray] = []
        total = 0
        try:
            for frame in container.decode(audio):
                for out in resampler.resample(frame):
                    block = out.to_ndarray()
                    if block.shape[0] != channels:  # a stream whose layout changes midway
                        raise ParseError(f"the channel count changes from {channels} to {block.shape[0]}",
                                         source=name)
                    chunks.append(block)
                    total += block.shape[1]
                if total > limit and head_only:
                    break
                if total > limit:
                    raise UnsafeInputError(f"{name}: more than {max_seconds:.0f} s of audio",
                                           hint="cut the file, or raise max_seconds")
        except (av.error.FFmpegError, ValueError) as exc:
            if total == 0:
                raise ParseError(f"audio cannot be decoded ({_reason(exc)})", source=name) from None
            # a truncated tail: what decoded before it is kept
    if total == 0:
        raise ParseError("the file has no audio samples", source=name)
    samples = np.concatenate(chunks, axis=1).T[:limit]
    return np.ascontiguousarray(np.clip(samples, -1.0, 1.0), dtype=np.float32), rate


def _reason(exc: Exception) -> str:
    """FFmpeg's own words, without the file's path (a message names a file, never its folders)."""
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).splitlines()[0] if str(text).strip() else type(exc).__name__


def write_audio(path: Path, samples: np.ndarray, sample_rate: int, *, bitrate: int = 128_000,
                bit_depth: int = 16) -> Path:
    """Encode by the extension (.wav, .mp3, .m4a, .aac); the file appears only once complete."""
    path = Path(path)
    fmt = _format_for(path.name)
    data = encode_audio(samples, sample_rate, fmt.suffix, bitrate=bitrate, bit_depth=bit_depth)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)
    return path


def encode_audio(samples: np.ndarray, sample_rate: int, suffix: str, *, bitrate: int = 128_000,
                 bit_depth: int = 16) -> bytes:
    """The bytes of `samples` encoded as a `suffix` file (".wav", ".mp3", ".m4a", ".aac")."""
    import av

    fmt = _format_for(suffix if suffix.startswith(".") else "." + suffix)
    samples, rate = _check(samples, sample_rate)
    if fmt.rates is not None and rate not in fmt.rates:
        raise InputError(f"{fmt.suffix} cannot carry {rate} Hz", hint="resample to 44100 or 48000 Hz first")
    if samples.shape[1] > 2 and fmt.suffix == ".mp3":
        raise InputError(f"MP3 carries at most 2 channels, not {samples.shape[1]}")
    codec = fmt.codec
    if fmt.suffix == ".wav":
        if bit_depth not in (16, 24):
            raise InputError(f"WAV bit depth must be 16 or 24, not {bit_depth}")
        codec = "pcm_s16le" if bit_depth == 16 else "pcm_s24le"
    if fmt.lossy and not BITRATE_RANGE[0] <= int(bitrate) <= BITRATE_RANGE[1]:
        raise InputError(f"bitrate {bitrate} is outside {BITRATE_RANGE[0]}-{BITRATE_RANGE[1]} b/s")
    layout = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}[samples.shape[1]]
    buffer = io.BytesIO()
    try:
        with av.open(buffer, mode="w", format=fmt.container) as container:
            stream = container.add_stream(codec, rate=rate, layout=layout)
            if fmt.lossy:
                stream.bit_rate = int(bitrate)
            frame_size = stream.codec_context.frame_size or 1024
            source = np.ascontiguousarray(samples.T)  # planar: (channels, n)
            for start in range(0, source.shape[1], frame_size):
                block = np.ascontiguousarray(source[:, start:start + frame_size])
                frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
                frame.sample_rate = rate
                frame.pts = start
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
    except (av.error.FFmpegError, ValueError) as exc:
        raise InputError(f"could not encode {fmt.suffix} ({exc})".splitlines()[0]) from None
    return buffer.getvalue()


def _format_for(name: str) -> AudioFormat:
    suffix = name.lower() if name.startswith(".") and name.count(".") == 1 else Path(name).suffix.lower()
    fmt = FORMATS.get(suffix)
    if fmt is None:
        raise InputError(f"cannot write audio as {suffix or name!r}", hint="use .wav, .mp3, .m4a or .aac")
    return fmt


def _check(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
        raise InputError(f"sample rate must be an int, got {type(sample_rate).__name__}")
    rate = int(sample_rate)
    if not RATE_RANGE[0] <= rate <= RATE_RANGE[1]:
        raise InputError(f"sample rate {rate} Hz is outside {RATE_RANGE[0]}-{RATE_RANGE[1]} Hz")
    if not isinstance(samples, np.ndarray) or samples.ndim != 2 or not 1 <= samples.shape[1] <= MAX_CHANNELS:
        raise InputError(f"audio samples must be a numpy array shaped (n, channels <= {MAX_CHANNELS})")
    if samples.shape[0] == 0:
        raise InputError("no audio samples to write")
    if samples.shape[0] > MAX_SECONDS * rate:
        raise InputError(f"{samples.shape[0] / rate:.0f} s of audio is over the {MAX_SECONDS:.0f} s limit")
    if not np.all(np.isfinite(samples)):
        raise InputError("audio samples contain NaN or infinity")
    return np.clip(samples, -1.0, 1.0).astype(np.float32, copy=False), rate


#: a seek lands this much before a span: the first frames a decoder gives after a seek can be its
#: warm-up (an MP3 frame needs the bit reservoir of the frames before it), measured ~80 ms at 48 kHz
SEEK_PREROLL_SECONDS = 0.2


def audio_duration(path: Path) -> float | None:
    """The first audio stream's duration in seconds from the header (None when it does not say).
    A header can lie: readers bound what they read by their own limits, never by this."""
    path = Path(path)
    with _first_stream(str(path), path.name) as (container, audio):
        return _header_duration(container, audio)


def _header_duration(container, audio) -> float | None:
    if audio.duration is not None and audio.time_base is not None:
        return float(audio.duration * audio.time_base)
    return container.duration / 1_000_000 if container.duration is not None else None


def audio_length(path: Path) -> float | None:
    """The first audio stream's length from its packets (`media.packets`: what plays, whatever the
    header says), else the header's; None when neither says."""
    path = Path(path)
    with _first_stream(str(path), path.name) as (container, audio):
        stated = _header_duration(container, audio)
        probed = last_packet_end(container, audio)
    return probed if probed is not None else stated


def read_audio_spans(path: Path, spans: list[tuple[float, float]]) -> Iterator[tuple[float, np.ndarray, int]]:
    """(start in seconds, float32 samples (n, channels), rate) for each ``(start, end)`` of
    ``spans`` (starts in increasing order, each at most MAX_SECONDS long), opening the file once: a
    span that starts inside, or less than a second after, what the last one decoded is decoded on;
    any other is sought (SEEK_PREROLL_SECONDS before it, to the packet before that; the samples
    before its start are dropped). Reading ends at the end of the file or at a damaged tail. The
    size, rate and channel limits are `read_audio`'s."""
    import av

    path = Path(path)
    _checked_size(path)
    with _first_stream(str(path), path.name) as (container, audio):
        rate, channels = _rate_and_channels(audio, path.name)
        base = audio.time_base
        origin = float(audio.start_time * base) if audio.start_time is not None and base is not None else 0.0
        resampler = av.AudioResampler(format="fltp", rate=rate)
        decoder = None
        buffer = np.zeros((channels, 0), np.float32)  # decoded samples, the first at `at` seconds
        at = 0.0
        for start, end in spans:
            if end - start > MAX_SECONDS:
                raise InputError(f"an audio span of {end - start:.0f} s is over the {MAX_SECONDS:.0f} s limit")
            if decoder is None or not at - 1e-6 <= start <= at + buffer.shape[1] / rate + 1.0:
                try:
                    # a little before: a decoder's first frames after a seek (MP3's bit reservoir) are warm-up
                    target = origin + max(0.0, start - SEEK_PREROLL_SECONDS)
                    container.seek(int(target / base), stream=audio, backward=True, any_frame=False)
                except (av.error.FFmpegError, ValueError, OverflowError, ZeroDivisionError, TypeError):
                    return  # a stream that cannot seek
                decoder, buffer, at = container.decode(audio), np.zeros((channels, 0), np.float32), start
                fresh = True
            else:
                fresh = False
            chunks, total, ended = [buffer], buffer.shape[1], False
            try:
                while at + total / rate < end:
                    frame = next(decoder, None)
                    if frame is None:
                        ended = True
                        break
                    if fresh and frame.pts is not None and base is not None:
                        at = float(frame.pts * base) - origin  # a seek lands before its target
                    fresh = False
                    for out in resampler.resample(frame):
                        block = out.to_ndarray()
                        if block.shape[0] != channels:
                            raise ParseError(f"the channel count changes from {channels} to {block.shape[0]}",
                                             source=path.name)
                        chunks.append(block)
                        total += block.shape[1]
            except (av.error.FFmpegError, ValueError):
                ended = True  # a damaged tail: what decoded before it is kept
            buffer = np.concatenate(chunks, axis=1) if len(chunks) > 1 else chunks[0]
            first = max(0, int(round((start - at) * rate)))
            part = buffer[:, first:max(first, int(round((end - at) * rate)))]
            buffer, at = buffer[:, first:], at + first / rate  # what the next span may start from
            if part.shape[1] > 0:
                yield round(at, 3), np.ascontiguousarray(np.clip(part.T, -1.0, 1.0), dtype=np.float32), rate
            if ended:
                return
