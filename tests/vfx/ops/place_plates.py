"""Synthetic plates with known motion for the placement tests: a textured plane moved by known
homographies over a backdrop, with Gaussian sensor noise (tests are not a package: loaded by path)."""

from __future__ import annotations

import cv2
import numpy as np

W, H = 640, 360  # the guard checks the mark in 2-frame runs: a larger frame keeps that margin wide
#: the plane's quad in frame 0 (top-left, top-right, bottom-right, bottom-left)
QUAD = np.array([[150.0, 70.0], [330.0, 78.0], [322.0, 200.0], [156.0, 192.0]])


def motion(t: int) -> np.ndarray:
    """The plane's homography frame 0 -> frame t: a pan, a slow push-in, a roll and some perspective."""
    angle, scale = 0.004 * t, 1.0 + 0.006 * t
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    m = np.array([[c, -s, 2.5 * t], [s, c, 0.9 * t], [4e-6 * t, 6e-6 * t, 1.0]])
    centre = np.array([[1, 0, W / 2], [0, 1, H / 2], [0, 0, 1.0]])
    return centre @ m @ np.linalg.inv(centre)


def textures() -> tuple[np.ndarray, np.ndarray]:
    import skimage.data

    plane = cv2.resize(skimage.data.astronaut(), (W, H), interpolation=cv2.INTER_AREA)
    back = cv2.resize(skimage.data.coffee(), (W, H), interpolation=cv2.INTER_AREA)
    return plane, back


def moving_plane(frames: int = 16, noise: float = 3.0, seed: int = 0) -> list[np.ndarray]:
    """The whole frame is the plane (a wall filling the shot) moved by ``motion(t)``, plus noise."""
    rng = np.random.default_rng(seed)
    plane, _ = textures()
    out = []
    for t in range(frames):
        f = cv2.warpPerspective(plane, motion(t), (W, H), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        out.append(np.clip(f + rng.normal(0.0, noise, f.shape), 0, 255).astype(np.uint8))
    return out


def card_over_backdrop(frames: int = 16, noise: float = 3.0, seed: int = 0) -> list[np.ndarray]:
    """A static backdrop with a textured card (QUAD in frame 0) moving over it by ``motion(t)``."""
    rng = np.random.default_rng(seed)
    plane, back = textures()
    mask = np.zeros((H, W), np.float32)
    cv2.fillConvexPoly(mask, np.round(QUAD).astype(np.int32), 1.0)
    out = []
    for t in range(frames):
        h = motion(t)
        f = cv2.warpPerspective(plane, h, (W, H), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        m = cv2.warpPerspective(mask, h, (W, H), flags=cv2.INTER_LINEAR)[..., None]
        f = f * m + back * (1 - m)
        out.append(np.clip(f + rng.normal(0.0, noise, f.shape), 0, 255).astype(np.uint8))
    return out


def true_corners(t: int, quad: np.ndarray = QUAD) -> np.ndarray:
    return cv2.perspectiveTransform(quad.reshape(-1, 1, 2), motion(t)).reshape(4, 2)


def corners_text(frame: int, quad: np.ndarray) -> str:
    return f"{frame}:" + ",".join(f"{v:.3f}" for v in np.asarray(quad).reshape(-1))


def element_rgba(width: int = 240, height: int = 160) -> np.ndarray:
    """A clean rendered element: a lit gradient slab with a soft round hole (alpha), no noise."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgba = np.zeros((height, width, 4), np.uint8)
    rgba[..., 0] = np.clip(200 - 0.3 * x, 0, 255)
    rgba[..., 1] = np.clip(120 + 0.4 * y, 0, 255)
    rgba[..., 2] = 60
    hole = np.hypot(x - width * 0.7, y - height * 0.5) < height * 0.2
    rgba[..., 3] = np.where(hole, 0, 255)
    return rgba
