"""The guard's check that a backend's clip carries its id across the clip (output_checks.py)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from soundstage.errors import RefusedError
from soundstage.safeguards import output_checks
from soundstage.safeguards.output_checks import check_clip_marked
from soundstage.safeguards.watermark.spread import SpreadSpectrumWatermark
from soundstage.vfx.media import VideoWriter, concat_segments

ID = 1234567


def _chunked_clip(tmp_path: Path, frames: list[np.ndarray], chunks: list[tuple[int, bool]],
                  engine: SpreadSpectrumWatermark) -> Path:
    """A clip encoded chunk by chunk as render workers do (each chunk starts on a keyframe):
    ``chunks`` = (frames, marked) in order."""
    h, w = frames[0].shape[:2]
    segments, at = [], 0
    for k, (count, marked) in enumerate(chunks):
        path = tmp_path / f"seg{k}.mp4"
        with VideoWriter(path, codec="h264", fps=Fraction(24), width=w, height=h, threads=1) as writer:
            for frame in frames[at:at + count]:
                writer.write(engine.embed(frame, ID) if marked else frame)
        segments.append((at, path))
        at += count
    out = tmp_path / "clip.mp4"
    concat_segments(out, segments, fps=Fraction(24))
    return out


@pytest.fixture(scope="module")
def push_in() -> list[np.ndarray]:
    pytest.importorskip("skimage.data")
    from soundstage.testing import sample_media

    return sample_media.astronaut_push_in(count=48, width=640, height=360)


def test_a_weakly_marked_clip_is_read_on_longer_runs_before_it_is_refused(tmp_path, push_in, monkeypatch) -> None:
    """A face over a flat background carries little mark per frame: some of its three-frame runs do
    not read (the demo's background replacement was refused so), twelve frames do."""
    weak = SpreadSpectrumWatermark(b"output check test key", strength=0.6)
    clip = _chunked_clip(tmp_path, push_in, [(48, True)], weak)     # one encode, one keyframe
    check_clip_marked(clip, ID, weak)
    monkeypatch.setattr(output_checks, "CLIP_CHECK_RETRY_FRAMES", output_checks.CLIP_CHECK_RUN_FRAMES)
    with pytest.raises(RefusedError, match="not watermarked with its asset id throughout"):
        check_clip_marked(clip, ID, weak)           # three frames a run alone: refused


def test_the_longer_runs_stay_in_their_chunk(tmp_path, push_in) -> None:
    """An unmarked chunk shorter than a longer run, between marked ones: the run stops at the next
    chunk's keyframe, so the marked frames after it cannot vouch for it."""
    engine = SpreadSpectrumWatermark(b"output check test key")
    clip = _chunked_clip(tmp_path, push_in, [(12, True), (6, False), (18, True), (12, True)], engine)
    with pytest.raises(RefusedError, match="not watermarked with its asset id throughout"):
        check_clip_marked(clip, ID, engine)
    (tmp_path / "control").mkdir()
    whole = _chunked_clip(tmp_path / "control", push_in, [(12, True), (6, True), (18, True), (12, True)], engine)
    check_clip_marked(whole, ID, engine)            # the control: every chunk marked
