"""``place``: a generated or rendered element composited into a camera plate, tracked to a plane.

The element (the job's second input, a signed asset of the production) is a still or a clip with
alpha (PNG/TIFF RGBA, ProRes 4444 or PNG in MOV), or without alpha on a key colour (``key``), or
opaque (a card: a sign, a poster). Per frame:

1. **where**: the element's four corners, from the person's corner keyframes carried by the plane's
   tracked motion (planar_track.py), or interpolated between keyframes with ``track`` off;
2. **warp**: the element, premultiplied by its alpha, is corner-pinned into a box around the quad
   (only that box of the frame is touched; the rest of the plate stays bit-identical);
3. **grade**: the element's Lab mean/std moved toward the plate's under and around the quad, and
   the plate's low-frequency light across the quad laid onto it (``grade``; grade_match.py);
4. **grain**: the plate's measured noise added to the clean element (``grain``: 1 = the plate's);
5. **edges and softness**: the element is blurred like the plate's lens (``defocus``), its alpha
   feathered (``feather``; both in pixels at 1080 lines) and the plate's light wraps onto its edges
   (``light_wrap``).

``op.report`` holds one row per output frame: tracked points, inliers, reprojection error (px),
lost or not, and the corners used: the tracking report (``tracking_report`` draws it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import cv2
import numpy as np

from soundstage.errors import InputError, ParseError, SpecError, UnsafeInputError

from .background import KEYS, chroma_key, suppress_spill
from .base import check_frames
from .grade_match import add_grain, grade_to, lab_stats, measure_grain
from .planar_track import (MAX_PLACE_FRAMES, CornerKeyframe, PlanarTracker, Quad, TrackSample, check_quad_in_frame,
                           corner_path, interpolated_path, parse_corner_keyframes, parse_quad)

__all__ = ["PlaceOperation", "Element", "composite_element"]

#: stills are PNG, JPEG, TIFF or WebP (by their first bytes); anything else is opened as a clip
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")
#: an element's own frame (before it is pinned into the plate) may not exceed 4K
_MAX_ELEMENT_PIXELS = 4096 * 4096
_MAX_ELEMENT_BYTES = 512 * 1024 * 1024


def _split_alpha(rgba: np.ndarray, key: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(float32 RGB 0..255, float32 alpha 0..1) from an RGB or RGBA frame; a key colour keys it."""
    if rgba.shape[2] == 4:
        rgb = rgba[..., :3]
        alpha = rgba[..., 3].astype(np.float32) * np.float32(1 / 255)
    else:
        rgb = rgba
        alpha = np.ones(rgba.shape[:2], np.float32)
    if key is not None:
        rgb = np.ascontiguousarray(rgb)
        alpha = np.minimum(alpha, chroma_key(rgb, key))
        return suppress_spill(rgb, key), alpha
    return rgb.astype(np.float32), alpha


