import cv2
import numpy as np
import pytest

from soundstage.vfx.contract import OpContext
from soundstage.vfx.ops import make_operation
from soundstage.vfx.ops.masks import face_regions, landmark_groups
from soundstage.vfx.ops.tracking import FaceAnalyzer


@pytest.fixture(scope="module")
def still(pics) -> list[np.ndarray]:
    return pics.static_clip(pics.shot(pics.astronaut(), 1.4), frames=20, noise=3.0)


@pytest.fixture(scope="module")
def face_geometry(still):
    lm = FaceAnalyzer().analyze(still[0])[0].landmarks
    regions = face_regions(lm, still[0].shape)
    hull = cv2.convexHull(np.round(lm[landmark_groups()["oval"]]).astype(np.int32))
    outside = np.zeros(still[0].shape[:2], np.uint8)
    cv2.fillConvexPoly(outside, hull, 1)
    grow = int(0.12 * regions.face_width)
    outside = cv2.dilate(outside, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)) == 0
    skin = np.zeros(still[0].shape[:2], np.float32)
    skin[regions.slices] = regions.to_frame(regions.skin)
    return outside, skin > 0.9


def _op(name, refs, amount, **extra):
    return make_operation(OpContext(operation=name, params={"amount": amount, **extra},
                                    performers={"collins": refs["collins"]}))


def _high_freq(frame: np.ndarray, where: np.ndarray) -> float:
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.abs(cv2.Laplacian(grey, cv2.CV_32F))[where].mean())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cosmetic", "deage"])
def test_only_the_face_changes_and_smoothing_grows_with_amount(name, refs, still, face_geometry):
    outside, skin = face_geometry
    frames = still[:2]
    energies = [_high_freq(frames[1], skin)]
    op = _op(name, refs, 0.0)
    for amount in (0.0, 0.3, 0.6, 1.0):
        op.amount = amount
        out = op.process_chunk(frames, 0, 1)[0]
        if amount == 0.0:
            assert np.array_equal(out, frames[1])
            continue
        assert np.array_equal(out[outside], frames[1][outside])
        assert not np.array_equal(out[skin], frames[1][skin])
        energies.append(_high_freq(out, skin))
    print(f"{name} skin high-frequency energy by amount 0/0.3/0.6/1.0: {np.round(energies, 2)}")
    assert all(a > b for a, b in zip(energies, energies[1:]))
    assert energies[-1] < 0.7 * energies[0]


@pytest.mark.slow
def test_deage_does_not_flicker_on_a_static_shot(refs, still, face_geometry):
    _outside, skin = face_geometry
    out = _op("deage", refs, 1.0).process_chunk(still, 0, 0)

    def flicker(seq):
        return float(np.mean([np.abs(b.astype(np.float32) - a)[skin].mean() for a, b in zip(seq, seq[1:])]))

    src, dst = flicker(still), flicker(out)
    print(f"frame-to-frame mean abs difference in the skin region: source {src:.2f}, de-aged {dst:.2f}")
    assert dst <= src  # smoothing and stable masks: the altered face is no jumpier than the source


@pytest.mark.slow
def test_chunked_run_equals_single_run(refs, pics):
    clip = pics.camera_clip(pics.shot(pics.astronaut(), 1.4), frames=24, shift=1.5)
    op = _op("deage", refs, 0.8)
    whole = op.process_chunk(clip, 0, 0)
    chunked: list[np.ndarray] = []
    for start in range(0, len(clip), 12):
        warm = min(op.warmup_frames, start)
        chunked += op.process_chunk(clip[start - warm: start + 12], start, warm)
    assert len(chunked) == len(whole)
    assert all(np.array_equal(a, b) for a, b in zip(whole, chunked))
    assert sum(r["altered"] for r in op.report) == 48


@pytest.mark.slow
def test_generative_deage_through_the_diffusers_backend_stays_inside_the_face(refs, still, face_geometry, tmp_path):
    pytest.importorskip("diffusers")
    from soundstage.generate.backends.diffusers_local import weights_digest
    from soundstage.testing.tiny_diffusers import build_tiny_sd

    path = build_tiny_sd(tmp_path / "tiny-sd")
    config = {"path": str(path), "weights_sha256": weights_digest(path)}
    op = _op("deage", refs, 0.6, generative=True, generative_config=config, steps=2)
    out = op.process_chunk(still[:2], 0, 1)[0]
    outside, skin = face_geometry
    assert np.array_equal(out[outside], still[1][outside])
    assert not np.array_equal(out[skin], still[1][skin])
