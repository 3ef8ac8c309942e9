"""The attack suite the watermark is measured against, shared by tests and bench.

Each still attack maps an RGB uint8 frame to a new RGB uint8 frame (possibly another
size). The video attacks work on lists of frames. Keeping them in the package means the
tests and the benchmark cannot drift apart on what "JPEG 50", "10% crop" or "rotate 5°"
means.

Geometric attacks (issue 13 item 7) are what a re-poster does to a clip: mirror it, tilt it
a few degrees and crop the black corners away, film the screen with a phone (perspective),
or deliver it small (854×480, 640×360).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from soundstage.errors import BackendError, InputError

from .geometry import inscribed_rect

__all__ = ["STILL_ATTACKS", "GEOMETRIC_ATTACKS", "jpeg", "resize", "resize_to", "crop", "brightness", "contrast",
           "rotate", "inscribed_rect", "hflip", "perspective", "gamma", "saturation", "hue_shift", "blur", "noise",
           "letterbox", "overlay", "h264_roundtrip", "h265_roundtrip", "drop_frames"]


def jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise BackendError("OpenCV could not encode JPEG")
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def resize(frame: np.ndarray, factor: float) -> np.ndarray:
    """Resize and keep the new size (the detector sees the small picture)."""
    h, w = frame.shape[:2]
    return resize_to(frame, max(1, int(round(w * factor))), max(1, int(round(h * factor))))


def resize_to(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize to an exact size (a delivery format: 854x480, 640x360, ...); area filter when shrinking."""
    h, w = frame.shape[:2]
    interp = cv2.INTER_AREA if width * height < w * h else cv2.INTER_CUBIC
    return cv2.resize(frame, (int(width), int(height)), interpolation=interp)


def crop(frame: np.ndarray, fraction: float = 0.10, anchor: tuple[float, float] = (0.7, 0.3)) -> np.ndarray:
    """Cut `fraction` of each dimension, split unevenly between the sides (an arbitrary
    tile phase). fraction=0.5 keeps 25% of the area."""
    h, w = frame.shape[:2]
    ch, cw = int(round(h * fraction)), int(round(w * fraction))
    top, left = int(ch * anchor[0]), int(cw * anchor[1])
    return np.ascontiguousarray(frame[top:top + h - ch, left:left + w - cw])


def brightness(frame: np.ndarray, offset: int = 20) -> np.ndarray:
    return np.clip(frame.astype(np.int16) + offset, 0, 255).astype(np.uint8)


def contrast(frame: np.ndarray, gain: float = 1.2) -> np.ndarray:
    """Contrast about mid-grey, clipped, as an editor's contrast slider does."""
    return np.clip((frame.astype(np.float32) - 128.0) * gain + 128.0, 0, 255).round().astype(np.uint8)


def rotate(frame: np.ndarray, degrees: float, out_size: tuple[int, int] | None = None) -> np.ndarray:
    """Rotate about the centre, crop to the largest axis-aligned rectangle without black
    corners, resize to `out_size` (width, height; default: the original size)."""
    h, w = frame.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), float(degrees), 1.0)
    turned = cv2.warpAffine(frame, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    cw, ch = inscribed_rect(w, h, degrees)
    cw, ch = int(math.floor(cw)) - 2, int(math.floor(ch)) - 2      # stay clear of the interpolated edge
    top, left = (h - ch) // 2, (w - cw) // 2
    cut = turned[top:top + ch, left:left + cw]
    ow, oh = out_size or (w, h)
    return resize_to(cut, ow, oh)


def hflip(frame: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(frame[:, ::-1])


def perspective(frame: np.ndarray, amount: float = 0.03, seed: int = 0) -> np.ndarray:
    """A phone filming a screen: every corner moved by up to `amount` of the side, each in a
    seeded random direction; the picture is warped into the same frame size (black outside)."""
    h, w = frame.shape[:2]
    rng = np.random.default_rng(seed)
    src = np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
    jitter = rng.uniform(-amount, amount, (4, 2)) * np.float32([w, h])
    matrix = cv2.getPerspectiveTransform(src, (src + jitter).astype(np.float32))
    return cv2.warpPerspective(frame, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def gamma(frame: np.ndarray, value: float = 0.7) -> np.ndarray:
    lut = np.clip(np.round(255.0 * (np.arange(256) / 255.0) ** value), 0, 255).astype(np.uint8)
    return cv2.LUT(frame, lut)


def saturation(frame: np.ndarray, gain: float = 1.5) -> np.ndarray:
    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 1] = np.clip(hsv[..., 1] * gain, 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)


def hue_shift(frame: np.ndarray, degrees: float = 30.0) -> np.ndarray:
    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + int(round(degrees / 2))) % 180).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def blur(frame: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    return cv2.GaussianBlur(frame, (0, 0), sigma)


def noise(frame: np.ndarray, sigma: float = 6.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    grain = rng.standard_normal(frame.shape, dtype=np.float32) * np.float32(sigma)
    return np.clip(np.rint(frame + grain), 0, 255).astype(np.uint8)


def letterbox(frame: np.ndarray, aspect: float = 4 / 3) -> np.ndarray:
    """Deliver in a frame of another aspect at the same height (1080p into 1440x1080): the
    picture is shrunk to fit and black bars fill the rest."""
    h, w = frame.shape[:2]
    fw, fh = int(round(h * aspect)), h
    scale = min(fw / w, fh / h)
    pw, ph = int(round(w * scale)), int(round(h * scale))
    out = np.zeros((fh, fw, 3), np.uint8)
    top, left = (fh - ph) // 2, (fw - pw) // 2
    out[top:top + ph, left:left + pw] = resize_to(frame, pw, ph)
    return out


def overlay(frame: np.ndarray) -> np.ndarray:
    """A broadcaster's logo, a caption bar and subtitles burnt in (opaque, ~8% of the area)."""
    out = frame.copy()
    h, w = out.shape[:2]
    s = h / 1080.0
    cv2.rectangle(out, (int(w * 0.04), int(h * 0.05)), (int(w * 0.16), int(h * 0.14)), (240, 240, 240), -1)
    cv2.putText(out, "NEWS 24", (int(w * 0.05), int(h * 0.115)), cv2.FONT_HERSHEY_SIMPLEX, 1.4 * s, (200, 0, 0),
                max(1, int(4 * s)), cv2.LINE_AA)
    cv2.rectangle(out, (0, int(h * 0.80)), (w, int(h * 0.86)), (20, 20, 120), -1)
    cv2.putText(out, "BREAKING: footage shared online", (int(w * 0.03), int(h * 0.845)), cv2.FONT_HERSHEY_SIMPLEX,
                1.3 * s, (255, 255, 255), max(1, int(3 * s)), cv2.LINE_AA)
    cv2.putText(out, "- I never said that.", (int(w * 0.35), int(h * 0.94)), cv2.FONT_HERSHEY_SIMPLEX, 1.5 * s,
                (255, 255, 0), max(1, int(4 * s)), cv2.LINE_AA)
    return out


def _codec_roundtrip(frames: Sequence[np.ndarray], codec: str, options: dict[str, str], fps: int) -> list[np.ndarray]:
    import av

    if not frames:
        raise InputError("no frames to encode")
    h, w = frames[0].shape[:2]
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
        stream.options = options
        for frame in frames:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[: h - h % 2, : w - w % 2]), format="rgb24")
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    buf.seek(0)
    with av.open(buf, "r") as inp:
        return [f.to_ndarray(format="rgb24") for f in inp.decode(video=0)]


