"""Shared machinery of the face operations: analyse a chunk, decide whose face is whose, alter only consented ones.

The safety rule lives here, once: a face is altered only when its track matched an enrolled,
consented performer (ctx.performers holds only those). Unidentified faces, ambiguous matches and
faces without landmarks are left bit-identical, and every decision is recorded in ``op.report``.
"""

from __future__ import annotations

from typing import Any, Iterator

import cv2
import numpy as np

from soundstage.errors import InputError, SpecError

from .identity import IDENTITY_INTERVAL, FaceIdentifier, IdentityMatch, resolve_identities
from .masks import FaceRegions, face_regions
from .tracking import SMOOTHING_WINDOW, FaceAnalyzer, TrackedFace, track_faces

__all__ = ["FaceOperation", "read_amount", "check_frames", "paste_change"]


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


#: a working-grid change smaller than this (in 8-bit code values) cannot move a pixel once rounded
_NEGLIGIBLE = 0.05


def paste_change(frame: np.ndarray, regions: FaceRegions, change: np.ndarray,
                 lift: np.ndarray | None = None) -> np.ndarray:
    """Add a working-grid ``change`` (float32 RGB, already weighted by its alpha) to a copy of ``frame``,
    then apply an optional vertical ``lift`` field (working-grid, in working pixels of sampling offset).

    Only the bounding box where the change or the lift is non-negligible is resampled to frame
    pixels and touched; everywhere else the frame stays bit-identical (a change under half a code
    value rounds away anyway)."""
    out = frame
    ys, xs = regions.slices
    # sum of |change| over the channels bounds its largest channel: a cheap, safe test
    magnitude = cv2.transform(cv2.absdiff(change, 0), np.ones((1, 3), np.float32))
    box = regions.frame_box(magnitude >= _NEGLIGIBLE)
    if box is not None:
        bx0, by0, bx1, by1 = box
        region = frame[ys, xs][by0:by1, bx0:bx1]
        delta = regions.to_frame(change, box)
        out = frame.copy()
        out[ys, xs][by0:by1, bx0:bx1] = cv2.add(region, delta, dtype=cv2.CV_8U)  # saturating, rounded
    if lift is not None:
        lbox = regions.frame_box(np.abs(lift) >= _NEGLIGIBLE * regions.scale)
        if lbox is not None:
            bx0, by0, bx1, by1 = lbox
            dy = regions.to_frame(lift, lbox) * np.float32(1.0 / regions.scale)
            roi = out[ys, xs]
            grid_x, grid_y = np.meshgrid(np.arange(bx0, bx1, dtype=np.float32), np.arange(by0, by1, dtype=np.float32))
            warped = cv2.remap(roi, grid_x, grid_y + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            if out is frame:
                out = frame.copy()
                roi = out[ys, xs]
            roi[by0:by1, bx0:bx1] = warped
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

    @classmethod
    def from_context(cls, ctx) -> "FaceOperation":
        return cls(dict(ctx.params), dict(ctx.performers), ctx.fps)

    def retouch(self, roi: np.ndarray, regions: FaceRegions) -> np.ndarray:
        """The altered working-grid ROI (float32 RGB), before masking. Subclasses implement it."""
        raise NotImplementedError

    def alpha(self, regions: FaceRegions) -> np.ndarray:
        """Where the retouch applies (working grid, 0..1)."""
        return np.clip(np.maximum(regions.skin, regions.under_eye), 0.0, 1.0)

    def lift(self, regions: FaceRegions) -> np.ndarray | None:
        """An optional vertical displacement field (working grid, working pixels)."""
        return None

    def alter(self, frame: np.ndarray, regions: FaceRegions, face: TrackedFace) -> np.ndarray:
        """Retouch on the working grid, mask, and paste the change (and the lift) into the frame."""
        roi = regions.working_copy(frame)
        change = (self.retouch(roi, regions) - roi) * self.alpha(regions)[..., None]
        return paste_change(frame, regions, change, self.lift(regions))

    def process_chunk(self, frames: list[np.ndarray], first_index: int, warmup: int) -> list[np.ndarray]:
        return list(self.iter_chunk(frames, first_index, warmup))

    def iter_chunk(self, frames: list[np.ndarray], first_index: int, warmup: int) -> Iterator[np.ndarray]:
        """The output frames one at a time (tracking and identity need the whole chunk first)."""
        check_frames(frames, warmup)
        tracked = track_faces(frames, first_index, warmup, self.fps, self.analyzer)
        matches = resolve_identities(frames, warmup, tracked, self.identifier)
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
            yield result
