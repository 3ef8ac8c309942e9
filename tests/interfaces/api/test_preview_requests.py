"""Queued previews over HTTP (DR023): POST /api/jobs/{id}/preview answers 202 at once with where to
poll; a queue worker renders the preview. The adversary's requests: someone who may not decide
(403), another performer's representative (403), a job not waiting for approval (409), many
requests at once (one pending, one render), a request whose job was rejected meanwhile (never shown
as its current preview)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from api_helpers import auth, deage_spec, run_queue


def _submit(client, production) -> str:
    response = client.post("/api/jobs", headers=auth(production, "vfx_supervisor"), json=deage_spec(production))
    assert response.status_code == 202 and response.json()["status"] == "escalated", response.text
    return response.json()["job"]


def _previews(production, job: str) -> int:
    from sqlalchemy import func, select

    from soundstage.store.models import Asset

    with production["ws"].unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(Asset).where(Asset.job_id == job, Asset.kind == "preview"))


def test_a_preview_request_is_answered_at_once_and_polled(client, production):
    job = _submit(client, production)
    legal = auth(production, "legal")
    assert client.get(f"/api/jobs/{job}/preview", headers=legal).json()["status"] == "none"
    asked = client.post(f"/api/jobs/{job}/preview", headers=legal)
    assert asked.status_code == 202 and asked.headers["location"] == f"/api/jobs/{job}/preview"
    body = asked.json()
    assert body["status"] == "pending" and body["new"] and body["asset"] is None and _previews(production, job) == 0
    polled = client.get(asked.headers["location"], headers=legal).json()
    assert polled["status"] == "pending" and polled["preview"] is None
    run_queue(production)
    polled = client.get(asked.headers["location"], headers=legal).json()
    assert polled["status"] == "done" and polled["request"]["asset"] == polled["preview"]["asset"]
    card = client.get(f"/api/jobs/{job}/review", headers=legal).json()
    assert card["preview_digest"] == polled["preview"]["preview_digest"] and card["preview_status"] == "done"
    # a representative of the job's performer follows it too
    assert client.get(f"/api/jobs/{job}/preview", headers=auth(production, "performer_rep")).status_code == 200


def test_who_may_ask_and_for_what(client, production):
    from soundstage.services import people_service
    from soundstage.testing.identity import token_for

    job = _submit(client, production)
    from sqlalchemy import text

    # every role of the matrix may decide; a crew member whose roles were all taken away since their
    # token was issued holds a valid credential and no permission
    nina = people_service.add_crew(production["ws"], "Nina Roleless", ["legal"], actor="setup")
    nobody = {"Authorization": f"Bearer {token_for(production['ws'], 'Nina Roleless')}"}
    with production["ws"].unit_of_work() as s:
        s.execute(text("UPDATE person SET roles = '[]' WHERE id = :id"), {"id": nina["id"]})
    refused = client.post(f"/api/jobs/{job}/preview", headers=nobody)
    assert refused.status_code == 403 and "jobs.decide" in refused.json()["error"]["message"]
    assert client.get(f"/api/jobs/{job}/preview", headers=nobody).status_code == 403
    sam = auth(production, "other_rep")  # represents another performer
    assert client.post(f"/api/jobs/{job}/preview", headers=sam).status_code == 403
    assert client.get(f"/api/jobs/{job}/preview", headers=sam).status_code == 403
    assert client.post(f"/api/jobs/{job}/preview").status_code == 401
    # a job that is not waiting for approval: denied (no consent covers Noah)
    spec = {**deage_spec(production), "performers": [production["noah"]["id"]]}
    denied = client.post("/api/jobs", headers=auth(production, "vfx_supervisor"), json=spec).json()
    assert denied["status"] == "denied"
    conflict = client.post(f"/api/jobs/{denied['job']}/preview", headers=auth(production, "legal"))
    assert conflict.status_code == 409 and conflict.json()["error"]["type"] == "StateConflictError"
    assert "\n" not in conflict.json()["error"]["message"]
    assert client.post("/api/jobs/j-000000000000/preview", headers=auth(production, "legal")).status_code == 404
    run_queue(production)
    assert _previews(production, job) == 0


def test_many_requests_at_once_make_one_render(client, production):
    job = _submit(client, production)
    who = ["legal", "producer", "rights_clearance", "performer_rep", "legal", "producer"]
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda w: client.post(f"/api/jobs/{job}/preview", headers=auth(production, w)),
                                who))
    assert all(a.status_code == 202 for a in answers), [a.text for a in answers]
    assert len({a.json()["request"] for a in answers}) == 1 and sum(a.json()["new"] for a in answers) == 1
    for _ in range(20):  # spam after: still the pending one
        assert client.post(f"/api/jobs/{job}/preview", headers=auth(production, "legal")).json()["new"] is False
    run_queue(production)
    assert _previews(production, job) == 1


def test_a_request_overtaken_by_a_rejection_is_never_the_current_preview(client, production):
    job = _submit(client, production)
    legal = auth(production, "legal")
    assert client.post(f"/api/jobs/{job}/preview", headers=legal).status_code == 202
    rejected = client.post(f"/api/jobs/{job}/decision", headers=legal, json={"role": "legal", "verdict": "reject"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected", rejected.text
    assert client.get(f"/api/jobs/{job}/preview", headers=legal).json()["status"] == "stale"
    run_queue(production)
    polled = client.get(f"/api/jobs/{job}/preview", headers=legal).json()
    assert polled["status"] == "failed" and polled["preview"] is None and "rejected" in polled["request"]["error"]
    card = client.get(f"/api/jobs/{job}/review", headers=legal).json()
    assert card["preview"] is None and card["preview_digest"] is None and _previews(production, job) == 0
    again = client.post(f"/api/jobs/{job}/preview", headers=legal)
    assert again.status_code == 409  # and no new request for a job that no longer waits
