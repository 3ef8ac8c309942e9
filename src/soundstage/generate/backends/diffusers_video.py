"""Text-to-video and image-to-video (diffusers) on the production's own local weights, verified first.

Like the still backend (``diffusers_local``): the registry's ``weights_sha256`` must match the
weights on disk before anything loads (the digest is what the clip's Content Credentials name as
the model ingredient), nothing is ever downloaded (``local_files_only=True``), torch/diffusers are
imported inside methods. The frames the pipeline returns go one at a time through the watermark
into the encoder (``generate.clips.stream_clip``), one progress tick per frame.

Families (config ``family``; what the pinned diffusers 0.42 runs):

* ``ltx`` (LTX-Video: ``LTXPipeline``; image-to-video runs ``LTXImageToVideoPipeline`` on the same
  components, so one registered directory does both; conditioned on the frame rate);
* ``wan`` (Wan 2.1/2.2 text-to-video: ``WanPipeline``). Wan's image-to-video checkpoints need a CLIP
  image encoder and a transformer of their own; not wired here (a job asking for it is refused);
* ``cogvideox`` (``CogVideoXPipeline``, ``CogVideoXImageToVideoPipeline``): the two modes are
  different checkpoints (the image-to-video transformer reads the image's latents beside the
  noise), so a registered directory does the mode its ``model_index.json`` names; the other mode
  is refused with one line naming the checkpoint it needs.

A family's VAE and transformer patch fix the clip's shape: sides are multiples of the VAE's spatial
compression times the patch size, the frame count is 1 + a multiple of its temporal compression; a
job asking for anything else is refused naming the nearest valid value.

Config: ``path`` (a diffusers pipeline directory, required), ``weights_sha256``, ``family``
(``ltx``, ``wan``, ``cogvideox``), ``max_pixels`` (per frame, default 1280x720), ``max_frames`` (default 257), and the
card fields ``name``, ``version``, ``licence``, ``training_data``, ``evidence``.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from soundstage.domain.params import Param
from soundstage.errors import BackendError, InputError, SpecError
from soundstage.generate.clips import MAX_CLIP_FRAMES, ClipFormat, float_frames_to_uint8, stream_clip
from soundstage.generate.backends.diffusers_local import DiffusersGenerator, _as_float, _as_int
from soundstage.generate.protocol import GeneratedClip, GenerationInput, GenerationRequest

MODES = ("text2video", "image2video")


@dataclass(frozen=True)
class VideoFamily:
    """How one open video family is run by diffusers."""

    text2video: str  # the pipeline class
    image2video: str | None  # None: not wired for this family
    shared_components: bool  # image-to-video runs on the text-to-video checkpoint's own components
    frame_rate: bool  # the pipeline is conditioned on the frame rate (``frame_rate=``)
    #: latent frames must come in this multiple (CogVideoX 1.0's VAE decodes an odd count of latents to
    #: 1 + 4(n - 1) frames, an even count to 4n: so a clip is 1 + 8k frames)
    latent_multiple: int = 1

    def pipeline_class(self, mode: str) -> str | None:
        return self.text2video if mode == "text2video" else self.image2video


FAMILIES: dict[str, VideoFamily] = {
    "ltx": VideoFamily("LTXPipeline", "LTXImageToVideoPipeline", shared_components=True, frame_rate=True),
    "wan": VideoFamily("WanPipeline", None, shared_components=False, frame_rate=False),
    "cogvideox": VideoFamily("CogVideoXPipeline", "CogVideoXImageToVideoPipeline", shared_components=False,
                             frame_rate=False, latent_multiple=2),
}
DEFAULT_MAX_PIXELS = 1280 * 720
DEFAULT_MAX_FRAMES = 257
MAX_STEPS = 200

_pipelines: dict[tuple[str, str, str], Any] = {}
_lock = threading.Lock()


class DiffusersVideoGenerator(DiffusersGenerator):
    """Backend "diffusers-video": text2video and image2video on local, digest-verified weights."""

    OPERATIONS = {"*": (
        Param("mode", "choice", "Pipeline: from the prompt, or from an image input (its first frame).",
              "text2video", choices=MODES),
        Param("frames", "int", "Clip length in frames (1 + a multiple of the model's temporal compression).",
              25, 1, MAX_CLIP_FRAMES),
        Param("fps", "int", "Frame rate the clip is encoded at (and LTX is conditioned on).", 24, 1, 60),
        Param("width", "int", "Frame width (a multiple of the model's VAE compression x patch size).", 512, 64, 4096),
        Param("height", "int", "Frame height (a multiple of the model's VAE compression x patch size).", 320, 64, 4096),
        Param("steps", "int", "Denoising steps.", 30, 1, MAX_STEPS),
        Param("guidance_scale", "float", "Classifier-free guidance.", 3.0, 0.0, 20.0),
        Param("negative_prompt", "str", "What to steer away from.", None, max_length=2000),
    )}

    def _family(self) -> str:
        family = str(self.config.get("family", "ltx"))
        if family not in FAMILIES:
            raise SpecError(f"{family!r} is not a video family this backend runs (one of: {', '.join(FAMILIES)})",
                            field="config.family")
        return family

    def model_card(self):
        card = super().model_card()
        if not self.config.get("name"):
            card = replace(card, name=f"diffusers {self._family()} video pipeline {self.path.name}")
        return card

    def _checkpoint_class(self) -> str:
        """The pipeline class the registered directory's ``model_index.json`` names."""
        try:
            index = json.loads((self.path / "model_index.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BackendError(f"{self.path} is not a diffusers pipeline directory (model_index.json: "
                               f"{type(exc).__name__})") from None
        return str(index.get("_class_name", "")) if isinstance(index, dict) else ""

    def _check_mode(self, mode: str) -> None:
        """Refuse, before any weights load, a mode this family or this checkpoint does not do."""
        family_name = self._family()
        family = FAMILIES[family_name]
        wanted = family.pipeline_class(mode)
        if wanted is None:
            raise SpecError(f"{mode} is not wired for the {family_name} family (its image-to-video checkpoints "
                            "need an image encoder this backend does not run)", field="params.mode")
        if not family.shared_components:
            have = self._checkpoint_class()
            if have != wanted:
                raise SpecError(f"this {family_name} checkpoint is a {have or 'unnamed pipeline'}; {mode} needs a "
                                f"{wanted} checkpoint (register it as its own model)", field="params.mode")

    def _video_pipeline(self, mode: str, digest: str):
        family_name = self._family()
        family = FAMILIES[family_name]
        key = (str(self.path.resolve()), digest, mode)
        with _lock:
            if key not in _pipelines:
                import diffusers
                from diffusers.utils import logging as diffusers_logging

                diffusers_logging.set_verbosity_error()
                base_mode = "text2video" if family.shared_components else mode
                base_key = (key[0], digest, base_mode)
                if base_key not in _pipelines:
                    name = family.pipeline_class(base_mode)
                    try:
                        base = getattr(diffusers, name).from_pretrained(self.path, local_files_only=True)
                    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
                        raise BackendError(f"cannot load a {family_name} video pipeline from {self.path}: "
                                           f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
                    base.set_progress_bar_config(disable=True)
                    _pipelines[base_key] = base.to("cpu")
                if base_key != key:
                    pipe = getattr(diffusers, family.image2video)(**_pipelines[base_key].components)
                    pipe.set_progress_bar_config(disable=True)
                    _pipelines[key] = pipe
            return _pipelines[key]

    def generate(self, request: GenerationRequest) -> list[GeneratedClip]:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is ever fetched
        params = request.params
        mode = params.get("mode", "text2video")
        if mode not in MODES:
            raise SpecError(f"{mode!r} is not a video mode (one of: {', '.join(MODES)})", field="params.mode")
        max_frames = int(self.config.get("max_frames", DEFAULT_MAX_FRAMES))
        frames = _as_int(params, "frames", 25, 1, max_frames)
        fps = _as_int(params, "fps", 24, 1, 60)
        width = _as_int(params, "width", 512, 64, 4096)
        height = _as_int(params, "height", 320, 64, 4096)
        steps = _as_int(params, "steps", 30, 1, MAX_STEPS)
        guidance = _as_float(params, "guidance_scale", 3.0, 0.0, 20.0)
        negative = params.get("negative_prompt") or None
        max_pixels = int(self.config.get("max_pixels", DEFAULT_MAX_PIXELS))
        if width * height > max_pixels:
            raise SpecError(f"{width}x{height} is over this model's {max_pixels} pixels per frame", field="params.width")
        source: GenerationInput | None = None
        if mode == "image2video":
            if not request.inputs:
                raise InputError("image2video needs the image to animate as input 1 (inputs: [asset id])")
            source = request.inputs[0]
            if not source.media_type.startswith("image/"):
                raise InputError(f"input {source.name} is {source.media_type}, not an image")
        self._check_mode(mode)
        digest = self.verify_weights()  # before any torch work: unverified weights never load
        pipe = self._video_pipeline(mode, digest)
        spatial, temporal = _compression(pipe)
        temporal *= FAMILIES[self._family()].latent_multiple
        for name, value in (("width", width), ("height", height)):
            if value % spatial:
                raise SpecError(f"{value} is not a multiple of this model's frame-size step {spatial} "
                                f"(nearest: {max(spatial, round(value / spatial) * spatial)})", field=f"params.{name}")
        if (frames - 1) % temporal:
            nearest = 1 + max(0, round((frames - 1) / temporal)) * temporal
            raise SpecError(f"{frames} frames is not 1 + a multiple of this model's frame step {temporal} "
                            f"(nearest: {nearest})", field="params.frames")
        fmt = ClipFormat(width, height, Fraction(fps))  # bounds checked before the model runs

        call: dict[str, Any] = dict(prompt=request.job.prompt or "", negative_prompt=negative, width=width,
                                    height=height, num_frames=frames, num_inference_steps=steps,
                                    guidance_scale=guidance, output_type="np")
        if FAMILIES[self._family()].frame_rate:
            call["frame_rate"] = fps
        if source is not None:
            from PIL import Image

            from soundstage.media.images import read_image

            image = Image.fromarray(read_image(source.path, name=source.name))
            if image.size != (width, height):
                image = image.resize((width, height), Image.Resampling.LANCZOS)
            call["image"] = image
        result = self._run_pipeline(pipe, call, request, seed=request.seed, steps=steps, mode=mode)
        video = result.frames[0]  # (frames, H, W, 3) floats in 0..1: what the pipeline decoded
        del result
        streamed = stream_clip(float_frames_to_uint8(video[i] for i in range(len(video))), request, fmt,
                               stem=f"{request.job.id}_{mode}", total=frames)
        details = {"mode": mode, "family": self._family(), "seed": request.seed, "steps": steps,
                   "guidance_scale": guidance, "weights_sha256": digest, "prompt": request.job.prompt}
        name = f"{request.job.id}_{mode}.mp4"
        if source is not None:
            return [streamed.as_output(name, operation="genai_edit", parents=(source.asset_id,),
                                       details={**details, "source": source.name})]
        return [streamed.as_output(name, operation="generated", details=details)]


def _compression(pipe) -> tuple[int, int]:
    """(spatial multiple of a frame side, temporal compression) of a loaded video pipeline: the VAE's
    spatial compression times the transformer's spatial patch, and the VAE's temporal compression."""
    if hasattr(pipe, "vae_spatial_compression_ratio"):  # LTX
        spatial, temporal = pipe.vae_spatial_compression_ratio, pipe.vae_temporal_compression_ratio
    else:  # Wan, CogVideoX
        spatial, temporal = pipe.vae_scale_factor_spatial, pipe.vae_scale_factor_temporal
    patch = getattr(pipe.transformer.config, "patch_size", 1) or 1
    if isinstance(patch, (list, tuple)):
        patch = patch[-1]  # Wan: (t, h, w)
    return int(spatial) * int(patch), int(temporal)
