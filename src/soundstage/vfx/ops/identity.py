"""Whose face is it: match tracked faces to consented performers' enrolled reference images.

dlib's ResNet face descriptor (128-d, from the face-recognition-models package) with Euclidean
distance. Threshold 0.5 instead of dlib's usual 0.6: a false accept alters someone who did not
consent, a false reject only leaves a face untouched, so we trade recall for safety. Measured
(scikit-image astronaut vs matplotlib's Grace Hopper): same face under flip/brightness/scale/
greyscale/wide-shot 0.06-0.19; different people 0.64-0.71.

Why decisions come from "anchor" frames: a descriptor costs ~60-80 ms, so a track is identified at
its segment start and every ``IDENTITY_INTERVAL`` absolute frames; frame *i* uses the most recent
anchor at or before *i*. Anchors are defined on absolute frame numbers, so chunking cannot change
a decision as long as the warm-up covers one interval.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from soundstage.errors import BackendError, InputError
from soundstage.media.images import read_image

from .tracking import TrackedFace

__all__ = ["MATCH_THRESHOLD", "AMBIGUITY_MARGIN", "IDENTITY_INTERVAL", "IdentityMatch", "FaceIdentifier",
           "model_dir", "resolve_identities"]

MATCH_THRESHOLD = 0.5
#: two consented performers both under the threshold and this close: ambiguous -> not altered.
AMBIGUITY_MARGIN = 0.05
IDENTITY_INTERVAL = 12
_DESCRIPTOR_FACE_PX = 160  # faces are rescaled to about this height before dlib sees them


def model_dir() -> Path:
    """face_recognition_models' data folder, found without importing it (its __init__ needs pkg_resources)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise BackendError("face-recognition-models is not installed", hint="pip install face-recognition-models")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


@dataclass(frozen=True)
class IdentityMatch:
    performer_id: str | None
    distance: float | None
    reason: str  # "matched", "no match", "ambiguous", "no descriptor"

    @property
    def matched(self) -> bool:
        return self.performer_id is not None