def h264_roundtrip(frames: Sequence[np.ndarray], crf: int = 28, preset: str = "medium", fps: int = 24) -> list[np.ndarray]:
    """Encode with libx264 (yuv420p, given CRF) in memory, decode back to RGB frames."""
    return _codec_roundtrip(frames, "libx264", {"preset": preset, "crf": str(crf)}, fps)


def h265_roundtrip(frames: Sequence[np.ndarray], crf: int = 32, preset: str = "fast", fps: int = 24) -> list[np.ndarray]:
    """Encode with libx265 (yuv420p, given CRF) in memory, decode back to RGB frames."""
    return _codec_roundtrip(frames, "libx265", {"preset": preset, "crf": str(crf), "x265-params": "log-level=error"},
                            fps)


def drop_frames(frames: Sequence[np.ndarray], keep_every: int = 3) -> list[np.ndarray]:
    """Drop two of every three frames (a frame-rate conversion or a careless edit)."""
    return [f for i, f in enumerate(frames) if i % keep_every == 0]


def _repost(frame: np.ndarray) -> np.ndarray:
    """A re-post: mirrored, tilted 2°, cut to a 720p upload, JPEG 60."""
    return jpeg(rotate(hflip(frame), 2.0, out_size=(1280, 720)), 60)


#: what a re-poster does to the geometry (issue 13 item 7)
GEOMETRIC_ATTACKS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "rot1": lambda f: rotate(f, 1.0),
    "rot2": lambda f: rotate(f, -2.0),
    "rot5": lambda f: rotate(f, 5.0),
    "hflip": hflip,
    "persp3": lambda f: perspective(f, 0.03, seed=3),
    "down480": lambda f: resize_to(f, 854, 480),
    "down360": lambda f: resize_to(f, 640, 360),
}

STILL_ATTACKS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda f: f,
    "jpeg50": lambda f: jpeg(f, 50),
    "jpeg75": lambda f: jpeg(f, 75),
    "h264_crf28": lambda f: h264_roundtrip([f] * 3, crf=28)[1],
    "resize50": lambda f: resize(f, 0.5),
    "crop10": crop,
    "brightness+20": brightness,
    "contrast1.2": contrast,
    **GEOMETRIC_ATTACKS,
    "jpeg30": lambda f: jpeg(f, 30),
    "h264_720p_crf35": lambda f: h264_roundtrip([resize_to(f, 1280, 720)] * 3, crf=35)[1],
    "h265_crf32": lambda f: h265_roundtrip([f] * 3, crf=32)[1],
    "crop25area": lambda f: crop(f, 0.5),
    "blur": blur,
    "noise": noise,
    "gamma0.7": gamma,
    "saturation1.5": saturation,
    "hue30": hue_shift,
    "letterbox": letterbox,
    "overlay": overlay,
    "chain": lambda f: jpeg(resize_to(crop(contrast(f, 1.1), 0.2), 1280, 720), 50),
    "repost": _repost,
}
