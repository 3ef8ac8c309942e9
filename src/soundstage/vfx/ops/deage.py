"""De-ageing by a parameterised amount: skin smoothing, wrinkle-line reduction, tone evening, subtle lift.

Every mask and the warp come from the One-Euro-smoothed landmarks, so the alteration does not
shimmer from frame to frame (tests measure the flicker of the altered region against the source's).

* wrinkles: lines are oriented mid-frequency structure. The band between two Gaussians is
  attenuated in the forehead / crow's-feet / nasolabial masks, more where the structure tensor says
  the band is line-like (coherent), so pores and texture elsewhere survive.
* tone evening: the low-frequency colour is pulled toward the mean skin tone in luma/chroma
  (YCbCr; chroma more than luma, which carries the face's shape). YCbCr rather than Lab because
  it is linear in RGB: the whole correction is one 3x3 operator on a blurred layer, a fraction of
  the cost of two Lab conversions, and the same on smooth skin.
* lift: a smooth upward displacement field over the lower face (a few pixels at amount 1) applied
  with cv2.remap on frame pixels (the retouch itself runs on the working grid, see masks.py);
  smooth because it is a blurred mask, so no tearing.
* generative: params["generative"] routes the face crop through the diffusers backend (img2img);
  see generative.py.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from .base import FaceOperation
from .cosmetic import smooth_skin
from .generative import DiffusersBridge
from .masks import FaceRegions, feather, wide_blur

__all__ = ["DeageOperation", "reduce_wrinkles", "even_tone", "lift_field"]

# RGB -> YCbCr (BT.601 analogue form; only differences are used, so offsets do not matter)
_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
#: how far luma and chroma move toward the mean skin tone at amount 1
_TONE_WEIGHTS = np.diag([0.25, 0.6, 0.6])
#: the same, as one operator on RGB differences
_TONE_OPERATOR = (np.linalg.inv(_YCC) @ _TONE_WEIGHTS @ _YCC).astype(np.float32)


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    return wide_blur(x, sigma)


def reduce_wrinkles(roi: np.ndarray, regions: FaceRegions, amount: float) -> np.ndarray:
    fw = regions.face_width
    fine, coarse = _blur(roi, 0.012 * fw), _blur(roi, 0.05 * fw)
    band = fine - coarse
    grey = cv2.transform(band, np.full((1, 3), 1.0 / 3.0, np.float32))
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    rho = 0.02 * fw
    jxx, jyy, jxy = _blur(gx * gx, rho), _blur(gy * gy, rho), _blur(gx * gy, rho)
    coherence = ((jxx - jyy) ** 2 + 4 * jxy ** 2) / ((jxx + jyy) ** 2 + 1e-6)
    weight = 0.85 * amount * regions.wrinkles * (0.4 + 0.6 * np.clip(coherence, 0, 1))
    return roi - band * weight[..., None]


def even_tone(roi: np.ndarray, regions: FaceRegions, amount: float) -> np.ndarray:
    base = _blur(roi, 0.06 * regions.face_width)
    # the mean skin tone of a layer this smooth is the same on every 4th pixel, at 1/16 of the cost
    skin_s, base_s = regions.skin[::4, ::4], base[::4, ::4]
    weight_sum = float(skin_s.sum())
    if weight_sum < 1.0 / 16.0:
        return roi
    mean_tone = (base_s * skin_s[..., None]).reshape(-1, 3).sum(axis=0) / weight_sum
    pull = cv2.transform(mean_tone.astype(np.float32) - base, _TONE_OPERATOR)
    return roi + pull * (amount * regions.skin)[..., None]


def lift_field(regions: FaceRegions, amount: float) -> np.ndarray:
    """Vertical displacement (pixels, sampling offset) over the lower face; zero away from it."""
    pts = regions.points
    h, w = regions.oval.shape
    nose_y = float(pts[1, 1])
    chin_y = float(pts[152, 1])
    ys = np.arange(h, dtype=np.float32)[:, None]
    ramp = np.clip((ys - nose_y) / max(chin_y - nose_y, 1.0), 0.0, 1.0)  # 0 at the nose, 1 at the chin
    lower = regions.oval * np.broadcast_to(ramp, (h, w))
    weight = feather(lower, 0.05 * regions.face_width) * regions.oval
    return (0.025 * regions.face_width * amount) * weight


class DeageOperation(FaceOperation):
    name = "deage"

    def __init__(self, params: dict[str, Any], performers: dict[str, str], fps: float) -> None:
        super().__init__(params, performers, fps)
        self.generative = bool(self.params.get("generative", False))
        self._generator: Any = None
        if self.generative:
            self._generator = DiffusersBridge(self.params)

    def retouch(self, roi: np.ndarray, regions: FaceRegions) -> np.ndarray:
        a = self.amount
        out = even_tone(reduce_wrinkles(smooth_skin(roi, regions, a), regions, a), regions, a)
        if self._generator is not None:
            # fixed seed: the same face gets the same noise every frame, which limits flicker
            gen = self._generator.img2img(np.clip(out, 0, 255).astype(np.uint8), 0.15 + 0.35 * a,
                                          seed=int(self.params.get("seed", 0))).astype(np.float32)
            out = out + (gen - out) * regions.skin[..., None]
        return out

    def alpha(self, regions: FaceRegions) -> np.ndarray:
        return np.clip(np.maximum(np.maximum(regions.oval, regions.skin), np.maximum(regions.wrinkles,
                                                                                      regions.under_eye)), 0, 1)

    def lift(self, regions: FaceRegions) -> np.ndarray | None:
        dy = lift_field(regions, self.amount)
        return dy if float(np.abs(dy).max()) > 0.05 * regions.scale else None
