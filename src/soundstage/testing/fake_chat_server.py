"""A local stand-in for an OpenAI-compatible chat API that speaks its REAL wire protocol, on 127.0.0.1.

``POST /v1/chat/completions`` with JSON ``{"model", "messages", "temperature", "max_tokens",
"response_format"}`` is validated as the real API validates it - the bearer key, a known model, a
non-empty ``messages`` list of ``{"role", "content"}``, ``temperature`` 0-2, a positive
``max_tokens``, a ``response_format`` of type text, json_object (whose messages must mention JSON)
or json_schema (with a ``name`` and a ``schema``) - and answered with a ``chat.completion``:
``choices[0].message.content``, ``finish_reason`` ("length" when the answer is longer than
``max_tokens``) and ``usage``. Errors use OpenAI's ``{"error": {"message", "type", "param",
"code"}}`` shape with 400/401/404. ``schema_support=False`` answers 400 to json_schema, as servers
without structured output do. Tests script 429 (with ``Retry-After``) and 5xx answers with
``script``, as with the image servers.

What the model answers is not here: the test supplies a ``responder(body) -> str | dict`` (a dict
is sent as its JSON text), so the product has no canned results to lean on.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any, Callable

from soundstage.domain.safeguards import ModelCard
from soundstage.services import models
from soundstage.testing.fake_servers import Seen, _FakeServer

ROLES = ("system", "developer", "user", "assistant", "tool")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NUMBERED = re.compile(r"^(\d+): (.*)$", re.MULTILINE)
_ELEMENT = re.compile(r'^(E\d+): (\w+) "(.*)" \(line (\d+)\)$', re.MULTILINE)

Responder = Callable[[dict], "str | dict"]


def _user_text(body: dict) -> str:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    text = users[-1]["content"] if users else ""
    return text if isinstance(text, str) else ""


def numbered_lines(body: dict) -> dict[int, str]:
    """The numbered action lines (``N: text``) of a request's last user message (what a responder reads)."""
    text = _user_text(body).split("\n\nElements the tagger found:", 1)[0]
    return {int(n): t for n, t in _NUMBERED.findall(text)}


def tagger_elements(body: dict) -> dict[str, tuple[str, str, int]]:
    """The elements a request sends for review: id -> (category, name, line)."""
    return {ref: (category, name, int(line)) for ref, category, name, line in _ELEMENT.findall(_user_text(body))}


def element_lines(body: dict) -> dict[int, str]:
    """The non-action lines a request sends because an element under review points at them."""
    parts = _user_text(body).split("\n\nOther lines these elements point at:\n", 1)
    return {int(n): t for n, t in _NUMBERED.findall(parts[1])} if len(parts) == 2 else {}


def _tokens(text: str) -> int:
    """A rough token count (words and punctuation), as usage reports it."""
    return len(re.findall(r"\w+|[^\w\s]", text))


