"""Reading one picture or one clip with several keys shares the work that uses no key
(`spread.Picture`, `spread.detect_frames_with`): every key must get exactly what its own
`detect` / `detect_frames` gives, whichever key reads first, on unmarked pictures, on pictures
marked with either key, and on reads that need the rotation and perspective searches (whose
key-independent folds and lattices are the shared part)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from soundstage.errors import InputError
from soundstage.safeguards.watermark import (
    attacks, default_engine, detect_frames_with_keys, detect_with_keys, samples, spread,
)

KEY_A = b"a production key for shared reads"


def _same(x, y) -> bool:
    return (x.found, x.payload, x.false_positive_rate, x.details) == (y.found, y.payload, y.false_positive_rate,
                                                                     y.details)


@pytest.fixture(scope="module")
def engines():
    return spread.SpreadSpectrumWatermark(KEY_A), spread.SpreadSpectrumWatermark()


@pytest.fixture(scope="module")
def pictures(engines):
    a, b = engines
    frames = [samples.natural_frame(1920, 1080, variant=v) for v in (0, 1, 16, 3)]
    return {
        "unmarked natural frame": frames[0],
        "unmarked crop": np.ascontiguousarray(frames[1][100:611, 200:1123]),
        "marked with A": a.embed(frames[1], 0xA11CE),
        # read by the rotation search (the autocorrelation misses its lattice; DR015's perspective runs)
        "marked with B, 3% perspective read by angle": attacks.perspective(b.embed(frames[2], 0xB0B), 0.03, seed=19),
        "marked with A, 3% perspective": attacks.perspective(a.embed(frames[3], 0xC0FFEE), 0.03, seed=3),
    }


@pytest.mark.parametrize("threads", [1, 2])
def test_a_shared_picture_reads_as_the_frame_itself_for_every_key_in_either_order(engines, pictures, threads,
                                                                                 monkeypatch) -> None:
    before = cv2.getNumThreads()
    cv2.setNumThreads(threads)
    try:
        a, b = engines
        for name, frame in pictures.items():
            alone = a.detect(frame), b.detect(frame)
            first = spread.Picture(frame)
            ab = a.read(first), b.read(first)
            second = spread.Picture(frame)
            ba = b.read(second), a.read(second)
            assert _same(ab[0], alone[0]) and _same(ab[1], alone[1]), name
            assert _same(ba[1], alone[0]) and _same(ba[0], alone[1]), name
    finally:
        cv2.setNumThreads(before)


def test_the_searches_that_share_work_ran_and_read_the_right_key(engines, pictures) -> None:
    """The comparison above covered the shared rotation and perspective folds: those pictures are
    read by them, each by its own key only."""
    a, b = engines
    picture = spread.Picture(pictures["marked with B, 3% perspective read by angle"])
    assert not a.read(picture).found and picture.rotation is not None    # A ran the rotation search ...
    turned = b.read(picture)
    assert turned.payload == 0xB0B and turned.details["geometry"].startswith("rotation")   # ... B reused its folds
    picture = spread.Picture(pictures["marked with A, 3% perspective"])
    assert not b.read(picture).found and picture.lattices is not None      # B ran the perspective search ...
    seen = a.read(picture)
    assert seen.payload == 0xC0FFEE and seen.details["geometry"].startswith("perspective")   # ... A reused it


def test_detect_with_keys_reads_only_as_far_as_asked(pictures) -> None:
    reads = detect_with_keys(pictures["marked with A"], [KEY_A, None])
    first = next(reads)
    assert first.payload == 0xA11CE
    assert not next(reads).found


def _clip(engine, payload: int | None, frames: int = 12) -> list[np.ndarray]:
    base = samples.natural_frame(640 + 48, 360, variant=2)
    clip = [np.ascontiguousarray(base[:, 4 * k:4 * k + 640]) for k in range(frames)]
    return clip if payload is None else list(engine.embed_frames(clip, payload))


def test_one_pass_over_a_clip_reads_as_each_key_alone(engines) -> None:
    a, b = engines
    clips = {
        "unmarked": _clip(a, None),
        "marked with A": _clip(a, 0x1234),
        "marked with B, H.264 CRF 23": attacks.h264_roundtrip(_clip(b, 0x5678), crf=23),
        "three frames (under CLIP_GEOMETRY_FRAMES)": _clip(b, 0x9ABC, frames=3),
        "marked with A, filmed off a screen (read from the mean frame)":
            [attacks.perspective(f, 0.03, seed=3) for f in _clip(a, 0x1234)],
    }
    for name, clip in clips.items():
        together = spread.detect_frames_with([a, b], clip)
        assert _same(together[0], a.detect_frames(clip)) and _same(together[1], b.detect_frames(clip)), name
    assert spread.detect_frames_with([a, b], clips["marked with A"])[0].payload == 0x1234
    assert spread.detect_frames_with([b, a], clips["marked with B, H.264 CRF 23"])[0].payload == 0x5678
    assert [d.found for d in spread.detect_frames_with([a, b], [])] == [False, False]
    assert [d.payload for d in detect_frames_with_keys(clips["marked with A"], [None, KEY_A])] == [None, 0x1234]
    assert default_engine(KEY_A).detect_frames(clips["marked with A"]).payload == 0x1234


def test_a_clip_of_mixed_sizes_is_refused_for_every_key(engines) -> None:
    a, b = engines
    clip = _clip(a, None, frames=2) + [np.zeros((200, 300, 3), np.uint8)]
    with pytest.raises(InputError, match="share a size"):
        spread.detect_frames_with([a, b], clip)
