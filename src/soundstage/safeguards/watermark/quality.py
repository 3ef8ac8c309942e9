"""Is the mark visible? The measurements behind issue 13 item 8, shared by tests and bench.

A colourist sees a mark where the picture is flat or dark, and after the grade: two stops of
lift on a night exterior, a contrast push on a sky. So the measures are SSIM restricted to
flat regions and to dark regions of a frame, before and after such a grade, and the black
level (the mean change, and any change at all where the picture is black). `side_by_side`
writes the crops a person looks at.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from skimage.metrics import structural_similarity

__all__ = ["lift", "contrast_grade", "region_ssim", "flat_mask", "dark_mask", "report", "side_by_side"]

FLAT_CONTRAST = 1.0      # local band-pass contrast (grey levels) under which a region counts as flat
DARK_LUMA = 40           # luma under which a region counts as dark


def _to_linear(code: np.ndarray) -> np.ndarray:
    x = code.astype(np.float64) / 255.0
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _to_code(linear: np.ndarray) -> np.ndarray:
    x = np.clip(linear, 0.0, 1.0)
    code = np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055)
    return np.clip(np.round(code * 255.0), 0, 255).astype(np.uint8)


def lift(frame: np.ndarray, stops: float = 2.0) -> np.ndarray:
    """Exposure lift in scene-linear light (sRGB transfer), as a grade would: x 2^stops."""
    return _to_code(_to_linear(frame) * 2.0 ** stops)


def contrast_grade(frame: np.ndarray, gain: float = 1.6, pivot: float = 0.45) -> np.ndarray:
    """Contrast about a pivot in display code values, clipped."""
    out = (frame.astype(np.float64) / 255.0 - pivot) * gain + pivot
    return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)


def _luma(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def flat_mask(frame: np.ndarray) -> np.ndarray:
    """Pixels in flat regions: local band-pass contrast (8-pixel scale) under FLAT_CONTRAST."""
    y = _luma(frame).astype(np.float32)
    band = y - cv2.GaussianBlur(y, (0, 0), 4.0)
    contrast = np.sqrt(cv2.GaussianBlur(band * band, (0, 0), 8.0))
    return contrast < FLAT_CONTRAST


def dark_mask(frame: np.ndarray) -> np.ndarray:
    """Pixels in dark regions: luma (blurred over ~8 pixels) under DARK_LUMA."""
    y = cv2.GaussianBlur(_luma(frame).astype(np.float32), (0, 0), 4.0)
    return y < DARK_LUMA


def region_ssim(original: np.ndarray, marked: np.ndarray, mask: np.ndarray) -> float | None:
    """Mean SSIM (luma, 7x7 windows) over the masked pixels; None if the mask is nearly empty."""
    if int(np.count_nonzero(mask)) < 1000:
        return None
    _, full = structural_similarity(_luma(original), _luma(marked), data_range=255, full=True)
    return float(full[mask].mean())


def report(original: np.ndarray, marked: np.ndarray) -> dict[str, float | None]:
    """SSIM on flat and dark regions, at 1:1, after +2 stops and after a contrast grade; the
    mean change in the dark regions and the number of changed pixels whose luma is <= 4."""
    flat, dark = flat_mask(original), dark_mask(original)
    delta = marked.astype(np.int16) - original.astype(np.int16)
    black = _luma(original) <= 4
    return {
        "ssim_flat": region_ssim(original, marked, flat),
        "ssim_dark": region_ssim(original, marked, dark),
        "ssim_flat_contrast": region_ssim(contrast_grade(original), contrast_grade(marked), flat),
        "ssim_dark_lift2": region_ssim(lift(original), lift(marked), dark),
        "ssim_dark_lift2_contrast": region_ssim(contrast_grade(lift(original)), contrast_grade(lift(marked)), dark),
        "dark_mean_delta": float(delta[dark].mean()) if dark.any() else None,
        "black_pixels_changed": int(np.count_nonzero(np.any(delta != 0, axis=-1) & black)),
        "psnr": float(10 * np.log10(255.0 ** 2 / max(float(np.mean(delta.astype(np.float64) ** 2)), 1e-12))),
    }


def side_by_side(path: Path, rows: list[tuple[str, np.ndarray, np.ndarray]], zoom: int = 1) -> Path:
    """Write original | marked pairs (one row each, labelled) as a PNG, for a person to look at."""
    out = []
    for label, a, b in rows:
        pair = np.concatenate([a, np.full((a.shape[0], 6, 3), 255, np.uint8), b], axis=1)
        if zoom > 1:
            pair = cv2.resize(pair, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)
        cv2.putText(pair, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 64, 64), 1, cv2.LINE_AA)
        out.append(pair)
    width = max(r.shape[1] for r in out)
    sheet = np.concatenate([np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in out])
    path = Path(path)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return path
