"""A ComfyUI server as a generator: submit an API-format workflow, poll, fetch the images.

The production keeps its tuned workflow (exported with "Save (API Format)") and soundstage fills in
the job: prompt, seed, size, steps, strength and an input image go into the nodes the model's
config names. The server is remote: its card defaults to "not in the production environment" and
"stores inputs" (ComfyUI keeps uploads and outputs on disk) unless the user's card says otherwise.

Config: ``url`` (required), ``workflow`` (path to the API-format JSON),
``nodes``: {``prompt``, ``negative``, ``seed``, ``size``, ``steps``, ``image``, ``output``} -> node id,
``poll_timeout_s`` (600), ``poll_interval_s`` (0.5), ``timeout_s``/``retries``/``backoff_s``, and
card fields (``name``, ``licence``, ``training_data``, ``evidence``, ``stores_inputs``,
``trains_on_inputs``, ``runs_in_production_env``, ``weights_sha256``).
A job sets only the declared parameters (``OPERATIONS``): it cannot send a graph or set another
node input, which could load a model the registry never saw.

Video: an output node that saves a video (VHS_VideoCombine's ``gifs``, SaveAnimatedWEBP's
``images`` flagged ``animated``, any ``.mp4``/``.webm``/``.mov``) becomes a clip; with config
``frames_as_clip: true`` the images a SaveImage node saved (a batch) become the frames of one clip at
config ``fps`` (24). Downloads are bounded by ``max_download_bytes`` (512 MB) and checked to be a
video or animation within the frame/size bounds; every frame is then marked and re-encoded
(``generate.clips.stream_clip``). The ``frames`` parameter sets the latent node's ``length`` (video latents)
or ``batch_size``; ``fps`` sets the output node's ``frame_rate``/``fps``.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping

from soundstage.domain.safeguards import ModelCard
from soundstage.domain.params import Param
from soundstage.errors import BackendError, InputError, NotFoundError, ParseError, SpecError
from soundstage.generate.clips import (
    MAX_CLIP_FRAMES,
    ClipFormat,
    DownloadedVideo,
    check_animated_image,
    check_video_file,
    clip_path,
    even_crop,
    stream_clip,
)
from soundstage.generate.backends._http import HttpSettings, decode_image, download, json_of, request
from soundstage.generate.protocol import GeneratedClip, GeneratedImage, GenerationRequest

SERVICE = "ComfyUI"
VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv")
DEFAULT_MAX_DOWNLOAD = 512 * 1024 * 1024


def remote_card(model_id: str, config: Mapping[str, Any], default_name: str) -> ModelCard:
    """A remote service's card from the config: what we cannot know, we assume the worst."""
    return ModelCard(
        id=model_id, name=str(config.get("name") or default_name), version=str(config.get("version", "")),
        licence=str(config.get("licence", "")), weights_sha256=config.get("weights_sha256") or None,
        training_data=str(config.get("training_data", "unknown")), evidence=str(config.get("evidence", "")),
        stores_inputs=bool(config.get("stores_inputs", True)),
        trains_on_inputs=bool(config.get("trains_on_inputs", True)),
        runs_in_production_env=bool(config.get("runs_in_production_env", False)), trained_model=True)


