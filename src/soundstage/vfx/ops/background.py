"""Background replacement and set extension: person matte or chroma key, then a graded composite.

* matte: selfie segmentation, sharpened and snapped to image edges with a guided filter
  (tracking.PersonMatter's model; the guided filter runs at reduced resolution here, He & Sun's
  "fast guided filter": the coefficients are smooth, so computing them on a quarter-size copy and
  applying them to the full-size guide keeps the edge snapping at a fraction of the cost).
  Used when there is no screen behind the performers.
* key (params["key"] = "green" | "blue"): colour-difference keying (screen channel minus the larger
  of the other two), with spill suppression that clamps the screen channel on the foreground.
* colour matching: Lab mean/std transfer of the plate toward the statistics of the shot's own
  background region (weighted by 1 - alpha), so an extension sits in the same grade. Off by default
  for keyed shots: the statistics of a green screen are not a look to match.
* light wrap: a blurred copy of the plate bleeds a little over the foreground's edge, which is what
  a real background does and what hides a cut-out look. Inside the person (alpha 1, away from the
  edge) pixels are left exactly as shot.

* a moving background (a clip, e.g. a generated one): frame i of the shot is composited over frame
  i of the clip (its last frame held past its end); each chunk decodes only the clip frames it
  needs. A clip made by an earlier job arrives with its mark already lifted (compute.chunks).

Speed (why the operation keeps state): a still plate is the same for every frame, so its Lab copy, its
statistics and its blurred (light-wrap) copy are computed once per frame size and cached. A frame
then costs one per-channel affine in Lab plus one Lab->RGB conversion; the wide Gaussian blurs run
on quarter-size images (a blur of sigma >= 8 px loses nothing at 1/4 resolution) and are upsampled.
Graded plates are cached under their grade parameters rounded far below what 8-bit output can
show, so a locked-off shot grades its plate once. Everything is float32. The cache is keyed only by
values computed from the frame itself, so output never depends on chunking or on earlier frames.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from soundstage.errors import InputError, SpecError
from soundstage.media.images import read_image
from soundstage.vfx.media import decode_range, probe

from .base import check_frames
from .tracking import PersonMatter

__all__ = ["BackgroundOperation", "chroma_key", "suppress_spill", "match_colour", "fit_plate", "grade_params"]

KEYS = ("green", "blue")
#: wide blurs, statistics and guided-filter coefficients are computed at 1/WORK_SCALE resolution
WORK_SCALE = 4
#: rounding of the grade parameters used as cache keys (Lab units; 0.02 L is 1/20 of an 8-bit step)
_GRADE_QUANTUM = 0.02
_GRADE_CACHE_SIZE = 8


def _screen_channels(key: str) -> tuple[int, tuple[int, int]]:
    return (1, (0, 2)) if key == "green" else (2, (0, 1))


def chroma_key(frame: np.ndarray, key: str, low: float = 0.06, high: float = 0.22) -> np.ndarray:
    """Alpha (1 = foreground) from the colour difference screen - max(others), in 0..1 units."""
    screen, others = _screen_channels(key)
    f = frame.astype(np.float32) * np.float32(1 / 255)
    diff = f[..., screen] - np.maximum(f[..., others[0]], f[..., others[1]])
    alpha = 1.0 - np.clip((diff - low) / (high - low), 0.0, 1.0)
    return cv2.GaussianBlur(alpha.astype(np.float32), (3, 3), 0)


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


def _small_size(width: int, height: int) -> tuple[int, int]:
    return max(1, width // WORK_SCALE), max(1, height // WORK_SCALE)


def _to_lab(rgb_u8: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb_u8.astype(np.float32) * np.float32(1 / 255), cv2.COLOR_RGB2LAB)


def _weighted_stats(lab: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Weighted per-channel mean and std (sums in float64: a 1080p frame has 2M terms)."""
    w = weight.reshape(-1, 1).astype(np.float32)
    flat = lab.reshape(-1, 3)
    total = float(w.sum(dtype=np.float64))
    if total <= 0:
        return np.zeros(3), np.ones(3), 0.0
    mean = (flat * w).sum(0, dtype=np.float64) / total
    var = (((flat - mean.astype(np.float32)) ** 2) * w).sum(0, dtype=np.float64) / total
    return mean, np.sqrt(var) + 1e-3, total


