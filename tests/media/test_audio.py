"""Audio in and out through PyAV: every format round trips; hostile or broken files are one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from soundstage.errors import InputError, NotFoundError, ParseError, UnsafeInputError
from soundstage.media.audio import (
    audio_duration, decode_audio, encode_audio, read_audio, read_audio_spans, write_audio,
)

RATE = 48_000


def _tone(seconds: float = 1.0, channels: int = 2, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    left = 0.3 * np.sin(2 * np.pi * 440 * t)
    right = 0.2 * np.sin(2 * np.pi * 660 * t)
    return np.stack([left, right][:channels], axis=1).astype(np.float32)


def _best_lag_correlation(a: np.ndarray, b: np.ndarray, max_lag: int = 4096) -> float:
    n = min(len(a), len(b)) - max_lag
    return max(float(np.corrcoef(a[:n], b[lag:lag + n])[0, 1]) for lag in range(0, max_lag, 16))


@pytest.mark.parametrize(("suffix", "magic"), [(".wav", b"RIFF"), (".mp3", b"ID3"), (".m4a", b"ftypM4A "),
                                               (".aac", b"\xff\xf1")])
def test_every_format_round_trips(tmp_path: Path, suffix: str, magic: bytes):
    tone = _tone()
    path = write_audio(tmp_path / f"line{suffix}", tone, RATE)
    head = path.read_bytes()[:16]
    assert magic in head
    samples, rate = read_audio(path)
    assert rate == RATE and samples.dtype == np.float32 and samples.shape[1] == 2
    assert abs(len(samples) - len(tone)) < 0.05 * RATE  # codecs add priming / padding samples
    if suffix == ".wav":
        assert np.max(np.abs(samples - tone)) < 1 / 16_000  # 16-bit PCM
    else:
        assert _best_lag_correlation(tone[:, 0], samples[:, 0]) > 0.99


def test_wav_24_bit_keeps_more_than_16(tmp_path: Path):
    quiet = (_tone(0.2) * 1e-3).astype(np.float32)
    path = write_audio(tmp_path / "quiet.wav", quiet, RATE, bit_depth=24)
    samples, _ = read_audio(path)
    assert np.max(np.abs(samples - quiet)) < 2 ** -22
    assert path.stat().st_size > 3 * len(quiet) * 2  # three bytes a sample


def test_lossy_bitrate_is_what_was_asked(tmp_path: Path):
    sizes = {b: len(encode_audio(_tone(4.0), RATE, ".mp3", bitrate=b)) for b in (64_000, 192_000)}
    assert 0.8 < sizes[64_000] * 8 / 4.0 / 64_000 < 1.2
    assert sizes[192_000] > 2.5 * sizes[64_000]


def test_long_files_are_refused_or_cut_to_their_head(tmp_path: Path):
    path = write_audio(tmp_path / "long.wav", _tone(3.0), RATE)
    with pytest.raises(UnsafeInputError, match="limit|more than"):
        read_audio(path, max_seconds=1.0)
    head, rate = read_audio(path, max_seconds=1.0, head_only=True)
    assert len(head) == RATE and rate == RATE


@pytest.mark.parametrize("make", ["garbage", "empty", "png", "truncated_header", "video_only"])
def test_broken_or_hostile_files_are_one_line_errors(tmp_path: Path, make: str):
    path = tmp_path / f"{make}.wav"
    if make == "garbage":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif make == "empty":
        path.write_bytes(b"")
    elif make == "png":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    elif make == "truncated_header":
        path.write_bytes(write_audio(tmp_path / "ok.wav", _tone(0.5), RATE).read_bytes()[:30])
    else:
        import av

        path = tmp_path / "silent_film.mp4"
        with av.open(str(path), "w") as container:
            stream = container.add_stream("libx264", rate=24)
            stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
            for _ in range(3):
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8))):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    with pytest.raises(ParseError) as caught:
        read_audio(path)
    assert "\n" not in caught.value.one_line()


def test_a_truncated_tail_keeps_what_decoded(tmp_path: Path):
    data = write_audio(tmp_path / "full.mp3", _tone(2.0), RATE).read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(data[: len(data) // 2])
    samples, _ = read_audio(cut)
    assert 0.6 * RATE < len(samples) < 1.4 * RATE


def test_missing_file_and_bad_arguments(tmp_path: Path):
    with pytest.raises(NotFoundError):
        read_audio(tmp_path / "nope.wav")
    with pytest.raises(InputError, match="cannot write audio"):
        write_audio(tmp_path / "x.ogg", _tone(0.1), RATE)
    with pytest.raises(InputError, match="cannot carry"):
        encode_audio(_tone(0.1, rate=96_000), 96_000, ".mp3")
    with pytest.raises(InputError, match="bit depth"):
        encode_audio(_tone(0.1), RATE, ".wav", bit_depth=8)
    with pytest.raises(InputError, match="bitrate"):
        encode_audio(_tone(0.1), RATE, ".m4a", bitrate=10_000_000)
    with pytest.raises(InputError, match="NaN"):
        encode_audio(np.full((100, 1), np.nan, np.float32), RATE, ".wav")
    with pytest.raises(InputError, match="no audio"):
        encode_audio(np.zeros((0, 1), np.float32), RATE, ".wav")
    with pytest.raises(InputError):
        encode_audio(np.zeros(100, np.float32), RATE, ".wav")


def test_a_failed_write_leaves_nothing(tmp_path: Path):
    target = tmp_path / "line.mp3"
    with pytest.raises(InputError):
        write_audio(target, _tone(0.1, rate=96_000), 96_000)
    assert list(tmp_path.iterdir()) == []


def test_bytes_in_memory():
    samples, rate = decode_audio(encode_audio(_tone(0.5, channels=1), RATE, ".m4a"), name="x.m4a")
    assert rate == RATE and samples.shape[1] == 1
    with pytest.raises(ParseError):
        decode_audio(b"", name="x.wav")


@pytest.mark.parametrize("suffix", [".wav", ".mp3", ".m4a"])
def test_spans_are_read_where_they_are_by_seeking_or_decoding_on(tmp_path: Path, suffix: str):
    """What `verify` reads past a file's head: each span the same samples a whole decode has there,
    whether sought (0.2 s early: an MP3 decoder's first frames after a seek are warm-up) or decoded
    on from the last (overlapping windows); a span past the end reads nothing."""
    rate = 48000
    sweep = 0.3 * np.sin(2 * np.pi * np.cumsum(np.linspace(100.0, 3000.0, 60 * rate)) / rate)
    path = write_audio(tmp_path / f"sweep{suffix}", sweep[:, None].astype(np.float32), rate)
    whole, _ = read_audio(path)
    assert audio_duration(path) == pytest.approx(60.0, abs=0.05)
    spans = [(18.75, 20.75), (19.5, 21.5), (20.25, 22.25), (40.0, 42.0), (59.0, 61.0), (70.0, 72.0)]
    read = list(read_audio_spans(path, spans))
    assert [start for start, _, _ in read] == [18.75, 19.5, 20.25, 40.0, 59.0]  # nothing past the end
    for start, samples, got_rate in read:
        assert got_rate == rate and samples.dtype == np.float32 and samples.shape[1] == 1
        assert samples.shape[0] == (rate if start == 59.0 else 2 * rate) or suffix == ".m4a" and start == 59.0
        at = int(round(start * rate))
        assert np.abs(samples[:, 0] - whole[at:at + samples.shape[0], 0]).max() < 0.01, start


def test_a_span_longer_than_the_read_limit_is_refused(tmp_path: Path):
    path = write_audio(tmp_path / "tone.wav", _tone(2.0), RATE)
    with pytest.raises(InputError, match="over the"):
        list(read_audio_spans(path, [(0.0, 31 * 60.0)]))
