"""Shared machinery of the face operations: analyse a chunk, decide whose face is whose, alter only consented ones.

The safety rule lives here, once: a face is altered only when its track matched an enrolled,
consented performer (ctx.performers holds only those). Unidentified faces, ambiguous matches and
faces without landmarks are left bit-identical, and every decision is recorded in ``op.report``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from soundstage.errors import InputError, SpecError

from .identity import IDENTITY_INTERVAL, FaceIdentifier, IdentityMatch, resolve_identities
from .masks import FaceRegions, face_regions
from .tracking import SMOOTHING_WINDOW, FaceAnalyzer, TrackedFace, track_faces

__all__ = ["FaceOperation", "read_amount", "check_frames", "blend_into"]


def read_amount(params: dict[str, Any], default: float = 0.5) -> float:
    raw = params.get("amount", default)
    try:
        amount = float(raw)
    except (TypeError, ValueError):
        raise SpecError(f"params.amount must be a number in 0..1, got {raw!r}") from None
    if not 0.0 <= amount <= 1.0 or amount != amount:
        raise SpecError(f"params.amount must be in 0..1, got {amount}")
    return amount


def check_frames(frames: list[np.ndarray], warmup: int) -> None:
    if warmup < 0 or warmup > len(frames):
        raise InputError(f"warm-up of {warmup} frames does not fit a chunk of {len(frames)}")
    for f in frames:
        if not isinstance(f, np.ndarray) or f.dtype != np.uint8 or f.ndim != 3 or f.shape[2] != 3:
            raise InputError("frames must be HxWx3 uint8 RGB arrays")


def blend_into(frame: np.ndarray, regions: FaceRegions, altered_roi: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Write ``altered_roi`` into a copy of ``frame`` with ``alpha``; pixels where alpha is ~0 stay bit-identical."""
    ys, xs = regions.slices
    src = frame[ys, xs].astype(np.float32)
    a = alpha[..., None]
    mixed = np.clip(src + (altered_roi - src) * a + 0.5, 0, 255).astype(np.uint8)
    keep = alpha < 1e-3
    mixed[keep] = frame[ys, xs][keep]
    out = frame.copy()
    out[ys, xs] = mixed
    return out


class FaceOperation:
    """Base of cosmetic and de-age: subclasses implement ``alter(frame, regions, face) -> frame``."""

    name = "face"
    warmup_frames = max(SMOOTHING_WINDOW, IDENTITY_INTERVAL)

    def __init__(self, params: dict[str, Any], performers: dict[str, str], fps: float) -> None:
        self.params = dict(params)
        self.amount = read_amount(self.params)
        self.fps = float(fps) if fps and fps > 0 else 24.0
        missing = [pid for pid, path in performers.items() if not path]
        if missing:
            raise InputError(f"performer {missing[0]} has no enrolled reference image",
                             hint="enrol a reference photograph before altering their likeness")
        if not performers:
            raise SpecError(f"{self.name}: no consented performer with an enrolled reference; "
                            "no face could be altered")
        self.identifier = FaceIdentifier(performers)
        self.analyzer = FaceAnalyzer()
        self.report: list[dict[str, Any]] = []

    def alter(self, frame: np.ndarray, regions: FaceRegions, face: TrackedFace) -> np.ndarray:
        raise NotImplementedError

    def process_chunk(self, frames: list[np.ndarray], first_index: int, warmup: int) -> list[np.ndarray]:
        check_frames(frames, warmup)
        tracked = track_faces(frames, first_index, warmup, self.fps, self.analyzer)
        matches = resolve_identities(frames, warmup, tracked, self.identifier)
        out: list[np.ndarray] = []
        for pos in range(warmup, len(frames)):
            result = frames[pos]
            faces: list[TrackedFace] = tracked[pos]
            decisions: list[IdentityMatch] = matches[pos - warmup]
            for face, decision in zip(faces, decisions):
                altered = decision.matched and face.smoothed is not None and self.amount > 0
                self.report.append({
                    "frame": face.frame_index, "track": face.track, "segment_start": face.segment_start,
                    "performer": decision.performer_id, "distance": decision.distance,
                    "decision": decision.reason if face.smoothed is not None else "no landmarks",
                    "altered": altered,
                })
                if altered:
                    assert face.smoothed is not None
                    regions = face_regions(face.smoothed, result.shape)
                    result = self.alter(result, regions, face)
            out.append(result)
        return out
