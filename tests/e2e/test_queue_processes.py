"""The durable queue with real processes: ``soundstage worker`` and ``soundstage serve`` started as
programs, killed with -9 or stopped with SIGTERM mid-job, their process trees read from /proc.

- kill -9 a worker mid-job: its pool processes exit with it; when its lease lapses another worker
  resumes the job from the finished chunks, and the clip is the one an uninterrupted run makes;
  what the killed run left is listed by ``gc`` and removed by its delete;
- SIGTERM a worker: the chunks in flight finish, the job is handed back (queued), nothing is left;
- ``serve``: a submission answers 202 at once and its progress streams over SSE until done;
- kill -9 the server: its embedded worker and pool go too, and a worker started afterwards
  completes the job; SIGTERM the server: the job is handed back and every process is reaped.

The chunks are slowed (``SOUNDSTAGE_TEST_CHUNK_DELAY`` in the processes' environment) so that the
signals land mid-job; the test model is the VFX tests' temporal grade.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))
import queue_helpers as q  # noqa: E402

pytestmark = pytest.mark.slow

LEASE = ("--lease-seconds", "2", "--heartbeat-seconds", "0.3")


#: 12 chunks of 8 frames: with the chunks slowed to 1 s, a signal sent after the first one lands
#: mid-job even on a loaded machine (the chunks in flight - up to 5 - still finish)
FRAMES, CHUNKS = 96, 12


@pytest.fixture
def prod(sqlite_workspace, tmp_path):
    return q.build(sqlite_workspace, tmp_path, frames=FRAMES, chunk_frames=8)


def stored_clip(ws, job_id: str) -> tuple[Path, dict]:
    from soundstage.services.ledger import list_assets

    (asset,) = [a for a in list_assets(ws) if a["job_id"] == job_id]
    return ws.store.path_for(asset["sha256"]), asset["details"]


def all_gone(pids: set[int], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while any(q.alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def last_event(ws, job_id: str) -> dict:
    from soundstage.services.ledger import audit_log

    return [e for e in audit_log(ws, limit=10000) if e["subject"] == job_id][-1]


def wait_exit(proc: subprocess.Popen, timeout: float) -> int:
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"process {proc.pid} did not exit within {timeout} s")


# ---------------------------------------------------------------- workers

def test_kill_9_of_a_worker_mid_job_another_resumes_and_makes_the_same_clip(workspace, tmp_path):
    """ProRes: x264's bitstream was measured to vary between runs at some frame sizes (320x240;
    not in the one try at 512x288) even from identical frames, so the byte-for-byte comparison uses
    the deterministic intra-frame codec; the frames fed to either encoder are the same."""
    prod = q.build(workspace, tmp_path, frames=FRAMES, chunk_frames=8)
    ws = prod["ws"]
    job_id = q.queue_job(prod, codec="prores")
    first = q.soundstage(ws.settings.root, "worker", *LEASE, env={q.DELAY_ENV: "1.0"})
    try:
        q.wait_until(lambda: q.finished_chunks(ws, job_id), 60, what="the first finished chunk")
        pool = q.children(first.pid)
        assert pool, "the worker computes chunks in pool processes"
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    finished = len(q.finished_chunks(ws, job_id))
    assert 1 <= finished < CHUNKS, "the kill must land mid-job"
    assert all_gone(pool), "pool processes outlived their killed worker"
    assert q.job_row(ws, job_id)["status"] == "running"  # as kill -9 left it: only its lease can tell
    second = q.soundstage(ws.settings.root, "worker", "--max-jobs", "1", "--poll", "0.2", *LEASE,
                          stderr=subprocess.PIPE, text=True)
    assert wait_exit(second, 180) == 0, second.stderr.read()[-2000:]
    view = q.job_row(ws, job_id)
    assert view["status"] == "done" and view["attempts"] == 2
    assert q.actions(ws, job_id) == ["job.submitted", "job.queued", "job.started", "job.requeued", "job.started",
                                     "job.completed"]
    clip, details = stored_clip(ws, job_id)
    assert details["reused_chunks"] >= finished and details["chunks"] == CHUNKS
    reference = q.uninterrupted_clip(ws, job_id, tmp_path / "uninterrupted")
    assert q.video_packets(clip) == q.video_packets(reference)
    # nothing stranded: the finished job's chunks are gone; what the killed run left (its scratch
    # folder) is listed by gc as a run that is over, and gc --delete leaves nothing of the job
    from soundstage.safeguards.guard import work_root
    from soundstage.services.queue_service import gc_work_area, work_dir_of

    assert not work_dir_of(ws, job_id).exists()
    leftovers = [e for e in gc_work_area(ws) if e.job_id == job_id]
    assert {e.kind for e in leftovers} <= {"scratch"} and all(e.status == "done" for e in leftovers)
    gc_work_area(ws, delete=True)
    scratch = work_root(ws) / "tmp"
    assert not [p for p in (scratch.iterdir() if scratch.is_dir() else ()) if job_id in p.name]


def test_sigterm_hands_the_job_back_and_leaves_no_process_behind(prod):
    ws = prod["ws"]
    job_id = q.queue_job(prod)
    worker = q.soundstage(ws.settings.root, "worker", *LEASE, env={q.DELAY_ENV: "1.0"},
                          stderr=subprocess.PIPE, text=True)
    q.wait_until(lambda: q.finished_chunks(ws, job_id), 60, what="the first finished chunk")
    before = q.children(worker.pid)
    assert before
    worker.send_signal(signal.SIGTERM)
    assert wait_exit(worker, 60) == 0
    assert "handing job" in worker.stderr.read()
    assert all_gone(before, 5), "the worker left processes behind"
    view = q.job_row(ws, job_id)
    assert view["status"] == "queued" and view["lease"] is None
    event = last_event(ws, job_id)
    assert event["action"] == "job.requeued" and "stopping" in event["payload"]["reason"]
    kept = len(q.finished_chunks(ws, job_id))
    assert 1 <= kept < CHUNKS
    again = q.soundstage(ws.settings.root, "worker", "--once", *LEASE)
    assert wait_exit(again, 180) == 0
    assert q.job_row(ws, job_id)["status"] == "done"
    assert stored_clip(ws, job_id)[1]["reused_chunks"] >= kept


def test_two_workers_share_the_queue_and_finish_jobs_at_the_same_moment(workspace, tmp_path):
    """Two worker processes on one production (SQLite and PostgreSQL) drain six queued jobs: each
    job claimed and completed once, by either worker, while the other records its own job at the
    same moment (regression: the audit chain's head was appended from a stale read and two
    completions took the same seq)."""
    prod = q.build(workspace, tmp_path, frames=16, chunk_frames=8)
    ws = prod["ws"]
    jobs = [q.queue_job(prod) for _ in range(6)]
    workers = [q.soundstage(ws.settings.root, "worker", "--once", "--json", stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    tallies = []
    for worker in workers:
        out, _ = worker.communicate(timeout=300)
        assert worker.returncode == 0
        tallies.append(json.loads(out))
    assert [q.job_row(ws, j)["status"] for j in jobs] == ["done"] * 6
    assert sum(t["done"] for t in tallies) == 6 and all(t["failed"] == 0 for t in tallies)
    assert all(q.actions(ws, j).count("job.started") == 1 for j in jobs)
    from soundstage.services.ledger import verify_audit

    assert verify_audit(ws).ok


# ---------------------------------------------------------------- the server and its worker

def serve(ws, port: int, *extra: str, delay: str = "0") -> subprocess.Popen:
    q.set_config(ws, queue={"lease_seconds": 2, "heartbeat_seconds": 0.3})
    proc = q.soundstage(ws.settings.root, "serve", "--host", "127.0.0.1", "--port", str(port), *extra,
                        env={q.DELAY_ENV: delay}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read()[-2000:]}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=0.5)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the server did not start in 30 s")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cleanup_body(prod: dict) -> dict:
    return {"operation": "cleanup", "model_id": q.MODEL, "inputs": [prod["plate"]["id"], prod["mask"]["id"]],
            "scene": "5", "shot": "5A", "params": {"codec": "h264"}}


@pytest.fixture
def ken(prod):
    from datetime import timedelta

    from soundstage.testing.identity import new_token

    return {"Authorization": "Bearer " + new_token(prod["ws"], "Ken Ito", expires_in=timedelta(hours=1))["token"]}


def test_serve_answers_202_at_once_and_streams_progress_until_done(prod, ken):
    ws = prod["ws"]
    port = free_port()
    server = serve(ws, port, delay="0.5")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            began = time.monotonic()
            response = http.post("/api/jobs", headers=ken, json=cleanup_body(prod))
            answered = time.monotonic() - began
            assert response.status_code == 202, response.text
            job_id = response.json()["job"]
            assert response.headers["location"] == f"/api/jobs/{job_id}" and response.json()["status"] == "queued"
            with http.stream("GET", f"/api/jobs/{job_id}/events", headers=ken, params={"interval": 0.1}) as events:
                assert events.headers["content-type"].startswith("text/event-stream")
                text = "".join(events.iter_text())
            took = time.monotonic() - began
    finally:
        server.send_signal(signal.SIGTERM)
        wait_exit(server, 60)
    print(f"answered in {answered:.3f} s, job done after {took:.1f} s")
    assert answered < 2.0 and took > 3.0 and answered < took / 2, (answered, took)  # never held for the render
    blocks = [b for b in text.split("\n\n") if b.startswith("event:")]
    names = [b.split("\n")[0][len("event: "):] for b in blocks]
    data = [json.loads(b.split("\n")[1][len("data: "):]) for b in blocks]
    progress = [d["frames_done"] for n, d in zip(names, data) if n == "progress"]
    assert len(progress) >= 3 and progress == sorted(progress) and progress[-1] == FRAMES, progress
    statuses = [d["status"] for n, d in zip(names, data) if n == "status"]
    assert statuses[0] in ("queued", "running") and statuses[-1] == "done"
    assert names[-1] == "end" and data[-1]["status"] == "done"
    assert q.job_row(ws, job_id)["status"] == "done"


def test_kill_9_of_the_server_leaves_nothing_and_a_later_worker_completes_the_job(prod, ken):
    ws = prod["ws"]
    port = free_port()
    server = serve(ws, port, delay="1.0")
    try:
        response = httpx.post(f"http://127.0.0.1:{port}/api/jobs", headers=ken, json=cleanup_body(prod), timeout=30)
        assert response.status_code == 202, response.text
        job_id = response.json()["job"]
        q.wait_until(lambda: q.finished_chunks(ws, job_id), 60, what="the first finished chunk")
        tree = q.children(server.pid)
        assert len(tree) >= 2, "the server runs a queue worker, and the worker a pool"
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
    assert all_gone(tree), "the server's worker or its pool outlived it"
    assert q.job_row(ws, job_id)["status"] in ("queued", "running")  # handed back, or its lease will lapse
    worker = q.soundstage(ws.settings.root, "worker", "--max-jobs", "1", "--poll", "0.2", *LEASE)
    assert wait_exit(worker, 180) == 0
    assert q.job_row(ws, job_id)["status"] == "done"
    assert stored_clip(ws, job_id)[1]["reused_chunks"] >= 1


def test_sigterm_of_the_server_hands_the_job_back_and_reaps_every_process(prod, ken):
    ws = prod["ws"]
    port = free_port()
    server = serve(ws, port, delay="1.0")
    response = httpx.post(f"http://127.0.0.1:{port}/api/jobs", headers=ken, json=cleanup_body(prod), timeout=30)
    assert response.status_code == 202, response.text
    job_id = response.json()["job"]
    q.wait_until(lambda: q.finished_chunks(ws, job_id), 60, what="the first finished chunk")
    before = q.children(server.pid)
    assert len(before) >= 2
    server.send_signal(signal.SIGTERM)
    assert wait_exit(server, 90) == 0, server.stderr.read()[-2000:]
    assert all_gone(before, 5), "processes outlived the server"
    view = q.job_row(ws, job_id)
    assert view["status"] == "queued" and last_event(ws, job_id)["action"] == "job.requeued"
    assert q.finished_chunks(ws, job_id)  # kept for the next worker


def test_kill_9_of_a_server_with_several_http_processes_leaves_none_behind(prod):
    """Its HTTP processes (SO_REUSEPORT, one socket each) and its queue worker exit with it."""
    ws = prod["ws"]
    port = free_port()
    server = serve(ws, port, "--http-workers", "2")
    try:
        q.wait_until(lambda: len(q.children(server.pid)) >= 3, 30, what="2 HTTP processes and a queue worker")
        tree = q.children(server.pid)
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
    assert all_gone(tree), "processes outlived the killed server"
