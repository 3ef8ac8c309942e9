"""Resume, retry and gc: a failed job resumes from its finished chunks or starts over, a running job
whose worker died is resumed at once, a live one is not; gc lists (and deletes) only what no job
will use again."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from soundstage.errors import StateConflictError
from soundstage.safeguards import guard
from soundstage.services import jobs_service
from soundstage.services.queue_service import gc_work_area, resume_job, work_dir_of
from soundstage.services.workspace import open_workspace
from soundstage.services.worker_service import drain_queue

sys.path.insert(0, str(Path(__file__).parent))
import queue_helpers as q  # noqa: E402


@pytest.fixture
def prod(workspace, tmp_path):
    built = q.build(workspace, tmp_path, frames=48, chunk_frames=8)
    q.set_config(workspace, compute={"cluster": "serial"})
    ws = open_workspace(workspace.settings.root)
    yield {**built, "ws": ws}
    ws.close()


def failed_half_way(prod, monkeypatch) -> str:
    """A job whose backend failed at frame 24: chunks 0-2 finished, the rest not."""
    monkeypatch.setenv(q.FAIL_ENV, "24")
    job_id = q.queue_job(prod)
    stats = drain_queue(prod["ws"])
    assert stats.failed == 1, stats
    monkeypatch.delenv(q.FAIL_ENV)
    assert q.job_row(prod["ws"], job_id)["status"] == "failed"
    assert len(q.finished_chunks(prod["ws"], job_id)) == 3
    return job_id


def asset_details(ws, job_id: str) -> dict:
    from soundstage.services.ledger import list_assets

    (asset,) = [a for a in list_assets(ws) if a["job_id"] == job_id]
    return asset["details"]


def test_resume_runs_a_failed_job_from_its_finished_chunks(prod, monkeypatch):
    ws = prod["ws"]
    job_id = failed_half_way(prod, monkeypatch)
    result = resume_job(ws, job_id, actor="Ken Ito")
    assert result["status"] == "queued"  # decided again, queued for a worker
    assert drain_queue(ws).done == 1
    details = asset_details(ws, job_id)
    assert details["reused_chunks"] == 3 and details["chunks"] == 6
    assert q.job_row(ws, job_id)["attempts"] == 2
    assert q.actions(ws, job_id) == ["job.submitted", "job.queued", "job.started", "job.failed", "job.requeued", "job.started",
                        "job.completed"]
    from soundstage.services.ledger import audit_log

    event = [e for e in audit_log(ws, limit=9999) if e["subject"] == job_id and e["action"] == "job.requeued"][0]
    assert event["payload"]["requested"] == "resume" and event["payload"]["from"] == "failed"
    assert not work_dir_of(ws, job_id).exists()  # done: its chunks were cleared


def test_retry_starts_a_failed_job_over(prod, monkeypatch):
    ws = prod["ws"]
    job_id = failed_half_way(prod, monkeypatch)
    result = resume_job(ws, job_id, actor="Ken Ito", fresh=True, wait=True)  # and run it here, as the CLI does
    assert result["status"] == "done"
    assert asset_details(ws, job_id)["reused_chunks"] == 0


def test_resume_leaves_a_live_worker_alone_and_takes_over_from_a_dead_one(prod):
    ws = prod["ws"]
    job_id = q.queue_job(prod)
    _, cleared = guard.claim(ws, guard.Claim("worker:gone:1:0001", guard.LeaseTerms(1.0, 0.2)))
    assert cleared is not None  # claimed, and that worker then dies: nothing renews its lease
    with pytest.raises(StateConflictError, match="is running on worker:gone"):
        resume_job(ws, job_id, actor="Ken Ito")
    time.sleep(1.2)
    assert q.job_row(ws, job_id)["lease"]["lapsed"] is True
    result = resume_job(ws, job_id, actor="Ken Ito", wait=True)
    assert result["status"] == "done"
    assert q.actions(ws, job_id) == ["job.submitted", "job.queued", "job.started", "job.requeued", "job.started",
                                     "job.completed"]


def test_a_submission_whose_process_died_before_the_decision_is_resumed(prod, monkeypatch):
    """The submit recorded the job, then its process died before the guard decided on it: the job
    stays submitted (nothing queued it); resume decides it and queues it."""
    ws = prod["ws"]

    def died(*_args, **_kwargs):
        raise SystemExit("the API process was killed here")

    monkeypatch.setattr(guard, "enqueue", died)
    with pytest.raises(SystemExit):
        jobs_service.submit_job(ws, q.spec(prod), actor="Ken Ito", wait=False)
    monkeypatch.undo()
    (job,) = jobs_service.list_jobs(ws)
    assert job["status"] == "submitted" and drain_queue(ws).claimed == 0  # nothing would ever run it
    assert resume_job(ws, job["id"], actor="Ken Ito")["status"] == "queued"
    assert drain_queue(ws).done == 1


def test_only_failed_or_dead_running_jobs_are_resumed(prod):
    ws = prod["ws"]
    job_id = q.queue_job(prod)
    with pytest.raises(StateConflictError, match="only a failed job"):
        resume_job(ws, job_id, actor="Ken Ito")  # queued already
    drain_queue(ws)
    with pytest.raises(StateConflictError, match="is done"):
        resume_job(ws, job_id, actor="Ken Ito", fresh=True)


def test_gc_lists_what_no_job_will_use_and_deletes_only_that(prod, monkeypatch):
    ws = prod["ws"]
    failed = failed_half_way(prod, monkeypatch)
    waiting = q.queue_job(prod)
    root = guard.work_root(ws)
    # what a killed run leaves: the queued job's chunk folder (it resumes from it) and a dead run's
    # scratch folder of the failed job
    (root / f"job-{waiting}").mkdir()
    (root / f"job-{waiting}" / "chunk_00000.json").write_text("{}")
    scratch = root / "tmp" / f"job-{failed}-deadrun"
    scratch.mkdir(parents=True)
    (scratch / "partial.mp4").write_bytes(b"\0" * 1000)
    listed = {(e.kind, e.job_id): e for e in gc_work_area(ws)}
    assert set(listed) == {("chunks", failed), ("scratch", failed)}
    assert listed[("chunks", failed)].status == "failed" and "resume" in listed[("chunks", failed)].note
    assert listed[("scratch", failed)].size == 1000
    assert work_dir_of(ws, failed).exists() and scratch.exists()  # a dry run removes nothing
    deleted = gc_work_area(ws, delete=True)
    assert {(e.kind, e.job_id) for e in deleted} == set(listed)
    assert not work_dir_of(ws, failed).exists() and not scratch.exists()
    assert (root / f"job-{waiting}" / "chunk_00000.json").exists()  # a queued job's chunks are never touched
    assert gc_work_area(ws) == []


def test_a_failure_is_recorded_on_the_job_and_raised_to_whoever_ran_it(prod, monkeypatch):
    """Control for the fixture: the backend's failure is recorded on the job (failed, with the
    error) and raised to the process that ran it here."""
    from soundstage.services.ledger import audit_log

    monkeypatch.setenv(q.FAIL_ENV, "0")
    with pytest.raises(RuntimeError, match="test failure"):
        jobs_service.submit_job(prod["ws"], q.spec(prod), actor="Ken Ito")
    (job,) = jobs_service.list_jobs(prod["ws"])
    assert job["status"] == "failed"
    event = [e for e in audit_log(prod["ws"], limit=9999) if e["subject"] == job["id"]][-1]
    assert event["action"] == "job.failed" and "test failure" in event["payload"]["error"]
