import cv2
import numpy as np
import pytest

from soundstage.errors import InputError, SpecError
from soundstage.vfx.contract import OpContext
from soundstage.vfx.ops import make_operation
from soundstage.vfx.ops.identity import MATCH_THRESHOLD, FaceIdentifier
from soundstage.vfx.ops.tracking import FaceAnalyzer


@pytest.fixture(scope="module")
def identifier(refs) -> FaceIdentifier:
    return FaceIdentifier({"collins": refs["collins"], "hopper": refs["hopper"]})


def test_synthetic_transforms_of_the_enrolled_face_match_and_another_person_does_not(identifier, pics):
    img = pics.astronaut()
    variants = {
        "flip": img[:, ::-1],
        "brighter": np.clip(img.astype(int) + 40, 0, 255).astype(np.uint8),
        "darker": (img * 0.6).astype(np.uint8),
        "smaller": cv2.resize(img, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA),
    }
    for name, v in variants.items():
        m = identifier.match(identifier.describe_image(np.ascontiguousarray(v)))
        print(f"{name}: {m}")
        assert m.performer_id == "collins", name
        assert m.distance < 0.3
    other = identifier.enrolled["hopper"]
    distance = float(np.linalg.norm(other - identifier.enrolled["collins"]))
    print(f"collins vs hopper: {distance:.3f} (threshold {MATCH_THRESHOLD})")
    assert distance > MATCH_THRESHOLD + 0.1


def test_face_found_by_the_tracker_in_a_wide_shot_matches(identifier, pics):
    frame = pics.shot(pics.astronaut(), 1.0)
    face = FaceAnalyzer(with_mesh=False).detect(frame)[0]
    m = identifier.match(identifier.describe_face(frame, face.box))
    assert m.performer_id == "collins" and m.distance < MATCH_THRESHOLD


def test_only_a_different_performer_consented_means_the_face_is_left_bit_identical(refs, pics):
    clip = pics.camera_clip(pics.shot(pics.astronaut(), 1.4), frames=6)
    op = make_operation(OpContext(operation="deage", params={"amount": 1.0}, performers={"hopper": refs["hopper"]}))
    out = op.process_chunk(clip, 0, 0)
    assert all(np.array_equal(a, b) for a, b in zip(clip, out))
    assert op.report and all(not r["altered"] and r["performer"] is None for r in op.report)
    assert all(r["distance"] > MATCH_THRESHOLD for r in op.report)


def test_reference_problems_are_clear_input_errors(refs, tmp_path, pics):
    from PIL import Image

    with pytest.raises(InputError, match="not found"):
        FaceIdentifier({"p1": str(tmp_path / "missing.png")})
    no_face = tmp_path / "coffee.png"
    Image.fromarray(pics.backdrop(320, 240)).save(no_face)
    with pytest.raises(InputError, match="no face found"):
        FaceIdentifier({"p1": str(no_face)})
    with pytest.raises(InputError, match="no enrolled reference"):
        make_operation(OpContext(operation="cosmetic", performers={"p1": ""}))
    with pytest.raises(SpecError):
        make_operation(OpContext(operation="cosmetic", performers={}))
    with pytest.raises(SpecError):
        make_operation(OpContext(operation="teleport"))
