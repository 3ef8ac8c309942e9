"""Real pictures for the VFX op tests: scikit-image's astronaut (Eileen Collins) and matplotlib's Grace
Hopper, composited into 720p shots and animated with camera motion and sensor noise, in memory."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

HOPPER = Path(__import__("matplotlib").get_data_path()) / "sample_data" / "grace_hopper.jpg"


def astronaut() -> np.ndarray:
    import skimage.data

    return skimage.data.astronaut()


def hopper() -> np.ndarray:
    return np.asarray(Image.open(HOPPER).convert("RGB"))


def backdrop(width: int = 1280, height: int = 720) -> np.ndarray:
    import skimage.data

    return cv2.resize(skimage.data.coffee(), (width, height), interpolation=cv2.INTER_CUBIC)


def shot(person: np.ndarray, scale: float, x: int = 480, width: int = 1280, height: int = 720,
         back: np.ndarray | None = None) -> np.ndarray:
    """The person's picture scaled and standing on the bottom edge of a backdrop."""
    frame = (backdrop(width, height) if back is None else back).copy()
    p = cv2.resize(person, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    p = p[: height, : width - x]
    frame[height - p.shape[0]: height, x: x + p.shape[1]] = p
    return frame


def camera_clip(base: np.ndarray, frames: int = 24, shift: float = 1.5, zoom: float = 0.004,
                noise: float = 3.0, seed: int = 0) -> list[np.ndarray]:
    """A slow push-in and pan (sub-pixel per frame) with Gaussian sensor noise."""
    rng = np.random.default_rng(seed)
    h, w = base.shape[:2]
    out = []
    for i in range(frames):
        s = 1.0 + zoom * i
        m = np.array([[s, 0, -(s - 1) * w / 2 + shift * i], [0, s, -(s - 1) * h / 2 + 0.3 * shift * i]], np.float32)
        f = cv2.warpAffine(base, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT).astype(np.float32)
        if noise:
            f += rng.normal(0, noise, f.shape)
        out.append(np.clip(f + 0.5, 0, 255).astype(np.uint8))
    return out


def static_clip(base: np.ndarray, frames: int = 24, noise: float = 3.0, seed: int = 1) -> list[np.ndarray]:
    return camera_clip(base, frames, shift=0.0, zoom=0.0, noise=noise, seed=seed)


@pytest.fixture(scope="session")
def refs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Enrolled reference images (PNG files, as the asset store would hand them over)."""
    d = tmp_path_factory.mktemp("refs")
    paths = {}
    for name, img in (("collins", astronaut()), ("hopper", hopper())):
        p = d / f"{name}.png"
        Image.fromarray(img).save(p)
        paths[name] = str(p)
    return paths


@pytest.fixture(scope="session")
def medium_shot() -> np.ndarray:
    return shot(astronaut(), 1.4)


@pytest.fixture(scope="session")
def pics():
    """The picture helpers above (test modules cannot import conftest under --import-mode=importlib)."""
    from types import SimpleNamespace

    return SimpleNamespace(astronaut=astronaut, hopper=hopper, backdrop=backdrop, shot=shot,
                           camera_clip=camera_clip, static_clip=static_clip)
