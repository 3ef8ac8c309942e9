"""Background replacement and set extension: person matte or chroma key, then a graded composite.

* matte: selfie segmentation, sharpened and snapped to image edges with a guided filter
  (tracking.PersonMatter). Used when there is no screen behind the performers.
* key (params["key"] = "green" | "blue"): colour-difference keying (screen channel minus the larger
  of the other two), with spill suppression that clamps the screen channel on the foreground.
* colour matching: Lab mean/std transfer of the plate toward the statistics of the shot's own
  background region (weighted by 1 - alpha), so an extension sits in the same grade. Off by default
  for keyed shots: the statistics of a green screen are not a look to match.
* light wrap: a blurred copy of the plate bleeds a little over the foreground's edge, which is what
  a real background does and what hides a cut-out look. Inside the person (alpha 1, away from the
  edge) pixels are left exactly as shot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from soundstage.errors import InputError, SpecError

from .base import check_frames

__all__ = ["BackgroundOperation", "chroma_key", "suppress_spill", "match_colour", "fit_plate"]

KEYS = ("green", "blue")


def _screen_channels(key: str) -> tuple[int, tuple[int, int]]:
    return (1, (0, 2)) if key == "green" else (2, (0, 1))


def chroma_key(frame: np.ndarray, key: str, low: float = 0.06, high: float = 0.22) -> np.ndarray:
    """Alpha (1 = foreground) from the colour difference screen - max(others), in 0..1 units."""
    screen, others = _screen_channels(key)
    f = frame.astype(np.float32) / 255.0
    diff = f[..., screen] - np.maximum(f[..., others[0]], f[..., others[1]])
    alpha = 1.0 - np.clip((diff - low) / (high - low), 0.0, 1.0)
    return cv2.GaussianBlur(alpha, (3, 3), 0)


def suppress_spill(frame: np.ndarray, key: str) -> np.ndarray:
    """Clamp the screen channel to the larger of the other two (removes green/blue cast on edges, hair)."""
    screen, others = _screen_channels(key)
    out = frame.astype(np.float32)
    limit = np.maximum(out[..., others[0]], out[..., others[1]])
    out[..., screen] = np.minimum(out[..., screen], limit)
    return out


def fit_plate(plate: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale to cover the frame, then centre-crop (no letterboxing, no distortion)."""
    ph, pw = plate.shape[:2]
    scale = max(width / pw, height / ph)
    resized = cv2.resize(plate, (max(width, round(pw * scale)), max(height, round(ph * scale))),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    y0, x0 = (resized.shape[0] - height) // 2, (resized.shape[1] - width) // 2
    return np.ascontiguousarray(resized[y0:y0 + height, x0:x0 + width])


def match_colour(plate: np.ndarray, reference: np.ndarray, weight: np.ndarray, strength: float) -> np.ndarray:
    """Move the plate's Lab mean/std toward the reference pixels selected by ``weight``."""
    if strength <= 0 or float(weight.sum()) < 16:
        return plate.astype(np.float32)
    lab_p = cv2.cvtColor(plate.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    # statistics from a quarter-size copy: the same numbers to within noise, 16x fewer pixels
    small = (max(1, reference.shape[1] // 4), max(1, reference.shape[0] // 4))
    lab_r = cv2.cvtColor(cv2.resize(reference, small, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0,
                         cv2.COLOR_RGB2LAB)
    w = cv2.resize(weight.astype(np.float32), small, interpolation=cv2.INTER_AREA)[..., None].astype(np.float64)
    total = float(w.sum())
    mean_r = (lab_r * w).reshape(-1, 3).sum(0) / total
    std_r = np.sqrt(((lab_r - mean_r) ** 2 * w).reshape(-1, 3).sum(0) / total) + 1e-3
    small_p = lab_p[::4, ::4].reshape(-1, 3)
    mean_p = small_p.mean(0)
    std_p = small_p.std(0) + 1e-3
    target_mean = mean_p + strength * (mean_r - mean_p)
    target_std = std_p + strength * (std_r - std_p)
    graded = ((lab_p - mean_p) * (target_std / std_p) + target_mean).astype(np.float32)
    return cv2.cvtColor(graded, cv2.COLOR_LAB2RGB) * 255.0


class BackgroundOperation:
    """FrameOperation "background": per-frame, no temporal state (warm-up 0)."""

    name = "background"
    warmup_frames = 0

    def __init__(self, params: dict[str, Any], extra_inputs: dict[str, str]) -> None:
        self.key = params.get("key")
        if self.key is not None and self.key not in KEYS:
            raise SpecError(f"params.key must be one of {', '.join(KEYS)}, got {self.key!r}", field="params.key")
        path = extra_inputs.get("background")
        if not path:
            raise InputError("background replacement needs a background plate (input role 'background')")
        from soundstage.media.images import read_image  # noqa: PLC0415

        self.plate = read_image(Path(path), name="background plate")
        self.colour_match = float(params.get("color_match", 0.0 if self.key else 0.5))
        self.light_wrap = float(params.get("light_wrap", 0.35))
        self._fitted: dict[tuple[int, int], np.ndarray] = {}
        self.matter: Any = None
        if self.key is None:
            from .tracking import PersonMatter  # noqa: PLC0415

            self.matter = PersonMatter(model_selection=int(params.get("matte_model", 1)))
        self.report: list[dict[str, Any]] = []

    def alpha(self, frame: np.ndarray) -> np.ndarray:
        return chroma_key(frame, self.key) if self.key else self.matter.matte(frame)

    def composite(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        if (w, h) not in self._fitted:
            self._fitted[(w, h)] = fit_plate(self.plate, w, h)
        alpha = self.alpha(frame)
        fg = suppress_spill(frame, self.key) if self.key else frame.astype(np.float32)
        plate = match_colour(self._fitted[(w, h)], frame, 1.0 - alpha, self.colour_match)
        a = alpha[..., None]
        out = fg * a + plate * (1.0 - a)
        if self.light_wrap > 0:
            sigma = max(1.0, 0.012 * h)
            spread = cv2.GaussianBlur(alpha, (0, 0), sigma)
            wrap_weight = self.light_wrap * alpha * np.clip(1.0 - spread, 0.0, 1.0)
            wrap_colour = cv2.GaussianBlur(plate, (0, 0), sigma)
            out += (wrap_colour - out) * wrap_weight[..., None]
        else:
            spread = alpha
        result = np.clip(out + 0.5, 0, 255).astype(np.uint8)
        if self.key is None:  # the performer, away from the edge, stays exactly as shot
            interior = (alpha >= 0.999) & (spread >= 0.999)
            result[interior] = frame[interior]
        return result

    def process_chunk(self, frames: list[np.ndarray], first_index: int, warmup: int) -> list[np.ndarray]:
        check_frames(frames, warmup)
        return [self.composite(f) for f in frames[warmup:]]
