"""Match a placed element to the plate: colour and level (Lab statistics) and grain (measured noise).

* grade: the element's Lab mean and standard deviation per channel (over its alpha) are moved
  toward those of the plate in the area it covers (a box around the placed quad), ``strength`` of
  the way. The mean carries level and colour balance; the contrast (std) moves half as far, so a
  bright element on a dark wall keeps its own detail rather than being flattened to the wall's.
* grain: a plate's noise is measured as the standard deviation, per channel, of the high-pass
  residual (the frame minus a Gaussian blur of it) in *flat* areas only (the quietest third of the
  region's local variance, so edges and texture are not counted as noise), corrected for the part of
  white noise the blur keeps. A clean (rendered, generated) element gets Gaussian grain so that its
  own measured noise plus the added grain equals the plate's: variances add.
  The grain is seeded by the job's seed and the frame index: deterministic, chunking-independent.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["LabStats", "lab_stats", "grade_to", "measure_grain", "add_grain", "GRAIN_SIGMA"]

#: the high-pass residual is frame - GaussianBlur(frame, GRAIN_SIGMA)
GRAIN_SIGMA = 1.5
_FLAT_SHARE = 1.0 / 3.0


@dataclass(frozen=True)
class LabStats:
    mean: np.ndarray  # L, a, b (float64)
    std: np.ndarray
    weight: float


def _to_lab(rgb: np.ndarray) -> np.ndarray:
    f = rgb.astype(np.float32) * np.float32(1 / 255) if rgb.dtype == np.uint8 else \
        np.clip(rgb, 0, 255).astype(np.float32) * np.float32(1 / 255)
    return cv2.cvtColor(f, cv2.COLOR_RGB2LAB)


def lab_stats(rgb: np.ndarray, weight: np.ndarray) -> LabStats:
    """Weighted Lab mean/std of an RGB image (uint8, or float 0..255)."""
    lab = _to_lab(rgb).reshape(-1, 3).astype(np.float64)
    w = weight.reshape(-1).astype(np.float64)
    total = float(w.sum())
    if total <= 1e-6:
        return LabStats(np.zeros(3), np.ones(3), 0.0)
    mean = (lab * w[:, None]).sum(0) / total
    var = (((lab - mean) ** 2) * w[:, None]).sum(0) / total
    return LabStats(mean, np.sqrt(var) + 1e-3, total)


def grade_to(rgb: np.ndarray, own: LabStats, target: LabStats, strength: float) -> np.ndarray:
    """The element (float32 RGB 0..255) with its Lab statistics moved toward ``target``."""
    if strength <= 0 or own.weight <= 0 or target.weight <= 0:
        return rgb.astype(np.float32)
    new_mean = own.mean + strength * (target.mean - own.mean)
    new_std = own.std + 0.5 * strength * (target.std - own.std)
    scale = new_std / own.std
    offset = new_mean - own.mean * scale
    matrix = np.zeros((3, 4), np.float32)
    matrix[[0, 1, 2], [0, 1, 2]] = scale
    matrix[:, 3] = offset
    lab = cv2.transform(_to_lab(rgb), matrix)
    out = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
    return np.clip(out * np.float32(255), 0, 255)


def _residual_gain(sigma: float) -> float:
    """std(n - G*n) / std(n) for white noise n: sqrt(sum((delta - g)^2)) over the blur's 2-D kernel."""
    size = int(2 * round(4 * sigma) + 1)
    k1 = cv2.getGaussianKernel(size, sigma).astype(np.float64)
    kernel = k1 @ k1.T
    kernel = -kernel
    kernel[size // 2, size // 2] += 1.0
    return float(np.sqrt((kernel ** 2).sum()))


_GAIN = _residual_gain(GRAIN_SIGMA)


def measure_grain(rgb: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Per-channel noise std (8-bit code values) in the flat parts of ``mask`` (all of the frame if None)."""
    f = rgb.astype(np.float32)
    residual = f - cv2.GaussianBlur(f, (0, 0), GRAIN_SIGMA)
    grey = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)
    blurred = cv2.GaussianBlur(grey, (0, 0), 2.0)
    # local variance of the *blurred* picture: texture and edges, not the noise itself
    local = cv2.GaussianBlur(blurred * blurred, (0, 0), 4.0) - cv2.GaussianBlur(blurred, (0, 0), 4.0) ** 2
    where = np.ones(grey.shape, bool) if mask is None else mask > 0.5
    # stay off the frame border (the blur reflects) and clipped pixels (no noise survives clipping)
    where[:4], where[-4:], where[:, :4], where[:, -4:] = False, False, False, False
    where &= (f.min(axis=2) > 3) & (f.max(axis=2) < 252)
    if int(where.sum()) < 64:
        return np.zeros(3)
    flat = where & (local <= np.quantile(local[where], _FLAT_SHARE))
    samples = residual[flat].astype(np.float64)
    return samples.std(axis=0) / _GAIN


def add_grain(rgb: np.ndarray, plate_grain: np.ndarray, own_grain: np.ndarray, amount: float,
              seed: int, frame_index: int) -> np.ndarray:
    """``rgb`` (float32 0..255) plus Gaussian grain bringing its noise to ``amount`` x the plate's."""
    target = np.asarray(plate_grain, np.float64) * amount
    extra = np.sqrt(np.maximum(target ** 2 - np.asarray(own_grain, np.float64) ** 2, 0.0)).astype(np.float32)
    if not np.any(extra > 0.05):
        return rgb
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(frame_index)])
    noise = rng.standard_normal(rgb.shape, dtype=np.float32)
    return rgb + noise * extra
