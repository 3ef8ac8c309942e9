"""The local OpenAI-compatible chat server refuses what the real API refuses, in the real error shape,
and answers a chat.completion with usage and finish_reason (so the backend tests mean something)."""

from __future__ import annotations

import httpx
import pytest

from soundstage.testing.fake_chat_server import FakeOpenAIChat, numbered_lines

GOOD = {"model": "studio-llm", "temperature": 0, "max_tokens": 50,
        "messages": [{"role": "system", "content": "Answer with JSON."}, {"role": "user", "content": "3: a candle"}]}


@pytest.fixture
def server():
    seen = []

    def responder(body: dict) -> dict:
        seen.append(numbered_lines(body))
        return {"elements": [{"category": "props", "name": "candle", "line": 3, "quote": "candle"}]}

    with FakeOpenAIChat(responder, api_key="sk-x") as s:
        s.responder_saw = seen
        yield s


def post(server, body, key="sk-x", path="/v1/chat/completions"):
    return httpx.post(server.url + path, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=5)


def test_a_good_request_gets_a_chat_completion(server):
    response = post(server, {**GOOD, "response_format": {"type": "json_schema",
                                                         "json_schema": {"name": "x", "schema": {}}}})
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion" and body["choices"][0]["finish_reason"] == "stop"
    assert '"candle"' in body["choices"][0]["message"]["content"]
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    assert server.responder_saw == [{3: "a candle"}]


@pytest.mark.parametrize("change,status,param", [
    ({"model": "gpt-x"}, 404, "model"),
    ({"messages": []}, 400, "messages"),
    ({"messages": [{"role": "wizard", "content": "hi"}]}, 400, "messages[0].role"),
    ({"temperature": 3}, 400, "temperature"),
    ({"max_tokens": 0}, 400, "max_tokens"),
    ({"response_format": {"type": "xml"}}, 400, "response_format.type"),
    ({"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}}, 400,
     "response_format.json_schema.name"),
    ({"response_format": {"type": "json_object"}, "messages": [{"role": "user", "content": "3: a candle"}]}, 400,
     "messages"),
])
def test_bad_requests_are_refused_in_openais_error_shape(server, change, status, param):
    response = post(server, {**GOOD, **change})
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"] == param and response.json()["error"]["message"]
    assert server.responder_saw == []  # the model never saw it


def test_a_wrong_key_is_401_and_an_unknown_path_404(server):
    assert post(server, GOOD, key="sk-wrong").json()["error"]["code"] == "invalid_api_key"
    assert post(server, GOOD, path="/v1/completions").status_code == 404


def test_an_answer_over_max_tokens_is_cut_with_finish_reason_length(server):
    body = post(server, {**GOOD, "max_tokens": 3}).json()
    assert body["choices"][0]["finish_reason"] == "length"


def test_a_scripted_429_carries_retry_after(server):
    server.script("/v1/chat/completions", 429, {"error": {"message": "slow down"}}, headers={"Retry-After": "2"})
    response = post(server, GOOD)
    assert response.status_code == 429 and response.headers["retry-after"] == "2"
    assert post(server, GOOD).status_code == 200
