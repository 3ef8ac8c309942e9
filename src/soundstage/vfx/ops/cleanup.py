"""Cleanup / object removal: inpaint a masked region (OpenCV TELEA or Navier-Stokes, or generative).

The inpainting guard (``CleanupGuard``) refuses, with one line, two kinds of mask:

* an unconsented face: any face the full-range detector finds whose box is meaningfully covered
  by the mask (over ``FACE_OVERLAP`` of the box) and which does not match a consented performer.
  Painting out a person is altering their likeness; an unknown face is never touched.
* watermark stripping: soundstage's spread-spectrum mark covers the WHOLE frame, so "the mask covers
  the watermark region" is true of any mask. The sensible rule: when a frame carries a detected mark,
  the mask may cover at most ``MAX_MARKED_MASK_FRACTION`` of the frame. Small object removals leave
  the mark readable; large repaints are how a mark is laundered and are refused. Checked on frames
  whose absolute index is a multiple of ``WATERMARK_CHECK_INTERVAL`` (0.1-0.2 s per check at 720p);
  the set of checked frames does not depend on chunking.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from soundstage.errors import InputError, RefusedError, SpecError
from soundstage.media.images import read_image
from soundstage.safeguards.watermark import detect_with_keys

from .base import check_frames
from .generative import DiffusersBridge
from .identity import FaceIdentifier
from .tracking import FaceAnalyzer

__all__ = ["CleanupOperation", "CleanupGuard", "load_mask", "MAX_MARKED_MASK_FRACTION", "FACE_OVERLAP",
           "WATERMARK_CHECK_INTERVAL"]

MAX_MARKED_MASK_FRACTION = 0.05
FACE_OVERLAP = 0.10
WATERMARK_CHECK_INTERVAL = 24
METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}


def load_mask(path: str, width: int, height: int) -> np.ndarray:
    """The mask PNG as a uint8 0/255 array; white (> 127) = remove. Wrong size -> InputError."""
    pixels = read_image(Path(path), name="cleanup mask")
    mask = (pixels.mean(axis=2) > 127).astype(np.uint8) * 255
    if width and height and mask.shape[:2] != (height, width):
        raise InputError(f"cleanup mask is {mask.shape[1]}x{mask.shape[0]} but the footage is {width}x{height}",
                         hint="export the mask at the plate's resolution")
    if not mask.any():
        raise InputError("cleanup mask selects nothing (all black)")
    return mask


class CleanupGuard:
    """Refuses masks over unconsented faces or over a large share of a watermarked frame."""

    def __init__(self, mask: np.ndarray, performers: dict[str, str], watermark_key: bytes | None = None) -> None:
        self.watermark_key = watermark_key
        self.mask = mask > 0
        self.fraction = float(self.mask.mean())
        self.detector = FaceAnalyzer(with_mesh=False)
        self._performers = performers
        self._identifier: Any = None
        self.report: list[dict[str, Any]] = []

    def _identify(self, frame: np.ndarray, box: np.ndarray) -> Any:
        if self._identifier is None:
            self._identifier = FaceIdentifier(self._performers)
        return self._identifier.match(self._identifier.describe_face(frame, box))

    def check(self, frame: np.ndarray, frame_index: int) -> None:
        for face in self.detector.detect(frame):
            x0, y0, x1, y1 = (int(round(v)) for v in face.box)
            area = max(1, (x1 - x0) * (y1 - y0))
            covered = float(self.mask[y0:y1, x0:x1].sum()) / area
            if covered <= FACE_OVERLAP:
                continue
            decision = self._identify(frame, face.box) if self._performers else None
            self.report.append({"frame": frame_index, "box": [x0, y0, x1, y1], "covered": round(covered, 3),
                                "performer": getattr(decision, "performer_id", None),
                                "distance": getattr(decision, "distance", None)})
            if decision is None or not decision.matched:
                raise RefusedError(f"cleanup refused: the mask covers {covered:.0%} of a face in frame "
                                   f"{frame_index} that is not a consented performer of this job")
        if frame_index % WATERMARK_CHECK_INTERVAL == 0 and self.fraction > MAX_MARKED_MASK_FRACTION:
            # this production's mark, or one made with the public key (older workspaces, other tools)
            if any(d.found for d in detect_with_keys(frame, list(dict.fromkeys((self.watermark_key, None))))):
                raise RefusedError(f"cleanup refused: frame {frame_index} carries a provenance watermark and the "
                                   f"mask covers {self.fraction:.0%} of it (limit {MAX_MARKED_MASK_FRACTION:.0%})")


class CleanupOperation:
    """FrameOperation "cleanup": per frame, guard first, then inpaint (warm-up 0)."""

    name = "cleanup"
    warmup_frames = 0

    @classmethod
    def from_context(cls, ctx) -> "CleanupOperation":
        return cls(dict(ctx.params), dict(ctx.performers), dict(ctx.extra_inputs), ctx.width, ctx.height,
                   bytes.fromhex(ctx.watermark_key) or None)

    def __init__(self, params: dict[str, Any], performers: dict[str, str], extra_inputs: dict[str, str],
                 width: int, height: int, watermark_key: bytes | None = None) -> None:
        path = extra_inputs.get("mask")
        if not path:
            raise InputError("cleanup needs a mask image (input role 'mask'; white = remove)")
        self.mask = load_mask(path, width, height)
        self.method = str(params.get("method", "telea")).lower()
        self.generative = bool(params.get("generative", False)) or self.method == "generative"
        if not self.generative and self.method not in METHODS:
            raise SpecError(f"params.method must be one of telea, ns, generative; got {self.method!r}",
                            field="params.method")
        self.radius = int(params.get("radius", 5))
        if not 1 <= self.radius <= 50:
            raise SpecError("params.radius must be 1..50", field="params.radius")
        self.seed = int(params.get("seed", 0))
        self.guard = CleanupGuard(self.mask, performers, watermark_key)
        self._bridge: Any = None
        if self.generative:
            self._bridge = DiffusersBridge(params)
        ys, xs = np.nonzero(self.mask)
        pad = 16
        self._box = (max(0, xs.min() - pad), max(0, ys.min() - pad), xs.max() + 1 + pad, ys.max() + 1 + pad)
        self.report = self.guard.report

    def inpaint(self, frame: np.ndarray) -> np.ndarray:
        if frame.shape[:2] != self.mask.shape:
            raise InputError(f"cleanup mask is {self.mask.shape[1]}x{self.mask.shape[0]} but the frame is "
                             f"{frame.shape[1]}x{frame.shape[0]}")
        if self._bridge is None:
            return cv2.inpaint(frame, self.mask, self.radius, METHODS[self.method])
        x0, y0, x1, y1 = self._box
        crop, mcrop = frame[y0:y1, x0:x1], self.mask[y0:y1, x0:x1]
        painted = self._bridge.inpaint(np.ascontiguousarray(crop), mcrop.astype(np.float32) / 255, self.seed)
        out = frame.copy()
        region = out[y0:y1, x0:x1]
        region[mcrop > 0] = painted[mcrop > 0]
        return out

    def process_chunk(self, frames: list[np.ndarray], first_index: int, warmup: int) -> list[np.ndarray]:
        check_frames(frames, warmup)
        out: list[np.ndarray] = []
        for offset, frame in enumerate(frames[warmup:]):
            self.guard.check(frame, first_index + offset)
            out.append(self.inpaint(frame))
        return out
