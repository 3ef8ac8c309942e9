"""An OpenAI-compatible chat backend for the breakdown assist (DR022): ``POST {base_url}/chat/completions``.

The job's one input is the draft's screenplay (the guard resolved and verified it); the backend
sends it a scene at a time (``script.assist.scene_texts``: the scene's numbered action lines, at
most MAX_REQUEST_CHARS per request) with ``temperature`` 0, a bounded ``max_tokens`` and
``response_format`` json_schema (strict) - or json_object when the server answers 400 to the schema
(llama.cpp, older vLLM and Ollama builds) - and keeps what ``script.assist.check_answer`` keeps.
Each request also sends the rules' elements of that part of the scene for review, and keeps the
reviews ``script.assist.check_reviews`` keeps (assist.2).
Its one output is the suggestion set as JSON, a ``GeneratedFile`` the guard signs (a C2PA sidecar
bound to its hash) and registers with the screenplay as its parent.

Config (the model record's, server-owned): ``model`` (required: the server's model name),
``base_url`` (default https://api.openai.com/v1), ``api_key_env`` (the environment variable holding
the key: never the key), ``completion_budget`` (the request's ``max_tokens``: default 2000, at most
16000; the registry refuses config keys that name a token), ``max_requests`` (default 400, at most
2000: a script with more scene parts is refused before anything is sent),
``timeout_s``/``retries``/``backoff_s``/``max_backoff_s``, card fields (``licence``,
``training_data``, ``stores_inputs``, ``trains_on_inputs``, ``runs_in_production_env``: unstated,
a remote service is assumed to keep and train on what it gets, and the policy refuses it script
pages).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any, Mapping

import httpx

from soundstage.domain.safeguards import ModelCard, OperationKind
from soundstage.errors import BackendError, SpecError
from soundstage.generate.backends._http import (
    HttpSettings, bearer_headers, openai_base_url, refuse_secrets, request,
)
from soundstage.generate.backends.comfyui_http import remote_card
from soundstage.generate.protocol import GeneratedFile, GenerationRequest
from soundstage.script.assist import (
    ASSIST_VERSION, SUGGESTIONS_KIND, MalformedAnswer, SceneText, check_answer, check_reviews, response_schema,
    scene_texts, script_names,
)
from soundstage.script.breakdown import break_down
from soundstage.script.loader import parse_screenplay_bytes

SERVICE = "chat service"
SUGGESTIONS_MEDIA_TYPE = "application/json"
#: one answer's body at most: a scene's elements are a few KB
MAX_ANSWER_BYTES = 256 * 1024
MAX_TOKENS_LIMIT = 16_000
MAX_REQUESTS_LIMIT = 2_000


class OpenAIChatBreakdown:
    """Backend "openai-chat": performs ``script_breakdown`` only, with no job parameters (the seed aside)."""

    OPERATIONS = {OperationKind.SCRIPT_BREAKDOWN.value: ()}

    def __init__(self, model_id: str, config: Mapping[str, Any] | None = None) -> None:
        self.model_id = model_id
        self.config = dict(config or {})
        refuse_secrets(self.config)
        self.max_tokens = self._bounded_int("completion_budget", 2000, MAX_TOKENS_LIMIT)
        self.max_requests = self._bounded_int("max_requests", 400, MAX_REQUESTS_LIMIT)
        self.base_url = openai_base_url(self.config)

    def _bounded_int(self, name: str, default: int, limit: int) -> int:
        value = self.config.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
            raise SpecError(f"must be a whole number from 1 to {limit}", field=f"config.{name}")
        return value

    def model_card(self) -> ModelCard:
        return remote_card(self.model_id, self.config, f"{self.config.get('model') or 'chat model'} at {self.base_url}")

    # ------------------------------------------------------------------ the run
    def generate(self, request: GenerationRequest) -> list[GeneratedFile]:
        if not self.config.get("model"):
            raise SpecError("an openai-chat model needs config.model (the server's model name)", field="config.model")
        if request.job.operation is not OperationKind.SCRIPT_BREAKDOWN:
            raise SpecError(f"the openai-chat backend performs script_breakdown, not {request.job.operation}",
                            field="operation")
        scripts = [i for i in request.inputs if i.kind == "screenplay"]
        if len(scripts) != 1 or len(request.inputs) != 1:
            raise SpecError("a script_breakdown job takes exactly one input: the draft's screenplay", field="inputs")
        source = scripts[0]
        data = Path(source.path).read_bytes()
        sp = parse_screenplay_bytes(data, source.name, Path(source.name).suffix)
        rules = break_down(sp)
        parts = scene_texts(sp, breakdown=rules)  # each part also carries the rule elements to review
        if len(parts) > self.max_requests:
            raise SpecError(f"the script needs {len(parts)} requests, over this model's max_requests "
                            f"({self.max_requests})", field="config.max_requests")
        # every cue, and everyone the rules put in a scene: a model never turns a character into an object
        cast = script_names(sp) | {c for scene in rules.scenes for c in scene.cast}
        settings = HttpSettings.from_config(self.config)
        kept: list[dict] = []
        reviews: list[dict] = []
        dropped: Counter = Counter()
        usage: Counter = Counter()
        self._format = "json_schema"
        with httpx.Client(headers=bearer_headers(self.config)) as client:
            for done, part in enumerate(parts):
                if request.cancelled is not None and request.cancelled():
                    raise BackendError("the breakdown assist was cancelled")
                answer, used = self._ask(client, settings, part)
                try:
                    found, lost = check_answer(answer, part, cast)
                    reviewed, lost_reviews = check_reviews(answer, part)
                except MalformedAnswer as exc:
                    raise BackendError(f"{SERVICE} answered scene {part.index + 1} with a malformed element "
                                       f"list: {exc}") from None
                kept.extend(s.to_dict() for s in found)
                reviews.extend(r.to_dict() for r in reviewed)
                dropped.update(lost)
                dropped.update(lost_reviews)
                usage.update(used)
                if request.progress is not None:
                    request.progress(done + 1, len(parts))
        body = {"schema": "BreakdownSuggestions.2", "assist": ASSIST_VERSION, "model": self.model_id,
                "served_model": str(self.config["model"]), "script_sha256": hashlib.sha256(data).hexdigest(),
                "requests": len(parts), "response_format": self._format,
                "scenes": sorted({p.index for p in parts}),
                "scene_hashes": {str(p.index): p.content_hash for p in parts},
                "reviewed": sum(len(p.elements) for p in parts),
                "kept": kept, "reviews": reviews, "dropped": dict(sorted(dropped.items())), "usage": dict(usage)}
        out = Path(request.scratch_dir) / "breakdown_suggestions.json"
        out.write_text(json.dumps(body, indent=1, sort_keys=True), encoding="utf-8")
        return [GeneratedFile(path=out, name="breakdown_suggestions.json", media_type=SUGGESTIONS_MEDIA_TYPE,
                              parents=(source.asset_id,),
                              details={"asset_kind": SUGGESTIONS_KIND, "assist": ASSIST_VERSION,
                                       "kept": len(kept), "reviews": len(reviews),
                                       "dropped": sum(dropped.values())})]

    def _body(self, part: SceneText) -> dict[str, Any]:
        if self._format == "json_schema":
            fmt: dict[str, Any] = {"type": "json_schema", "json_schema": {
                "name": "breakdown_elements", "strict": True, "schema": response_schema()}}
        else:
            fmt = {"type": "json_object"}
        return {"model": str(self.config["model"]), "messages": part.messages(), "temperature": 0,
                "max_tokens": self.max_tokens, "response_format": fmt}

    def _ask(self, client, settings: HttpSettings, part: SceneText) -> tuple[Any, dict[str, int]]:
        url = f"{self.base_url}/chat/completions"
        try:
            response = request(client, "POST", url, service=SERVICE, settings=settings, json=self._body(part))
        except BackendError as exc:
            if exc.status != 400 or self._format != "json_schema":
                raise
            self._format = "json_object"  # the server does not take a schema: ask for a JSON object
            response = request(client, "POST", url, service=SERVICE, settings=settings, json=self._body(part))
        if len(response.content) > MAX_ANSWER_BYTES:
            raise BackendError(f"{SERVICE} answered {len(response.content) // 1024} KB for one scene, over the "
                               f"{MAX_ANSWER_BYTES // 1024} KB limit")
        try:
            reply = response.json()
            choice = reply["choices"][0]
            content = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise BackendError(f"{SERVICE} answered something that is not a chat completion") from None
        if choice.get("finish_reason") == "length":
            raise BackendError(f"{SERVICE} cut its answer for scene {part.index + 1} at max_tokens "
                               f"({self.max_tokens}); raise config.completion_budget")
        if not isinstance(content, str):
            raise BackendError(f"{SERVICE} answered scene {part.index + 1} without message content")
        try:
            answer = json.loads(content)
        except ValueError:
            raise BackendError(f"{SERVICE} answered scene {part.index + 1} with text that is not JSON") from None
        usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else {}
        return answer, {k: int(v) for k, v in usage.items() if isinstance(v, int) and not isinstance(v, bool)}
