"""A marking capability for one asset id: what a chunk worker holds instead of the watermark key.

Why (DR016): the production's watermark key lets its holder find, mint and lift the mark of every
asset the production ever made. A render node needs much less: to add *this job's* id to frames
of *this job's* size (and to lift the id of the plate it edits). The spread-spectrum embed
(io.soundstage.spread.2, DR015) is ``frame + round(pattern(key, payload, size) x mask(frame))``:
the perceptual mask (masking.py) depends on the picture and the strength only, and the pattern for
one payload at one size is a single tile repeated. So the submitting process (which holds the key)
computes that tile and ships it with the strength; the worker applies it with spread.py's keyless
``add_mark`` / ``lift_mark``, the very code the keyed engine runs. The result is byte-identical to
``default_engine(key, strength).embed`` (a test holds it to that), so the guard's read-back with the
production key is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from soundstage.errors import BackendError
from soundstage.safeguards.watermark import default_engine
from soundstage.safeguards.watermark.protocol import check_frame, check_payload
from soundstage.safeguards.watermark.spread import add_mark, lift_mark, tile_period_for, tiled_pattern

__all__ = ["PayloadMarker", "marker_for"]


@dataclass(frozen=True, eq=False)
class PayloadMarker:
    """Adds (``embed``) or subtracts (``remove``) one payload's mark on frames of one size."""

    payload: int
    height: int
    width: int
    tile: np.ndarray = field(repr=False)  # float32 period x period, unit RMS over the tile
    strength: float = 1.0                 # the engine's strength (scales the perceptual mask)
    _full: dict = field(default_factory=dict, repr=False, compare=False)

    def _pattern(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        if (h, w) != (self.height, self.width):
            raise BackendError(f"the mark for id {self.payload} was prepared for {self.width}x{self.height} "
                               f"frames; this frame is {w}x{h}")
        pattern = self._full.get("p")
        if pattern is None:
            pattern = self._full["p"] = tiled_pattern(self.tile, h, w)
        return pattern

    def embed(self, frame: np.ndarray) -> np.ndarray:
        frame = check_frame(frame, min_side=64)
        return add_mark(frame, self._pattern(frame), self.strength)

    def remove(self, frame: np.ndarray) -> np.ndarray:
        frame = check_frame(frame, min_side=64)
        return lift_mark(frame, self._pattern(frame), self.strength)

    def __getstate__(self) -> dict:  # the full-frame pattern is rebuilt on the worker, not shipped
        return {"payload": self.payload, "height": self.height, "width": self.width, "tile": self.tile,
                "strength": self.strength}

    def __setstate__(self, state: dict) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_full", {})


def marker_for(key: bytes | None, payload: int, height: int, width: int, strength: float = 1.0) -> PayloadMarker:
    """The marking capability for ``payload`` on ``height`` x ``width`` frames, from the production
    key (None: the public default key) at the engine's ``strength``. Only the submitting process,
    which holds the key, calls it."""
    engine = default_engine(key, strength)
    payload = check_payload(int(payload), engine.payload_bits)
    tile = np.array(engine._tile(payload, tile_period_for(height, width)), dtype=np.float32, copy=True)
    return PayloadMarker(payload, height, width, tile, float(strength))
