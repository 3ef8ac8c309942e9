"""The animatic: storyboard panels cut to time, shot titles burned in, every frame watermarked.

It is a backend (``AnimaticBackend``) so the animatic goes down the same guarded path as any
generated frame: the guard resolves the panel assets as inputs, reserves the output's asset id,
checks that id is in the frames, signs the MP4 and records lineage back to every panel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from soundstage import __version__
from soundstage.domain.safeguards import ModelCard
from soundstage.domain.params import Param
from soundstage.errors import BackendError, SpecError
from soundstage.generate.protocol import GeneratedClip, GenerationRequest

MODEL_ID = "soundstage.animatic"
DEFAULT_SIZE = (960, 540)
DEFAULT_FPS = 24
MAX_SECONDS = 3 * 60 * 60  # a three-hour animatic is already absurd
LABEL = "TEMPORARY PREVIZ MEDIA - AI/procedural"


def frame_counts(seconds: list[float], fps: int) -> list[int]:
    """Frames per shot with cumulative rounding, so the cut never drifts from the timing list."""
    counts, elapsed, done = [], 0.0, 0
    for s in seconds:
        elapsed += s
        end = max(done + 1, round(elapsed * fps))
        counts.append(end - done)
        done = end
    return counts


def fit_panel(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """Letterbox a panel of any size into the animatic frame."""
    from PIL import Image

    img = Image.fromarray(pixels)
    scale = min(width / img.width, height / img.height)
    new = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    canvas = Image.new("RGB", (width, height), (0, 0, 0))
    canvas.paste(img.resize(new, Image.Resampling.BILINEAR), ((width - new[0]) // 2, (height - new[1]) // 2))
    return np.asarray(canvas, dtype=np.uint8)


def scrub_mark(pixels: np.ndarray, radius: float = 2.0) -> np.ndarray:
    """Soften a panel before it is re-marked. Each panel carries its own asset id; left sharp,
    that mark competes with the animatic's id in the same frame and detection reads the wrong
    one. A light blur weakens the old mark below the new one (the panel stays readable)."""
    from PIL import Image, ImageFilter

    return np.asarray(Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(radius)), dtype=np.uint8)


def burn_title(frame: np.ndarray, title: str, subtitle: str = "") -> np.ndarray:
    """The slate a reviewer reads: shot title and description on a bar, the previz label on top."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.fromarray(frame)
    draw = ImageDraw.Draw(img, "RGBA")
    h, w = frame.shape[:2]
    size = max(12, h // 24)
    font = ImageFont.load_default(size=size)
    small = ImageFont.load_default(size=max(10, size * 2 // 3))
    bar = int(size * (3.2 if subtitle else 1.9))
    draw.rectangle([0, h - bar, w, h], fill=(0, 0, 0, 170))
    draw.text((size // 2, h - bar + size // 3), title, fill=(255, 255, 255), font=font)
    if subtitle:
        draw.text((size // 2, h - bar + int(size * 1.6)), subtitle[:120], fill=(220, 220, 220), font=small)
    label_w = draw.textlength(LABEL, font=small)
    draw.rectangle([w - label_w - size, 0, w, int(size * 1.3)], fill=(150, 0, 0, 200))
    draw.text((w - label_w - size // 2, size // 5), LABEL, fill=(255, 255, 255), font=small)
    return np.asarray(img, dtype=np.uint8).copy()


class AnimaticBackend:
    """Cuts panel assets into an H.264 MP4 (PyAV, libx264).

    params: ``timing`` = [{"asset": hex id, "title": str, "subtitle": str, "seconds": float}, ...],
    optional ``width``, ``height``, ``fps``, ``crossfade_seconds`` (0 = straight cuts), ``crf``."""

    def __init__(self, model_id: str = MODEL_ID, config: Mapping[str, Any] | None = None) -> None:
        self.model_id = model_id
        self.config = dict(config or {})

    #: job operation ("*": any) -> the parameters a job may set
    OPERATIONS = {"*": (
        Param("timing", "json", "The cut: [{asset, title, subtitle, seconds}, ...] over the job's inputs.", None,
              max_length=512 * 1024),
        Param("width", "int", "Frame width.", DEFAULT_SIZE[0], 64, 3840),
        Param("height", "int", "Frame height.", DEFAULT_SIZE[1], 64, 2160),
        Param("fps", "int", "Frame rate.", DEFAULT_FPS, 1, 60),
        Param("crossfade_seconds", "float", "Cross-fade between panels (0: straight cuts).", 0.0, 0.0, 10.0),
        Param("crf", "int", "x264 quality (lower is better).", 20, 0, 51),
    )}

    def model_card(self) -> ModelCard:
        return ModelCard(
            id=self.model_id, name="soundstage animatic", version=__version__, licence="Apache-2.0",
            weights_sha256="", training_data="owned", evidence="procedural: cuts existing panels, no trained model",
            stores_inputs=False, trains_on_inputs=False, runs_in_production_env=True, trained_model=False,
        )

    def generate(self, request: GenerationRequest) -> list[GeneratedClip]:
        import av

        from soundstage.media.images import read_image
        from soundstage.domain.ids import format_asset_id
        from soundstage.safeguards.watermark import PREVIZ_STRENGTH, default_engine

        params = request.params
        timing = params.get("timing")
        if not isinstance(timing, list) or not timing:
            raise SpecError("an animatic needs a non-empty timing list", field="params.timing")
        width = int(params.get("width", DEFAULT_SIZE[0])) // 2 * 2
        height = int(params.get("height", DEFAULT_SIZE[1])) // 2 * 2
        fps = int(params.get("fps", DEFAULT_FPS))
        if not (64 <= width <= 3840 and 64 <= height <= 2160 and 1 <= fps <= 60):
            raise SpecError(f"unsupported animatic format {width}x{height}@{fps}", field="params")
        if not request.reserved_asset_ids or request.scratch_dir is None:
            raise SpecError("the animatic must run through the guarded path (no reserved asset id)")
        by_id = {format_asset_id(i.asset_id): i for i in request.inputs}
        seconds: list[float] = []
        for n, entry in enumerate(timing):
            if entry.get("asset") not in by_id:
                raise SpecError(f"timing entry {n} names {entry.get('asset')!r}, which is not a job input",
                                field="params.timing")
            try:
                value = float(entry.get("seconds", 0))
            except (TypeError, ValueError):
                raise SpecError(f"timing entry {n}: seconds must be a number", field="params.timing") from None
            if not 0 < value <= 600:
                raise SpecError(f"timing entry {n}: {value:g}s is out of range", field="params.timing")
            seconds.append(value)
        if sum(seconds) > MAX_SECONDS:
            raise SpecError("the animatic would be longer than three hours", field="params.timing")
        payload = request.reserved_asset_ids[0]
        # previz is never graded, and cross-fades between flat cards lose the invisible-strength mark
        engine = default_engine(request.watermark_key, strength=PREVIZ_STRENGTH)
        counts = frame_counts(seconds, fps)
        fade = max(0, int(round(float(params.get("crossfade_seconds", 0.0)) * fps)))
        total = sum(counts)
        out_path = Path(request.scratch_dir) / "animatic.mp4"

        def slate(entry: dict) -> np.ndarray:
            pixels = fit_panel(scrub_mark(read_image(by_id[entry["asset"]].path)), width, height)
            return burn_title(pixels, str(entry.get("title", "")), str(entry.get("subtitle", "")))

        try:
            container = av.open(str(out_path), "w")
        except (av.error.FFmpegError, OSError) as exc:
            raise BackendError(f"cannot write the animatic: {exc}") from None
        with container:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.options = {"crf": str(params.get("crf", 20)), "preset": "veryfast"}
            written = 0
            current = slate(timing[0])
            current_marked = engine.embed(current, payload)
            for index, count in enumerate(counts):
                nxt = slate(timing[index + 1]) if index + 1 < len(timing) else None
                blend_from = count - min(fade, count // 2) if nxt is not None and fade else count
                for f in range(count):
                    if f < blend_from:
                        frame = current_marked  # a hold: the same marked frame, marked once
                    else:
                        t = (f - blend_from + 1) / (count - blend_from + 1)
                        mixed = (current.astype(np.float32) * (1 - t) + nxt.astype(np.float32) * t).astype(np.uint8)
                        frame = engine.embed(mixed, payload)
                    for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                        container.mux(packet)
                    written += 1
                    if request.progress is not None and written % fps == 0:
                        request.progress(written, total)
                    if request.cancelled is not None and written % fps == 0 and request.cancelled():
                        raise BackendError("the animatic was cancelled")
                if nxt is not None:
                    current, current_marked = nxt, engine.embed(nxt, payload)
            for packet in stream.encode():
                container.mux(packet)
        if request.progress is not None:
            request.progress(total, total)
        return [GeneratedClip(path=out_path, name="animatic.mp4", payload=payload,
                              parents=tuple(i.asset_id for i in request.inputs), operation="procedural",
                              details={"fps": fps, "frames": total, "seconds": round(total / fps, 3),
                                       "size": [width, height], "shots": len(timing),
                                       "label": "temporary previz media"})]
