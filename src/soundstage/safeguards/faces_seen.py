"""Whose enrolled face a job's inputs show: the image half of "performers a job involves" (DR019).

The guard (``resolve.decide``) calls this at every decision with the stored input files and the
enrolled reference images of the production's performers; nothing a client declares is read.
Every face in a still is described with the identity network the VFX likeness work uses (dlib's
ResNet, ``vfx.ops.identity``); a clip or an image sequence is checked on sampled frames. A face
within ``INVOLVED_THRESHOLD`` of an enrolled reference involves that performer.

Why 0.6 and not the 0.5 the VFX identity gate uses: there a false accept alters someone who did
not consent, so it trades recall for safety; here a false accept asks the requester to list one
more performer (a denial that names them), while a false reject lets an unconsented likeness
condition the output. So this check errs the other way, at dlib's own operating point; measured
on the faces the packages ship (DR019): same person 0.06-0.35, different people 0.63-0.86.

Descriptors are cached per file content (sha256): a job is decided three times (queue, claim,
register) and a reference serves every job.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from soundstage.errors import ParseError
from soundstage.safeguards.involvement import Sighting
from soundstage.vfx.sequences import SEQUENCE_MEDIA_TYPE, read_frame_rgb8

__all__ = ["INVOLVED_THRESHOLD", "InputFile", "ReferenceFile", "faces_shown", "SAMPLED_FRAMES", "describe_faces", "scanned"]

INVOLVED_THRESHOLD = 0.6
#: frames of a clip / image sequence that are checked (evenly spread; a still is one frame)
SAMPLED_FRAMES = 6
#: faces described per input (the largest first): a crowd plate is bounded, not skipped
MAX_FACES_PER_INPUT = 24
#: detector confidence: below the tracker's 0.5, since a missed face here lets a likeness through
DETECTION_CONFIDENCE = 0.4
_TILE = 640
_CACHE_SIZE = 512


@dataclass(frozen=True)
class ReferenceFile:
    performer_id: str
    sha256: str
    path: Path


@dataclass(frozen=True)
class InputFile:
    ref: str  # the asset reference as the job names it
    kind: str  # asset kind (plate, reference, element, ...)
    media_type: str
    sha256: str
    path: Path
    members: tuple[Path, ...] = ()  # frame files of an image sequence


class _LRU:
    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        return None

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


_DESCRIBE_LOCK = threading.Lock()
_REFERENCES = _LRU(_CACHE_SIZE)  # sha256 -> descriptor array, or an empty array when no face
_INPUTS = _LRU(_CACHE_SIZE)  # sha256 -> (n, 128) array of the faces found


def scanned(input_file: InputFile) -> bool:
    """Inputs that can show a face: stills, clips and image sequences."""
    media = input_file.media_type
    return media.startswith(("image/", "video/")) or media == SEQUENCE_MEDIA_TYPE


def faces_shown(inputs: Iterable[InputFile], references: Iterable[ReferenceFile],
                threshold: float = INVOLVED_THRESHOLD) -> dict[str, tuple[Sighting, ...]]:
    """performer id -> where their enrolled face appears among ``inputs`` (closest face per input)."""
    refs = list(references)
    files = [f for f in inputs if scanned(f)]
    if not refs or not files:
        return {}
    enrolled = [(r.performer_id, d) for r in refs if (d := _reference_descriptor(r)).size]
    if not enrolled:
        return {}
    matrix = np.stack([d for _, d in enrolled])
    found: dict[str, list[Sighting]] = {}
    for f in files:
        faces = _input_descriptors(f)
        if not len(faces):
            continue
        # distance of every face to every reference; a performer is shown if any face is close enough
        dists = np.linalg.norm(faces[:, None, :] - matrix[None, :, :], axis=2).min(axis=0)
        for (pid, _), dist in zip(enrolled, dists):
            if dist < threshold:
                found.setdefault(pid, []).append(Sighting(f.ref, f.kind, float(dist)))
    return {pid: tuple(seen) for pid, seen in sorted(found.items())}


@lru_cache(maxsize=1)
def _tools():
    """(face detector, identity network), loaded once per process. The VFX likeness work's own pair:
    MediaPipe's full-range detector finds faces down to ~20 px in a 1080p frame (dlib's HOG misses
    a face under ~80 px), dlib's ResNet describes each found box. mediapipe, cv2 and dlib load
    here (0.5-1 s), only when a job with picture inputs meets an enrolled face."""
    from soundstage.vfx.ops.identity import FaceIdentifier
    from soundstage.vfx.ops.tracking import FaceAnalyzer

    return FaceAnalyzer(min_confidence=DETECTION_CONFIDENCE, max_faces=MAX_FACES_PER_INPUT, with_mesh=False), \
        FaceIdentifier({})


def _tiles(w: int, h: int) -> list[tuple[int, int, int, int]]:
    """The whole frame, then overlapping TILE-px tiles when it is larger: the detector sees a frame at
    192 px, so a 60 px face in a 1080p wide shot is found only in a tile."""
    boxes = [(0, 0, w, h)]
    if max(w, h) <= _TILE * 1.25:
        return boxes
    stride = _TILE * 3 // 4
    xs = sorted({min(x, max(w - _TILE, 0)) for x in range(0, max(w - _TILE, 0) + stride, stride)})
    ys = sorted({min(y, max(h - _TILE, 0)) for y in range(0, max(h - _TILE, 0) + stride, stride)})
    return boxes + [(x, y, min(x + _TILE, w), min(y + _TILE, h)) for y in ys for x in xs]


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / small if small > 0 else 0.0


def face_boxes(image: np.ndarray, limit: int = MAX_FACES_PER_INPUT) -> list[np.ndarray]:
    """Face boxes (x0, y0, x1, y1) in one picture, largest first, the same face found twice kept once."""
    detector, _ = _tools()
    h, w = image.shape[:2]
    found: list[np.ndarray] = []
    for x0, y0, x1, y1 in _tiles(w, h):
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        found.extend(f.box + np.array([x0, y0, x0, y0], dtype=np.float64) for f in detector.detect(crop))
    found.sort(key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
    kept: list[np.ndarray] = []
    for box in found:
        if all(_overlap(box, k) < 0.5 for k in kept):
            kept.append(box)
    return kept[:limit]


def describe_faces(image: np.ndarray, limit: int = MAX_FACES_PER_INPUT) -> list[np.ndarray]:
    """Descriptors of the faces in one picture, largest first (one picture at a time per process:
    the API server decides in threads, and one dlib network object is shared)."""
    _, identifier = _tools()
    image = np.ascontiguousarray(image[..., :3])
    out = []
    with _DESCRIBE_LOCK:
        for box in face_boxes(image, limit):
            descriptor = identifier.describe_face(image, box)
            if descriptor is not None:
                out.append(descriptor)
    return out


def _reference_descriptor(ref: ReferenceFile) -> np.ndarray:
    cached = _REFERENCES.get(ref.sha256)
    if cached is None:
        from soundstage.media.images import read_image

        faces = describe_faces(read_image(ref.path, name=f"reference image of performer {ref.performer_id}"),
                               limit=1)
        cached = faces[0] if faces else np.empty(0)
        _REFERENCES.put(ref.sha256, cached)
    return cached


def _frames(f: InputFile) -> list[np.ndarray]:
    from soundstage.media.video import sample_frame_groups

    if f.media_type.startswith("image/"):
        return [read_frame_rgb8(f.path)]  # any still the operations read: Pillow's, DPX, EXR
    if f.members:
        picks = sorted({round(i * (len(f.members) - 1) / max(SAMPLED_FRAMES - 1, 1)) for i in range(SAMPLED_FRAMES)})
        return [read_frame_rgb8(f.members[i]) for i in picks]  # DPX / EXR / PNG / TIFF frames
    if f.media_type.startswith("video/"):
        return [run[0] for run in sample_frame_groups(f.path, groups=SAMPLED_FRAMES, per_group=1)]
    raise ParseError("not a picture input", source=f.ref)


def _input_descriptors(f: InputFile) -> np.ndarray:
    cached = _INPUTS.get(f.sha256)
    if cached is None:
        faces: list[np.ndarray] = []
        for frame in _frames(f):
            faces.extend(describe_faces(frame))
            if len(faces) >= MAX_FACES_PER_INPUT * SAMPLED_FRAMES:
                break
        cached = np.stack(faces) if faces else np.empty((0, 128))
        _INPUTS.put(f.sha256, cached)
    return cached
