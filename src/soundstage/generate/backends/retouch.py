"""A classical (no trained model) cosmetic retouch: edge-preserving skin smoothing on a still.

Not generative AI - but it alters a performer's recorded likeness, so it still runs through the
guard, needs a consent or a customary-alteration exception, and is marked and signed.
"""

from __future__ import annotations

from typing import Any, Mapping

import cv2
import numpy as np

from soundstage import __version__
from soundstage.domain.safeguards import ModelCard
from soundstage.errors import InputError
from soundstage.generate.protocol import GeneratedImage, GenerationRequest
from soundstage.media.images import read_image


class RetouchAlterer:
    def __init__(self, model_id: str = "soundstage.retouch", config: Mapping[str, Any] | None = None) -> None:
        self.model_id = model_id
        self.config = dict(config or {})

    #: job operation -> the parameters a job may set (strength is the spec's alteration_amount)
    OPERATIONS: dict = {"*": ()}

    def model_card(self) -> ModelCard:
        return ModelCard(
            id=self.model_id, name="soundstage retouch (OpenCV bilateral smoothing)", version=__version__,
            licence="Apache-2.0", weights_sha256="", training_data="owned",
            evidence="classical image processing: no trained model, no training data",
            stores_inputs=False, trains_on_inputs=False, runs_in_production_env=True, trained_model=False,
        )

    def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        if not request.inputs:
            raise InputError("retouch needs an input image (inputs: [asset id])")
        amount = float(np.clip(request.job.alteration_amount or 0.3, 0.0, 1.0))
        outputs = []
        for item in request.inputs:
            rgb = read_image(item.path)
            diameter = 9
            smooth = cv2.bilateralFilter(rgb, diameter, 40 + 60 * amount, 7)
            out = cv2.addWeighted(rgb, 1.0 - amount, smooth, amount, 0.0)
            outputs.append(GeneratedImage(out, name=f"{request.job.id}_{item.name.rsplit('.', 1)[0]}_retouch.png",
                                          parents=(item.asset_id,), operation="edit",
                                          details={"amount": amount, "source": item.name}))
        return outputs
