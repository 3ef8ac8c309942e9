"""The openai-chat backend (the breakdown assist, DR022) on its own, against the local chat server: what
it sends, its bounds, and the shared HTTP helper's Retry-After."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.errors import BackendError, SpecError
from soundstage.generate.backends._http import HttpSettings, request
from soundstage.generate.backends.openai_chat import OpenAIChatBreakdown
from soundstage.generate.protocol import GenerationInput, GenerationRequest
from soundstage.testing.fake_chat_server import FakeOpenAIChat, numbered_lines

SCRIPT = "INT. ATTIC - DAY\n\nDust motes drift over a steamer trunk.\n\nINT. CELLAR - NIGHT\n\nA boiler groans.\n"


def job_request(tmp_path, **changes) -> GenerationRequest:
    path = tmp_path / "attic.fountain"
    path.write_text(SCRIPT)
    spec = JobSpec(id="j-1", production_id="p", operation=OperationKind.SCRIPT_BREAKDOWN, requested_by="x",
                   model_id="studio.llm", inputs=("0000000000000001",))
    return GenerationRequest(job=spec, inputs=(GenerationInput(1, path, "text/x-fountain", "screenplay",
                                                               "attic.fountain"),),
                             scratch_dir=tmp_path, **changes)


def trunk(body: dict) -> dict:
    return {"elements": [{"category": "props", "name": "steamer trunk", "line": n, "quote": "steamer trunk"}
                         for n, t in numbered_lines(body).items() if "trunk" in t]}


def test_one_request_per_scene_and_a_signed_set_to_write(tmp_path):
    with FakeOpenAIChat(trunk) as server:
        backend = OpenAIChatBreakdown("studio.llm", {"model": "studio-llm", "base_url": server.url + "/v1"})
        ticks = []
        [out] = backend.generate(job_request(tmp_path, progress=lambda d, t: ticks.append((d, t))))
    assert len(server.completions()) == 2 and ticks == [(1, 2), (2, 2)]
    assert "Authorization" not in server.completions()[0].headers  # no key configured, none sent
    body = json.loads(out.path.read_text())
    assert body["kept"] == [{"scene_index": 0, "category": "props", "name": "steamer trunk", "line": 3,
                             "quote": "steamer trunk"}]
    assert out.parents == (1,) and out.details["asset_kind"] == "breakdown_suggestions"
    assert body["usage"]["total_tokens"] > 0 and body["response_format"] == "json_schema"


@pytest.mark.parametrize("config,field", [
    ({"completion_budget": 16001}, "config.completion_budget"),
    ({"completion_budget": True}, "config.completion_budget"),
    ({"max_requests": 0}, "config.max_requests"),
    ({"api_key": "sk-leak"}, "config"),
    ({"base_url": "ftp://x"}, "config.base_url"),
])
def test_config_bounds(config, field):
    with pytest.raises(SpecError) as error:
        OpenAIChatBreakdown("studio.llm", {"model": "m", **config})
    assert error.value.field == field


def test_a_script_over_max_requests_is_refused_before_anything_is_sent(tmp_path):
    with FakeOpenAIChat(trunk) as server:
        backend = OpenAIChatBreakdown("studio.llm", {"model": "studio-llm", "base_url": server.url + "/v1",
                                                     "max_requests": 1})
        with pytest.raises(SpecError, match="needs 2 requests"):
            backend.generate(job_request(tmp_path))
    assert server.seen == []


def test_an_answer_that_is_not_a_chat_completion_is_one_line(tmp_path):
    with FakeOpenAIChat(trunk) as server:
        server.script("/v1/chat/completions", 200, {"result": "ok"})
        backend = OpenAIChatBreakdown("studio.llm", {"model": "studio-llm", "base_url": server.url + "/v1"})
        with pytest.raises(BackendError, match="not a chat completion"):
            backend.generate(job_request(tmp_path))


def test_retry_after_is_waited_for_up_to_max_backoff():
    with FakeOpenAIChat(trunk) as server:
        server.script("/v1/chat/completions", 429, {"error": {"message": "slow down"}}, headers={"Retry-After": "0.4"})
        settings = HttpSettings(timeout_s=5, retries=1, backoff_s=0, max_backoff_s=1)
        started = time.monotonic()
        with httpx.Client() as client:
            response = request(client, "POST", server.url + "/v1/chat/completions", service="chat", settings=settings,
                               json={"model": "studio-llm", "messages": [{"role": "user", "content": "1: a trunk"}]})
        assert response.status_code == 200 and time.monotonic() - started >= 0.4
        server.script("/v1/chat/completions", 429, {"error": {"message": "slow down"}},
                      headers={"Retry-After": "30"})
        started = time.monotonic()
        with httpx.Client() as client:
            request(client, "POST", server.url + "/v1/chat/completions", service="chat",
                    settings=HttpSettings(timeout_s=5, retries=1, backoff_s=0, max_backoff_s=0.2),
                    json={"model": "studio-llm", "messages": [{"role": "user", "content": "1: a trunk"}]})
        assert time.monotonic() - started < 5  # capped at max_backoff_s, not 30 s
