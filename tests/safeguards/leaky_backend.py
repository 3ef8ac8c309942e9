"""A test backend whose clip is marked in its first chunk only: what a broken or tampered remote
worker would hand back. The guard must refuse to sign or register it."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from soundstage.domain.safeguards import ModelCard
from soundstage.generate.protocol import GeneratedClip, GenerationRequest
from soundstage.safeguards.watermark import default_engine
from soundstage.vfx.media import VideoWriter, concat_segments


class LeakyClipBackend:
    OPERATIONS: dict = {"*": ()}  # declares no parameters beyond the seed

    def __init__(self, model_id: str = "test.leaky", config: dict | None = None) -> None:
        self.model_id = model_id
        self.config = dict(config or {})

    def model_card(self) -> ModelCard:
        return ModelCard(id=self.model_id, name="leaky test backend", version="1", licence="test",
                         training_data="owned", evidence="test", trained_model=False, runs_in_production_env=True,
                         stores_inputs=False, trains_on_inputs=False)

    def generate(self, request: GenerationRequest) -> list[GeneratedClip]:
        import skimage.data

        engine = default_engine(request.watermark_key)
        payload = request.reserved_asset_ids[0]
        photo = np.ascontiguousarray(skimage.data.astronaut())  # 512 x 512: four tiles of the mark
        marked_chunks = int(self.config.get("marked_chunks", 1))
        segments = []
        for chunk in range(3):
            path = Path(request.scratch_dir) / f"seg{chunk}.mp4"
            with VideoWriter(path, codec="h264", fps=Fraction(24), width=512, height=512, threads=1) as writer:
                for _ in range(12):
                    writer.write(engine.embed(photo, payload) if chunk < marked_chunks else photo)
            segments.append((12 * chunk, path))
        out = Path(request.scratch_dir) / "leaky.mp4"
        concat_segments(out, segments, fps=Fraction(24))
        return [GeneratedClip(path=out, name="leaky.mp4", payload=payload, operation="generated")]