@dataclass
class Element:
    """The element to place: a still (one frame) or a clip decoded on demand (held on its last frame)."""

    path: Path
    key: str | None
    still: tuple[np.ndarray, np.ndarray] | None = None
    frame_count: int = 1

    @classmethod
    def open(cls, path: Path, key: str | None) -> "Element":
        """A still or a clip, told apart by their bytes (a file fetched from the store has no suffix)."""
        if not path.is_file():
            raise InputError(f"element not found: {path.name}")
        if path.stat().st_size > _MAX_ELEMENT_BYTES:
            raise UnsafeInputError(f"{path.name}: larger than the element limit")
        with open(path, "rb") as handle:
            head = handle.read(16)
        if head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
            return cls(path, key, still=_split_alpha(_read_still(path), key))
        return cls(path, key, frame_count=_probe_clip(path))

    def frames(self, start: int, stop: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(rgb, alpha) for plate frames [start, stop): the clip's frame of the same index, or its last."""
        if self.still is not None:
            for _ in range(start, stop):
                yield self.still
            return
        last = self.frame_count - 1
        wanted = [min(i, last) for i in range(start, stop)]
        decoded: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for index, frame in _decode_clip(self.path, wanted[0], wanted[-1] + 1):
            decoded[index] = _split_alpha(frame, self.key)
        for i in wanted:
            if i not in decoded:
                raise ParseError(f"element frame {i} cannot be decoded", source=self.path.name)
            yield decoded[i]


def _read_still(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > _MAX_ELEMENT_PIXELS:
                raise UnsafeInputError(f"{path.name}: {w}x{h} is larger than the 4K element limit")
            im.load()
            has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
            return np.asarray(im.convert("RGBA" if has_alpha else "RGB"), dtype=np.uint8).copy()
    except UnsafeInputError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ParseError(f"the element cannot be read ({str(exc).splitlines()[0][:120]})", source=path.name) from None


def _probe_clip(path: Path) -> int:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ParseError("the element has no video stream", source=path.name)
            stream = container.streams.video[0]
            w, h = stream.codec_context.width, stream.codec_context.height
            if w * h > _MAX_ELEMENT_PIXELS or w <= 0 or h <= 0:
                raise UnsafeInputError(f"{path.name}: {w}x{h} is not an element size (at most 4K)")
            count = 0
            for packet in container.demux(stream):
                if packet.size:
                    count += 1
    except av.error.FFmpegError as exc:
        raise ParseError(f"the element cannot be read ({str(exc).splitlines()[0][:120]})", source=path.name) from None
    if count == 0:
        raise ParseError("the element clip has no frames", source=path.name)
    return count


def _decode_clip(path: Path, start: int, stop: int) -> Iterator[tuple[int, np.ndarray]]:
    """(index, RGB or RGBA uint8) for frames [start, stop), decoded from the start (elements are short)."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            alpha = len(stream.codec_context.format.components) == 4 if stream.codec_context.format else False
            for index, frame in enumerate(container.decode(stream)):
                if index >= stop:
                    return
                if index >= start:
                    yield index, frame.to_ndarray(format="rgba" if alpha else "rgb24")
    except av.error.FFmpegError as exc:
        raise ParseError(f"element frame cannot be decoded ({str(exc).splitlines()[0][:120]})",
                         source=path.name) from None


def _box(quad: np.ndarray, margin: float, width: int, height: int) -> tuple[int, int, int, int] | None:
    x0 = max(0, int(np.floor(quad[:, 0].min() - margin)))
    y0 = max(0, int(np.floor(quad[:, 1].min() - margin)))
    x1 = min(width, int(np.ceil(quad[:, 0].max() + margin)) + 1)
    y1 = min(height, int(np.ceil(quad[:, 1].max() + margin)) + 1)
    return None if x1 <= x0 or y1 <= y0 else (x0, y0, x1, y1)


def _relight(colour: np.ndarray, plate: np.ndarray, quad: np.ndarray, strength: float) -> np.ndarray:
    """The plate's light across the quad falls on the element: its luminance is scaled by the plate's
    low-frequency luminance there relative to the plate's mean under the quad (a wall lit brighter
    on one side lights a poster on it the same way). The picture's detail is left out (a wide blur)."""
    grey = cv2.cvtColor(plate, cv2.COLOR_RGB2GRAY).astype(np.float32)
    side = float(np.sqrt(max(cv2.contourArea(quad.astype(np.float32)), 1.0)))
    small = cv2.resize(grey, (max(1, grey.shape[1] // 4), max(1, grey.shape[0] // 4)), interpolation=cv2.INTER_AREA)
    light = cv2.resize(cv2.GaussianBlur(small, (0, 0), max(1.0, side / 16)), (grey.shape[1], grey.shape[0]),
                       interpolation=cv2.INTER_LINEAR)
    mask = np.zeros(grey.shape, np.uint8)
    cv2.fillConvexPoly(mask, np.round(quad).astype(np.int32), 1)
    if int(mask.sum()) < 16:
        return colour
    mean = float(light[mask > 0].mean())
    if mean <= 1.0:
        return colour
    gain = 1.0 + strength * (np.clip(light / mean, 0.25, 4.0) - 1.0)
    return colour * gain[..., None]


def composite_element(frame: np.ndarray, element: tuple[np.ndarray, np.ndarray], quad: np.ndarray, *,
                      grade: float, grain: float, feather: float, light_wrap: float, seed: int,
                      frame_index: int, defocus: float = 0.0) -> np.ndarray:
    """One plate frame (uint8 RGB) with the element corner-pinned into ``quad`` (4x2, TL TR BR BL)."""
    height, width = frame.shape[:2]
    rgb, alpha = element
    eh, ew = alpha.shape
    lines = height / 1080.0
    sigma = max(0.0, feather * lines)
    wrap_sigma = max(1.0, 6.0 * lines)
    box = _box(quad, 3 * max(sigma, wrap_sigma) + 2, width, height)
    if box is None:
        return frame
    x0, y0, x1, y1 = box
    size = (x1 - x0, y1 - y0)
    src = np.array([[0, 0], [ew, 0], [ew, eh], [0, eh]], np.float32)
    dst = (quad - np.array([x0, y0])).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    premult = np.dstack([rgb * alpha[..., None], alpha])
    warped = cv2.warpPerspective(premult, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                 borderValue=0)
    a = np.clip(warped[..., 3], 0.0, 1.0)
    if float(a.max()) <= 0:
        return frame
    if defocus > 0:  # the plate's lens softness: blur colour and alpha together (premultiplied)
        warped = cv2.GaussianBlur(warped, (0, 0), defocus * lines)
        a = np.clip(warped[..., 3], 0.0, 1.0)
    colour = warped[..., :3] / np.maximum(a, 1e-4)[..., None]
    if sigma > 0.05:
        a = cv2.GaussianBlur(a, (0, 0), sigma)
    plate = frame[y0:y1, x0:x1]
    solid = (a > 0.99).astype(np.float32)
    if grade > 0:
        # the plate under and around the element, at quarter size (the statistics of a box of pixels)
        small = (max(1, size[0] // 4), max(1, size[1] // 4))
        target = lab_stats(cv2.resize(plate, small, interpolation=cv2.INTER_AREA), np.ones(small[::-1], np.float32))
        own = lab_stats(cv2.resize(colour, small, interpolation=cv2.INTER_AREA),
                        cv2.resize(a, small, interpolation=cv2.INTER_AREA))
        colour = grade_to(colour, own, target, grade)
        colour = _relight(colour, plate, dst, grade)
    if grain > 0:
        mask = np.zeros(a.shape, np.float32)
        cv2.fillConvexPoly(mask, np.round(dst).astype(np.int32), 1.0)
        plate_grain = measure_grain(plate, mask)
        own_grain = measure_grain(np.clip(colour, 0, 255).astype(np.uint8), cv2.erode(solid, np.ones((5, 5), np.uint8)))
        colour = add_grain(colour, plate_grain, own_grain, grain, seed, frame_index)
    plate_f = plate.astype(np.float32)
    out = plate_f + (colour - plate_f) * a[..., None]
    if light_wrap > 0:
        spread = cv2.GaussianBlur(a, (0, 0), wrap_sigma)
        wrap = light_wrap * a * np.clip(1.0 - spread, 0.0, 1.0)
        glow = cv2.GaussianBlur(plate_f, (0, 0), wrap_sigma)
        out = out + (glow - out) * wrap[..., None]
    result = frame.copy()
    result[y0:y1, x0:x1] = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return result


def _float(params: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    raw = params.get(name, default)
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not low <= float(raw) <= high:
        raise SpecError(f"must be a number in {low:g}..{high:g}, not {raw!r}"[:120], field=f"params.{name}")
    return float(raw)


class PlaceOperation:
    """FrameOperation "place": tracks from frame 0, so every earlier frame is its warm-up."""

    name = "place"
    warmup_frames = MAX_PLACE_FRAMES

    def __init__(self, params: dict[str, Any], extra_inputs: dict[str, str], fps: float, width: int,
                 height: int) -> None:
        self.keyframes: tuple[CornerKeyframe, ...] = parse_corner_keyframes(params.get("corners"))
        self.width, self.height = int(width), int(height)
        if self.width > 0 and self.height > 0:
            for k in self.keyframes:
                check_quad_in_frame(k.corners, self.width, self.height, f"keyframe {k.frame}")
        region = params.get("region")
        self.region: Quad = parse_quad(region, "region", "params.region") if region is not None \
            else self.keyframes[0].corners
        if self.width > 0 and self.height > 0:
            check_quad_in_frame(self.region, self.width, self.height, "region", "params.region")
        self.track = bool(params.get("track", True))
        self.key = params.get("key")
        if self.key is not None and self.key not in KEYS:
            raise SpecError(f"must be one of {', '.join(KEYS)}, not {self.key!r}"[:120], field="params.key")
        self.grade = _float(params, "grade", 0.7, 0.0, 1.0)
        self.grain = _float(params, "grain", 1.0, 0.0, 2.0)
        self.feather = _float(params, "feather", 1.5, 0.0, 50.0)
        self.light_wrap = _float(params, "light_wrap", 0.25, 0.0, 1.0)
        self.defocus = _float(params, "defocus", 0.0, 0.0, 20.0)
        self.smoothing = _float(params, "smoothing", 0.2, 0.0, 1.0)
        self.seed = int(params.get("seed", 0) or 0)
        self.fps = float(fps) if fps and fps > 0 else 24.0
        path = extra_inputs.get("element")
        if not path:
            raise InputError("placing needs an element (input role 'element')")
        self.element = Element.open(Path(path), self.key)
        self.report: list[dict[str, Any]] = []

    @classmethod
    def from_context(cls, ctx) -> "PlaceOperation":
        return cls(dict(ctx.params), dict(ctx.extra_inputs), ctx.fps, ctx.width, ctx.height)

    def corners_for(self, frames: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[TrackSample | None]]:
        """Corners at frames 0..len(frames)-1 (``frames`` start at frame 0) and their track samples."""
        if not self.track:
            return [interpolated_path(self.keyframes, i) for i in range(len(frames))], [None] * len(frames)
        h, w = frames[0].shape[:2]
        samples = PlanarTracker(self.region, w, h).track(frames)
        return corner_path(samples, self.keyframes, self.smoothing), list(samples)

    def process_chunk(self, frames: list[np.ndarray], first_index: int, warmup: int) -> list[np.ndarray]:
        return list(self.iter_chunk(frames, first_index, warmup))

    def iter_chunk(self, frames: list[np.ndarray], first_index: int, warmup: int) -> Iterator[np.ndarray]:
        check_frames(frames, warmup)
        stop = first_index + len(frames) - warmup
        if (self.track and first_index - warmup != 0) or stop > MAX_PLACE_FRAMES:
            raise InputError(f"placement tracks from frame 0 and takes plates of at most {MAX_PLACE_FRAMES} frames; "
                             f"this one reaches frame {stop}", hint="split the shot, or place it in parts")
        h, w = frames[0].shape[:2]
        for k in self.keyframes:
            check_quad_in_frame(k.corners, w, h, f"keyframe {k.frame}")
        if self.track:
            corners, samples = self.corners_for(frames)
            offset = 0  # frames[0] is frame 0
        else:
            corners = [interpolated_path(self.keyframes, first_index + i) for i in range(len(frames) - warmup)]
            samples = [None] * len(corners)
            offset = warmup
        elements = self.element.frames(first_index, stop)
        for pos in range(warmup, len(frames)):
            index = first_index + pos - warmup
            quad = corners[pos - offset]
            sample = samples[pos - offset]
            self.report.append({"frame": index, "corners": np.round(quad, 3).tolist(),
                                **(sample.to_dict() if sample is not None else {"tracked": False})})
            yield composite_element(frames[pos], next(elements), quad, grade=self.grade, grain=self.grain,
                                    feather=self.feather, light_wrap=self.light_wrap, seed=self.seed,
                                    frame_index=index, defocus=self.defocus)
