"""A procedural (no trained model) card generator for ideation and previz placeholders.

It draws a labelled colour card from the prompt: useful as a mood-board tile and as the
always-available backend that exercises the whole guarded path with no weights at all.
"""

from __future__ import annotations

import hashlib
import textwrap

from typing import Any, Mapping

import numpy as np

from soundstage import __version__
from soundstage.domain.safeguards import ModelCard
from soundstage.domain.params import Param
from soundstage.generate.protocol import GeneratedImage, GenerationRequest


class ProceduralCardGenerator:
    def __init__(self, model_id: str = "soundstage.procedural-card", config: Mapping[str, Any] | None = None) -> None:
        self.model_id = model_id
        self.config = dict(config or {})

    #: job operation ("*": any) -> the parameters a job may set
    OPERATIONS = {"*": (
        # the watermark needs 64 px on each side (safeguards/watermark/spread.py)
        Param("width", "int", "Card width in pixels.", 960, 64, 4096),
        Param("height", "int", "Card height in pixels.", 540, 64, 4096),
    )}

    def model_card(self) -> ModelCard:
        return ModelCard(
            id=self.model_id, name="soundstage procedural card", version=__version__, licence="Apache-2.0",
            weights_sha256="", training_data="owned", evidence="procedural: no trained model, no training data",
            stores_inputs=False, trains_on_inputs=False, runs_in_production_env=True, trained_model=False,
        )

    def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        from PIL import Image, ImageDraw, ImageFont

        width = int(request.params.get("width", 960))
        height = int(request.params.get("height", 540))
        prompt = request.job.prompt or request.job.operation
        digest = hashlib.sha256(f"{prompt}|{request.seed}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
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
        return [GeneratedImage(np.asarray(pil, dtype=np.uint8).copy(), name=f"{request.job.id}_card.png",
                               operation="procedural",
                               details={"prompt": prompt, "seed": request.seed, "size": [width, height]})]
