"""Cosmetic cleanup: blemishes and under-eye shadows, by frequency separation inside the skin mask.

Why frequency separation: blemishes and pores live in the high-pass layer, shading and colour in
the low-pass one. Attenuating the high-pass only inside the skin mask (face oval minus eyes, brows,
lips, feathered) removes spots without the plastic look of blurring everything, and leaves eyes and
lips sharp.
"""

from __future__ import annotations

import numpy as np

from .base import FaceOperation
from .masks import FaceRegions, wide_blur

__all__ = ["CosmeticOperation", "frequency_split", "smooth_skin"]


def frequency_split(image: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) layers of a float32 image; low + high == image."""
    low = wide_blur(image, sigma)
    return low, image - low


def smooth_skin(roi: np.ndarray, regions: FaceRegions, amount: float) -> np.ndarray:
    """Skin smoothing + under-eye lift on a float32 RGB ROI; returns the altered ROI (unmasked)."""
    fw = regions.face_width
    low, high = frequency_split(roi, 0.018 * fw)
    keep_high = 1.0 - 0.9 * amount * regions.skin
    out = low + high * keep_high[..., None]
    if amount > 0:
        # under-eye bags are low-frequency shading: pull that area toward its wider neighbourhood
        wide = wide_blur(low, 0.06 * fw)
        lift = np.maximum(wide - low, 0.0)  # only brighten shadows, never darken
        out += lift * (0.7 * amount * regions.under_eye)[..., None]
    return out


class CosmeticOperation(FaceOperation):
    name = "cosmetic"

    def retouch(self, roi: np.ndarray, regions: FaceRegions) -> np.ndarray:
        return smooth_skin(roi, regions, self.amount)
