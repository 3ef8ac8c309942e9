"""Red team, attack 5: racing requests run the backend exactly once (DR006, decision 5).

A real uvicorn server on loopback, in this process so that the counting test backend it runs is
the one registered here, hit by threads released together by a barrier; its queue worker (a thread
here, as ``soundstage serve`` starts one) runs what the requests queue. The backend holds each run
open (``delay``) so that the requests really overlap. Whatever the interleaving: one backend run,
one asset, one ``job.queued``, one ``job.started`` and one ``job.completed``, and every request
answered 2xx or 409 - never a 500, never a second run.
"""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select

from redteam import CREW, approver_for, audit_actions, auth, last_seq, live_server, wait_for_job
from security_backends import read_runs
from soundstage.testing.approvals import review_digest

pytestmark = pytest.mark.slow

N_DUPLICATES = 6


def together(calls) -> list:
    """Run every zero-argument callable in its own thread, released at the same moment; return
    their results (an exception is returned, not raised)."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(index, call):
        barrier.wait()
        try:
            results[index] = call()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            results[index] = exc

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a request never returned"
    return results


def post(base: str, path: str, token_headers: dict, body: dict, extra_headers: dict | None = None):
    with httpx.Client(base_url=base, timeout=90) as http:
        return http.post(path, headers={**token_headers, **(extra_headers or {})}, json=body)


def deage_body(prod: dict) -> dict:
    return {"operation": "likeness_deage", "model_id": "test.counting", "inputs": [prod["plate"]["id"]],
            "performers": [prod["maya"]["id"]], "scene": "5", "shot": "5A", "alteration_amount": 0.3,
            "deliverable": "final", "medium": "final", "prompt": "Maya in the 1994 flashback"}


def verdict(role_key: str, preview: str) -> dict:
    """An approval naming the job's preview (the default pack asks approvers of a de-age to look first)."""
    return {"role": role_key.split(":", 1)[0], "verdict": "approve", "note": "ok", "preview_digest": preview}


def assert_answers(responses) -> Counter:
    """No exception, no 5xx, and every answer 2xx or 409 (StateConflictError: the job moved on;
    AlreadyExistsError: the role's verdict was given by a racing request). A losing racer once got
    400 InputError from decide_on_job's pre-checks on SQLite (409 on PostgreSQL)."""
    for r in responses:
        assert not isinstance(r, BaseException), repr(r)
        assert 200 <= r.status_code < 300 or r.status_code == 409, (r.status_code, r.text)
        if r.status_code == 409:
            assert r.json()["error"]["type"] in ("StateConflictError", "AlreadyExistsError"), r.text
    return Counter(r.status_code for r in responses)


def job_row_and_assets(ws, job_id: str) -> tuple[str, int]:
    from soundstage.store.models import Asset, Job

    with ws.unit_of_work() as s:
        # the job's outputs: not the review preview its approvers looked at
        return s.get(Job, job_id).status, int(s.scalar(select(func.count()).select_from(Asset)
                                                       .where(Asset.job_id == job_id, Asset.kind != "preview")))


def assert_ran_once(ws, job_id: str, log, since_seq: int) -> None:
    wait_for_job(ws, job_id)
    runs = read_runs(log)
    assert [r["job"]["id"] for r in runs] == [job_id], runs
    assert job_row_and_assets(ws, job_id) == ("done", 1)
    actions = Counter(a for a, subject in audit_actions(ws, since_seq) if subject == job_id)
    assert actions["job.queued"] == 1 and actions["job.started"] == 1 and actions["job.completed"] == 1, actions
    assert sum(1 for a, _ in audit_actions(ws, since_seq) if a == "asset.generated") == 1


@pytest.fixture
def racing(prod_db, counting):
    """The production, the counting model (each run held open 0.4 s) and a live server."""
    log = counting(prod_db["ws"], delay=0.4)
    with live_server(prod_db["ws"]) as base:
        yield prod_db, log, base


def submit(base: str, prod: dict) -> dict:
    response = post(base, "/api/jobs", auth(prod, "vfx2"), deage_body(prod))
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "escalated" and len(job["missing_roles"]) == 5, job
    job["preview"] = review_digest(prod["ws"], job["job"])  # made once, before any approver races
    return job


def test_every_approver_at_once_runs_the_backend_once(racing):
    """All five required roles approve at the same moment."""
    prod, log, base = racing
    ws = prod["ws"]
    job = submit(base, prod)
    seq = last_seq(ws)
    responses = together([
        (lambda key=key: post(base, f"/api/jobs/{job['job']}/decision", auth(prod, approver_for(prod, key)),
                              verdict(key, job["preview"])))
        for key in job["missing_roles"]])
    assert_answers(responses)
    assert_ran_once(ws, job["job"], log, seq)
    actions = Counter(a for a, subject in audit_actions(ws, seq) if subject == job["job"])
    assert actions["job.approved"] == 5  # every verdict recorded once


