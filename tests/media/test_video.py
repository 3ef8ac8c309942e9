"""Video frames in: the spans `verify` reads over a clip's whole length (`read_spans`), by seeking
to the keyframe before each and decoding forward, with the walk from a keyframe bounded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from soundstage.errors import ParseError
from soundstage.media.video import MAX_SEEK_LEAD_FRAMES, iter_frames, read_spans, stream_spans, video_timing
from soundstage.testing.sample_media import encode_frames


def _clip(path: Path, count: int, *, keyint: int = 48) -> Path:
    """``count`` frames at 24 fps, each with its number drawn in as a grey level (64x64 H.264)."""
    import av

    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "10",
                         "x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0"}
        encode_frames(out, video, [np.full((64, 64, 3), i % 250, np.uint8) for i in range(count)])
    return path


def _numbers(frames: list[np.ndarray]) -> list[int]:
    return [int(round(float(f.mean()))) for f in frames]


def test_spans_are_the_frames_at_their_start_whether_sought_or_decoded_on(tmp_path):
    clip = _clip(tmp_path / "c.mp4", 240)
    duration, rate = video_timing(clip)
    assert duration == pytest.approx(10.0, abs=0.05) and rate == 24
    whole = _numbers(list(iter_frames(clip)))
    spans = list(read_spans(clip, [0.0, 2.0, 5.5, 9.0, 30.0], max_frames=24))
    assert [(s.start, len(s.frames)) for s in spans] == [(0.0, 24), (2.0, 24), (5.5, 24), (9.0, 24)]  # 30 s: past
    for span in spans:
        first = int(round(span.start * 24))
        assert _numbers(span.frames) == whole[first:first + 24]
        assert span.end == pytest.approx(span.start + 1.0)


def test_streamed_spans_decode_a_frame_only_when_it_is_read(tmp_path):
    """Red team: `verify` held a 48-frame span whole (4.8 GB of RGB at 8K, from a 100 KB upload).
    Streamed, a span's frames are decoded as the reader takes them: the same frames as `read_spans`,
    its end known as they are read, and what the reader leaves is skipped before the next span."""
    clip = _clip(tmp_path / "c.mp4", 240)
    whole = _numbers(list(iter_frames(clip)))
    spans = stream_spans(clip, [0.0, 2.0, 5.5], max_frames=24)
    first = next(spans)
    assert not isinstance(first.frames, list) and first.start == 0.0
    taken = [next(first.frames) for _ in range(3)]
    assert _numbers(taken) == whole[:3] and first.end == pytest.approx(3 / 24)
    second = next(spans)                      # the rest of the first span is decoded and dropped
    assert second.start == 2.0 and _numbers(list(second.frames)) == whole[48:72]
    assert second.end == pytest.approx(3.0)
    third = next(spans)
    assert third.start == 5.5 and _numbers(list(third.frames)) == whole[132:156]
    assert next(spans, None) is None


_PEAK_SCRIPT = """
import resource, sys
from pathlib import Path
from soundstage.services.verify_service import detect_watermark
detect_watermark(Path(sys.argv[2]))                     # the engines' one-time set-up, on a small clip
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
assert not detect_watermark(Path(sys.argv[1]))["found"]
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


@pytest.mark.slow
def test_verify_holds_one_frame_of_a_span_not_all_of_them(tmp_path):
    """The peak memory of reading a 48-frame 1080p span, in a process of its own: held whole, the span
    alone was 300 MB of RGB (measured on the code before: +355 MB; streamed: +94 MB, the decoder's and the detector's own)."""
    import subprocess
    import sys

    import av

    from soundstage.testing.sample_media import encode_frames

    def clip(path: Path, width: int, height: int) -> Path:
        ramp = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
        with av.open(str(path), "w") as out:
            video = out.add_stream("libx264", rate=24)
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            video.options = {"preset": "ultrafast", "crf": "30"}
            encode_frames(out, video, [np.broadcast_to((ramp + i) % 256, (height, width, 3)).astype(np.uint8)
                                       for i in range(48)])
        return path

    big, small = clip(tmp_path / "big.mp4", 1920, 1080), clip(tmp_path / "small.mp4", 128, 72)
    grew_kb = int(subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, str(big), str(small)], check=True,
                                 capture_output=True, text=True).stdout.split()[-1])
    assert grew_kb < 48 * 1920 * 1080 * 3 / 1024 / 2, grew_kb


def test_the_walk_from_a_keyframe_is_bounded(tmp_path):
    """One keyframe for 30 s: a span at 18 s starts MAX_SEEK_LEAD_FRAMES after it, not at 18 s; one
    at 29 s (too far to decode on to) is sought, lands on the same frame and is not read twice."""
    clip = _clip(tmp_path / "c.mp4", 720, keyint=1000)
    spans = list(read_spans(clip, [0.0, 18.0, 29.0], max_frames=4))
    assert [s.start for s in spans] == [0.0, MAX_SEEK_LEAD_FRAMES / 24]
    assert _numbers(spans[1].frames) == [MAX_SEEK_LEAD_FRAMES % 250 + k for k in range(4)]


def test_a_file_that_is_not_video_is_one_line(tmp_path):
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"not a video at all" * 10)
    with pytest.raises(ParseError):
        list(read_spans(bad, [0.0], max_frames=4))


def test_a_clips_length_comes_from_its_packets_not_its_header(tmp_path):
    """media.packets: what plays, whatever the header's duration says (an edited mdhd/mvhd)."""
    import struct

    from soundstage.media.video import video_length, video_timing
    from soundstage.testing.sample_media import write_spliced_clip

    clip = write_spliced_clip(tmp_path / "c.mp4", 1, seconds=6.0, marked_seconds=0.0, width=96, height=64, crf=30)
    assert video_length(clip)[0] == pytest.approx(6.0) == video_timing(clip)[0]
    data = bytearray(clip.read_bytes())
    for box, offset in ((b"mvhd", 16), (b"mdhd", 16), (b"tkhd", 20)):   # version-0 boxes: a 32-bit duration
        at = data.find(box) + 4 + offset
        data[at:at + 4] = struct.pack(">I", struct.unpack(">I", data[at:at + 4])[0] // 3)
    clip.write_bytes(bytes(data))
    assert video_timing(clip)[0] == pytest.approx(2.0, abs=0.1) and video_length(clip)[0] == pytest.approx(6.0)
