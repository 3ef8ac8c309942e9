"""An OpenAI-compatible images endpoint (OpenAI itself, or any server speaking the same API).

The API key is read from an environment variable whose *name* is in the config, so no secret ever
lands in the model registry or the audit log (both record the config). A remote service's card
defaults to "stores and trains on inputs, not in the production environment": the policy engine
then keeps performers' likenesses away from it unless the user's card attests otherwise.

Config: ``model`` (required), ``base_url`` (default https://api.openai.com/v1), ``api_key_env``,
``size`` (default 1024x1024), ``response_format`` (default "b64_json"; set to null for servers
that reject the field), ``timeout_s``/``retries``/``backoff_s``, and card fields as for ComfyUI.
Params: ``mode`` ("text2img" | "edit"; edit takes inputs [image, optional mask white=repaint]),
``size`` or ``width``+``height``, ``count``, ``quality``, ``style``.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from typing import Any, Mapping

import numpy as np

from soundstage.domain.safeguards import ModelCard
from soundstage.domain.params import Param
from soundstage.errors import BackendError, InputError, SpecError
from soundstage.generate.backends._http import bearer_headers, decode_image, HttpSettings, json_of, openai_base_url, refuse_secrets, request
from soundstage.generate.backends.comfyui_http import remote_card
from soundstage.generate.protocol import GeneratedImage, GenerationRequest

SERVICE = "image service"


class OpenAIImagesGenerator:
    """Backend "openai-images"."""

    def __init__(self, model_id: str, config: Mapping[str, Any] | None = None) -> None:
        self.model_id = model_id
        self.config = dict(config or {})
        refuse_secrets(self.config)

    #: job operation ("*": any) -> the parameters a job may set
    OPERATIONS = {"*": (
        Param("mode", "choice", "Create or edit.", "text2img", choices=("text2img", "edit", "inpaint", "img2img")),
        Param("count", "int", "Images to request.", 1, 1, 10),
        Param("size", "str", "WIDTHxHEIGHT as the service names it.", None, max_length=11),
        Param("width", "int", "Width (instead of size).", None, 64, 4096),
        Param("height", "int", "Height (instead of size).", None, 64, 4096),
        Param("quality", "str", "The service's quality option.", None, max_length=40),
        Param("style", "str", "The service's style option.", None, max_length=40),
        Param("background", "str", "The service's background option.", None, max_length=40),
    )}

    def model_card(self) -> ModelCard:
        return remote_card(self.model_id, self.config, f"{self.config.get('model', 'image model')} at "
                                                       f"{self._base_url()}")

    def _base_url(self) -> str:
        return openai_base_url(self.config)

    def _headers(self) -> dict[str, str]:
        return bearer_headers(self.config)

    def _size(self, params: Mapping[str, Any]) -> str:
        if "width" in params or "height" in params:
            size = f"{params.get('width', 1024)}x{params.get('height', 1024)}"
        else:
            size = str(params.get("size") or self.config.get("size") or "1024x1024")
        if not re.fullmatch(r"[1-9][0-9]{1,4}x[1-9][0-9]{1,4}", size):
            raise SpecError(f"{size!r} is not WIDTHxHEIGHT", field="params.size")
        return size

    def generate(self, request_: GenerationRequest) -> list[GeneratedImage]:
        import httpx

        params = request_.params
        mode = params.get("mode", "text2img")
        if mode not in ("text2img", "edit", "inpaint", "img2img"):
            raise SpecError(f"{mode!r} is not a mode of this backend (text2img, edit)", field="params.mode")
        model = self.config.get("model")
        if not model:
            raise SpecError("needs the service's model name", field="config.model")
        if not request_.job.prompt:
            raise InputError("an image service needs a prompt")
        count = params.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10:
            raise SpecError("must be a whole number from 1 to 10", field="params.count")
        fields: dict[str, Any] = {"model": model, "prompt": request_.job.prompt, "n": count,
                                  "size": self._size(params)}
        response_format = self.config.get("response_format", "b64_json")
        if response_format:
            fields["response_format"] = response_format
        for option in ("quality", "style", "background"):
            if option in params:
                fields[option] = params[option]
        settings = HttpSettings.from_config(self.config)
        headers = self._headers()
        source = None
        with httpx.Client(follow_redirects=False, headers=headers) as client:
            if mode == "text2img":
                response = request(client, "POST", f"{self._base_url()}/images/generations", service=SERVICE,
                                   settings=settings, json=fields)
            else:
                if not request_.inputs:
                    raise InputError("edit mode needs the image to edit as input 1 (and optionally a mask as input 2)")
                source = request_.inputs[0]
                files = {"image": (source.name, source.path.read_bytes(), source.media_type)}
                if len(request_.inputs) > 1:
                    files["mask"] = ("mask.png", _alpha_mask(request_.inputs[1].path), "image/png")
                response = request(client, "POST", f"{self._base_url()}/images/edits", service=SERVICE,
                                   settings=settings, data={k: str(v) for k, v in fields.items()}, files=files)
        body = json_of(response, SERVICE)
        items = body.get("data") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise BackendError(f"{SERVICE} answered without a 'data' list of images")
        outputs = []
        for index, item in enumerate(items[:count]):
            b64 = item.get("b64_json") if isinstance(item, dict) else None
            if not b64:
                raise BackendError(f"{SERVICE} returned no b64_json image (a URL is not fetched)",
                                   hint="set config response_format: b64_json")
            try:
                data = base64.b64decode(b64, validate=True)
            except (binascii.Error, ValueError):
                raise BackendError(f"{SERVICE} returned b64_json that is not base64") from None
            name = f"{request_.job.id}_{model}_{index}.png".replace("/", "_")
            pixels = decode_image(data, service=SERVICE, name=name)
            details = {"service": self._base_url(), "service_model": model, "size": fields["size"],
                       "revised_prompt": item.get("revised_prompt"), "prompt": request_.job.prompt}
            if source is not None:
                outputs.append(GeneratedImage(pixels, name, parents=(source.asset_id,), operation="genai_edit",
                                              details={**details, "source": source.name}))
            else:
                outputs.append(GeneratedImage(pixels, name, operation="generated", details=details))
        return outputs


def _alpha_mask(path) -> bytes:
    """Our masks are white = repaint; OpenAI's are transparent = repaint."""
    from PIL import Image

    from soundstage.media.images import read_image

    grey = read_image(path).mean(axis=2)
    rgba = np.zeros((*grey.shape, 4), np.uint8)
    rgba[..., 3] = np.where(grey > 127, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    return buf.getvalue()
