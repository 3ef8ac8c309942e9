"""The queue worker in this process (a thread, the serial executor, slowed chunks): a person's
cancel stops a running job at a chunk boundary; a stopping worker hands its job back and the next
run resumes from the finished chunks; a worker whose claim was taken over writes nothing."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from soundstage.safeguards import guard
from soundstage.services import jobs_service
from soundstage.services.ledger import audit_log
from soundstage.services.workspace import open_workspace
from soundstage.services.worker_service import Worker, drain_queue

sys.path.insert(0, str(Path(__file__).parent))
import queue_helpers as q  # noqa: E402


@pytest.fixture
def prod(workspace, tmp_path, monkeypatch):
    """The queue test production, chunks computed in this process (serial), 0.3 s each."""
    built = q.build(workspace, tmp_path, frames=48, chunk_frames=8)
    q.set_config(workspace, compute={"cluster": "serial"}, queue={"lease_seconds": 3, "heartbeat_seconds": 0.1})
    ws = open_workspace(workspace.settings.root)
    monkeypatch.setenv(q.DELAY_ENV, "0.3")
    yield {**built, "ws": ws}
    ws.close()


def in_thread(worker: Worker, **kwargs) -> threading.Thread:
    thread = threading.Thread(target=worker.run, kwargs=kwargs, daemon=True)
    thread.start()
    return thread


def assets_of(ws, job_id: str) -> list:
    from soundstage.services.ledger import list_assets

    return [a for a in list_assets(ws) if a["job_id"] == job_id]


def test_cancel_of_a_running_job_stops_it_at_a_chunk_boundary(prod):
    ws = prod["ws"]
    job_id = q.queue_job(prod)
    worker = Worker(ws, poll=0.05, reap=False)
    thread = in_thread(worker)
    try:
        q.wait_until(lambda: q.finished_chunks(ws, job_id), 30, what="the first chunk")
        assert q.job_row(ws, job_id)["status"] == "running"
        assert jobs_service.cancel_job(ws, job_id, actor="Priya Shah")["status"] == "cancelled"
        q.wait_until(lambda: worker.current is None, 30, what="the worker to let the job go")
        # the worker is free for the next job
        following = q.queue_job(prod)
        q.wait_until(lambda: q.job_row(ws, following)["status"] == "done", 60, what="the next job")
    finally:
        worker.request_stop()
        thread.join(30)
    assert q.job_row(ws, job_id)["status"] == "cancelled" and assets_of(ws, job_id) == []
    assert len(q.finished_chunks(ws, job_id)) < 6  # it stopped early, not after the last chunk
    assert q.actions(ws, job_id)[-1] == "job.cancelled"  # and nothing after it: the worker wrote nothing
    cancelled = [e for e in audit_log(ws, limit=9999) if e["subject"] == job_id and e["action"] == "job.cancelled"][0]
    assert cancelled["payload"]["was"] == "running" and cancelled["payload"]["worker"].startswith("worker:")


def test_a_stopping_worker_hands_its_job_back_and_the_next_run_resumes(prod):
    ws = prod["ws"]
    job_id = q.queue_job(prod)
    worker = Worker(ws, poll=0.05, reap=False)
    thread = in_thread(worker)
    q.wait_until(lambda: q.finished_chunks(ws, job_id), 30, what="the first chunk")
    worker.request_stop()  # what SIGTERM does
    thread.join(30)
    assert not thread.is_alive() and worker.stats.handed_back == 1
    view = q.job_row(ws, job_id)
    assert view["status"] == "queued" and view["lease"] is None and view["attempts"] == 1
    kept = len(q.finished_chunks(ws, job_id))
    assert 1 <= kept < 6
    assert q.actions(ws, job_id)[-1] == "job.requeued"
    stats = drain_queue(ws)
    assert stats.done == 1
    (asset,) = assets_of(ws, job_id)
    assert asset["details"]["reused_chunks"] >= kept and asset["details"]["chunks"] == 6
    assert q.job_row(ws, job_id)["attempts"] == 2


def test_a_worker_whose_claim_was_taken_over_stops_and_writes_nothing(prod):
    """Its lease lapsed (a stalled machine) and another worker took the job: the heartbeat sees the
    claim gone, the run stops at the next chunk boundary, and it records nothing - no failure, no
    asset - over the job the new holder now runs."""
    ws = prod["ws"]
    job_id = q.queue_job(prod)
    worker = Worker(ws, poll=0.05, reap=False)
    thread = in_thread(worker, max_jobs=1)
    q.wait_until(lambda: q.finished_chunks(ws, job_id), 30, what="the first chunk")
    from datetime import timedelta

    from soundstage.clock import utcnow

    # as if its lease had lapsed: handed back and claimed by another worker
    assert guard.requeue_lapsed(ws, actor="worker:other", now=utcnow() + timedelta(minutes=5)) == [job_id]
    _, other = guard.claim(ws, guard.Claim("worker:other:9:0009", guard.LeaseTerms(60, 5)))
    assert other is not None
    thread.join(30)
    assert not thread.is_alive()
    view = q.job_row(ws, job_id)
    assert view["status"] == "running" and view["lease"]["owner"] == "worker:other:9:0009"
    assert assets_of(ws, job_id) == [] and "job.failed" not in q.actions(ws, job_id)
