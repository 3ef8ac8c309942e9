"""The queue over HTTP (the real app in-process): submissions answer 202 with the job's URL and
never run it; cancel, resume and retry; the event stream sends status, progress and its end."""

from __future__ import annotations

import json
import time

from api_helpers import IDEATION, auth, run_queue


def events_of(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line and not line.startswith(":"))
        if "event" in lines:
            out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_a_submission_is_accepted_queued_and_run_by_a_worker(client, production):
    ken = auth(production, "vfx_supervisor")
    response = client.post("/api/jobs", headers=ken, json=IDEATION)
    assert response.status_code == 202 and response.json()["status"] == "queued"
    job_id = response.json()["job"]
    assert response.headers["location"] == f"/api/jobs/{job_id}"
    job = client.get(response.headers["location"], headers=ken).json()
    assert job["status"] == "queued" and job["attempts"] == 0 and job["queued_at"] and job["lease"] is None
    # a stream on a queued job reports it and ends when its time is up (nobody runs it yet)
    stream = events_of(client.get(f"/api/jobs/{job_id}/events?timeout=0.3&interval=0.1", headers=ken).text)
    assert stream[0] == ("status", stream[0][1]) and stream[0][1]["status"] == "queued"
    assert stream[-1] == ("end", {"id": job_id, "status": "queued"})
    run_queue(production)
    job = client.get(f"/api/jobs/{job_id}", headers=ken).json()
    assert job["status"] == "done" and job["attempts"] == 1
    stream = events_of(client.get(f"/api/jobs/{job_id}/events?timeout=5", headers=ken).text)
    assert [name for name, _ in stream] == ["status", "end"] and stream[-1][1]["status"] == "done"


def test_cancel_a_queued_job_and_the_worker_never_runs_it(client, production):
    ken = auth(production, "vfx_supervisor")
    job_id = client.post("/api/jobs", headers=ken, json=IDEATION).json()["job"]
    cancelled = client.post(f"/api/jobs/{job_id}/cancel", headers=auth(production, "producer"))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    run_queue(production)
    assert client.get(f"/api/jobs/{job_id}", headers=ken).json()["status"] == "cancelled"
    assert not [a for a in client.get("/api/assets", headers=ken).json() if a["job_id"] == job_id]


def test_resume_and_retry_take_over_from_a_dead_worker_but_not_a_live_one(client, production):
    from soundstage.safeguards import guard

    ws = production["ws"]
    ken = auth(production, "vfx_supervisor")
    for route in ("resume", "retry"):
        job_id = client.post("/api/jobs", headers=ken, json=IDEATION).json()["job"]
        _, cleared = guard.claim(ws, guard.Claim("worker:dead:1:0001", guard.LeaseTerms(0.5, 0.1)))
        assert cleared is not None and cleared.job_id == job_id  # claimed; that worker then dies
        live = client.get(f"/api/jobs/{job_id}", headers=ken).json()
        assert live["status"] == "running" and live["lease"]["owner"] == "worker:dead:1:0001"
        time.sleep(0.6)
        response = client.post(f"/api/jobs/{job_id}/{route}", headers=ken)
        assert response.status_code == 202 and response.json()["status"] == "queued", response.text
        run_queue(production)
        assert client.get(f"/api/jobs/{job_id}", headers=ken).json()["status"] == "done"
    # a job a live worker holds is not taken from it
    job_id = client.post("/api/jobs", headers=ken, json=IDEATION).json()["job"]
    guard.claim(ws, guard.Claim("worker:alive:2:0002", guard.LeaseTerms(60, 5)))
    refused = client.post(f"/api/jobs/{job_id}/resume", headers=ken)
    assert refused.status_code == 409 and "is running on worker:alive" in refused.json()["error"]["message"]
    # ... nor one that is done
    done = next(j["id"] for j in client.get("/api/jobs", headers=ken).json() if j["status"] == "done")
    assert client.post(f"/api/jobs/{done}/retry", headers=ken).status_code == 409


def test_resume_needs_the_right_to_submit_and_sees_only_your_performers(client, production):
    ken = auth(production, "vfx_supervisor")
    job_id = client.post("/api/jobs", headers=ken, json=IDEATION).json()["job"]
    for who in ("legal", "performer_rep"):
        response = client.post(f"/api/jobs/{job_id}/resume", headers=auth(production, who))
        assert response.status_code == 403, response.text
    assert client.get(f"/api/jobs/{job_id}/events?timeout=0.1", headers={}).status_code == 401
    assert client.get("/api/jobs/j-nothere/events?timeout=0.1", headers=ken).status_code == 404
