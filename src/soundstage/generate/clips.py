"""Generated video out: frames streamed one by one through the watermark into the encoder.

Every video backend (local diffusers pipelines, ComfyUI, OpenAI-compatible video services) ends
the same way, so it ends here: an iterator of RGB frames - never the whole clip in memory - each
frame checked, marked with the clip's reserved asset id under the production's key, encoded, and
reported (one progress tick per frame); a cancelled job stops between frames and leaves no file.
The guard then samples runs of frames across the clip, checks the mark, signs and registers it.

Remote services hand back an encoded file: ``frames_of_download`` checks it is a video within the
backend's bounds (frames, size) and decodes it lazily, so a download too becomes a frame stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from soundstage.errors import BackendError, InputError, ParseError, SpecError
from soundstage.generate.protocol import GeneratedClip, GenerationRequest, OutputProvenance

#: bounds every video backend applies to what it asks for and to what it is given
MAX_CLIP_FRAMES = 1024
MAX_CLIP_SIDE = 4096
MIN_CLIP_SIDE = 64  # the watermark needs at least one 64-pixel block per side
MAX_FPS = 120


@dataclass(frozen=True)
class ClipFormat:
    """How a clip is encoded: the frame size every frame must have, the rate and the codec."""

    width: int
    height: int
    fps: Fraction
    codec: str = "h264"
    suffix: str = ".mp4"

    def __post_init__(self) -> None:
        if not (MIN_CLIP_SIDE <= self.width <= MAX_CLIP_SIDE and MIN_CLIP_SIDE <= self.height <= MAX_CLIP_SIDE):
            raise SpecError(f"a clip of {self.width}x{self.height} is outside {MIN_CLIP_SIDE}..{MAX_CLIP_SIDE} pixels "
                            "a side", field="params.width")
        if not 0 < self.fps <= MAX_FPS:
            raise SpecError(f"{float(self.fps):g} fps is outside 0..{MAX_FPS}", field="params.fps")


@dataclass
class StreamedClip:
    """What was written: the encoded file, how many frames, their size and rate."""

    path: Path
    frames: int
    format: ClipFormat
    payload: int
    details: dict = field(default_factory=dict)

    def as_output(self, name: str, *, operation: str, parents: tuple[int, ...] = (), details: dict | None = None,
                  provenance: OutputProvenance | None = None) -> GeneratedClip:
        media_type = "video/quicktime" if self.format.suffix == ".mov" else "video/mp4"
        return GeneratedClip(path=self.path, name=name, payload=self.payload, parents=parents, operation=operation,
                             media_type=media_type, provenance=provenance,
                             details={"frames": self.frames, "size": [self.format.width, self.format.height],
                                      "fps": f"{self.format.fps.numerator}/{self.format.fps.denominator}",
                                      **(details or {})})


def clip_path(request: GenerationRequest, stem: str, suffix: str = ".mp4") -> Path:
    if request.scratch_dir is None:
        raise BackendError("a video backend needs the run's scratch directory (request.scratch_dir)")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:120]
    return Path(request.scratch_dir) / f"{safe}{suffix}"


def stream_clip(frames: Iterable[np.ndarray], request: GenerationRequest, fmt: ClipFormat, *, stem: str,
                total: int, index: int = 0) -> StreamedClip:
    """Mark and encode ``frames`` one at a time into a clip carrying ``reserved_asset_ids[index]``.

    ``total`` is the number of frames expected (for progress, and a bound: a source that yields more
    is refused). A frame of the wrong size or type, a cancelled job or a failing source deletes the
    half-written file and raises; nothing partial is returned."""
    from soundstage.safeguards.watermark import default_engine
    from soundstage.vfx.media import VideoWriter

    if not 1 <= total <= MAX_CLIP_FRAMES:
        raise SpecError(f"a clip of {total} frames is outside 1..{MAX_CLIP_FRAMES}", field="params.frames")
    if len(request.reserved_asset_ids) <= index:
        raise BackendError("the guard reserved no asset id for this clip (request.reserved_asset_ids)")
    payload = request.reserved_asset_ids[index]
    engine = default_engine(request.watermark_key)
    path = clip_path(request, stem, fmt.suffix)
    written = 0
    with VideoWriter(path, codec=fmt.codec, fps=fmt.fps, width=fmt.width, height=fmt.height) as writer:
        for frame in frames:
            if request.cancelled and request.cancelled():
                raise BackendError(f"job {request.job.id} was cancelled at frame {written} of {total}")
            if written >= total:
                raise BackendError(f"the source gave more than the {total} frames asked for")
            frame = np.asarray(frame)
            if frame.dtype != np.uint8 or frame.shape != (fmt.height, fmt.width, 3):
                raise BackendError(f"frame {written} is {frame.shape} {frame.dtype}, not the clip's "
                                   f"({fmt.height}, {fmt.width}, 3) uint8")
            writer.write(engine.embed(frame, payload))  # every frame, before it is encoded
            written += 1
            if request.progress:
                request.progress(written, total)
        if written == 0:
            raise BackendError("the source gave no frames")
    return StreamedClip(path, written, fmt, payload)


def float_frames_to_uint8(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Frames in 0..1 floats (what diffusers returns with ``output_type="np"``) as uint8, one at a time."""
    for frame in frames:
        yield np.clip(np.rint(np.asarray(frame, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class DownloadedVideo:
    """A checked remote video file: its decoded frames are read lazily by ``frames()``."""

    path: Path
    width: int
    height: int
    fps: Fraction
    frame_count: int
    animated_image: bool = False  # an animated WebP/GIF (decoded by Pillow; FFmpeg cannot)

    def frames(self) -> Iterator[np.ndarray]:
        if self.animated_image:
            return _animated_frames(self.path, self.frame_count)
        from soundstage.media.video import iter_frames

        return iter_frames(self.path, max_frames=self.frame_count)

    def clip_format(self) -> ClipFormat:
        return ClipFormat(self.width - self.width % 2, self.height - self.height % 2, self.fps)


def check_video_file(path: Path, *, service: str, max_frames: int = MAX_CLIP_FRAMES) -> DownloadedVideo:
    """Probe a file a service returned: a video stream, a constant rate, within the frame and size
    bounds. Anything else is the service misbehaving (``BackendError``), named on one line."""
    from soundstage.vfx.media import probe

    try:
        info = probe(path)
    except (ParseError, InputError) as exc:
        raise BackendError(f"{service} returned something that is not a video: {exc.one_line()}") from None
    if info.frame_count > max_frames:
        raise BackendError(f"{service} returned {info.frame_count} frames, over the limit of {max_frames}")
    if not (MIN_CLIP_SIDE <= info.width <= MAX_CLIP_SIDE and MIN_CLIP_SIDE <= info.height <= MAX_CLIP_SIDE):
        raise BackendError(f"{service} returned a {info.width}x{info.height} video, outside "
                           f"{MIN_CLIP_SIDE}..{MAX_CLIP_SIDE} pixels a side")
    if not 0 < info.fps <= MAX_FPS:
        raise BackendError(f"{service} returned a video at {float(info.fps):g} fps")
    return DownloadedVideo(path, info.width, info.height, info.fps, info.frame_count)


def even_crop(frames: Iterable[np.ndarray], width: int, height: int) -> Iterator[np.ndarray]:
    """H.264 4:2:0 needs even sides: crop a stray last row/column, never resample."""
    for frame in frames:
        yield np.ascontiguousarray(frame[:height, :width])


ANIMATED_IMAGE_FORMATS = ("WEBP", "GIF", "PNG")  # animated WebP (SaveAnimatedWEBP), GIF, APNG


def check_animated_image(path: Path, *, service: str, fps: Fraction | None = None,
                         max_frames: int = MAX_CLIP_FRAMES) -> DownloadedVideo:
    """Check an animated WebP/GIF/APNG a service returned from its header (format, size, frame
    count) before any frame is decoded; its rate is its first frame's duration unless ``fps``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            kind, (width, height) = image.format, image.size
            count = int(getattr(image, "n_frames", 1))
            duration = image.info.get("duration")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise BackendError(f"{service} returned something that is not an animation: "
                           f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if kind not in ANIMATED_IMAGE_FORMATS:
        raise BackendError(f"{service} returned a {kind} file where an animation was expected")
    if count > max_frames:
        raise BackendError(f"{service} returned {count} frames, over the limit of {max_frames}")
    if not (MIN_CLIP_SIDE <= width <= MAX_CLIP_SIDE and MIN_CLIP_SIDE <= height <= MAX_CLIP_SIDE):
        raise BackendError(f"{service} returned a {width}x{height} animation, outside "
                           f"{MIN_CLIP_SIDE}..{MAX_CLIP_SIDE} pixels a side")
    if fps is None:
        if duration is None:  # WebP states a frame's duration once the frame is read
            with Image.open(path) as image:
                image.load()
                duration = image.info.get("duration")
        if not isinstance(duration, (int, float)) or duration <= 0:
            raise BackendError(f"{service} returned an animation without a frame duration; set the model's fps")
        fps = Fraction(1000, 1) / Fraction(duration).limit_denominator(1000)
        fps = fps.limit_denominator(1001)
    if not 0 < fps <= MAX_FPS:
        raise BackendError(f"{service} returned an animation at {float(fps):g} fps")
    return DownloadedVideo(path, width, height, Fraction(fps), count, animated_image=True)


def _animated_frames(path: Path, count: int) -> Iterator[np.ndarray]:
    from PIL import Image, ImageSequence

    with Image.open(path) as image:
        for index, frame in enumerate(ImageSequence.Iterator(image)):
            if index >= count:
                return
            yield np.asarray(frame.convert("RGB"))
