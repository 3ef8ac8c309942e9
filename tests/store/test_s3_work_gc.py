"""``soundstage gc`` on a production whose store is the real S3 server: the work areas render nodes
left in the bucket (``<prefix>work/job-<id>/``) are listed by the job's state - a failed job's, a
finished job's and an unknown job's are listed (and deleted with --delete), a queued or running
job's never - and nothing outside the work areas (the content keys, a stray key) is touched."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from soundstage.services.queue_service import gc_work_area
from soundstage.services.worker_service import drain_queue
from soundstage.services.workspace import open_workspace
from soundstage.store.s3 import S3Store
from tests.store.conftest import BUCKET

sys.path.insert(0, str(Path(__file__).parents[1] / "services"))
import queue_helpers as q  # noqa: E402

pytestmark = pytest.mark.slow


def keys(s3_raw, prefix: str) -> set[str]:
    out, kwargs = set(), {"Bucket": BUCKET, "Prefix": prefix}
    while True:
        page = s3_raw.list_objects_v2(**kwargs)
        out |= {item["Key"] for item in page.get("Contents", [])}
        if not page.get("IsTruncated"):
            return out
        kwargs["ContinuationToken"] = page["NextContinuationToken"]


@pytest.fixture
def s3_prod(workspace, s3_server, tmp_path, monkeypatch):
    prefix = f"gc-{uuid.uuid4().hex[:10]}/"
    monkeypatch.setenv("GC_S3_KEY", s3_server.access_key)
    monkeypatch.setenv("GC_S3_SECRET", s3_server.secret_key)
    monkeypatch.setenv("SOUNDSTAGE_NODE_DIR", str(tmp_path / "node"))
    q.set_config(workspace, store={"backend": "s3", "endpoint": s3_server.endpoint, "bucket": BUCKET,
                                   "region": s3_server.region, "prefix": prefix, "access_key_env": "GC_S3_KEY",
                                   "secret_key_env": "GC_S3_SECRET"},
                 compute={"cluster": "serial"})
    ws = open_workspace(workspace.settings.root)
    assert isinstance(ws.store, S3Store)
    built = q.build(ws, tmp_path, frames=16, chunk_frames=8)
    yield {**built, "ws": ws, "prefix": prefix}
    ws.close()


def test_gc_lists_and_deletes_only_dead_jobs_work_areas_in_the_bucket(s3_prod, s3_raw, monkeypatch):
    ws, prefix = s3_prod["ws"], s3_prod["prefix"]
    work = f"{prefix}work/"
    # a real failed run: chunk 0 finished and was published to the bucket by the chunk worker
    monkeypatch.setenv(q.FAIL_ENV, "8")
    failed = q.queue_job(s3_prod)
    assert drain_queue(ws).failed == 1
    monkeypatch.delenv(q.FAIL_ENV)
    assert q.job_row(ws, failed)["status"] == "failed"
    failed_keys = {k for k in keys(s3_raw, work) if k.startswith(f"{work}job-{failed}/")}
    assert failed_keys, "the failed run's finished chunk should be in the bucket's work area"

    queued = q.queue_job(s3_prod)  # will resume from its area: never listed
    ghost = "j-" + "0" * 30  # a job no ledger row names (a production deleted, a ledger restored)
    for job, name in [(queued, "chunk_00000.json"), (ghost, "chunk_00000.mp4"), (ghost, "chunk_00000.json")]:
        s3_raw.put_object(Bucket=BUCKET, Key=f"{work}job-{job}/{name}", Body=b"x" * 100)
    stray = {f"{work}notajob/file", f"{work}job-../escape", f"{prefix}ab/" + "c" * 62}
    for key in stray:
        s3_raw.put_object(Bucket=BUCKET, Key=key, Body=b"keep")
    content = {k for k in keys(s3_raw, prefix) if not k.startswith(work)}

    listed = {(e.kind, e.job_id): e for e in gc_work_area(ws) if e.kind == "bucket"}
    assert set(listed) == {("bucket", failed), ("bucket", ghost)}
    assert listed[("bucket", failed)].status == "failed" and "resume" in listed[("bucket", failed)].note
    assert listed[("bucket", ghost)].status == "unknown" and listed[("bucket", ghost)].size == 200
    assert str(listed[("bucket", failed)].path) == f"s3://{BUCKET}/{work}job-{failed}/"
    assert failed_keys <= keys(s3_raw, work)  # a dry run deletes nothing

    # the queued job starts running (a worker claimed it) between a listing and a delete: kept
    deleted = gc_work_area(ws, delete=True)
    assert {(e.kind, e.job_id) for e in deleted if e.kind == "bucket"} == set(listed)
    left = keys(s3_raw, prefix)
    assert not {k for k in left if k.startswith((f"{work}job-{failed}/", f"{work}job-{ghost}/"))}
    assert f"{work}job-{queued}/chunk_00000.json" in left
    assert stray <= left and content <= left  # content and keys outside job areas are never touched
    assert not [e for e in gc_work_area(ws) if e.kind == "bucket"]


def test_a_running_jobs_area_is_never_listed_a_cancelled_ones_is(s3_prod, s3_raw):
    from datetime import timedelta

    from soundstage.domain.jobs import JobStatus
    from soundstage.safeguards.jobstate import transition
    from soundstage.clock import utcnow
    from soundstage.services.jobs_service import cancel_job
    from soundstage.store.models import Job

    ws, work = s3_prod["ws"], f"{s3_prod['prefix']}work/"
    running, cancelled = q.queue_job(s3_prod), q.queue_job(s3_prod)
    with ws.unit_of_work() as s:  # a render farm's worker holds it (as guard.claim leaves a job)
        transition(s, s.get(Job, running), JobStatus.RUNNING, actor="worker",
                   lease_owner="worker@node-2", lease_expires_at=utcnow() + timedelta(minutes=5))
    cancel_job(ws, cancelled, actor="Ken Ito")
    for job in (running, cancelled):
        s3_raw.put_object(Bucket=BUCKET, Key=f"{work}job-{job}/chunk_00000.mp4", Body=b"\0" * 64)
    listed = [(e.job_id, e.status) for e in gc_work_area(ws, delete=True) if e.kind == "bucket"]
    assert listed == [(cancelled, "cancelled")]
    left = keys(s3_raw, work)
    assert f"{work}job-{running}/chunk_00000.mp4" in left
    assert f"{work}job-{cancelled}/chunk_00000.mp4" not in left
