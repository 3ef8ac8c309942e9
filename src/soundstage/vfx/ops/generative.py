"""Generative path of the VFX ops: face crops and masked regions through the diffusers backend.

Why through ``DiffusersGenerator`` only: that class verifies the registered weights digest before
any weight loads and never downloads, so the VFX ops inherit the same guarantees. The op's params
carry the model: ``generative_model_id`` and ``generative_config`` (the registered model's config:
``path``, ``weights_sha256``), plus ``prompt``, ``steps``, ``strength``.
The whole job stays one guarded job: these internal calls produce pixels, never assets.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.errors import SpecError
from soundstage.generate.backends.diffusers_local import DiffusersGenerator
from soundstage.generate.protocol import GenerationInput, GenerationRequest

__all__ = ["DiffusersBridge"]

_WORK_SIDE = 64  # diffusers sizes must be multiples of 8; faces are resized to a small square


class DiffusersBridge:
    """Runs img2img / inpaint on in-memory crops through the diffusers backend."""

    def __init__(self, params: dict[str, Any]) -> None:
        config = params.get("generative_config")
        if not isinstance(config, dict) or not config.get("path"):
            raise SpecError("generative mode needs params.generative_config with the local model 'path' and "
                            "'weights_sha256'", field="params.generative_config")
        self.generator = DiffusersGenerator(model_id=str(params.get("generative_model_id", "vfx-generative")),
                                            config=config)
        self.prompt = str(params.get("prompt", ""))
        self.steps = int(params.get("steps", 4))
        self.side = int(params.get("generative_size", _WORK_SIDE)) // 8 * 8 or _WORK_SIDE

    def _run(self, mode: str, image: np.ndarray, mask: np.ndarray | None, strength: float, seed: int) -> np.ndarray:
        from PIL import Image

        h, w = image.shape[:2]
        with tempfile.TemporaryDirectory(prefix="soundstage-vfx-gen-") as tmp:
            small = cv2.resize(image, (self.side, self.side), interpolation=cv2.INTER_AREA)
            src = Path(tmp) / "crop.png"
            Image.fromarray(small).save(src)
            inputs = [GenerationInput(asset_id=0, path=src, media_type="image/png", kind="image", name="crop.png")]
            if mask is not None:
                m = cv2.resize((mask > 0.5).astype(np.uint8) * 255, (self.side, self.side),
                               interpolation=cv2.INTER_NEAREST)
                mpath = Path(tmp) / "mask.png"
                Image.fromarray(np.dstack([m] * 3)).save(mpath)
                inputs.append(GenerationInput(asset_id=0, path=mpath, media_type="image/png", kind="image",
                                              name="mask.png"))
            job = JobSpec(id="vfx-internal", production_id="vfx", operation=OperationKind.CLEANUP
                          if mode == "inpaint" else OperationKind.LIKENESS_DEAGE, requested_by="vfx",
                          model_id=self.generator.model_id, prompt=self.prompt)
            # img2img runs int(steps * strength) denoising steps: keep at least one
            steps = max(self.steps, int(np.ceil(1.0 / strength)) + 1)
            request = GenerationRequest(job=job, inputs=tuple(inputs), seed=seed, scratch_dir=Path(tmp),
                                        params={"mode": mode, "steps": steps, "strength": strength,
                                                "width": self.side, "height": self.side, "guidance_scale": 1.0})
            result = self.generator.generate(request)[0].pixels
        return cv2.resize(result, (w, h), interpolation=cv2.INTER_CUBIC)

    def img2img(self, image: np.ndarray, strength: float, seed: int) -> np.ndarray:
        return self._run("img2img", image, None, max(0.01, min(1.0, strength)), seed)

    def inpaint(self, image: np.ndarray, mask: np.ndarray, seed: int) -> np.ndarray:
        return self._run("inpaint", image, mask, 1.0, seed)