class FakeOpenAIChat(_FakeServer):
    """``POST /v1/chat/completions``; ``api_key`` set: requests need ``Authorization: Bearer <key>``."""

    def __init__(self, responder: Responder, *, api_key: str | None = None,
                 models: tuple[str, ...] = ("studio-llm",), schema_support: bool = True) -> None:
        super().__init__()
        self.responder = responder
        self.api_key = api_key
        self.models = models
        self.schema_support = schema_support

    def completions(self) -> list[Seen]:
        return self.requests_to("/v1/chat/completions")

    def _error(self, status: int, message: str, kind: str = "invalid_request_error",
               param: str | None = None, code: str | None = None) -> tuple[int, bytes, str]:
        return self._json(status, {"error": {"message": message, "type": kind, "param": param, "code": code}})

    def respond(self, seen: Seen) -> tuple[int, bytes, str]:
        if seen.method != "POST" or seen.path != "/v1/chat/completions":
            return self._error(404, f"Unknown request URL: {seen.method} {seen.path}", code="unknown_url")
        if self.api_key is not None and seen.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(401, "Incorrect API key provided.", "invalid_request_error", code="invalid_api_key")
        body: Any = seen.json
        if not isinstance(body, dict):
            return self._error(400, "We could not parse the JSON body of your request.")
        problem = self._check(body)
        if problem is not None:
            return problem
        answer = self.responder(body)
        content = answer if isinstance(answer, str) else json.dumps(answer)
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        finish = "stop"
        if limit is not None and _tokens(content) > limit:
            words = re.findall(r"\S+\s*", content)
            content, finish = "".join(words[:limit]), "length"
        prompt = sum(_tokens(m["content"]) for m in body["messages"] if isinstance(m.get("content"), str))
        completion = _tokens(content)
        return self._json(200, {
            "id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion", "created": int(time.time()),
            "model": body["model"], "system_fingerprint": "fp_local",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
                         "logprobs": None, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion}})

    def _check(self, body: dict) -> tuple[int, bytes, str] | None:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return self._error(400, "you must provide a model parameter", param="model")
        if model not in self.models:
            return self._error(404, f"The model `{model}` does not exist or you do not have access to it.",
                               param="model", code="model_not_found")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return self._error(400, "Invalid 'messages': empty array. Expected an array with minimum length 1.",
                               param="messages", code="empty_array")
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in ROLES:
                return self._error(400, f"Invalid value for 'messages[{i}].role'.", param=f"messages[{i}].role")
            if not isinstance(m.get("content"), (str, list)):
                return self._error(400, f"Missing required parameter: 'messages[{i}].content'.",
                                   param=f"messages[{i}].content")
        temperature = body.get("temperature", 1)
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
            return self._error(400, "Invalid 'temperature': expected a number from 0 to 2.", param="temperature")
        for name in ("max_tokens", "max_completion_tokens"):
            value = body.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                return self._error(400, f"Invalid '{name}': integer below minimum value 1.", param=name)
        fmt = body.get("response_format")
        if fmt is None:
            return None
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind == "text":
            return None
        if kind == "json_object":
            if not any("json" in str(m.get("content", "")).lower() for m in messages):
                return self._error(400, "'messages' must contain the word 'json' in some form, to use "
                                        "'response_format' of type 'json_object'.", param="messages")
            return None
        if kind == "json_schema":
            if not self.schema_support:
                return self._error(400, "response_format of type 'json_schema' is not supported by this server",
                                   param="response_format")
            spec = fmt.get("json_schema")
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not _NAME.match(spec["name"]):
                return self._error(400, "Missing required parameter: 'response_format.json_schema.name'.",
                                   param="response_format.json_schema.name")
            if not isinstance(spec.get("schema"), dict):
                return self._error(400, "Invalid 'response_format.json_schema.schema': expected an object.",
                                   param="response_format.json_schema.schema")
            return None
        return self._error(400, f"Invalid value: '{kind}'. Supported values are: 'text', 'json_object', "
                                "and 'json_schema'.", param="response_format.type")


def register_chat_model(ws, server: FakeOpenAIChat, *, model_id: str = "studio.llm", stores_inputs: bool = False,
                        trains_on_inputs: bool = False, runs_in_production_env: bool = True,
                        api_key_env: str | None = "STUDIO_LLM_KEY", **config: Any) -> dict:
    """Register ``model_id`` in ``ws``'s model registry as the ``openai-chat`` backend on ``server``
    (key from ``api_key_env``, no retry back-off), licensed, with the data handling given. Returns
    the registry's record."""
    card = ModelCard(id=model_id, name="Studio LLM", licence="contract", training_data="licensed",
                     stores_inputs=stores_inputs, trains_on_inputs=trains_on_inputs,
                     runs_in_production_env=runs_in_production_env)
    settings = {"model": server.models[0], "base_url": server.url + "/v1", "backoff_s": 0, **config}
    if api_key_env:
        settings["api_key_env"] = api_key_env
    return models.register_model(ws, card, actor="setup", backend="openai-chat", config=settings)
