"""A marking capability for one asset id: what a chunk worker holds instead of the watermark key.

Why (DR016): the production's watermark key lets its holder find, mint and lift the mark of every
asset the production ever made. A render node needs much less: to add *this job's* id to frames
of *this job's* size (and to lift the id of the plate it edits). The spread-spectrum embed is
``frame + round(pattern(key, payload, size) * texture_mask(frame))``; the pattern for one payload
at one size is a single tile repeated, so the submitting process (which holds the key) computes
that tile and ships it. The worker's result is byte-identical to ``default_engine(key).embed``
(a test holds it to that), so the guard's read-back with the production key is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from soundstage.errors import BackendError
from soundstage.safeguards.watermark.spread import SpreadSpectrumWatermark, tile_period_for

__all__ = ["PayloadMarker", "marker_for"]

# the texture mask depends on the picture and the strength only, never on the key: a keyless
# engine (the public default layout) computes it exactly as the keyed one does
_MASKER: SpreadSpectrumWatermark | None = None


def _masker() -> SpreadSpectrumWatermark:
    global _MASKER
    if _MASKER is None:
        _MASKER = SpreadSpectrumWatermark()
    return _MASKER


@dataclass(frozen=True, eq=False)
class PayloadMarker:
    """Adds (``embed``) or subtracts (``remove``) one payload's mark on frames of one size."""

    payload: int
    height: int
    width: int
    tile: np.ndarray = field(repr=False)  # float32 period x period, unit RMS over the tile
    _full: dict = field(default_factory=dict, repr=False, compare=False)

    def _pattern(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        if (h, w) != (self.height, self.width):
            raise BackendError(f"the mark for id {self.payload} was prepared for {self.width}x{self.height} "
                               f"frames; this frame is {w}x{h}")
        full = self._full.get("p")
        if full is None:
            period = self.tile.shape[0]
            reps = (-(-h // period), -(-w // period))
            full = self._full["p"] = np.ascontiguousarray(np.tile(self.tile, reps)[:h, :w])
        return full

    def _step(self, frame: np.ndarray) -> np.ndarray:
        import cv2

        from soundstage.safeguards.watermark.protocol import check_frame

        frame = check_frame(frame, min_side=64)
        step = cv2.multiply(self._pattern(frame), _masker()._mask(frame), dtype=cv2.CV_16S)
        return cv2.merge((step, step, step))

    def embed(self, frame: np.ndarray) -> np.ndarray:
        import cv2

        return cv2.add(frame, self._step(frame), dtype=cv2.CV_8U)

    def remove(self, frame: np.ndarray) -> np.ndarray:
        import cv2

        return cv2.subtract(frame, self._step(frame), dtype=cv2.CV_8U)

    def __getstate__(self) -> dict:  # the full-frame pattern is rebuilt on the worker, not shipped
        return {"payload": self.payload, "height": self.height, "width": self.width, "tile": self.tile}

    def __setstate__(self, state: dict) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_full", {})


def marker_for(key: bytes | None, payload: int, height: int, width: int) -> PayloadMarker:
    """The marking capability for ``payload`` on ``height`` x ``width`` frames, from the production
    key (None: the public default key). Only the submitting process, which holds the key, calls it."""
    from soundstage.safeguards.watermark import default_engine
    from soundstage.safeguards.watermark.protocol import check_payload

    engine = default_engine(key)
    payload = check_payload(int(payload), engine.payload_bits)
    period = tile_period_for(height, width)
    tile = np.array(engine._tile(payload, period), dtype=np.float32, copy=True)
    return PayloadMarker(payload, height, width, tile)
