"""Image sequences: patterns, gaps, EXR half/float round trip, PNG, magic-byte detection."""

from __future__ import annotations

import numpy as np
import pytest

from soundstage.errors import InputError, NotFoundError
from soundstage.vfx import sequences as seq


def test_pattern_finds_frames_and_gaps(tmp_path):
    frame = np.zeros((8, 8, 3), np.uint8)
    for n in (1001, 1002, 1004):
        seq.write_png(tmp_path / f"shot_{n:04d}.png", frame)
    found = seq.find_sequence(tmp_path / "shot_####.png")
    assert found.frames == (1001, 1002, 1004) and found.gaps == (1003,) and not found.complete
    with pytest.raises(NotFoundError):
        seq.find_sequence(tmp_path / "other_####.png")
    with pytest.raises(InputError):
        seq.find_sequence(tmp_path / "shot.png")


@pytest.mark.parametrize("half,tolerance", [(True, 1e-3), (False, 0.0)])
def test_exr_round_trip(tmp_path, half, tolerance):
    linear = np.random.default_rng(1).random((16, 24, 3)).astype(np.float32) * 4  # HDR values above 1
    path = tmp_path / "plate_0001.exr"
    seq.write_exr(path, linear, half=half)
    back = seq.read_exr(path)
    assert back.shape == (16, 24, 3) and np.abs(back - linear).max() <= tolerance * 4
    stored = tmp_path / "0123abcd"  # a stored asset has no suffix: found by magic bytes
    stored.write_bytes(path.read_bytes())
    rgb8 = seq.read_frame_rgb8(stored)
    assert rgb8.dtype == np.uint8 and rgb8.shape == (16, 24, 3)


def test_dpx_is_refused_clearly(tmp_path):
    path = tmp_path / "f.dpx"
    path.write_bytes(b"SDPX" + bytes(2048))
    with pytest.raises(InputError, match="DPX"):
        seq.read_frame_rgb8(path)
