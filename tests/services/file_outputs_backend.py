"""A test backend whose outputs are files C2PA cannot embed into, as Blender's are: a 16-bit depth
pass (PNG) and a scene file. The guard binds each with a signed sidecar (`GeneratedFile`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from soundstage.domain.safeguards import ModelCard
from soundstage.generate.protocol import GeneratedFile, GenerationRequest


class FileOutputsBackend:
    OPERATIONS: dict = {"*": ()}  # declares no parameters beyond the seed

    def __init__(self, model_id: str = "test.file-outputs", config: dict | None = None) -> None:
        self.model_id = model_id
        self.config = dict(config or {})

    def model_card(self) -> ModelCard:
        return ModelCard(id=self.model_id, name="file outputs test backend", version="1", licence="test",
                         training_data="owned", evidence="test", trained_model=False, runs_in_production_env=True,
                         stores_inputs=False, trains_on_inputs=False)

    def generate(self, request: GenerationRequest) -> list[GeneratedFile]:
        scratch = Path(request.scratch_dir)
        rng = np.random.default_rng(request.seed or 0)
        depth = scratch / "depth.png"
        Image.fromarray(rng.integers(0, 65535, (36, 64), dtype=np.uint16)).save(depth)
        blend = scratch / "scene.blend"
        blend.write_bytes(b"BLENDER-v500" + rng.integers(0, 255, 2048, dtype=np.uint8).tobytes())
        return [GeneratedFile(path=depth, name="scene1_shot1_depth.png", media_type="image/png",
                              details={"asset_kind": "depth"}),
                GeneratedFile(path=blend, name="scene_1_blocking.blend", media_type="application/x-blender",
                              details={"asset_kind": "blend"})]
