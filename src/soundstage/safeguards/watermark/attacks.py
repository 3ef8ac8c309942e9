"""The attack suite the watermark is measured against, shared by tests and bench.

Each still attack maps an RGB uint8 frame to a new RGB uint8 frame (possibly another
size). The video attacks work on lists of frames. Keeping them in the package means the
tests and the benchmark cannot drift apart on what "JPEG 50" or "10% crop" means.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from soundstage.errors import BackendError

__all__ = ["STILL_ATTACKS", "jpeg", "resize", "crop", "brightness", "contrast", "h264_roundtrip", "drop_frames"]


def jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise BackendError("OpenCV could not encode JPEG")
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def resize(frame: np.ndarray, factor: float) -> np.ndarray:
    """Resize and keep the new size (the detector sees the small picture)."""
    h, w = frame.shape[:2]
    size = (max(1, int(round(w * factor))), max(1, int(round(h * factor))))
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    return cv2.resize(frame, size, interpolation=interp)


def crop(frame: np.ndarray, fraction: float = 0.10, anchor: tuple[float, float] = (0.7, 0.3)) -> np.ndarray:
    """Cut `fraction` of each dimension, split unevenly between the sides (an arbitrary
    tile phase)."""
    h, w = frame.shape[:2]
    ch, cw = int(round(h * fraction)), int(round(w * fraction))
    top, left = int(ch * anchor[0]), int(cw * anchor[1])
    return np.ascontiguousarray(frame[top:top + h - ch, left:left + w - cw])


def brightness(frame: np.ndarray, offset: int = 20) -> np.ndarray:
    return np.clip(frame.astype(np.int16) + offset, 0, 255).astype(np.uint8)


def contrast(frame: np.ndarray, gain: float = 1.2) -> np.ndarray:
    """Contrast about mid-grey, clipped, as an editor's contrast slider does."""
    return np.clip((frame.astype(np.float32) - 128.0) * gain + 128.0, 0, 255).round().astype(np.uint8)


def h264_roundtrip(frames: Sequence[np.ndarray], crf: int = 28, preset: str = "medium", fps: int = 24) -> list[np.ndarray]:
    """Encode with libx264 (yuv420p, given CRF) in memory, decode back to RGB frames."""
    import av

    h, w = frames[0].shape[:2]
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
        stream.options = {"preset": preset, "crf": str(crf)}
        for frame in frames:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[: h - h % 2, : w - w % 2]), format="rgb24")
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    buf.seek(0)
    with av.open(buf, "r") as inp:
        return [f.to_ndarray(format="rgb24") for f in inp.decode(video=0)]


def drop_frames(frames: Sequence[np.ndarray], keep_every: int = 3) -> list[np.ndarray]:
    """Drop two of every three frames (a frame-rate conversion or a careless edit)."""
    return [f for i, f in enumerate(frames) if i % keep_every == 0]


STILL_ATTACKS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda f: f,
    "jpeg50": lambda f: jpeg(f, 50),
    "jpeg75": lambda f: jpeg(f, 75),
    "h264_crf28": lambda f: h264_roundtrip([f] * 3, crf=28)[1],
    "resize50": lambda f: resize(f, 0.5),
    "crop10": crop,
    "brightness+20": brightness,
    "contrast1.2": contrast,
}
