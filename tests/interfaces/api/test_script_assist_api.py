"""POST /api/script/assist: the breakdown assist over HTTP, against a local OpenAI-compatible chat server
whose answers the test scripts. The request never waits for the model: it submits the guarded job
(409 while approvers decide), a worker runs it, and a second request merges it (DR022)."""

from __future__ import annotations

from api_helpers import approved_assist_job, auth, run_queue, upload_script
from soundstage.services import script_service
from soundstage.testing.fake_chat_server import (
    FakeOpenAIChat, numbered_lines, register_chat_model, tagger_elements,
)

SCRIPT = """INT. BAKERY - DAWN

Flour dusts the counter. A delivery van idles outside the window.
"""


def responder(body: dict) -> dict:
    out = []
    for number, text in numbered_lines(body).items():
        if "delivery van" in text:
            out.append({"category": "vehicles", "name": "delivery van", "line": number, "quote": "delivery van"})
        if "Flour" in text:
            out.append({"category": "set_dressing", "name": "flour", "line": number, "quote": "Flour dusts"})
    return {"elements": out}


def test_no_model_is_a_404_in_the_error_shape(client, production):
    upload_script(client, production, SCRIPT, name="bakery.fountain")
    response = client.post("/api/script/assist", headers=auth(production, "producer"), json={})
    assert response.status_code == 404, response.text
    assert "no breakdown assist model is registered" in response.json()["error"]["message"]


def test_a_keeping_model_is_refused_before_anything_is_sent(client, production, monkeypatch):
    monkeypatch.setenv("STUDIO_LLM_KEY", "sk-api")
    upload_script(client, production, SCRIPT, name="bakery.fountain")
    with FakeOpenAIChat(responder, api_key="sk-api") as server:
        register_chat_model(production["ws"], server, trains_on_inputs=True)
        response = client.post("/api/script/assist", headers=auth(production, "producer"), json={})
    assert response.status_code == 403, response.text
    assert "NFX-P2-SCRIPT" in response.json()["error"]["message"]
    assert server.seen == []


def test_assist_submit_approve_run_merge(client, production, monkeypatch):
    ws = production["ws"]
    monkeypatch.setenv("STUDIO_LLM_KEY", "sk-api")
    upload_script(client, production, SCRIPT, name="bakery.fountain")
    with FakeOpenAIChat(responder, api_key="sk-api") as server:
        register_chat_model(ws, server)
        job = approved_assist_job(client, production)
        queued = client.post("/api/script/assist", headers=auth(production, "producer"), json={"job": job})
        assert queued.status_code == 200 and queued.json() == {"job": job, "status": "queued"}
        assert server.seen == []  # the request did not wait for the model
        run_queue(production)
        response = client.post("/api/script/assist", headers=auth(production, "producer"), json={"job": job})
    assert response.status_code == 200, response.text
    assert response.json()["job"] == job and response.json()["kept"] >= 1
    bd, _ = script_service.get_breakdown(ws)
    assisted = {e.name: e for _, e in bd.elements() if e.origin == "assist:studio.llm"}
    assert "flour" in assisted and assisted["flour"].source_line == 3
    assert "delivery van" not in assisted  # the rules' "van" is the same thing: it stays theirs
    assert bd.scenes[0].find("vehicles", "van").origin == "rule"
    response = client.post("/api/script/assist", headers=auth(production, "producer"), json={"job": job, "x": 1})
    assert response.status_code == 422  # unknown fields are refused


def test_the_breakdown_returns_an_element_the_assist_rejected_with_its_reason(client, production, monkeypatch):
    ws = production["ws"]
    monkeypatch.setenv("STUDIO_LLM_KEY", "sk-api")
    upload_script(client, production, SCRIPT, name="bakery.fountain")

    def rejecter(body: dict) -> dict:
        return {"elements": [], "reviews": [
            {"id": ref, "verdict": "not_an_element", "category": "", "reason": "seen through the window only",
             "quote": "delivery van idles"} for ref, (_, name, _) in tagger_elements(body).items() if name == "van"]}

    with FakeOpenAIChat(rejecter, api_key="sk-api") as server:
        register_chat_model(ws, server)
        job = approved_assist_job(client, production)
        client.post("/api/script/assist", headers=auth(production, "producer"), json={"job": job})
        run_queue(production)
        response = client.post("/api/script/assist", headers=auth(production, "producer"), json={"job": job})
    assert response.status_code == 200 and response.json()["rejected"] == 1
    response = client.get("/api/script/breakdown", headers=auth(production, "producer"))
    assert response.status_code == 200
    van = next(e for e in response.json()["breakdown"]["scenes"][0]["elements"] if e["name"] == "van")
    assert van["review"] == {"by": "assist:studio.llm", "verdict": "not_an_element",
                             "reason": "seen through the window only"}
