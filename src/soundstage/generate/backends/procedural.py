"""A procedural (no trained model) generator: labelled colour cards and a collapse element clip.

``card`` (the default) draws a labelled colour card from the prompt: a mood-board tile, a poster, and
the always-available backend that exercises the whole guarded path with no weights at all.

``collapse`` renders a short RGBA clip of a collapse-like element for ``vfx place``: chunks of
masonry falling under gravity and a dust plume rolling up and out from the base, both driven by
seeded noise (same prompt and seed, same clip). It is arithmetic, not a trained model: the registry
card says ``trained_model=False`` and the guard signs it as ``algorithmicMedia`` (c2pa.created,
procedural), never as trained generative media. The frames are streamed one at a time: each frame's
RGB carries the watermark (the mark lives in RGB, embedded before encoding), its alpha is kept
bit-exact beside it, and the clip is written as PNG in MOV (lossless RGBA, what ``vfx place``
reads as an element with alpha). The colour is extended under the transparent parts (straight
alpha), so the mark has texture to live in everywhere in the frame.
"""

from __future__ import annotations

import hashlib
import os
import textwrap
from fractions import Fraction
from typing import Any, Iterator, Mapping

import numpy as np

from soundstage import __version__
from soundstage.domain.params import Param
from soundstage.domain.safeguards import ModelCard
from soundstage.errors import BackendError, SpecError
from soundstage.generate.clips import ClipFormat, StreamedClip, clip_path
from soundstage.generate.protocol import GeneratedClip, GeneratedImage, GenerationRequest

ELEMENTS = ("card", "collapse")
#: a collapse clip's bounds: frames, and pixels per frame (its cost is linear in both)
MAX_COLLAPSE_FRAMES = 120
MAX_COLLAPSE_PIXELS = 1920 * 1080
#: the mark carries its id in 128-px blocks; one block alone does not survive this element's flat dust
#: and hard debris in every frame (measured: payload lost at 128x128, found in every frame from 256)
MIN_COLLAPSE_SIDE = 256


