"""Test pictures for the watermark: natural photos when scikit-image is present, and
synthetic ones (gradients, noise, flat, stripes) that are always available.

Natural pictures come from `skimage.data` (files shipped inside the package: no download).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["natural_frame", "panning_clip", "synthetic_frames", "natural_images", "have_skimage"]


def have_skimage() -> bool:
    try:
        import skimage.data  # noqa: F401
    except ImportError:
        return False
    return True


def natural_images() -> dict[str, np.ndarray]:
    """Named RGB photos from scikit-image's bundled data."""
    import skimage.data as data

    out = {}
    for name in ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry"):
        fn = getattr(data, name, None)
        if fn is None:
            continue
        img = fn()
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        out[name] = np.ascontiguousarray(img[..., :3].astype(np.uint8))
    for name in ("camera", "moon", "page", "text", "coins"):
        fn = getattr(data, name, None)
        if fn is not None:
            out[name] = np.ascontiguousarray(np.stack([fn()] * 3, axis=-1).astype(np.uint8))
    return out


def natural_frame(width: int = 1920, height: int = 1080, variant: int = 0) -> np.ndarray:
    """A 16:9 natural frame: one photo as background, another pasted on it (as in the
    stack-notes measurements: astronaut on coffee)."""
    imgs = natural_images()
    pairs = [("coffee", "astronaut"), ("rocket", "chelsea"), ("chelsea", "coffee"), ("astronaut", "rocket")]
    bg_name, fg_name = pairs[variant % len(pairs)]
    frame = cv2.resize(imgs[bg_name], (width, height), interpolation=cv2.INTER_CUBIC)
    fg = imgs[fg_name]
    fh = int(height * 0.7)
    fw = int(fg.shape[1] * fh / fg.shape[0])
    fg = cv2.resize(fg, (fw, fh), interpolation=cv2.INTER_AREA)
    top, left = (height - fh) // 2, int(width * 0.55) - fw // 2
    frame[top:top + fh, left:left + fw] = fg
    return frame


def panning_clip(n_frames: int = 24, width: int = 1920, height: int = 1080, pan_px: int = 6) -> list[np.ndarray]:
    """A camera pan across a larger natural picture, with light sensor grain."""
    big = natural_frame(width + pan_px * n_frames + 8, height + 8, variant=0)
    rng = np.random.default_rng(7)
    clip = []
    for i in range(n_frames):
        f = big[4:4 + height, i * pan_px:i * pan_px + width].astype(np.float32)
        f += rng.normal(0, 2.0, f.shape).astype(np.float32)
        clip.append(np.clip(f, 0, 255).astype(np.uint8))
    return clip


def synthetic_frames(width: int = 1280, height: int = 720, seed: int = 0) -> dict[str, np.ndarray]:
    """Unmarked pictures that are hard on a detector: noise, gradients, flat, stripes, checkerboards."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    out = {
        "flat_grey": np.full((height, width, 3), 128, np.uint8),
        "white_noise": rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
        "gradient": np.stack([xx / width * 255, yy / height * 255, (xx + yy) / (width + height) * 255], -1).astype(np.uint8),
        "stripes_period_128": np.repeat((127 + 100 * np.sin(2 * np.pi * xx / 128))[..., None], 3, -1).astype(np.uint8),
        "checker_64": np.repeat((((xx // 64) + (yy // 64)) % 2 * 200 + 20)[..., None], 3, -1).astype(np.uint8),
    }
    blur = cv2.GaussianBlur(rng.normal(128, 60, (height, width)).astype(np.float32), (0, 0), 3)
    out["smooth_noise"] = np.repeat(np.clip(blur * 4 - 384, 0, 255)[..., None], 3, -1).astype(np.uint8)
    tile = rng.integers(0, 256, (128, 128), dtype=np.uint8)
    out["tiled_noise_128"] = np.repeat(np.tile(tile, (height // 128 + 1, width // 128 + 1))[:height, :width, None], 3, -1)
    return out
