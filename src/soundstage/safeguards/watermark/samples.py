"""Test pictures for the watermark: natural photos when scikit-image is present, and
synthetic ones (gradients, noise, flat, stripes, textures) that are always available.

Natural pictures come from `skimage.data` (files shipped inside the package: no download).
`natural_frame(w, h, variant)` composes a 16:9 frame from them (a photo as background,
another pasted on it, or one photo alone), upscaled to the frame size as a delivery
would; `unmarked_pictures(n)` yields n different unmarked pictures for the
false-positive study (crops, flips, rescales, JPEG of the photos, and generated textures).
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

__all__ = ["natural_frame", "natural_frames", "panning_clip", "synthetic_frames", "natural_images", "have_skimage",
           "unmarked_pictures", "flat_sky", "night_frame"]

#: colour photographs in skimage.data, then grey ones (used as RGB)
_COLOUR = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina")
_GREY = ("camera", "moon", "page", "text", "coins", "brick", "grass", "gravel", "clock", "cell")
#: background / foreground pairs; the first four are the frames the suite has always used
_PAIRS = [("coffee", "astronaut"), ("rocket", "chelsea"), ("chelsea", "coffee"), ("astronaut", "rocket"),
          ("motorcycle_left", None), ("retina", "camera"), ("coffee", None), ("grass", "astronaut"),
          ("rocket", None), ("immunohistochemistry", "chelsea"), ("motorcycle_right", "coins"),
          ("astronaut", None), ("brick", "rocket"), ("chelsea", None), ("gravel", "coffee"),
          ("hubble_deep_field", "astronaut"), ("camera", None), ("clock", "motorcycle_left"),
          ("moon", "chelsea"), ("coffee", "motorcycle_right"), ("retina", None), ("cell", "astronaut"),
          ("motorcycle_left", "rocket"), ("grass", None)]


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
    for name in _COLOUR:
        fn = getattr(data, name, None)
        if fn is None:
            continue
        img = fn()
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        out[name] = np.ascontiguousarray(img[..., :3].astype(np.uint8))
    stereo = getattr(data, "stereo_motorcycle", None)
    if stereo is not None:
        left, right, _ = stereo()
        out["motorcycle_left"], out["motorcycle_right"] = np.ascontiguousarray(left), np.ascontiguousarray(right)
    for name in _GREY:
        fn = getattr(data, name, None)
        if fn is not None:
            out[name] = np.ascontiguousarray(np.stack([fn()] * 3, axis=-1).astype(np.uint8))
    return out


_CACHE: dict[str, np.ndarray] = {}


def _photos() -> dict[str, np.ndarray]:
    if not _CACHE:
        _CACHE.update(natural_images())
    return _CACHE


def _cover(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Crop the photo to the frame's aspect (centred) and resize it to the frame."""
    h, w = img.shape[:2]
    aspect = width / height
    if w / h > aspect:
        cw = int(round(h * aspect))
        img = img[:, (w - cw) // 2:(w - cw) // 2 + cw]
    else:
        ch = int(round(w / aspect))
        img = img[(h - ch) // 2:(h - ch) // 2 + ch]
    interp = cv2.INTER_CUBIC if width > img.shape[1] else cv2.INTER_AREA
    return cv2.resize(img, (width, height), interpolation=interp)


def natural_frame(width: int = 1920, height: int = 1080, variant: int = 0) -> np.ndarray:
    """A natural frame: one photo as background, another pasted on it (as in the
    stack-notes measurements: astronaut on coffee), or one photo alone; 24 variants."""
    imgs = _photos()
    bg_name, fg_name = _PAIRS[variant % len(_PAIRS)]
    if variant < 4:   # the frames the suite has always used: background stretched to the frame
        frame = cv2.resize(imgs[bg_name], (width, height), interpolation=cv2.INTER_CUBIC)
    else:
        frame = _cover(imgs[bg_name], width, height)
    if fg_name is None:
        return frame
    fg = imgs[fg_name]
    fh = int(height * 0.7)
    fw = min(int(fg.shape[1] * fh / fg.shape[0]), width)
    fg = cv2.resize(fg, (fw, fh), interpolation=cv2.INTER_AREA if fh < fg.shape[0] else cv2.INTER_CUBIC)
    top = (height - fh) // 2
    left = min(max(0, int(width * (0.55 if variant % 2 == 0 else 0.4)) - fw // 2), width - fw)
    frame[top:top + fh, left:left + fw] = fg
    return frame


def natural_frames(n: int, width: int = 1920, height: int = 1080) -> list[np.ndarray]:
    """The first n natural frames (n <= 24)."""
    return [natural_frame(width, height, variant=i) for i in range(min(n, len(_PAIRS)))]


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


def flat_sky(width: int = 1920, height: int = 1080, seed: int = 0) -> np.ndarray:
    """A clear sky: a smooth blue gradient with the faint grain of a clean camera (sigma 0.6)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    top, bottom = np.float32([70, 120, 200]), np.float32([150, 190, 235])
    sky = top + (bottom - top) * t + np.zeros((1, width, 1), np.float32)
    sky += rng.normal(0.0, 0.6, (height, width, 1)).astype(np.float32)
    return np.clip(np.round(sky), 0, 255).astype(np.uint8)


def night_frame(width: int = 1920, height: int = 1080, variant: int = 0) -> np.ndarray:
    """A night exterior: a natural frame taken down to a mean luma of ~20 (a gamma of 2.2
    and a gain), true blacks included, as a colourist receives it before the lift."""
    frame = natural_frame(width, height, variant).astype(np.float32) / 255.0
    dark = 255.0 * 0.35 * np.power(frame, 2.2)
    return np.clip(np.round(dark), 0, 255).astype(np.uint8)


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


def _texture(kind: int, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A generated texture, the kinds a lattice search is most likely to lock onto."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == 0:    # a grating at a random angle and period (a periodic picture)
        angle, period = rng.uniform(0, np.pi), rng.uniform(6, 300)
        g = 128 + 100 * np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period)
    elif kind == 1:  # two crossed gratings (a lattice, like our tiles)
        p1, p2, a = rng.uniform(40, 300), rng.uniform(40, 300), rng.uniform(-0.2, 0.2)
        g = 128 + 50 * np.sin(2 * np.pi * (xx * np.cos(a) + yy * np.sin(a)) / p1) \
            + 50 * np.sin(2 * np.pi * (yy * np.cos(a) - xx * np.sin(a)) / p2)
    elif kind == 2:  # random noise tiled at a random period (a periodic pattern without our key)
        p = int(rng.integers(48, 320))
        tile = cv2.GaussianBlur(rng.normal(128, 50, (p, p)).astype(np.float32), (0, 0), rng.uniform(0.5, 3))
        g = np.tile(tile, (height // p + 1, width // p + 1))[:height, :width]
    elif kind == 3:  # fractal (1/f) noise, like clouds or foliage
        spec = np.fft.rfft2(rng.normal(0, 1, (height, width)))
        fy = np.fft.fftfreq(height)[:, None]
        fx = np.fft.rfftfreq(width)[None, :]
        spec /= np.maximum(np.hypot(fy, fx), 1.0 / max(width, height)) ** rng.uniform(0.8, 1.6)
        g = np.fft.irfft2(spec, s=(height, width))
        g = 128 + 60 * (g - g.mean()) / (g.std() + 1e-9)
    elif kind == 4:  # a checkerboard at a random size, slightly rotated
        s, a = rng.uniform(16, 200), rng.uniform(-0.1, 0.1)
        u, v = xx * np.cos(a) + yy * np.sin(a), yy * np.cos(a) - xx * np.sin(a)
        g = np.where((np.floor(u / s) + np.floor(v / s)) % 2 == 0, 40.0, 215.0)
    elif kind == 5:  # sensor-like grain on a gradient (a flat wall)
        g = 60 + 120 * xx / width + rng.normal(0, rng.uniform(0.5, 6), (height, width))
    else:            # white noise of random strength on mid grey
        g = 128 + rng.normal(0, rng.uniform(5, 70), (height, width))
    colour = rng.uniform(0.6, 1.0, 3).astype(np.float32)
    rgb = np.clip(g[..., None].astype(np.float32) * colour, 0, 255)
    return np.ascontiguousarray(np.round(rgb).astype(np.uint8))


def unmarked_pictures(n: int = 300, seed: int = 11) -> Iterator[tuple[str, np.ndarray]]:
    """n different unmarked pictures for the false-positive study, from what ships with the
    packages (no download): random crops, flips, rotations and rescales of the scikit-image
    photos (half of them JPEG-compressed), whole natural frames at delivery sizes, and
    generated textures (gratings, lattices, tiled noise, 1/f noise, checkerboards, grain)."""
    rng = np.random.default_rng(seed)
    photos = list(_photos().items())
    sizes = [(1920, 1080), (1280, 720), (854, 480), (640, 360), (1080, 1920), (1024, 1024)]
    for i in range(n):
        kind = i % 5
        if kind == 4:       # a generated texture
            w, h = sizes[int(rng.integers(len(sizes)))]
            sub = int(rng.integers(7))
            yield f"texture{sub}-{w}x{h}", _texture(sub, w, h, rng)
            continue
        if kind == 3:       # a whole natural frame at a delivery size, maybe mirrored or tilted
            w, h = sizes[int(rng.integers(4))]
            img = natural_frame(w, h, variant=int(rng.integers(len(_PAIRS))))
            name = f"frame-{w}x{h}"
        else:               # a crop of a photo, rescaled
            pname, base = photos[int(rng.integers(len(photos)))]
            base = cv2.resize(base, None, fx=rng.uniform(0.8, 3.5), fy=rng.uniform(0.8, 3.5),
                              interpolation=cv2.INTER_CUBIC)
            bh, bw = base.shape[:2]
            ch, cw = int(rng.integers(min(bh, 200), bh + 1)), int(rng.integers(min(bw, 200), bw + 1))
            y0, x0 = int(rng.integers(0, bh - ch + 1)), int(rng.integers(0, bw - cw + 1))
            img = np.ascontiguousarray(base[y0:y0 + ch, x0:x0 + cw])
            name = f"{pname}-crop{cw}x{ch}"
        if rng.random() < 0.3:
            img = np.ascontiguousarray(img[:, ::-1])
            name += "-flip"
        if rng.random() < 0.3:
            h, w = img.shape[:2]
            angle = rng.uniform(-6, 6)
            m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
            img = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT)
            name += f"-rot{angle:.1f}"
        if rng.random() < 0.5:
            q = int(rng.integers(30, 95))
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
            img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
            name += f"-q{q}"
        yield name, img


def unmarked_clips(n: int = 300, seed: int = 11, frames: int = 8) -> Iterator[tuple[str, list[np.ndarray]]]:
    """n unmarked clips for the false-positive study of `detect_frames`: a slow pan (up to 4 px a
    frame, less on a narrow picture) across each of `unmarked_pictures(n, seed)`, or the picture
    itself repeated where it is too narrow to pan."""
    for name, picture in unmarked_pictures(n, seed=seed):
        width = picture.shape[1]
        pan = min(4, max(1, (width - 64) // (2 * frames)))
        if width - (frames - 1) * pan < 64:
            yield name, [picture] * frames
            continue
        yield name, [np.ascontiguousarray(picture[:, k * pan:width - (frames - 1 - k) * pan]) for k in range(frames)]
