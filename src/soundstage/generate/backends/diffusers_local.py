"""Stable Diffusion (diffusers) on the user's own local weights, CPU, verified before use.

The registry's ``weights_sha256`` is what the C2PA manifest names as the model behind an output,
so the backend refuses to run weights that hash differently: the record must match what runs.
Nothing is ever downloaded (``local_files_only=True``). torch/diffusers are imported inside methods
so listing or registering backends stays cheap.

Config (stored with the model record): ``path`` (a diffusers pipeline directory, required),
``weights_sha256`` (the registered digest; the guard passes the card's), optional ``controlnet``
(a ControlNet directory *inside* ``path``, default ``<path>/controlnet``), ``max_pixels``, plus the
card fields ``name``, ``version``, ``licence``, ``training_data``, ``evidence``.

Modes (``params["mode"]``): ``text2img`` | ``img2img`` | ``controlnet-depth`` | ``inpaint``.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from soundstage.domain.safeguards import ModelCard
from soundstage.domain.params import Param
from soundstage.errors import BackendError, InputError, NotFoundError, RefusedError, SpecError
from soundstage.files import sha256_file
from soundstage.generate.protocol import GeneratedImage, GenerationInput, GenerationRequest

WEIGHT_SUFFIXES = (".safetensors", ".bin")
MODES = ("text2img", "img2img", "controlnet-depth", "inpaint")
DEFAULT_MAX_PIXELS = 2048 * 2048
MAX_STEPS = 200
MAX_IMAGES = 8

# per-file hash cache keyed by (path, size, mtime_ns): re-verifying GBs of weights per job is wasteful,
# and anything that rewrites a file changes its stat
_file_hashes: dict[tuple[str, int, int], str] = {}
_pipelines: dict[tuple[str, str, str], Any] = {}
_lock = threading.Lock()


def _file_sha256(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    cached = _file_hashes.get(key)
    if cached is None:
        cached = _file_hashes[key] = sha256_file(path)
    return cached


def weight_files(path: Path | str) -> list[tuple[str, Path]]:
    """(relative POSIX path, file) of every ``*.safetensors``/``*.bin`` under ``path``, sorted by path."""
    root = Path(path)
    found = [(p.relative_to(root).as_posix(), p) for p in root.rglob("*")
             if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES)]
    return sorted(found)


def weights_digest(path: Path | str) -> str:
    """The digest a diffusers model is registered under.

    sha256 of the text ``"<file sha256>  <relative path>\\n"`` per weight file (``*.safetensors``,
    ``*.bin``, recursively), sorted by relative POSIX path - i.e. the output of
    ``find . -type f \\( -name '*.safetensors' -o -name '*.bin' \\) -printf '%P\\n' | LC_ALL=C sort |
    xargs sha256sum | sha256sum`` run inside the directory. Independent of where the directory lives.
    """
    root = Path(path)
    if not root.is_dir():
        raise NotFoundError(f"weights directory {root} does not exist")
    files = weight_files(root)
    if not files:
        raise InputError(f"{root} holds no weight files (*.safetensors, *.bin)",
                         hint="point the model's config.path at a diffusers pipeline directory")
    listing = "".join(f"{_file_sha256(file)}  {rel}\n" for rel, file in files)
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


def _as_int(params: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value \
            or not low <= int(value) <= high:
        raise SpecError(f"must be a whole number from {low} to {high}", field=f"params.{name}")
    return int(value)


def _as_float(params: Mapping[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= float(value) <= high:
        raise SpecError(f"must be a number from {low} to {high}", field=f"params.{name}")
    return float(value)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(image, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


def _fit8(width: int, height: int) -> tuple[int, int]:
    """The pipeline works on multiples of 8 (the VAE's scale factor): round down, never below 8."""
    return max(8, width - width % 8), max(8, height - height % 8)


class DiffusersGenerator:
    """Backend "diffusers": text2img, img2img, ControlNet-depth and inpaint on local weights."""

    def __init__(self, model_id: str, config: Mapping[str, Any] | None = None) -> None:
        self.model_id = model_id
        self.config = dict(config or {})

    # ------------------------------------------------------------------ card and weights
    @property
    def path(self) -> Path:
        raw = self.config.get("path")
        if not raw or not isinstance(raw, str):
            raise SpecError(f"model {self.model_id!r} needs the local pipeline directory", field="config.path",
                            hint="soundstage model add ... --config path=/models/my-sd")
        return Path(raw).expanduser()

    #: job operation ("*": any) -> the parameters a job may set
    OPERATIONS = {"*": (
        Param("mode", "choice", "Pipeline.", "text2img", choices=MODES),
        Param("steps", "int", "Denoising steps.", 30, 1, MAX_STEPS),
        Param("guidance_scale", "float", "Classifier-free guidance.", 7.0, 0.0, 30.0),
        Param("count", "int", "Images to generate.", 1, 1, MAX_IMAGES),
        Param("negative_prompt", "str", "What to steer away from.", None, max_length=2000),
        Param("strength", "float", "img2img / inpaint strength.", None, 0.01, 1.0),
        Param("control_scale", "float", "ControlNet conditioning scale.", 1.0, 0.0, 2.0),
        Param("preserve_unmasked", "bool", "Inpaint: keep every pixel outside the mask exactly.", True),
        Param("width", "int", "Output width (multiple of 8; bounded by the model's max_pixels).", None, 8, 8192),
        Param("height", "int", "Output height (multiple of 8).", None, 8, 8192),
    )}

    def model_card(self) -> ModelCard:
        """A card from the config; the weights digest is computed from what is on disk. Licence and
        training-data attestation can only come from the user's own card (the registry record)."""
        digest = self.config.get("weights_sha256")
        if not digest and self.path.is_dir():
            digest = weights_digest(self.path)
        return ModelCard(
            id=self.model_id, name=str(self.config.get("name") or f"diffusers pipeline {self.path.name}"),
            version=str(self.config.get("version", "")), licence=str(self.config.get("licence", "")),
            weights_sha256=digest or None, training_data=str(self.config.get("training_data", "unknown")),
            evidence=str(self.config.get("evidence", "")), stores_inputs=False, trains_on_inputs=False,
            runs_in_production_env=True, trained_model=True)

    def verify_weights(self) -> str:
        """Refuse weights that are not the ones the registry recorded; returns the digest."""
        expected = str(self.config.get("weights_sha256") or "").lower()
        if len(expected) != 64:
            raise RefusedError(f"model {self.model_id!r} has no registered weights_sha256 to verify its weights "
                               "against", hint="register the digest from soundstage's weights_digest(path)")
        actual = weights_digest(self.path)
        if actual != expected:
            raise RefusedError(f"weights in {self.path} do not match model {self.model_id!r}'s registered "
                               f"weights_sha256 (registered {expected[:12]}..., on disk {actual[:12]}...)",
                               hint="if the change is intended, re-register the model with the new digest")
        return actual

    def _controlnet_dir(self) -> Path:
        root = self.path.resolve()
        target = (root / str(self.config.get("controlnet", "controlnet"))).resolve()
        if not target.is_relative_to(root):
            raise SpecError("must be a directory inside the model's path, so the weights digest covers it",
                            field="config.controlnet")
        if not (target / "config.json").is_file():
            raise NotFoundError(f"model {self.model_id!r} has no ControlNet at {target}",
                                hint="controlnet-depth needs a ControlNet directory inside the pipeline directory")
        return target

    def _base_pipeline(self, digest: str):
        key = (str(self.path.resolve()), digest, "base")
        with _lock:
            if key not in _pipelines:
                import torch
                from diffusers import StableDiffusionPipeline
                from diffusers.utils import logging as diffusers_logging

                diffusers_logging.set_verbosity_error()
                try:
                    pipe = StableDiffusionPipeline.from_pretrained(
                        self.path, local_files_only=True, torch_dtype=torch.float32, safety_checker=None,
                        requires_safety_checker=False)
                except (OSError, ValueError, KeyError, RuntimeError) as exc:
                    raise BackendError(f"cannot load diffusers pipeline from {self.path}: "
                                       f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
                pipe.set_progress_bar_config(disable=True)
                _pipelines[key] = pipe.to("cpu")
            return _pipelines[key]

    def _pipeline(self, mode: str, digest: str):
        base = self._base_pipeline(digest)
        key = (str(self.path.resolve()), digest, mode)
        with _lock:
            if key not in _pipelines:
                import diffusers

                components = {k: v for k, v in base.components.items()}
                components["requires_safety_checker"] = False
                if mode == "text2img":
                    pipe = base
                elif mode == "img2img":
                    pipe = diffusers.StableDiffusionImg2ImgPipeline(**components)
                elif mode == "inpaint":
                    pipe = diffusers.StableDiffusionInpaintPipeline(**components)
                else:
                    controlnet = diffusers.ControlNetModel.from_pretrained(self._controlnet_dir(),
                                                                           local_files_only=True)
                    pipe = diffusers.StableDiffusionControlNetPipeline(**components, controlnet=controlnet)
                pipe.set_progress_bar_config(disable=True)
                _pipelines[key] = pipe
            return _pipelines[key]

    # ------------------------------------------------------------------ generation
    def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: nothing is ever fetched
        params = request.params
        mode = params.get("mode", "text2img")
        if mode not in MODES:
            raise SpecError(f"{mode!r} is not a diffusers mode (one of: {', '.join(MODES)})", field="params.mode")
        steps = _as_int(params, "steps", 30, 1, MAX_STEPS)
        guidance = _as_float(params, "guidance_scale", 7.0, 0.0, 30.0)
        count = _as_int(params, "count", 1, 1, MAX_IMAGES)
        negative = params.get("negative_prompt") or None
        max_pixels = int(self.config.get("max_pixels", DEFAULT_MAX_PIXELS))
        prompt = request.job.prompt or ""
        digest = self.verify_weights()  # before any torch work: unverified weights never load
        pipe = self._pipeline(mode, digest)

        common = dict(prompt=prompt, negative_prompt=negative, num_inference_steps=steps, guidance_scale=guidance,
                      output_type="np")
        parent: GenerationInput | None = None
        original: np.ndarray | None = None
        mask: np.ndarray | None = None
        if mode == "text2img":
            width, height = self._size(params, None, max_pixels)
            call = dict(common, width=width, height=height)
        else:
            parent = self._image_input(request, 0, "the image to edit" if mode != "controlnet-depth" else "a depth map")
            original = self._read(parent)
            width, height = self._size(params, original, max_pixels)
            work = self._resized(original, width, height)
            if mode == "img2img":
                call = dict(common, image=work, strength=_as_float(params, "strength", 0.6, 0.01, 1.0))
            elif mode == "controlnet-depth":
                call = dict(common, image=work, width=width, height=height,
                            controlnet_conditioning_scale=_as_float(params, "control_scale", 1.0, 0.0, 2.0))
            else:
                mask_input = self._image_input(request, 1, "a mask (white = repaint)")
                mask = self._read(mask_input)
                if mask.shape[:2] != original.shape[:2]:
                    raise InputError(f"mask {mask_input.name} is {mask.shape[1]}x{mask.shape[0]} but the image "
                                     f"{parent.name} is {original.shape[1]}x{original.shape[0]}")
                mask = (mask.mean(axis=2) > 127).astype(np.uint8) * 255
                if not mask.any():
                    raise InputError(f"mask {mask_input.name} selects nothing to repaint (all black)")
                call = dict(common, image=work, mask_image=self._resized(np.dstack([mask] * 3), width, height),
                            width=width, height=height, strength=_as_float(params, "strength", 1.0, 0.01, 1.0))

        outputs: list[GeneratedImage] = []
        for index in range(count):
            seed = request.seed + index
            result = self._run_pipeline(pipe, call, request, seed=seed, steps=steps, mode=mode)
            pixels = _to_uint8(result.images[0])
            details = {"mode": mode, "seed": seed, "steps": steps, "guidance_scale": guidance,
                       "size": [int(pixels.shape[1]), int(pixels.shape[0])], "weights_sha256": digest,
                       "prompt": prompt}
            if parent is None:
                outputs.append(GeneratedImage(pixels, name=f"{request.job.id}_{mode}_{index}.png",
                                              operation="generated", details=details))
                continue
            if mode == "inpaint" and params.get("preserve_unmasked", True):
                pixels = self._composite(original, pixels, mask)  # only the masked region may change
            details["source"] = parent.name
            outputs.append(GeneratedImage(pixels, name=f"{request.job.id}_{mode}_{index}.png",
                                          parents=(parent.asset_id,), operation="genai_edit", details=details))
        return outputs

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _run_pipeline(pipe, call: dict[str, Any], request: GenerationRequest, *, seed: int, steps: int, mode: str):
        """One run of a loaded pipeline (image or video): progress after every step, a cancel seen
        between steps stops it (and is refused after it), one run at a time per process (the
        pipelines share scheduler state)."""
        import torch

        def on_step(pipeline, step: int, timestep, callback_kwargs):
            if request.progress:
                request.progress(step + 1, steps)
            if request.cancelled and request.cancelled():
                pipeline._interrupt = True
            return callback_kwargs

        generator = torch.Generator(device="cpu").manual_seed(seed)
        with _lock, torch.inference_mode():
            try:
                result = pipe(**call, generator=generator, callback_on_step_end=on_step)
            except (RuntimeError, ValueError) as exc:
                raise BackendError(f"diffusers {mode} failed: {str(exc).splitlines()[0]}") from exc
        if request.cancelled and request.cancelled():
            raise BackendError(f"job {request.job.id} was cancelled during generation")
        return result

    def _size(self, params: Mapping[str, Any], source: np.ndarray | None, max_pixels: int) -> tuple[int, int]:
        default_w, default_h = (512, 512) if source is None else (source.shape[1], source.shape[0])
        width = _as_int(params, "width", default_w, 8, 8192)
        height = _as_int(params, "height", default_h, 8, 8192)
        width, height = _fit8(width, height)
        if width * height > max_pixels:
            raise SpecError(f"{width}x{height} is over this model's {max_pixels} pixel limit", field="params.width")
        return width, height

    @staticmethod
    def _image_input(request: GenerationRequest, index: int, what: str) -> GenerationInput:
        if len(request.inputs) <= index:
            raise InputError(f"mode {request.params.get('mode')!r} needs {what} as input {index + 1} "
                             "(inputs: [asset id, ...])")
        item = request.inputs[index]
        if not item.media_type.startswith("image/"):
            raise InputError(f"input {item.name} is {item.media_type}, not an image")
        return item

    @staticmethod
    def _read(item: GenerationInput) -> np.ndarray:
        from soundstage.media.images import read_image

        return read_image(item.path, name=item.name)

    @staticmethod
    def _resized(pixels: np.ndarray, width: int, height: int):
        from PIL import Image

        image = Image.fromarray(pixels)
        if image.size != (width, height):
            image = image.resize((width, height), Image.Resampling.LANCZOS)
        return image

    @staticmethod
    def _composite(original: np.ndarray, generated: np.ndarray, mask: np.ndarray) -> np.ndarray:
        from PIL import Image

        h, w = original.shape[:2]
        if generated.shape[:2] != (h, w):
            generated = np.asarray(Image.fromarray(generated).resize((w, h), Image.Resampling.LANCZOS))
        keep = mask[:, :, None] > 0
        return np.where(keep, generated, original).astype(np.uint8)