def _plate_stats(lab_plate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sample = lab_plate[::4, ::4].reshape(-1, 3)
    return sample.mean(0, dtype=np.float64), sample.std(0, dtype=np.float64) + 1e-3


def grade_params(mean_p: np.ndarray, std_p: np.ndarray, mean_r: np.ndarray, std_r: np.ndarray,
                 strength: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel Lab (scale, offset) moving the plate's mean/std ``strength`` of the way to the reference's."""
    target_mean = mean_p + strength * (mean_r - mean_p)
    target_std = std_p + strength * (std_r - std_p)
    scale = target_std / std_p
    return scale, target_mean - mean_p * scale


def _apply_grade(lab: np.ndarray, scale: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """RGB float32 0..255 of the plate after a per-channel affine in Lab (one cv2.transform pass)."""
    matrix = np.zeros((3, 4), np.float32)
    matrix[[0, 1, 2], [0, 1, 2]] = scale
    matrix[:, 3] = offset
    graded = cv2.transform(lab, matrix)
    rgb = cv2.cvtColor(graded, cv2.COLOR_LAB2RGB)
    np.multiply(rgb, np.float32(255), out=rgb)
    return rgb


def match_colour(plate: np.ndarray, reference: np.ndarray, weight: np.ndarray, strength: float) -> np.ndarray:
    """Move the plate's Lab mean/std toward the reference pixels selected by ``weight`` (float32 RGB 0..255)."""
    if strength <= 0 or float(weight.sum()) < 16:
        return plate.astype(np.float32)
    lab_p = _to_lab(plate)
    # statistics from a quarter-size copy: the same numbers to within noise, 16x fewer pixels
    small = _small_size(reference.shape[1], reference.shape[0])
    lab_r = _to_lab(cv2.resize(reference, small, interpolation=cv2.INTER_AREA))
    w = cv2.resize(weight.astype(np.float32), small, interpolation=cv2.INTER_AREA)
    mean_r, std_r, _ = _weighted_stats(lab_r, w)
    mean_p, std_p = _plate_stats(lab_p)
    scale, offset = grade_params(mean_p, std_p, mean_r, std_r, strength)
    return _apply_grade(lab_p, scale, offset)


def _blur_small(image: np.ndarray, sigma: float, size: tuple[int, int]) -> np.ndarray:
    """Gaussian blur at 1/WORK_SCALE resolution, upsampled back to ``size`` (w, h)."""
    small = cv2.resize(image, _small_size(*size), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), max(0.5, sigma / WORK_SCALE))
    return cv2.resize(small, size, interpolation=cv2.INTER_LINEAR)


def fast_guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He & Sun's fast guided filter (grey guide): coefficients at 1/WORK_SCALE, applied at full size."""
    h, w = guide.shape[:2]
    small = _small_size(w, h)
    g = cv2.resize(guide, small, interpolation=cv2.INTER_AREA)
    p = cv2.resize(src, small, interpolation=cv2.INTER_AREA)
    r = max(1, round(radius / WORK_SCALE))
    ksize = (2 * r + 1, 2 * r + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, cv2.CV_32F, ksize, borderType=cv2.BORDER_REFLECT)

    mean_i, mean_p = box(g), box(p)
    a = (box(g * p) - mean_i * mean_p) / (box(g * g) - mean_i * mean_i + eps)
    b = mean_p - a * mean_i
    a_full = cv2.resize(box(a), (w, h), interpolation=cv2.INTER_LINEAR)
    b_full = cv2.resize(box(b), (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.multiply(a_full, guide) + b_full


def _mix(base: np.ndarray, over: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """base + (over - base) * weight in float32 (OpenCV's SIMD loops: 5-10x numpy's broadcasting over RGB;
    cv2.blendLinear is slower still on float32)."""
    out = cv2.subtract(over, base, dtype=cv2.CV_32F)
    cv2.multiply(out, cv2.merge((weight, weight, weight)), dst=out)
    cv2.add(out, base, dst=out, dtype=cv2.CV_32F)
    return out


def _clip01(x: np.ndarray) -> np.ndarray:
    """np.clip(x, 0, 1) in place (numpy 1.26's clip is several times slower than min/max)."""
    np.maximum(x, 0.0, out=x)
    np.minimum(x, 1.0, out=x)
    return x


@dataclass
class _PlateAtSize:
    """The background plate prepared once for one frame size."""

    rgb: np.ndarray  # uint8, fitted
    rgb_f32: np.ndarray  # float32 0..255 (ungraded composite input)
    lab: np.ndarray  # float32 Lab, full size
    lab_wrap: np.ndarray  # float32 Lab of the light-wrap blur, 1/WORK_SCALE size
    mean: np.ndarray
    std: np.ndarray


class BackgroundOperation:
    """FrameOperation "background": per-frame, no temporal state (warm-up 0); plate work is cached."""

    name = "background"
    warmup_frames = 0

    def __init__(self, params: dict[str, Any], extra_inputs: dict[str, str]) -> None:
        self.key = params.get("key")
        if self.key is not None and self.key not in KEYS:
            raise SpecError(f"params.key must be one of {', '.join(KEYS)}, got {self.key!r}", field="params.key")
        path = extra_inputs.get("background")
        if not path:
            raise InputError("background replacement needs a background plate (input role 'background')")
        # a moving background (a generated clip, issue 16): frame i of the shot sits on frame i of
        # the clip (its last frame held if the shot is longer); a still is prepared once
        self.clip: BackgroundClip | None = BackgroundClip.of(Path(path))
        self.plate = None if self.clip is not None else read_image(Path(path), name="background plate")
        self.colour_match = float(params.get("color_match", 0.0 if self.key else 0.5))
        self.light_wrap = float(params.get("light_wrap", 0.35))
        self._prepared: dict[tuple[int, int], _PlateAtSize] = {}
        self._graded: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self.matter: Any = None
        if self.key is None:
            self.matter = PersonMatter(model_selection=int(params.get("matte_model", 1)))
        self.report: list[dict[str, Any]] = []

    @classmethod
    def from_context(cls, ctx) -> "BackgroundOperation":
        return cls(dict(ctx.params), dict(ctx.extra_inputs))

    def alpha(self, frame: np.ndarray) -> np.ndarray:
        """Float32 alpha in [0, 1] (1 = keep the shot's pixel)."""
        if self.key:
            return chroma_key(frame, self.key)
        m = self.matter
        hard = _clip01((m.raw(frame) - 0.5) * 4.0 + 0.5)  # steeper transition around the 0.5 level
        guide = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32) * np.float32(1 / 255)
        radius = max(2, int(round(m.refine_radius * frame.shape[0] / 720)))
        return _clip01(fast_guided_filter(guide, hard.astype(np.float32), radius, m.eps))

    def _plate_for(self, width: int, height: int, sigma: float) -> _PlateAtSize:
        prepared = self._prepared.get((width, height))
        if prepared is None:
            if self.plate is None:
                raise InputError("the background is a clip: composite frames through process_chunk")
            rgb = fit_plate(self.plate, width, height)
            lab = _to_lab(rgb)
            small = _small_size(width, height)
            wrap = cv2.GaussianBlur(cv2.resize(lab, small, interpolation=cv2.INTER_AREA), (0, 0),
                                    max(0.5, sigma / WORK_SCALE))
            mean, std = _plate_stats(lab)
            prepared = _PlateAtSize(rgb, rgb.astype(np.float32), lab, wrap, mean, std)
            self._prepared[(width, height)] = prepared
        return prepared

    def _graded_plate(self, prepared: _PlateAtSize, frame: np.ndarray,
                      alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(graded full-size plate, graded light-wrap colour at 1/WORK_SCALE) for this frame's grade."""
        h, w = frame.shape[:2]
        small = _small_size(w, h)
        weight = cv2.resize(1.0 - alpha, small, interpolation=cv2.INTER_AREA)
        if self.colour_match <= 0 or float(weight.sum()) * WORK_SCALE * WORK_SCALE < 16:
            return prepared.rgb_f32, None
        lab_r = _to_lab(cv2.resize(frame, small, interpolation=cv2.INTER_AREA))
        mean_r, std_r, _ = _weighted_stats(lab_r, weight)
        scale, offset = grade_params(prepared.mean, prepared.std, mean_r, std_r, self.colour_match)
        key = (w, h, *np.round(scale / (_GRADE_QUANTUM / 100.0)).astype(int).tolist(),
               *np.round(offset / _GRADE_QUANTUM).astype(int).tolist())
        cached = self._graded.get(key)
        if cached is None:
            scale_q = np.array(key[2:5], np.float64) * (_GRADE_QUANTUM / 100.0)
            offset_q = np.array(key[5:8], np.float64) * _GRADE_QUANTUM
            cached = (_apply_grade(prepared.lab, scale_q, offset_q), _apply_grade(prepared.lab_wrap, scale_q, offset_q))
            self._graded[key] = cached
            while len(self._graded) > _GRADE_CACHE_SIZE:
                self._graded.popitem(last=False)
        else:
            self._graded.move_to_end(key)
        return cached

    def composite(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        sigma = max(1.0, 0.012 * h)
        prepared = self._plate_for(w, h, sigma)
        alpha = self.alpha(frame)
        fg = suppress_spill(frame, self.key) if self.key else frame.astype(np.float32)
        plate, wrap_small = self._graded_plate(prepared, frame, alpha)
        out = _mix(plate, fg, alpha)
        if self.light_wrap > 0:
            spread = _blur_small(alpha, sigma, (w, h))
            wrap_weight = (self.light_wrap * alpha) * _clip01(1.0 - spread)
            if wrap_small is None:
                wrap_small = cv2.cvtColor(prepared.lab_wrap, cv2.COLOR_LAB2RGB) * np.float32(255)
            wrap_colour = cv2.resize(wrap_small, (w, h), interpolation=cv2.INTER_LINEAR)
            out = _mix(out, wrap_colour, wrap_weight)
        else:
            spread = alpha
        result = cv2.convertScaleAbs(cv2.max(out, 0.0))  # saturating, rounding float32 -> uint8
        if self.key is None:  # the performer, away from the edge, stays exactly as shot
            interior = (alpha >= 0.999) & (spread >= 0.999)
            np.copyto(result, frame, where=interior[..., None])
        return result

    def process_chunk(self, frames: list[np.ndarray], first_index: int, warmup: int) -> list[np.ndarray]:
        check_frames(frames, warmup)
        if self.clip is None:
            return [self.composite(f) for f in frames[warmup:]]
        out = []
        for frame, backdrop in zip(frames[warmup:], self.clip.frames(first_index, len(frames) - warmup)):
            self.plate = backdrop  # this frame's background, prepared for this frame only
            self._prepared.clear()
            self._graded.clear()
            out.append(self.composite(frame))
        self.plate = None
        return out


@dataclass(frozen=True)
class BackgroundClip:
    """A video used as the background: decoded per chunk, only the frames the chunk needs."""

    path: Path
    frame_count: int

    @classmethod
    def of(cls, path: Path) -> "BackgroundClip | None":
        """A clip when the file is a video (MP4/MOV or Matroska/WebM by its bytes), else None."""
        try:
            with open(path, "rb") as fh:
                head = fh.read(12)
        except OSError:
            return None
        if head[4:8] != b"ftyp" and not head.startswith(b"\x1a\x45\xdf\xa3"):
            return None
        return cls(Path(path), probe(path).frame_count)

    def frames(self, start: int, count: int):
        """``count`` frames from ``start``, the last frame held past the clip's end."""
        last = self.frame_count - 1
        first = min(start, last)
        decoded = list(decode_range(self.path, first, min(start + count, self.frame_count) if start <= last
                                    else first + 1))
        for index in range(start, start + count):
            yield decoded[min(index, last) - first]
