"""Face tracking (full-range detector -> FaceMesh on the crop), track ids, smoothed landmarks, person mattes.

Why two stages: FaceMesh's own detector is the short-range model on a 128x128 letterbox and misses
faces under about a quarter of the frame height (every wide shot). The full-range FaceDetection
model finds them; FaceMesh then runs on a crop twice the size of the box, where the face is big.

Why static-image mode everywhere: mediapipe's video mode keeps hidden tracking state, which would
make a chunked run differ from a single-chunk run. Track ids and smoothing are ours instead, and
are pure functions of the frames in the window (see smoothing.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from soundstage.errors import BackendError

from .masks import guided_filter
from .smoothing import smooth_window

__all__ = [
    "FaceObservation",
    "TrackedFace",
    "FaceAnalyzer",
    "PersonMatter",
    "link_tracks",
    "track_faces",
    "box_iou",
    "SMOOTHING_WINDOW",
    "ONE_EURO",
]

#: frames of history each smoothed landmark set is computed from (the op's warm-up covers it).
SMOOTHING_WINDOW = 16
#: One Euro parameters for landmark pixels (measured on a static face with sensor noise, see tests).
ONE_EURO: dict[str, float] = {"min_cutoff": 0.8, "beta": 0.02, "d_cutoff": 1.0}

_MP_LOCK = threading.Lock()


def _mediapipe() -> Any:
    """Import mediapipe lazily: 0.6 s and a protobuf<5 pin, only paid by processes that track faces."""
    try:
        import mediapipe as mp  # noqa: PLC0415
    except Exception as exc:  # ImportError, or a protobuf clash
        raise BackendError(f"mediapipe is not usable: {exc}",
                           hint="pip install mediapipe==0.10.21 --no-deps plus absl-py attrs flatbuffers matplotlib "
                                "'protobuf>=4.25.8,<5'") from exc
    return mp


@dataclass
class FaceObservation:
    """One face in one frame: detector box (x0, y0, x1, y1) in pixels, score, 478 landmarks or None."""

    box: np.ndarray
    score: float
    landmarks: np.ndarray | None = None  # (478, 2) float64 pixels, frame coordinates


@dataclass
class TrackedFace:
    """A face in an output frame, with its track label and landmarks smoothed over the window."""

    frame_index: int
    track: int
    segment_start: int  # absolute frame index where this track segment began (within the window)
    observation: FaceObservation
    smoothed: np.ndarray | None = None  # (478, 2)
    extra: dict[str, Any] = field(default_factory=dict)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


class FaceAnalyzer:
    """Full-range face detection, then 478-point FaceMesh on a 2x crop, mapped back to the frame."""

    def __init__(self, min_confidence: float = 0.5, max_faces: int = 4, with_mesh: bool = True) -> None:
        mp = _mediapipe()
        self.max_faces = max_faces
        self._detector = mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=min_confidence)
        self._mesh = (mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True,
                                                      max_num_faces=1, min_detection_confidence=0.3)
                      if with_mesh else None)

    def detect(self, frame: np.ndarray) -> list[FaceObservation]:
        """Boxes only (cheap: ~3-5 ms at 720p)."""
        h, w = frame.shape[:2]
        with _MP_LOCK:
            result = self._detector.process(np.ascontiguousarray(frame))
        faces: list[FaceObservation] = []
        for det in (result.detections or [])[: self.max_faces]:
            rb = det.location_data.relative_bounding_box
            x0, y0 = rb.xmin * w, rb.ymin * h
            box = np.array([x0, y0, x0 + rb.width * w, y0 + rb.height * h], dtype=np.float64)
            box = np.clip(box, 0, [w, h, w, h])
            if box[2] - box[0] >= 4 and box[3] - box[1] >= 4:
                faces.append(FaceObservation(box=box, score=float(det.score[0])))
        faces.sort(key=lambda f: (f.box[0], f.box[1]))  # stable order, independent of detector order
        return faces

    def analyze(self, frame: np.ndarray) -> list[FaceObservation]:
        """Detect, then landmark each face on its crop. Faces whose mesh fails keep landmarks=None."""
        faces = self.detect(frame)
        if self._mesh is None:
            return faces
        h, w = frame.shape[:2]
        for face in faces:
            cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
            side = 2.0 * max(face.box[2] - face.box[0], face.box[3] - face.box[1])
            x0, y0 = int(max(0, round(cx - side / 2))), int(max(0, round(cy - side / 2)))
            x1, y1 = int(min(w, round(cx + side / 2))), int(min(h, round(cy + side / 2)))
            crop = np.ascontiguousarray(frame[y0:y1, x0:x1])
            if crop.shape[0] < 16 or crop.shape[1] < 16:
                continue
            with _MP_LOCK:
                result = self._mesh.process(crop)
            if not result.multi_face_landmarks:
                continue
            lms = result.multi_face_landmarks[0].landmark
            pts = np.array([(p.x, p.y) for p in lms], dtype=np.float64)
            pts[:, 0] = pts[:, 0] * crop.shape[1] + x0
            pts[:, 1] = pts[:, 1] * crop.shape[0] + y0
            face.landmarks = pts
        return faces


def link_tracks(observations: list[list[FaceObservation]], min_iou: float = 0.3) -> list[list[tuple[int, int]]]:
    """Give each observation a (track label, segment start position) by linking consecutive frames.

    Linking frame j to j+1 depends only on those two frames (greedy best IoU, or centroid within half
    a box diagonal for fast moves), so labels are stable however the clip is chunked."""
    labels: list[list[tuple[int, int]]] = []
    next_label = 0
    prev: list[FaceObservation] = []
    prev_labels: list[tuple[int, int]] = []
    for pos, faces in enumerate(observations):
        current: list[tuple[int, int] | None] = [None] * len(faces)
        pairs: list[tuple[float, int, int]] = []
        for i, f in enumerate(faces):
            for j, p in enumerate(prev):
                iou = box_iou(f.box, p.box)
                if iou < min_iou:
                    fc, pc = (f.box[:2] + f.box[2:]) / 2, (p.box[:2] + p.box[2:]) / 2
                    diag = float(np.hypot(p.box[2] - p.box[0], p.box[3] - p.box[1]))
                    if np.hypot(*(fc - pc)) > 0.5 * diag:
                        continue
                pairs.append((iou, i, j))
        used_prev: set[int] = set()
        for _iou, i, j in sorted(pairs, key=lambda t: (-t[0], t[1], t[2])):
            if current[i] is None and j not in used_prev:
                current[i] = prev_labels[j]
                used_prev.add(j)
        for i in range(len(faces)):
            if current[i] is None:
                current[i] = (next_label, pos)
                next_label += 1
        resolved = [c for c in current if c is not None]
        labels.append(resolved)
        prev, prev_labels = faces, resolved
    return labels


def track_faces(frames: list[np.ndarray], first_index: int, warmup: int, fps: float,
                analyzer: FaceAnalyzer, window: int = SMOOTHING_WINDOW) -> list[list[TrackedFace]]:
    """Analyse every frame of the chunk and return tracked faces for ALL frames (warm-up included;
    identity anchors may lie there); only output frames (position >= warmup) get smoothed landmarks.

    The smoothed landmarks of frame i come from the One Euro filter run over the same track's raw
    landmarks in frames max(segment start, i - window + 1) .. i."""
    observations = [analyzer.analyze(f) for f in frames]
    labels = link_tracks(observations)
    start = first_index - warmup
    out: list[list[TrackedFace]] = []
    for pos in range(len(frames)):
        tracked: list[TrackedFace] = []
        for face, (label, seg_pos) in zip(observations[pos], labels[pos]):
            tf = TrackedFace(frame_index=start + pos, track=label, segment_start=start + seg_pos, observation=face)
            if face.landmarks is not None and pos >= warmup:
                history: list[np.ndarray] = []
                for back in range(max(seg_pos, pos - window + 1), pos + 1):
                    for other, (olabel, _s) in zip(observations[back], labels[back]):
                        if olabel == label and other.landmarks is not None:
                            history.append(other.landmarks)
                tf.smoothed = smooth_window(history, fps, **ONE_EURO)
            tracked.append(tf)
        out.append(tracked)
    return out


class PersonMatter:
    """Selfie-segmentation person matte with guided-filter edge refinement (hair, shoulders)."""

    def __init__(self, model_selection: int = 1, refine_radius: int = 8, eps: float = 1e-3) -> None:
        mp = _mediapipe()
        self._seg = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=model_selection)
        self.refine_radius = refine_radius
        self.eps = eps

    def raw(self, frame: np.ndarray) -> np.ndarray:
        with _MP_LOCK:
            result = self._seg.process(np.ascontiguousarray(frame))
        return np.clip(result.segmentation_mask.astype(np.float32), 0.0, 1.0)

    def matte(self, frame: np.ndarray) -> np.ndarray:
        """Float32 alpha in [0, 1]: the model's soft mask, sharpened, then snapped to image edges."""
        soft = self.raw(frame)
        hard = np.clip((soft - 0.5) * 4.0 + 0.5, 0.0, 1.0)  # steeper transition around the 0.5 level
        guide = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        radius = max(2, int(round(self.refine_radius * frame.shape[0] / 720)))
        refined = guided_filter(guide, hard, radius, self.eps)
        return np.clip(refined, 0.0, 1.0)