class ComfyUIGenerator:
    """Backend "comfyui"."""

    def __init__(self, model_id: str, config: Mapping[str, Any] | None = None) -> None:
        self.model_id = model_id
        self.config = dict(config or {})

    #: job operation ("*": any) -> the parameters a job may set. The workflow is the model record's
    #: (config.workflow): a job cannot send its own graph or set arbitrary node inputs, which could
    #: load a model the registry never saw.
    OPERATIONS = {"*": (
        Param("negative_prompt", "str", "What to steer away from.", None, max_length=2000),
        Param("strength", "float", "Denoise strength (image input).", None, 0.0, 1.0),
        Param("steps", "int", "Sampler steps.", None, 1, 200),
        Param("width", "int", "Latent width.", None, 64, 4096),
        Param("height", "int", "Latent height.", None, 64, 4096),
        Param("frames", "int", "Video workflows: frames (the latent's length, or batch size).", None, 1,
              MAX_CLIP_FRAMES),
        Param("fps", "int", "Video workflows: the output node's frame rate.", None, 1, 120),
    )}

    def model_card(self) -> ModelCard:
        return remote_card(self.model_id, self.config, f"ComfyUI workflow at {self.config.get('url', '?')}")

    # ------------------------------------------------------------------ workflow
    def _url(self) -> str:
        url = self.config.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise SpecError("needs the ComfyUI server's http(s) URL", field="config.url")
        return url.rstrip("/")

    def _workflow(self) -> dict:
        """The model record's workflow file: a job never sends its own graph."""
        source = self.config.get("workflow")
        if not source:
            raise SpecError("needs an API-format workflow file", field="config.workflow",
                            hint="export it from ComfyUI with 'Save (API Format)'")
        path = Path(str(source)).expanduser()
        try:
            workflow = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFoundError(f"workflow file {path} does not exist") from None
        except (OSError, ValueError) as exc:
            raise ParseError(f"not a JSON workflow ({exc})", source=str(path)) from None
        if not isinstance(workflow, dict) or not all(isinstance(n, dict) and "inputs" in n
                                                     for n in workflow.values()):
            raise SpecError("is not an API-format workflow (node id -> {class_type, inputs})",
                            field="config.workflow", hint="use 'Save (API Format)', not the UI save")
        return copy.deepcopy(workflow)

    def _node(self, workflow: dict, role: str) -> dict | None:
        node_id = (self.config.get("nodes") or {}).get(role)
        if node_id is None:
            return None
        node = workflow.get(str(node_id))
        if node is None:
            raise SpecError(f"names node {node_id!r} for the {role}, which is not in the workflow",
                            field=f"config.nodes.{role}")
        return node

    def fill(self, workflow: dict, request_: GenerationRequest, uploaded: str | None) -> dict:
        """Put the job into the workflow's configured nodes."""
        params = request_.params
        if (node := self._node(workflow, "prompt")) is not None:
            node["inputs"]["text"] = request_.job.prompt
        if (node := self._node(workflow, "negative")) is not None and params.get("negative_prompt"):
            node["inputs"]["text"] = str(params["negative_prompt"])
        if (node := self._node(workflow, "seed")) is not None:
            key = "noise_seed" if "noise_seed" in node["inputs"] else "seed"
            node["inputs"][key] = int(request_.seed)
            if "strength" in params and "denoise" in node["inputs"]:
                node["inputs"]["denoise"] = float(params["strength"])
        if (node := self._node(workflow, "steps")) is not None and "steps" in params:
            node["inputs"]["steps"] = int(params["steps"])
        if (node := self._node(workflow, "size")) is not None:
            for key in ("width", "height"):
                if key in params:
                    node["inputs"][key] = int(params[key])
            if "frames" in params:
                node["inputs"]["length" if "length" in node["inputs"] else "batch_size"] = int(params["frames"])
        if "fps" in params and (node := self._node(workflow, "output")) is not None:
            for key in ("frame_rate", "fps"):
                if key in node["inputs"]:
                    node["inputs"][key] = int(params["fps"])
        if uploaded is not None:
            node = self._node(workflow, "image")
            if node is None:
                raise SpecError("the job has an input image but no LoadImage node is configured",
                                field="config.nodes.image")
            node["inputs"]["image"] = uploaded
        return workflow

    # ------------------------------------------------------------------ run
    def generate(self, request_: GenerationRequest) -> list[GeneratedImage | GeneratedClip]:
        import httpx

        base = self._url()
        settings = HttpSettings.from_config(self.config)
        poll_timeout = float(self.config.get("poll_timeout_s", 600))
        poll_interval = float(self.config.get("poll_interval_s", 0.5))
        workflow = self._workflow()
        source = request_.inputs[0] if request_.inputs else None
        if source is not None and not source.media_type.startswith("image/"):
            raise InputError(f"input {source.name} is {source.media_type}, not an image")
        outputs: list[GeneratedImage | GeneratedClip] = []
        with httpx.Client(follow_redirects=False) as client:
            uploaded = None
            if source is not None:
                answer = json_of(request(client, "POST", f"{base}/upload/image", service=SERVICE, settings=settings,
                                         files={"image": (f"{request_.job.id}_{source.name}",
                                                          source.path.read_bytes(), source.media_type)},
                                         data={"type": "input", "overwrite": "true"}), SERVICE)
                uploaded = f"{answer['subfolder']}/{answer['name']}" if answer.get("subfolder") else answer.get("name")
            workflow = self.fill(workflow, request_, uploaded)
            answer = json_of(request(client, "POST", f"{base}/prompt", service=SERVICE, settings=settings,
                                     json={"prompt": workflow, "client_id": uuid.uuid4().hex}), SERVICE)
            prompt_id = answer.get("prompt_id") if isinstance(answer, dict) else None
            if not prompt_id:
                raise BackendError(f"{SERVICE} accepted the workflow but returned no prompt_id")
            entry = self._wait(client, base, str(prompt_id), settings, poll_timeout, poll_interval, request_)
            details = {"service": SERVICE, "prompt_id": prompt_id, "seed": request_.seed,
                       "prompt": request_.job.prompt}
            for node_id, kind, files in self._results(entry):
                if kind == "video":
                    for item in files:
                        video = self._fetch_video(client, base, item, settings, request_)
                        outputs.append(self._clip(video, request_, len(outputs), node_id, details, source))
                elif self.config.get("frames_as_clip"):
                    outputs.append(self._frames_clip(client, base, files, settings, request_, len(outputs), node_id,
                                                     details, source))
                else:
                    for item in files:
                        response = self._view(client, base, item, settings)
                        pixels = decode_image(response.content, service=SERVICE, name=str(item.get("filename")))
                        outputs.append(self._image(pixels, request_, len(outputs), node_id, details, source))
        if not outputs:
            raise BackendError(f"{SERVICE} finished but the workflow saved no output images",
                               hint="the workflow needs a SaveImage node (config nodes.output names it)")
        return outputs

    @staticmethod
    def _image(pixels, request_: GenerationRequest, index: int, node_id: str, details: dict, source):
        name = f"{request_.job.id}_comfyui_{index}.png"
        details = {**details, "node": node_id}
        if source is not None:
            return GeneratedImage(pixels, name, parents=(source.asset_id,), operation="genai_edit",
                                  details={**details, "source": source.name})
        return GeneratedImage(pixels, name, operation="generated", details=details)

    def _clip(self, video: DownloadedVideo, request_: GenerationRequest, index: int, node_id: str, details: dict,
              source) -> GeneratedClip:
        fmt = video.clip_format()
        try:
            streamed = stream_clip(even_crop(video.frames(), fmt.width, fmt.height), request_, fmt,
                                   stem=f"{request_.job.id}_comfyui_{index}", total=video.frame_count, index=index)
        finally:
            video.path.unlink(missing_ok=True)  # the unmarked download never outlives the run
        return self._as_clip(streamed, request_, index, node_id, details, source)

    @staticmethod
    def _as_clip(streamed, request_: GenerationRequest, index: int, node_id: str, details: dict, source):
        name = f"{request_.job.id}_comfyui_{index}.mp4"
        details = {**details, "node": node_id}
        if source is not None:
            return streamed.as_output(name, operation="genai_edit", parents=(source.asset_id,),
                                      details={**details, "source": source.name})
        return streamed.as_output(name, operation="generated", details=details)

    def _frames_clip(self, client, base: str, files: list[dict], settings: HttpSettings, request_: GenerationRequest,
                     index: int, node_id: str, details: dict, source) -> GeneratedClip:
        """The images one node saved, in order, as the frames of one clip: fetched one at a time."""
        if len(files) > MAX_CLIP_FRAMES:
            raise BackendError(f"{SERVICE} saved {len(files)} frames, over the limit of {MAX_CLIP_FRAMES}")
        fps = self.config.get("fps", 24)
        if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= 120:
            raise SpecError("must be a frame rate from 1 to 120", field="config.fps")

        def frames():
            for item in files:
                response = self._view(client, base, item, settings)
                yield decode_image(response.content, service=SERVICE, name=str(item.get("filename")))

        stream = frames()
        first = next(stream)
        fmt = ClipFormat(first.shape[1] - first.shape[1] % 2, first.shape[0] - first.shape[0] % 2,
                         Fraction(fps).limit_denominator(1001))

        def all_frames():
            yield first
            yield from stream

        streamed = stream_clip(even_crop(all_frames(), fmt.width, fmt.height), request_, fmt,
                               stem=f"{request_.job.id}_comfyui_{index}", total=len(files), index=index)
        return self._as_clip(streamed, request_, index, node_id, details, source)

    def _fetch_video(self, client, base: str, item: dict, settings: HttpSettings,
                     request_: GenerationRequest) -> DownloadedVideo:
        filename = str(item.get("filename", ""))
        suffix = Path(filename).suffix.lower()
        if suffix not in (*VIDEO_SUFFIXES, ".webp", ".gif", ".png"):
            raise BackendError(f"{SERVICE} saved {filename!r}, which is neither a video nor an animation")
        max_bytes = self.config.get("max_download_bytes", DEFAULT_MAX_DOWNLOAD)
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1024:
            raise SpecError("must be a whole number of bytes (at least 1024)", field="config.max_download_bytes")
        target = clip_path(request_, f"download_{uuid.uuid4().hex[:8]}", suffix)
        download(client, "GET", f"{base}/view", target, service=SERVICE, settings=settings, max_bytes=max_bytes,
                 params={"filename": filename, "subfolder": item.get("subfolder", ""), "type": "output"})
        try:
            if suffix in VIDEO_SUFFIXES:
                return check_video_file(target, service=SERVICE)
            fps = self.config.get("fps")
            return check_animated_image(target, service=SERVICE, fps=None if fps is None else
                                        Fraction(fps).limit_denominator(1001))
        except BaseException:
            target.unlink(missing_ok=True)
            raise

    @staticmethod
    def _view(client, base: str, item: dict, settings: HttpSettings):
        return request(client, "GET", f"{base}/view", service=SERVICE, settings=settings,
                       params={"filename": item.get("filename", ""), "subfolder": item.get("subfolder", ""),
                               "type": "output"})

    def _results(self, entry: dict) -> list[tuple[str, str, list[dict]]]:
        """(node id, "video" | "images", saved files) per output node, previews left out.

        Videos: VHS_VideoCombine reports them under ``gifs``; SaveAnimatedWEBP (and core video
        savers) under ``images`` with a parallel ``animated`` list of flags; a video suffix says so too."""
        wanted = (self.config.get("nodes") or {}).get("output")
        found = []
        for node_id, output in sorted((entry.get("outputs") or {}).items()):
            if wanted is not None and str(node_id) != str(wanted):
                continue
            if not isinstance(output, dict):
                continue
            flags = output.get("animated") or []
            videos, images = [], []
            for item in output.get("gifs") or []:
                if isinstance(item, dict) and item.get("type", "output") == "output":
                    videos.append(item)
            for position, item in enumerate(output.get("images") or []):
                if not isinstance(item, dict) or item.get("type", "output") != "output":
                    continue  # previews ("temp") are not results
                animated = bool(flags[position]) if position < len(flags) else False
                if animated or Path(str(item.get("filename", ""))).suffix.lower() in VIDEO_SUFFIXES:
                    videos.append(item)
                else:
                    images.append(item)
            if videos:
                found.append((str(node_id), "video", videos))
            if images:
                found.append((str(node_id), "images", images))
        return found

    def _wait(self, client, base: str, prompt_id: str, settings: HttpSettings, poll_timeout: float,
              poll_interval: float, request_: GenerationRequest) -> dict:
        deadline = time.monotonic() + poll_timeout
        while True:
            if request_.cancelled and request_.cancelled():
                request(client, "POST", f"{base}/interrupt", service=SERVICE, settings=settings)
                raise BackendError(f"job {request_.job.id} was cancelled; ComfyUI prompt {prompt_id} interrupted")
            history = json_of(request(client, "GET", f"{base}/history/{prompt_id}", service=SERVICE,
                                      settings=settings), SERVICE)
            entry = history.get(prompt_id) if isinstance(history, dict) else None
            if entry:
                status = entry.get("status") or {}
                if status.get("status_str") == "error":
                    raise BackendError(f"{SERVICE} workflow failed: {_execution_error(status)}")
                if status.get("completed", True):
                    return entry
            if time.monotonic() >= deadline:
                raise BackendError(f"{SERVICE} prompt {prompt_id} did not finish within {poll_timeout:g} s")
            time.sleep(poll_interval)


def _execution_error(status: dict) -> str:
    for kind, data in status.get("messages") or []:
        if kind == "execution_error" and isinstance(data, dict):
            return " ".join(str(data.get("exception_message", "unknown error")).split())[:300]
    return "unknown error"
