"""Background replacement over a clip (issue 16): frame i of the shot on frame i of the clip."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from PIL import Image

from soundstage.vfx.media import VideoWriter
from soundstage.vfx.ops.background import BackgroundClip, BackgroundOperation

LEVELS = (30, 90, 150, 210)


def test_each_shot_frame_sits_on_its_clip_frame_and_the_last_is_held(tmp_path):
    clip = tmp_path / "backdrop.mp4"
    with VideoWriter(clip, codec="h264", fps=Fraction(24), width=96, height=64) as writer:
        for level in LEVELS:
            writer.write(np.full((64, 96, 3), level, np.uint8))
    still = tmp_path / "backdrop.png"
    Image.fromarray(np.full((64, 96, 3), 10, np.uint8)).save(still)
    assert BackgroundClip.of(still) is None and BackgroundClip.of(clip).frame_count == 4

    op = BackgroundOperation({"key": "green", "light_wrap": 0.0}, {"background": str(clip)})
    green = np.zeros((64, 96, 3), np.uint8)
    green[...] = (20, 200, 40)
    out = op.process_chunk([green] * 5, 1, 1)  # a warm-up frame, then shot frames 1..4
    means = [float(frame.mean()) for frame in out]
    assert np.allclose(means, [90, 150, 210, 210], atol=3), means  # frame 4 holds the last (H.264: +-1)
    # a still background is unchanged behaviour: the same plate under every frame
    still_op = BackgroundOperation({"key": "green", "light_wrap": 0.0}, {"background": str(still)})
    assert all(abs(frame.mean() - 10) < 1 for frame in still_op.process_chunk([green] * 3, 0, 0))