@lru_cache(maxsize=1)
def _dlib_models() -> tuple[Any, Any, Any, Any]:
    """(dlib, HOG detector, 5-point shape predictor, ResNet descriptor net), loaded once per process:
    a worker that serves job after job keeps them (0.4 s per load)."""
    try:
        import dlib  # noqa: PLC0415
    except ImportError as exc:
        raise BackendError("dlib is not installed", hint="pip install dlib-bin") from exc
    models = model_dir()
    return (dlib, dlib.get_frontal_face_detector(),
            dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat")),
            dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat")))


class FaceIdentifier:
    """Enrols each consented performer's reference image once, then matches face crops against them."""

    def __init__(self, performers: dict[str, str], threshold: float = MATCH_THRESHOLD) -> None:
        self._dlib, self._hog, self._shape, self._net = _dlib_models()
        self.threshold = threshold
        self.enrolled: dict[str, np.ndarray] = {}
        for performer_id, ref in sorted(performers.items()):
            self.enrolled[performer_id] = self.enrol(performer_id, ref)

    def enrol(self, performer_id: str, reference: str | os.PathLike[str] | np.ndarray) -> np.ndarray:
        if isinstance(reference, np.ndarray):
            image = reference
        else:
            image = read_image(Path(reference), name=f"reference image of performer {performer_id}")
        descriptor = self.describe_image(image)
        if descriptor is None:
            raise InputError(f"performer {performer_id}: no face found in the enrolled reference image",
                             hint="enrol a clear, frontal photograph of the performer")
        return descriptor

    def describe_image(self, image: np.ndarray) -> np.ndarray | None:
        """Descriptor of the largest face in a whole picture (HOG, upsampled once for small faces)."""
        image = np.ascontiguousarray(image[..., :3])
        scale = 1.0
        if max(image.shape[:2]) > 1024:  # HOG time grows with pixels; references need not be huge
            scale = 1024 / max(image.shape[:2])
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        rects = list(self._hog(image, 1))
        if not rects:
            return None
        rect = max(rects, key=lambda r: r.area())
        return self._descriptor(image, rect)

    def describe_face(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """Descriptor of the face in ``box``: crop 2x, rescale the face to ~160 px, HOG re-detect (same box
        convention the descriptor net was trained with), falling back to the given box."""
        h, w = frame.shape[:2]
        bw, bh = box[2] - box[0], box[3] - box[1]
        if bw < 8 or bh < 8:
            return None
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        side = 2.0 * max(bw, bh)
        x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
        x1, y1 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
        scale = _DESCRIPTOR_FACE_PX / max(bh, 1.0)
        crop = cv2.resize(np.ascontiguousarray(frame[y0:y1, x0:x1]), None, fx=scale, fy=scale,
                          interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        rects = list(self._hog(crop, 0))
        if rects:
            ccx, ccy = (cx - x0) * scale, (cy - y0) * scale
            rect = min(rects, key=lambda r: (r.center().x - ccx) ** 2 + (r.center().y - ccy) ** 2)
        else:
            rx0, ry0 = (box[0] - x0) * scale, (box[1] - y0) * scale
            rect = self._dlib.rectangle(int(rx0), int(ry0), int(rx0 + bw * scale), int(ry0 + bh * scale))
        return self._descriptor(crop, rect)

    def _descriptor(self, image: np.ndarray, rect: Any) -> np.ndarray:
        shape = self._shape(image, rect)
        return np.asarray(self._net.compute_face_descriptor(image, shape), dtype=np.float64)

    def match(self, descriptor: np.ndarray | None) -> IdentityMatch:
        if descriptor is None:
            return IdentityMatch(None, None, "no descriptor")
        if not self.enrolled:
            return IdentityMatch(None, None, "no consented performer enrolled")
        dists = sorted((float(np.linalg.norm(descriptor - ref)), pid) for pid, ref in self.enrolled.items())
        best, pid = dists[0]
        if best >= self.threshold:
            return IdentityMatch(None, best, "no match")
        if len(dists) > 1 and dists[1][0] < self.threshold and dists[1][0] - best < AMBIGUITY_MARGIN:
            return IdentityMatch(None, best, "ambiguous")
        return IdentityMatch(pid, best, "matched")


def resolve_identities(frames: list[np.ndarray], warmup: int, tracked: list[list[TrackedFace]],
                       identifier: FaceIdentifier, interval: int = IDENTITY_INTERVAL) -> list[list[IdentityMatch]]:
    """IdentityMatch for every tracked face of every OUTPUT frame.

    ``tracked`` covers all frames of the chunk (warm-up included) because anchors may lie in the
    warm-up. The anchor of frame i is the later of its segment start and the last multiple of
    ``interval`` at or before i; with warm-up >= interval it never depends on the chunk start."""
    cache: dict[tuple[int, int], IdentityMatch] = {}
    if not tracked:
        return []
    by_frame: dict[int, list[TrackedFace]] = {}
    for faces in tracked:
        for f in faces:
            by_frame.setdefault(f.frame_index, []).append(f)
    results: list[list[IdentityMatch]] = []
    for pos in range(warmup, len(tracked)):
        row: list[IdentityMatch] = []
        for face in tracked[pos]:
            i = face.frame_index
            anchor = max(face.segment_start, i - (i % interval))
            key = (face.track, anchor)
            if key not in cache:
                anchor_face = next((f for f in by_frame.get(anchor, []) if f.track == face.track), None)
                if anchor_face is None:
                    cache[key] = IdentityMatch(None, None, "no descriptor")
                else:
                    offset = i - pos  # absolute index of frames[0]
                    desc = identifier.describe_face(frames[anchor - offset], anchor_face.observation.box)
                    cache[key] = identifier.match(desc)
            row.append(cache[key])
        results.append(row)
    return results
