import numpy as np
import pytest

from soundstage.vfx.ops.tracking import (ONE_EURO, FaceAnalyzer, PersonMatter, _mediapipe, link_tracks,
                                         track_faces)


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer()


def test_full_range_detector_finds_the_face_plain_facemesh_misses_in_a_wide_shot(analyzer, pics):
    frame = pics.shot(pics.astronaut(), 1.0)  # face about 14% of the frame height
    mp = _mediapipe()
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as plain:
        assert plain.process(frame).multi_face_landmarks is None  # the trap, reproduced
    faces = analyzer.analyze(frame)
    assert len(faces) == 1
    face = faces[0]
    assert 0.10 < (face.box[3] - face.box[1]) / frame.shape[0] < 0.20
    assert face.landmarks is not None and face.landmarks.shape == (478, 2)
    nose = face.landmarks[1]
    assert face.box[0] < nose[0] < face.box[2] and face.box[1] < nose[1] < face.box[3]


@pytest.mark.slow
def test_one_track_id_across_a_moving_clip(analyzer, pics):
    clip = pics.camera_clip(pics.shot(pics.astronaut(), 1.2), frames=24, shift=2.0)
    tracked = track_faces(clip, 0, 0, 24.0, analyzer)
    labels = {f.track for faces in tracked for f in faces}
    assert all(len(faces) == 1 for faces in tracked)
    assert labels == {0}
    # the nose follows the camera pan: ~2 px/frame to the right
    noses = [faces[0].smoothed[1, 0] for faces in tracked]
    assert noses[-1] - noses[0] > 30


def test_link_tracks_splits_distant_faces():
    from soundstage.vfx.ops.tracking import FaceObservation

    a = FaceObservation(np.array([0, 0, 50, 50.0]), 0.9)
    b = FaceObservation(np.array([500, 0, 550, 50.0]), 0.9)
    labels = link_tracks([[a], [a, b], [b]])
    assert labels[0][0][0] == labels[1][0][0]
    assert labels[2][0][0] == labels[1][1][0] != labels[0][0][0]
    assert labels[2][0][1] == 1  # segment of b started at position 1


@pytest.mark.slow
def test_one_euro_lowers_landmark_jitter_on_a_static_noisy_clip(analyzer, pics):
    clip = pics.static_clip(pics.shot(pics.astronaut(), 1.4), frames=32, noise=4.0)
    tracked = track_faces(clip, 0, 16, 24.0, analyzer)
    raw = np.stack([faces[0].observation.landmarks for faces in tracked[16:]])
    smooth = np.stack([faces[0].smoothed for faces in tracked[16:]])

    def jitter(seq: np.ndarray) -> float:  # px RMS of frame-to-frame motion of a still face
        return float(np.sqrt(np.mean(np.sum(np.diff(seq, axis=0) ** 2, axis=2))))

    before, after = jitter(raw), jitter(smooth)
    print(f"landmark jitter px RMS: raw {before:.3f} -> One Euro {after:.3f} ({ONE_EURO})")
    assert before > 0.05  # the noise really moves the raw landmarks
    assert after < 0.5 * before


def test_person_matte_covers_the_astronaut_and_not_the_backdrop(pics):
    frame = pics.shot(pics.astronaut(), 1.4)
    alpha = PersonMatter().matte(frame)
    assert alpha.shape == frame.shape[:2] and alpha.dtype == np.float32
    assert alpha[200:260, 760:830].mean() > 0.9  # face
    assert alpha[600:700, 700:900].mean() > 0.9  # suit
    assert alpha[50:250, 50:300].mean() < 0.1  # coffee backdrop, far from the person
