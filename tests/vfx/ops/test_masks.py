"""The working grid: close-ups are retouched on a scaled copy, and that must not change the result."""

import cv2
import numpy as np
import pytest

from soundstage.vfx.ops import masks
from soundstage.vfx.ops.deage import DeageOperation
from soundstage.vfx.ops.tracking import FaceAnalyzer


@pytest.fixture(scope="module")
def close_up() -> tuple[np.ndarray, np.ndarray]:
    """A 1080p close-up (face ~ 1.6x the working width) and its landmarks."""
    from soundstage.testing.sample_media import astronaut_push_in

    frame = astronaut_push_in(1, 1920, 1080)[0]
    faces = FaceAnalyzer().analyze(frame)
    assert faces and faces[0].landmarks is not None
    return frame, faces[0].landmarks


def test_close_ups_get_a_working_grid_and_small_faces_do_not(close_up):
    frame, lm = close_up
    regions = masks.face_regions(lm, frame.shape)
    assert regions.scale < 0.75
    assert regions.face_width == pytest.approx(masks.PROCESS_FACE_WIDTH, rel=0.02)
    assert regions.skin.shape == regions.working_copy(frame).shape[:2]
    small = cv2.resize(frame, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    assert masks.face_regions(lm * 0.25, small.shape).scale == 1.0


def test_to_frame_of_a_box_is_the_crop_of_the_whole_resize(close_up):
    frame, lm = close_up
    regions = masks.face_regions(lm, frame.shape)
    # a change layer is smooth (it is a retouch of the skin): a blurred random field of +-20 code values
    noise = np.random.default_rng(3).normal(0, 1, regions.skin.shape + (3,)).astype(np.float32)
    layer = cv2.GaussianBlur(noise, (0, 0), 4.0)
    layer *= 20.0 / np.abs(layer).max()
    fh, fw = regions.frame_size
    whole = cv2.resize(layer, (fw, fh), interpolation=cv2.INTER_LINEAR)
    box = (37, 51, fw - 20, fh - 9)
    part = regions.to_frame(layer, box)
    assert part.shape == (box[3] - box[1], box[2] - box[0], 3)
    # warpAffine places samples to 1/32 px: on a smooth layer that is far below one code value
    err = np.abs(part - whole[box[1]:box[3], box[0]:box[2]])
    assert err.max() < 0.1 and err.mean() < 0.02


def test_working_grid_result_matches_full_resolution_retouch(close_up):
    frame, lm = close_up
    op = DeageOperation.__new__(DeageOperation)  # the arithmetic only: no detector, no identity models
    op.amount, op.params, op._generator = 0.6, {}, None
    native = op.alter(frame, masks.face_regions(lm, frame.shape, max_face_width=1e9), None)
    working = op.alter(frame, masks.face_regions(lm, frame.shape), None)
    ys, xs = masks.face_regions(lm, frame.shape).slices
    diff = np.abs(native.astype(np.int16) - working)[ys, xs]
    change = np.abs(native.astype(np.int16) - frame)[ys, xs]
    print(f"mean change {change.mean():.3f}, working-grid vs native mean abs diff {diff.mean():.3f}")
    assert change.mean() > 0.5  # the retouch did something
    assert diff.mean() < 0.25 * change.mean()
    outside = np.ones(frame.shape[:2], bool)
    outside[ys, xs] = False
    assert np.array_equal(working[outside], frame[outside])  # nothing outside the face's ROI moves
