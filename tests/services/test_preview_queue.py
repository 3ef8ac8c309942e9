"""Queued review previews (DR023) on a real production: asking records a request at once and a
queue worker renders it through the guard; one request pending per job, however many ask (and
however concurrently); a job that moved on (rejected, changed) gets no preview from a request made
before; a worker killed mid-render leaves a lease that lapses, and the request is rendered again;
a stale worker that lost its lease registers nothing; asking is bounded."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interfaces" / "api"))

from api_helpers import submit_deage  # noqa: E402

from soundstage.errors import NotFoundError, RefusedError, StateConflictError  # noqa: E402
from soundstage.safeguards import previews  # noqa: E402
from soundstage.safeguards.lease import LeaseTerms  # noqa: E402
from soundstage.services import jobs_service, preview_service  # noqa: E402
from soundstage.services.worker_service import Worker, drain_queue  # noqa: E402
from soundstage.store.models import Asset, PreviewRequest  # noqa: E402
from soundstage.testing.identity import signer_for  # noqa: E402


def _count(ws, model, **where) -> int:
    with ws.unit_of_work() as s:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return s.scalar(query)


def _previews(ws, job: str) -> int:
    return _count(ws, Asset, job_id=job, kind="preview")


def test_asking_returns_at_once_and_the_worker_renders_it(production):
    ws = production["ws"]
    job = submit_deage(production)
    began = time.perf_counter()
    asked = preview_service.request_preview(ws, job, actor="Leo Hart")
    took = time.perf_counter() - began
    assert asked["status"] == "pending" and asked["new"] and asked["asset"] is None and took < 1.0
    assert _previews(ws, job) == 0  # nothing rendered in the request
    assert preview_service.preview_status(ws, job)["status"] == "pending"
    card = preview_service.review_card(ws, job)
    assert card.preview_status == "pending" and card.preview is None
    again = preview_service.request_preview(ws, job, actor="Priya Shah")
    assert again["request"] == asked["request"] and not again["new"]  # the pending one, not a second
    stats = drain_queue(ws)
    assert stats.previews == 1 and stats.previews_failed == 0 and stats.claimed == 0  # the job itself waits
    status = preview_service.preview_status(ws, job)
    assert status["status"] == "done" and status["request"]["asset"] == status["preview"]["asset"]
    assert status["preview"]["preview_digest"] == preview_service.review_card(ws, job).preview_digest
    assert jobs_service.show_job(ws, job)["status"] == "escalated"  # the job's status never moved
    assert _previews(ws, job) == 1
    from soundstage.services import ledger

    event = [e for e in ledger.audit_log(ws, limit=1000) if e["action"] == "job.previewed"][-1]
    assert event["actor"] == "Leo Hart" and event["payload"]["request"] == asked["request"]
    assert ledger.verify_audit(ws, deep=True).ok
    # once done, asking again is a new request (a newer preview)
    assert preview_service.request_preview(ws, job, actor="Leo Hart")["new"]


def test_concurrent_requests_make_one_render(production):
    ws = production["ws"]
    job = submit_deage(production)
    barrier = threading.Barrier(6)
    answers, errors = [], []

    def ask(n: int) -> None:
        barrier.wait()
        try:
            answers.append(preview_service.request_preview(ws, job, actor=f"approver {n}"))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len({a["request"] for a in answers}) == 1 and sum(a["new"] for a in answers) == 1
    assert _count(ws, PreviewRequest, job_id=job) == 1
    # two workers racing for it: one renders
    stats = [drain_queue(ws), drain_queue(ws)]
    assert sum(s.previews for s in stats) == 1 and _previews(ws, job) == 1


def test_only_a_job_waiting_for_approval_can_be_previewed(production):
    ws = production["ws"]
    denied = submit_deage(production, performers=[production["noah"]["id"]])  # no consent: denied, never waits
    with pytest.raises(StateConflictError, match="waiting for approval"):
        preview_service.request_preview(ws, denied, actor="Leo Hart")
    with pytest.raises(NotFoundError):
        preview_service.request_preview(ws, "j-000000000000", actor="Leo Hart")
    assert _count(ws, PreviewRequest) == 0


def test_a_job_rejected_after_the_request_gets_no_preview(production):
    ws = production["ws"]
    job = submit_deage(production)
    preview_service.request_preview(ws, job, actor="Leo Hart")
    jobs_service.decide_on_job(ws, job, signer=signer_for(ws, "Leo Hart"), role="legal", verdict="reject",
                               actor="Leo Hart", wait=False)
    assert preview_service.preview_status(ws, job)["status"] == "stale"  # not what the job is now
    assert preview_service.review_card(ws, job).preview_status == "stale"
    stats = drain_queue(ws)
    assert stats.previews == 0 and stats.previews_failed == 1
    status = preview_service.preview_status(ws, job)
    assert status["status"] == "failed" and status["preview"] is None
    assert "rejected" in status["request"]["error"] and "\n" not in status["request"]["error"]
    assert _previews(ws, job) == 0


def test_a_job_changed_after_the_request_gets_no_preview(production):
    ws = production["ws"]
    job = submit_deage(production)
    preview_service.request_preview(ws, job, actor="Leo Hart")
    with ws.unit_of_work() as s:  # an insider edits the job's spec digest behind the guard's back
        s.execute(text("UPDATE job SET spec_digest = :d WHERE id = :id"), {"d": "e" * 64, "id": job})
    assert preview_service.preview_status(ws, job)["status"] == "stale"
    drain_queue(ws)
    status = preview_service.preview_status(ws, job)
    assert status["status"] == "failed" and "spec digest" in status["request"]["error"]
    assert _previews(ws, job) == 0


def test_a_killed_render_is_rendered_again_and_a_stale_one_registers_nothing(production):
    ws = production["ws"]
    job = submit_deage(production)
    asked = preview_service.request_preview(ws, job, actor="Leo Hart")
    short = LeaseTerms(seconds=0.5, heartbeat=0.1)
    # worker A claims it and dies before rendering (no heartbeat renews its lease)
    dead = previews.claim_request(ws, "worker:a", short)
    assert dead is not None and dead.request_id == asked["request"]
    assert preview_service.preview_status(ws, job)["status"] == "rendering"
    assert previews.claim_request(ws, "worker:b", short) is None  # a live lease is not taken over
    time.sleep(0.7)
    assert preview_service.preview_status(ws, job)["status"] == "pending"  # lapsed: retryable, not stuck
    stats = Worker(ws, terms=short, poll=0.05, reap=False).run(until_idle=True)
    assert stats.previews == 1
    status = preview_service.preview_status(ws, job)
    assert status["status"] == "done" and status["request"]["attempts"] == 2
    # worker A was only stalled: its late render finds the request taken over and registers nothing,
    # and what it signed and stored before it found out is removed again (nothing half-written)
    stored = sorted(ws.store.iter_stored())
    with pytest.raises(StateConflictError, match="taken over"):
        previews.render_request(ws, dead)
    assert _previews(ws, job) == 1
    assert sorted(ws.store.iter_stored()) == stored
    assert preview_service.preview_status(ws, job)["request"]["asset"] == status["preview"]["asset"]


def test_a_request_interrupted_too_often_is_given_up(production):
    ws = production["ws"]
    job = submit_deage(production)
    preview_service.request_preview(ws, job, actor="Leo Hart")
    short = LeaseTerms(seconds=0.5, heartbeat=0.1)
    for n in range(previews.MAX_RENDER_ATTEMPTS):
        assert previews.claim_request(ws, f"worker:{n}", short) is not None
        time.sleep(0.6)
    assert previews.claim_request(ws, "worker:last", short) is None
    status = preview_service.preview_status(ws, job)
    assert status["status"] == "failed" and "interrupted 3 times" in status["request"]["error"]
    assert preview_service.request_preview(ws, job, actor="Leo Hart")["new"]  # a person may ask again


def test_asking_is_bounded(production):
    ws = production["ws"]
    job = submit_deage(production)
    first = preview_service.request_preview(ws, job, actor="Leo Hart")
    for _ in range(50):  # spam while one is pending: still one request
        assert preview_service.request_preview(ws, job, actor="Leo Hart")["request"] == first["request"]
    assert _count(ws, PreviewRequest, job_id=job) == 1
    for _ in range(previews.MAX_REQUESTS_PER_JOB - 1):  # finished (failed) requests count too
        with ws.unit_of_work() as s:
            s.execute(text("UPDATE preview_request SET finished_at = requested_at, pending_job_id = NULL, "
                           "error = 'x' WHERE job_id = :j AND finished_at IS NULL"), {"j": job})
        preview_service.request_preview(ws, job, actor="Leo Hart")
    with ws.unit_of_work() as s:
        s.execute(text("UPDATE preview_request SET finished_at = requested_at, pending_job_id = NULL, "
                       "error = 'x' WHERE job_id = :j AND finished_at IS NULL"), {"j": job})
    with pytest.raises(RefusedError, match="no more are made"):
        preview_service.request_preview(ws, job, actor="Leo Hart")
    assert _count(ws, PreviewRequest, job_id=job) == previews.MAX_REQUESTS_PER_JOB


def test_the_command_line_renders_the_pending_request_itself(production):
    """``job preview`` (make_preview) renders in its own process, through the same request: a click
    pending on the card and the command at once make one preview."""
    ws = production["ws"]
    job = submit_deage(production)
    clicked = preview_service.request_preview(ws, job, actor="Leo Hart")
    made = preview_service.make_preview(ws, job, actor="Priya Shah")
    status = preview_service.preview_status(ws, job)
    assert status["request"]["request"] == clicked["request"] and status["status"] == "done"
    assert status["preview"]["preview_digest"] == made.sha256
    assert drain_queue(ws).previews == 0 and _previews(ws, job) == 1
