"""worker, gc, job resume / retry / cancel on the command line, in-process through the real entry point."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from rich.console import Console

from soundstage.interfaces.cli import common
from soundstage.interfaces.cli.app import main

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "services"))
import queue_helpers as q  # noqa: E402


@pytest.fixture
def cli(sqlite_workspace, tmp_path, monkeypatch, capsys):
    """The queue test production; `soundstage -w WS ...` as its producer. Returns (run, prod)."""
    from soundstage.testing.identity import token_for

    prod = q.build(sqlite_workspace, tmp_path, frames=16, chunk_frames=8)
    q.set_config(sqlite_workspace, compute={"cluster": "serial"})
    monkeypatch.setenv("SOUNDSTAGE_TOKEN", token_for(sqlite_workspace, "Priya Shah"))
    monkeypatch.setattr(common, "console", Console(width=200, highlight=False))
    monkeypatch.delenv("SOUNDSTAGE_WORKSPACE", raising=False)
    root = str(sqlite_workspace.settings.root)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["-w", root, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run, prod


def test_queued_jobs_are_run_by_worker_once(cli):
    run, prod = cli
    first, second = q.queue_job(prod), q.queue_job(prod)
    code, out, err = run("worker", "--once", "--json")
    assert code == 0, err
    tally = json.loads(out)
    assert tally["claimed"] == 2 and tally["done"] == 2 and {j["job"] for j in tally["jobs"]} == {first, second}
    assert all(q.job_row(prod["ws"], j)["status"] == "done" for j in (first, second))


def test_job_cancel_then_nothing_runs(cli):
    run, prod = cli
    job_id = q.queue_job(prod)
    code, out, err = run("job", "cancel", job_id)
    assert code == 0 and f"job {job_id}: cancelled" in out, err
    code, _, err = run("job", "cancel", job_id)
    assert code == 1 and "only a job that has not finished can be cancelled" in err
    assert json.loads(run("worker", "--once", "--json")[1])["claimed"] == 0


def test_job_resume_and_retry_of_a_failed_job(cli, monkeypatch):
    run, prod = cli
    monkeypatch.setenv(q.FAIL_ENV, "8")
    job_id = q.queue_job(prod)
    assert json.loads(run("worker", "--once", "--json")[1])["failed"] == 1
    monkeypatch.delenv(q.FAIL_ENV)
    code, out, err = run("job", "resume", job_id, "--no-wait", "--json")
    assert code == 0 and json.loads(out)["status"] == "queued", err
    code, out, err = run("job", "resume", job_id)
    assert code == 1 and "only a failed job" in err  # queued already: a worker takes it
    assert run("worker", "--once")[0] == 0
    assert q.job_row(prod["ws"], job_id)["status"] == "done"
    code, _, err = run("job", "retry", job_id)
    assert code == 1 and "is done" in err


def test_gc_lists_then_deletes(cli, monkeypatch):
    run, prod = cli
    monkeypatch.setenv(q.FAIL_ENV, "8")
    job_id = q.queue_job(prod)
    run("worker", "--once")
    code, out, err = run("gc")
    assert code == 0 and f"job-{job_id}" in out and "dry run" in err
    code, out, _ = run("gc", "--delete", "--json")
    removed = json.loads(out)
    assert removed["deleted"] is True and [e["job"] for e in removed["entries"]] == [job_id]
    assert json.loads(run("gc", "--json")[1])["entries"] == []


def test_gc_lists_then_deletes_stored_content_no_row_names_past_its_grace(cli):
    """What a failed unit of work stored is listed by `gc` (kind content) once past the grace period,
    removed only with --delete; a grace under an hour is refused."""
    import hashlib
    import os
    import time

    from soundstage.safeguards import guard

    run, prod = cli
    ws = prod["ws"]
    data = b"a plate a failed upload stored"
    sha = hashlib.sha256(data).hexdigest()
    with pytest.raises(RuntimeError):
        with ws.unit_of_work() as s:
            guard.ingest(s, ws.store, guard.IngestRequest(production_id=ws.production_id, actor="t", kind="document",
                                                          media_type="text/plain", name="x.txt", data=data))
            raise RuntimeError("the upload failed")
    path = ws.store.path_for(sha)
    assert json.loads(run("gc", "--json")[1])["entries"] == []  # young: not yet
    then = time.time() - 30 * 3600
    os.utime(path, (then, then))
    code, out, err = run("gc")
    assert code == 0 and str(path) in out and "content" in out and "1 unnamed stored file(s)" in err
    assert path.exists() and json.loads(run("gc", "--json", "--grace-hours", "31")[1])["entries"] == []
    code, out, _ = run("gc", "--delete", "--json")
    removed = json.loads(out)
    assert [(e["kind"], e["path"], e["bytes"]) for e in removed["entries"]] == [("content", str(path), len(data))]
    assert not path.exists()
    code, _, err = run("gc", "--grace-hours", "0.5")
    assert code == 2 and "grace-hours" in err


def test_a_vfx_command_can_only_queue(cli):
    run, prod = cli
    code, out, err = run("vfx", "cleanup", prod["plate"]["id"], "--mask", prod["mask"]["id"], "--model", q.MODEL,
                         "--no-wait", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "queued" and result["assets"] == []
