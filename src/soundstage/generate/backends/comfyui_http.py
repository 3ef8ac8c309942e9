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
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from pathlib import Path
from typing import Any, Mapping

from soundstage.domain.safeguards import ModelCard
from soundstage.domain.params import Param
from soundstage.errors import BackendError, InputError, NotFoundError, ParseError, SpecError
from soundstage.generate.backends._http import HttpSettings, decode_image, json_of, request
from soundstage.generate.protocol import GeneratedImage, GenerationRequest

SERVICE = "ComfyUI"


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
        if uploaded is not None:
            node = self._node(workflow, "image")
            if node is None:
                raise SpecError("the job has an input image but no LoadImage node is configured",
                                field="config.nodes.image")
            node["inputs"]["image"] = uploaded
        return workflow

    # ------------------------------------------------------------------ run
    def generate(self, request_: GenerationRequest) -> list[GeneratedImage]:
        import httpx

        base = self._url()
        settings = HttpSettings.from_config(self.config)
        poll_timeout = float(self.config.get("poll_timeout_s", 600))
        poll_interval = float(self.config.get("poll_interval_s", 0.5))
        workflow = self._workflow()
        source = request_.inputs[0] if request_.inputs else None
        if source is not None and not source.media_type.startswith("image/"):
            raise InputError(f"input {source.name} is {source.media_type}, not an image")
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
            images = self._collect(client, base, entry, settings)
        outputs = []
        for index, (node_id, pixels) in enumerate(images):
            details = {"service": SERVICE, "prompt_id": prompt_id, "node": node_id, "seed": request_.seed,
                       "prompt": request_.job.prompt}
            name = f"{request_.job.id}_comfyui_{index}.png"
            if source is not None:
                outputs.append(GeneratedImage(pixels, name, parents=(source.asset_id,), operation="genai_edit",
                                              details={**details, "source": source.name}))
            else:
                outputs.append(GeneratedImage(pixels, name, operation="generated", details=details))
        return outputs

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

    def _collect(self, client, base: str, entry: dict, settings: HttpSettings) -> list[tuple[str, Any]]:
        wanted = (self.config.get("nodes") or {}).get("output")
        found = []
        for node_id, output in sorted((entry.get("outputs") or {}).items()):
            if wanted is not None and str(node_id) != str(wanted):
                continue
            for image in output.get("images") or []:
                if image.get("type", "output") != "output":
                    continue  # previews ("temp") are not results
                response = request(client, "GET", f"{base}/view", service=SERVICE, settings=settings,
                                   params={"filename": image.get("filename", ""),
                                           "subfolder": image.get("subfolder", ""), "type": "output"})
                found.append((str(node_id), decode_image(response.content, service=SERVICE,
                                                         name=str(image.get("filename")))))
        if not found:
            raise BackendError(f"{SERVICE} finished but the workflow saved no output images",
                               hint="the workflow needs a SaveImage node (config nodes.output names it)")
        return found


def _execution_error(status: dict) -> str:
    for kind, data in status.get("messages") or []:
        if kind == "execution_error" and isinstance(data, dict):
            return " ".join(str(data.get("exception_message", "unknown error")).split())[:300]
    return "unknown error"