def test_duplicate_final_approvals_run_the_backend_once(racing):
    """Four roles have approved; the fifth approver's client sends the final approval six times at
    once (a double click, a retrying proxy)."""
    prod, log, base = racing
    ws = prod["ws"]
    job = submit(base, prod)
    last = next(r for r in job["missing_roles"] if r.startswith("performer_rep:"))
    for key in job["missing_roles"]:
        if key != last:
            assert post(base, f"/api/jobs/{job['job']}/decision", auth(prod, approver_for(prod, key)),
                        verdict(key, job["preview"])).status_code == 200
    seq = last_seq(ws)
    responses = together([
        (lambda: post(base, f"/api/jobs/{job['job']}/decision", auth(prod, approver_for(prod, last)),
                      verdict(last, job["preview"])))
        for _ in range(N_DUPLICATES)])
    codes = assert_answers(responses)
    assert sum(n for code, n in codes.items() if code < 300) >= 1
    assert_ran_once(ws, job["job"], log, seq)
    actions = Counter(a for a, subject in audit_actions(ws, seq) if subject == job["job"])
    assert actions["job.approved"] == 1  # the verdict is recorded once


def test_racing_final_approvals_by_two_holders_of_the_role(racing):
    """Two legal officers approve the same job's last missing role at the same moment."""
    from soundstage.services import people_service
    from soundstage.testing.identity import new_token
    from datetime import timedelta

    prod, log, base = racing
    ws = prod["ws"]
    people_service.add_crew(ws, "Tom Reed", ["legal"], actor="setup")
    tom = {"Authorization": "Bearer " + new_token(ws, "Tom Reed", expires_in=timedelta(hours=1))["token"]}
    job = submit(base, prod)
    for key in job["missing_roles"]:
        if key != "legal":
            assert post(base, f"/api/jobs/{job['job']}/decision", auth(prod, approver_for(prod, key)),
                        verdict(key, job["preview"])).status_code == 200
    seq = last_seq(ws)
    leo = auth(prod, "legal")
    assert CREW["legal"][0] == "Leo Hart"
    responses = together([(lambda h=h: post(base, f"/api/jobs/{job['job']}/decision", h, verdict("legal", job["preview"])))
                          for h in (leo, tom, leo, tom)])
    assert_answers(responses)
    assert_ran_once(ws, job["job"], log, seq)
    actions = Counter(a for a, subject in audit_actions(ws, seq) if subject == job["job"])
    assert actions["job.approved"] == 1  # one legal verdict, whoever gave it


def test_racing_submits_with_one_idempotency_key_make_one_job(racing):
    """A client retries a submit (same Idempotency-Key) while the first is still running."""
    from soundstage.store.models import Job

    prod, log, base = racing
    ws = prod["ws"]
    with ws.unit_of_work() as s:
        jobs_before = int(s.scalar(select(func.count()).select_from(Job)))
    body = {"operation": "ideation", "model_id": "test.counting", "prompt": "rain on a tin roof"}
    responses = together([(lambda: post(base, "/api/jobs", auth(prod, "vfx_supervisor"), body,
                                        {"Idempotency-Key": "retry-1"}))
                          for _ in range(N_DUPLICATES)])
    assert_answers(responses)
    with ws.unit_of_work() as s:
        assert int(s.scalar(select(func.count()).select_from(Job))) == jobs_before + 1
        job_id = s.scalars(select(Job.id).where(Job.idempotency_key == "retry-1")).one()
    assert wait_for_job(ws, job_id) == "done"
    assert [r["job"]["id"] for r in read_runs(log)] == [job_id]
    ok = [r.json() for r in responses if r.status_code == 202]
    assert ok and all(r.get("job", r.get("id")) == job_id for r in ok)


def test_racing_reruns_of_a_failed_job_run_it_once(prod_db, counting):
    """A job whose backend failed may be run again (it resumes); six retries at once run it once.
    There is no run route in the API: this races the service every retry goes through."""
    from soundstage.errors import BackendError, StateConflictError
    from soundstage.services.jobs_service import run_job, submit_job
    from soundstage.domain.safeguards import job_spec_from_request

    ws = prod_db["ws"]
    log = counting(ws, delay=0.4, fail_first=True)
    spec = job_spec_from_request({"operation": "ideation", "model_id": "test.counting", "prompt": "dusk"},
                                 production_id=ws.production_id, requested_by="Ken Ito")
    with pytest.raises(BackendError):
        submit_job(ws, spec, actor="Ken Ito")
    (first,) = read_runs(log)
    job_id = first["job"]["id"]
    assert job_row_and_assets(ws, job_id) == ("failed", 0)
    seq = last_seq(ws)
    results = together([(lambda: run_job(ws, job_id, actor="Ken Ito")) for _ in range(N_DUPLICATES)])
    for result in results:
        assert isinstance(result, (dict, StateConflictError)), repr(result)
        if isinstance(result, dict):
            # "queued": on PostgreSQL the claim skips a row another retry is claiming (FOR UPDATE SKIP
            # LOCKED), so this retry reads the job as last committed, just before that claim commits
            assert result["status"] in ("done", "running", "queued"), result
    assert len(read_runs(log)) <= 2  # never run twice by the race
    if job_row_and_assets(ws, job_id)[0] == "queued":
        # on PostgreSQL, under load, every retry's claim may have skipped a row another retry held
        # while that one's compare-and-set lost: the job is left queued (not failed, not lost), and
        # the queue's worker claims it - once
        assert len(read_runs(log)) == 1
        run_job(ws, job_id, actor="queue worker")
    assert [r["job"]["id"] for r in read_runs(log)] == [job_id, job_id]  # the failed run and one more
    assert job_row_and_assets(ws, job_id) == ("done", 1)
    actions = Counter(a for a, subject in audit_actions(ws, seq) if subject == job_id)
    assert actions["job.started"] == 1 and actions["job.completed"] == 1, actions
