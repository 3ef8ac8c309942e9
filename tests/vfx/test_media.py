"""Media I/O: frame accuracy, exact fps, timecode, colour tags, audio untouched, codecs, bad input."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from soundstage.errors import BackendError, InputError, NotFoundError, ParseError
from soundstage.vfx import media

sys.path.insert(0, str(Path(__file__).parent))
import vfx_helpers as h  # noqa: E402


@pytest.fixture(scope="module")
def plate(tmp_path_factory) -> Path:
    return h.make_clip(tmp_path_factory.mktemp("m") / "plate.mov", h.astronaut_frames(24), fps=Fraction(24000, 1001))


def audio_packets(path: Path) -> list[tuple[bytes, int]]:
    with av.open(str(path)) as c:
        return [(bytes(p), p.pts) for p in c.demux(c.streams.audio[0]) if p.size]


def test_probe_reads_exact_rate_timecode_colour_audio(plate):
    info = media.probe(plate)
    assert info.frame_count == 24 and info.fps == Fraction(24000, 1001)
    assert info.timecode == "01:00:10:00" and info.colour == media.ColourInfo(1, 1, 1, 1)
    assert info.audio[0]["codec"] == "aac" and not info.truncated and not info.variable_frame_rate


def test_decode_range_is_frame_accurate(plate):
    everything = h.decode_all(plate)
    for start, stop in [(0, 3), (13, 20), (23, 24)]:  # GOP 12: the middle range needs a keyframe seek
        got = list(media.decode_range(plate, start, stop))
        assert len(got) == stop - start and all((a == b).all() for a, b in zip(got, everything[start:stop]))


@pytest.mark.parametrize("codec,suffix", [("h264", ".mp4"), ("h265", ".mp4"), ("prores", ".mov")])
def test_codec_round_trip_keeps_rate_timecode_colour_and_audio_bytes(plate, tmp_path, codec, suffix):
    info = media.probe(plate)
    frames = h.decode_all(plate)
    out = tmp_path / f"out{suffix}"
    with media.VideoWriter(out, codec=codec, fps=info.fps, width=info.width, height=info.height, colour=info.colour,
                           timecode=info.timecode, audio_from=plate) as writer:
        for frame in frames:
            writer.write(frame)
    got = media.probe(out)
    assert got.frame_count == 24 and got.fps == info.fps and got.timecode == info.timecode
    assert got.colour == info.colour
    with av.open(str(out)) as c:
        pts = [f.pts for f in c.decode(video=0)]
        tb = c.streams.video[0].time_base
    assert [round(p * tb * info.fps) for p in pts] == list(range(24))  # one frame per 1001/24000 s
    assert audio_packets(out) == audio_packets(plate)  # remuxed, never re-encoded
    decoded = h.decode_all(out)
    assert np.abs(decoded[5].astype(int) - frames[5]).mean() < 3


@pytest.mark.parametrize("codec,suffix", [("h264", ".mp4"), ("h265", ".mp4"), ("prores", ".mov")])
def test_joined_segments_play_as_one_clip(plate, tmp_path, codec, suffix):
    """Chunks encoded separately (uneven lengths: the short last one has no B-frames) and joined by
    remuxing: every frame once, in order, one frame's duration each, timecode and audio kept.
    The two-frame segments also exercise the writer's repair of libx265's garbage decode timestamps
    for streams under three frames (without it this fails in the muxer in about half the runs)."""
    info = media.probe(plate)
    frames = h.decode_all(plate)
    segments, expected = [], []
    for start, stop in [(0, 10), (10, 20), (20, 22), (22, 24)]:
        path = tmp_path / f"seg{start}{suffix}"
        with media.VideoWriter(path, codec=codec, fps=info.fps, width=info.width, height=info.height,
                               colour=info.colour, threads=1) as writer:
            for frame in frames[start:stop]:
                writer.write(frame)
        segments.append((start, path))
        expected += h.decode_all(path)
    out = tmp_path / f"joined{suffix}"
    assert media.concat_segments(out, segments, fps=info.fps, timecode=info.timecode, audio_from=plate) == 24
    got = media.probe(out)
    assert got.frame_count == 24 and got.fps == info.fps and got.timecode == info.timecode
    assert got.colour == info.colour and not got.variable_frame_rate
    with av.open(str(out)) as c:
        stream = c.streams.video[0]
        pts = [f.pts for f in c.decode(stream)]
        assert [round(p * stream.time_base * info.fps) for p in pts] == list(range(24))
    assert all(np.array_equal(a, b) for a, b in zip(h.decode_all(out), expected))  # the segments' own pictures
    assert audio_packets(out) == audio_packets(plate)


def test_segments_with_other_settings_are_not_joined(plate, tmp_path):
    frames = h.decode_all(plate)
    segments = []
    for start, scale in [(0, 1), (4, 2)]:
        path = tmp_path / f"seg{start}.mp4"
        small = [f[::scale, ::scale] for f in frames[start:start + 4]]
        with media.VideoWriter(path, codec="h264", fps=Fraction(24), width=small[0].shape[1],
                               height=small[0].shape[0]) as writer:
            for frame in small:
                writer.write(np.ascontiguousarray(frame))
        segments.append((start, path))
    with pytest.raises(BackendError, match="other settings"):
        media.concat_segments(tmp_path / "joined.mp4", segments, fps=Fraction(24))


@pytest.mark.parametrize("colour", [media.ColourInfo(1, 1, 1, 1), media.ColourInfo(1, 6, 6, 6), None])
@pytest.mark.parametrize("codec,suffix", [("h264", ".mp4"), ("prores", ".mov")])
def test_colours_survive_the_round_trip_for_the_tagged_matrix(tmp_path, colour, codec, suffix):
    """Saturated flat patches: BT.601 and BT.709 disagree there by several code values, so a writer
    that ignores the tag (or a reader that ignores it) shows up as a hue shift."""
    patches = [(200, 60, 40), (40, 170, 60), (50, 70, 210), (235, 200, 80)]
    frame = np.zeros((64, 64 * len(patches), 3), np.uint8)
    for i, rgb in enumerate(patches):
        frame[:, 64 * i: 64 * (i + 1)] = rgb
    out = tmp_path / f"patches{suffix}"
    with media.VideoWriter(out, codec=codec, fps=Fraction(24), width=frame.shape[1], height=64,
                           colour=colour) as writer:
        for _ in range(3):
            writer.write(frame)
    back = list(media.decode_range(out, 0, 3))[1].astype(int)
    for i, rgb in enumerate(patches):
        centre = back[24:40, 64 * i + 24: 64 * i + 40].reshape(-1, 3).mean(axis=0)
        assert np.abs(centre - rgb).max() <= 3.5, (rgb, centre.round(1))  # a matrix mismatch is 6-20


def test_prores_refuses_mp4(tmp_path):
    with pytest.raises(InputError, match="prores cannot be written"):
        media.VideoWriter(tmp_path / "x.mp4", codec="prores", fps=Fraction(24), width=64, height=64)


def test_missing_corrupt_and_truncated_video(plate, tmp_path):
    with pytest.raises(NotFoundError):
        media.probe(tmp_path / "nope.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    with pytest.raises(ParseError):
        media.probe(junk)
    mkv = h.make_clip(tmp_path / "t.mkv", h.astronaut_frames(24), audio=False, timecode=None)
    data = mkv.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 2 // 3])
    info = media.probe(cut)  # decode what is there and say so
    assert 0 < info.frame_count < 24
    assert len(list(media.decode_range(cut, 0, 24, info=info))) == info.frame_count


def test_variable_frame_rate_is_detected_and_refused(tmp_path):
    path = tmp_path / "vfr.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for i, t in enumerate([0, 40, 80, 150, 190, 260, 300]):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 30, np.uint8), format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            for p in stream.encode(frame):
                out.mux(p)
        for p in stream.encode():
            out.mux(p)
    assert media.probe(path).variable_frame_rate
    with pytest.raises(InputError, match="variable frame rate"):
        media.probe(path, refuse_vfr=True)


def test_frame_size_limit_accepts_8k_uhd_refuses_larger():
    media.check_frame_size(7680, 4320)
    with pytest.raises(InputError, match="larger than 8K"):
        media.check_frame_size(8192, 4320)
    with pytest.raises(InputError):
        media.check_frame_size(10000, 100)