class ProceduralCardGenerator:
    def __init__(self, model_id: str = "soundstage.procedural-card", config: Mapping[str, Any] | None = None) -> None:
        self.model_id = model_id
        self.config = dict(config or {})

    #: job operation ("*": any) -> the parameters a job may set
    OPERATIONS = {"*": (
        # the watermark needs 64 px on each side (safeguards/watermark/spread.py)
        Param("width", "int", "Card or element width in pixels.", 960, 64, 4096),
        Param("height", "int", "Card or element height in pixels.", 540, 64, 4096),
        Param("element", "choice", "What to draw: a labelled card (a still) or a collapse element (an RGBA "
              "clip: falling debris and a dust plume, PNG in MOV).", "card", choices=ELEMENTS),
        Param("frames", "int", "Collapse clip length in frames.", 24, 2, MAX_COLLAPSE_FRAMES),
        Param("fps", "int", "Collapse clip frame rate.", 24, 1, 60),
    )}

    def model_card(self) -> ModelCard:
        return ModelCard(
            id=self.model_id, name="soundstage procedural card", version=__version__, licence="Apache-2.0",
            weights_sha256="", training_data="owned", evidence="procedural: no trained model, no training data",
            stores_inputs=False, trains_on_inputs=False, runs_in_production_env=True, trained_model=False,
        )

    def generate(self, request: GenerationRequest) -> list[GeneratedImage] | list[GeneratedClip]:
        element = request.params.get("element", "card")
        if element not in ELEMENTS:
            raise SpecError(f"{element!r} is not a procedural element (one of: {', '.join(ELEMENTS)})",
                            field="params.element")
        if element == "collapse":
            return [self._collapse(request)]
        return [self._card(request)]

    def _card(self, request: GenerationRequest) -> GeneratedImage:
        from PIL import Image, ImageDraw, ImageFont

        width = int(request.params.get("width", 960))
        height = int(request.params.get("height", 540))
        prompt = request.job.prompt or request.job.operation
        rng = np.random.default_rng(_seed(prompt, request.seed))
        palette = rng.integers(40, 215, size=(5, 3))
        # a soft vertical gradient between two palette colours with a band of swatches
        t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
        top, bottom = palette[0].astype(np.float32), palette[1].astype(np.float32)
        img = (top * (1 - t) + bottom * t).repeat(width, axis=1).astype(np.uint8)
        sw = width // 5
        for i, colour in enumerate(palette):
            img[height - height // 6:, i * sw:(i + 1) * sw] = colour
        pil = Image.fromarray(img)
        draw = ImageDraw.Draw(pil)
        font = ImageFont.load_default(size=max(14, height // 18))
        y = height // 10
        for line in textwrap.wrap(prompt, width=48)[:6]:
            draw.text((width // 20, y), line, fill=(255, 255, 255), font=font, stroke_width=2, stroke_fill=(0, 0, 0))
            y += int(font.size * 1.4)
        draw.text((width // 20, height - height // 6 - font.size * 2), "TEMPORARY PREVIZ - soundstage",
                  fill=(255, 255, 255), font=font, stroke_width=2, stroke_fill=(0, 0, 0))
        return GeneratedImage(np.asarray(pil, dtype=np.uint8).copy(), name=f"{request.job.id}_card.png",
                              operation="procedural",
                              details={"prompt": prompt, "seed": request.seed, "size": [width, height]})

    def _collapse(self, request: GenerationRequest) -> GeneratedClip:
        params = request.params
        width, height = int(params.get("width", 960)), int(params.get("height", 540))
        frames, fps = int(params.get("frames", 24)), int(params.get("fps", 24))
        if not 2 <= frames <= MAX_COLLAPSE_FRAMES:
            raise SpecError(f"a collapse element of {frames} frames is outside 2..{MAX_COLLAPSE_FRAMES}",
                            field="params.frames")
        if min(width, height) < MIN_COLLAPSE_SIDE:
            raise SpecError(f"a {width}x{height} collapse element is under {MIN_COLLAPSE_SIDE} pixels a side",
                            field="params.width", hint="the watermark needs room: at least 256x256")
        if width * height > MAX_COLLAPSE_PIXELS:
            raise SpecError(f"a {width}x{height} collapse element is over {MAX_COLLAPSE_PIXELS} pixels a frame",
                            field="params.width", hint="the element is corner-pinned into the plate: 1080p is ample")
        fmt = ClipFormat(width - width % 2, height - height % 2, Fraction(fps), codec="png", suffix=".mov")
        prompt = request.job.prompt or "collapse"
        source = collapse_frames(fmt.width, fmt.height, frames, _seed(prompt, request.seed))
        streamed = stream_rgba_clip(source, request, fmt, stem=f"{request.job.id}_collapse", total=frames)
        return streamed.as_output(f"{request.job.id}_collapse.mov", operation="procedural", details={
            "prompt": prompt, "seed": request.seed, "element": "collapse", "alpha": True,
            "asset_kind": "element"})


def _seed(prompt: str, seed: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{prompt}|{seed}".encode()).digest()[:8], "big")


# ----------------------------------------------------------------------------- the collapse element

def _noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Smooth value noise in 0..1: a random grid of ``cells`` across the width, bicubic-upsampled."""
    import cv2

    gw = max(2, cells)
    gh = max(2, int(round(cells * height / width)))
    grid = rng.random((gh + 3, gw + 3), dtype=np.float32)
    big = cv2.resize(grid, (width * (gw + 3) // gw, height * (gh + 3) // gh), interpolation=cv2.INTER_CUBIC)
    return big[height // gh: height // gh + height, width // gw: width // gw + width]


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def collapse_frames(width: int, height: int, frames: int, seed: int) -> Iterator[np.ndarray]:
    """The collapse element, one HxWx4 uint8 RGBA frame at a time (straight alpha), deterministic.

    Layers, back to front: the dust plume (four octaves of value noise scrolled upward at their own
    speeds, shaped by a dome that rises and widens over the clip, its billows lit from above),
    masonry chunks (seeded irregular polygons falling under gravity and turning, motion-smeared,
    dimmed where the dust swallows them) and grit (small fast specks). Sizes scale with the frame."""
    import cv2

    rng = np.random.default_rng(seed)
    scroll = height * 3  # noise fields three frames tall, scrolled upward through the clip
    octaves = [(_noise(rng, scroll, width, cells), amp, speed) for cells, amp, speed in
               ((3, 0.5, 0.9), (7, 0.27, 1.6), (15, 0.15, 2.4), (31, 0.08, 3.2))]
    norm = sum(a for _, a, _ in octaves)
    # masonry: (spawn frame, x0, y0, vx, vy, spin, angle, radius, shade, polygon angles)
    unit = min(width, height)
    chunks = []
    for _ in range(int(rng.integers(26, 36))):
        sides = int(rng.integers(4, 7))
        chunks.append((
            float(rng.uniform(-0.15, 0.55)) * frames, float(rng.uniform(0.15, 0.85)) * width,
            float(rng.uniform(-0.05, 0.35)) * height, float(rng.normal(0, 0.004)) * width,
            float(rng.uniform(0.0, 0.01)) * height, float(rng.normal(0, 0.25)), float(rng.uniform(0, np.pi)),
            float(rng.uniform(0.012, 0.045)) * unit, float(rng.uniform(70, 135)),
            np.sort(rng.uniform(0, 2 * np.pi, sides)), rng.uniform(0.6, 1.0, sides)))
    grit = rng.uniform(0, 1, (140, 4))  # spawn, x, y, speed
    gravity = 0.9 * height / max(frames, 12) ** 2 * 2.2  # pixels / frame^2: a chunk crosses the frame in the clip
    ys = np.arange(height, dtype=np.float32)[:, None]
    xs = np.arange(width, dtype=np.float32)[None, :]
    x0 = width * float(rng.uniform(0.47, 0.53))
    dust = np.array([176.0, 166.0, 150.0], np.float32)
    for f in range(frames):
        t = f / max(1, frames - 1)
        # the plume: a dome from the base that rises (ease-out) and spreads
        rise = height * (0.16 + 0.6 * (1 - (1 - t) ** 2))
        spread = width * (0.2 + 0.14 * t)  # its flanks stay inside the frame
        field = sum(o[(scroll - height) - int(round(speed * f * height / 60)) % (scroll - height):][:height] * a
                    for o, a, speed in octaves) / norm
        field = field[:height]
        warp = (field - 0.5) * spread * 0.5  # billowing flanks: the dome's profile read at a noisy x
        u = np.clip(np.abs(xs + warp - x0) / spread, 0, 1)
        dome = height - rise * (1 - u ** 2) ** 0.6  # a rounded head: neither a spike nor a box
        edge = dome + (field - 0.5) * rise * 0.7  # billowy top edge
        inside = _smoothstep(-0.06 * height, 0.12 * height, ys - edge)
        density = inside * np.clip(0.85 + 1.2 * (field - 0.5), 0, 1)
        # the base thins out over the bottom tenth: placed behind a roofline or a horizon it leaves no hard line
        alpha = _smoothstep(0.03, 0.85, density) * _smoothstep(0.0, 0.1 * height, height - 1 - ys)
        # light from above: brighter on the tops of billows (where the field falls off upward), the
        # base in the plume's own shadow
        soft = cv2.GaussianBlur(field, (0, 0), unit / 90)
        slope = np.zeros_like(field)
        slope[3:-3] = soft[:-6] - soft[6:]
        depth = np.clip((ys - edge) / max(1.0, rise), 0, 1)
        lit = 0.95 + 2.2 * slope - 0.42 * depth + 0.35 * (field - 0.5)
        rgb = dust[None, None, :] * np.clip(lit, 0.4, 1.3)[..., None]
        # masonry, drawn into its own layer, then under the dust where the dust is dense
        rock = np.zeros((height, width), np.float32)
        shade = np.zeros((height, width), np.float32)
        for spawn, cx, cy, vx, vy, spin, angle, radius, tone, angles, radii in chunks:
            age = f - spawn
            if age < 0:
                continue
            for smear in (0.0, 0.35, 0.7):  # a little motion blur along the fall
                a = age - smear
                if a < 0:
                    continue
                px, py = cx + vx * a, cy + vy * a + 0.5 * gravity * a * a
                if py - radius > height:
                    continue
                turn = angle + spin * a
                poly = np.stack([px + radius * radii * np.cos(angles + turn),
                                 py + radius * radii * np.sin(angles + turn)], axis=1)
                weight = 1.0 if smear == 0 else 0.45
                layer = np.zeros_like(rock)
                cv2.fillPoly(layer, [np.round(poly * 4).astype(np.int32)], weight, lineType=cv2.LINE_AA, shift=2)
                rock = np.maximum(rock, layer)
                shade = np.where(layer > 0, tone * (0.8 + 0.2 * np.cos(turn)), shade)
        for spawn, gx, gy, speed in grit:
            age = f - spawn * frames * 0.7
            if age < 0:
                continue
            px, py = gx * width, (gy * 0.4 - 0.05) * height + (0.6 + speed) * 0.5 * gravity * 1.6 * age * age
            if 0 <= py < height:
                cv2.circle(rock, (int(px), int(py)), max(1, unit // 260), 0.8, -1, lineType=cv2.LINE_AA)
                cv2.circle(shade, (int(px), int(py)), max(1, unit // 260), 95.0, -1, lineType=cv2.LINE_AA)
        buried = np.clip(alpha * 1.2, 0, 1)  # chunks inside the plume show through only where it is thin
        rock_a = rock * (1 - 0.85 * buried)
        rgb = rgb * (1 - rock_a[..., None]) + (shade[..., None] * np.array([1.0, 0.96, 0.9], np.float32)) \
            * rock_a[..., None]
        out_a = np.clip(alpha + rock_a * (1 - alpha), 0, 1)
        frame = np.empty((height, width, 4), np.uint8)
        frame[..., :3] = np.clip(np.rint(rgb), 0, 255)
        frame[..., 3] = np.clip(np.rint(out_a * 255), 0, 255)
        yield frame


def stream_rgba_clip(frames: Iterator[np.ndarray], request: GenerationRequest, fmt: ClipFormat, *, stem: str,
                     total: int) -> StreamedClip:
    """Mark each RGBA frame's RGB with the clip's reserved id and write it, alpha untouched, as PNG
    in MOV (lossless: the alpha and the mark are decoded exactly as written). A cancelled job or a
    wrong frame deletes the half-written file; nothing partial is returned."""
    import av

    from soundstage.safeguards.watermark import default_engine

    if not request.reserved_asset_ids:
        raise BackendError("the guard reserved no asset id for this clip (request.reserved_asset_ids)")
    payload = request.reserved_asset_ids[0]
    engine = default_engine(request.watermark_key)
    path = clip_path(request, stem, fmt.suffix)
    written = 0
    container = av.open(str(path), "w", format="mov")
    try:
        stream = container.add_stream("png", rate=fmt.fps)
        stream.width, stream.height, stream.pix_fmt = fmt.width, fmt.height, "rgba"
        for frame in frames:
            if request.cancelled and request.cancelled():
                raise BackendError(f"job {request.job.id} was cancelled at frame {written} of {total}")
            if written >= total:
                raise BackendError(f"the source gave more than the {total} frames asked for")
            if frame.dtype != np.uint8 or frame.shape != (fmt.height, fmt.width, 4):
                raise BackendError(f"frame {written} is {frame.shape} {frame.dtype}, not ({fmt.height}, "
                                   f"{fmt.width}, 4) uint8")
            marked = frame.copy()
            marked[..., :3] = engine.embed(np.ascontiguousarray(frame[..., :3]), payload)  # the mark, in RGB
            for packet in stream.encode(av.VideoFrame.from_ndarray(marked, format="rgba")):
                container.mux(packet)
            written += 1
            if request.progress:
                request.progress(written, total)
        if written == 0:
            raise BackendError("the source gave no frames")
        for packet in stream.encode():
            container.mux(packet)
        container.close()
    except BaseException:
        container.close()
        if path.exists():
            os.unlink(path)
        raise
    return StreamedClip(path, written, fmt, payload)
