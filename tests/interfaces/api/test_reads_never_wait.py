"""The API's inline reads never wait on a writer (DR025): while another transaction holds the
ledger's write order - a worker signing an output, a revocation walking a lineage - the ``async``
routes that run on the event loop (authentication, /me, /production, /models, /policy/check, one
job) answer from ``Workspace.reading()``. Were one of them a ``unit_of_work``, it would wait for
the writer on the event loop, and every other request of that server with it."""

from __future__ import annotations

from api_helpers import auth

from soundstage.services import jobs_service
from soundstage.testing.ledger import write_order_held


def test_the_inline_reads_answer_while_a_writer_holds_the_ledger(client, production):
    ws = production["ws"]
    headers = auth(production, "producer")
    job = client.post("/api/jobs", headers=headers, json={"operation": "ideation", "prompt": "fog",
                                                          "model_id": "soundstage.procedural-card"}).json()["job"]
    with write_order_held(ws) as writer:
        answers = {path: client.get(path, headers=headers).status_code
                   for path in ("/api/me", "/api/production", "/api/models", f"/api/jobs/{job}")}
        answers["/api/policy/check"] = client.post("/api/policy/check", headers=headers, json={
            "operation": "ideation", "prompt": "fog", "model_id": "soundstage.procedural-card"}).status_code
        still_holding = writer.is_alive()  # every answer came while the writer held the order
    assert answers == dict.fromkeys(answers, 200) and still_holding
    assert jobs_service.show_job(ws, job)["status"] == "queued"


def test_a_write_while_the_ledger_is_busy_is_a_503_with_retry_after(production, monkeypatch):
    """A writer that waits past SQLite's busy timeout (another command holding the write order: a
    phase C whose time-stamp authority answers slowly) gets 503 "the ledger is busy" with
    Retry-After, not a 500 "internal error: OperationalError"."""
    from fastapi.testclient import TestClient

    from soundstage.interfaces.api.app import create_app
    from soundstage.store import db

    ws = production["ws"]
    monkeypatch.setattr(db, "BUSY_SECONDS", 1)
    app = create_app(ws.settings.root, auth_cache_seconds=0)
    with write_order_held(ws), TestClient(app) as client:
        answer = client.post("/api/jobs", headers=auth(production, "producer"), json={
            "operation": "ideation", "prompt": "fog", "model_id": "soundstage.procedural-card"})
    assert answer.status_code == 503 and answer.headers.get("retry-after"), answer.text
    assert answer.json()["error"]["type"] == "BusyError" and "the ledger is busy" in answer.json()["error"]["message"]
