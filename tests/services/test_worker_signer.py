"""A queue worker checks the production signer before it runs a job's backend, as an in-process run
does - the same check, at the claim both go through (``guard.check_signer_ready``).

Before, a worker claimed the job (``job.started``), rendered it whole and only then found at signing
that the certificate had expired. Now a signer that cannot sign - a leaf expired or expiring within
the run, keys the audit log does not record, a key file others can read - fails the job at its claim:
its backend never runs, it is recorded failed once (stage ``signer``) with the reason and its fix,
it is not claimed again, and the CLI and API listings say why. Renewed and resumed, it runs.

The real test runs ``soundstage worker`` as its own process against a workspace whose leaf expired
nine days ago (issued by the production CA and recorded by the audit log: only its date is wrong);
the op's factory appends to a file whenever the backend builds it (``queue_helpers.RAN_ENV``)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from soundstage.clock import utcnow
from soundstage.safeguards import keys
from soundstage.services import keys_service, queue_service
from soundstage.services.workspace import open_workspace
from soundstage.services.worker_service import Worker

sys.path.insert(0, str(Path(__file__).parent))
import queue_helpers as q  # noqa: E402


@pytest.fixture
def prod(sqlite_workspace, tmp_path):
    built = q.build(sqlite_workspace, tmp_path, frames=16, chunk_frames=8)
    q.set_config(sqlite_workspace, compute={"cluster": "serial"})
    ws = open_workspace(sqlite_workspace.settings.root)
    yield {**built, "ws": ws}
    ws.close()


def expire_the_leaf(ws) -> None:
    """A one-day leaf issued ten days ago by the production CA, recorded by ``keys.renewed``."""
    keys_service.renew_signing_certificate(ws, actor="Priya Shah", validity_days=1,
                                           now=utcnow() - timedelta(days=10))


def cli(ws, monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """``soundstage -w WS ARGS`` through its real entry point, as the producer."""
    from soundstage.interfaces.cli.app import main
    from soundstage.testing.identity import token_for

    token = token_for(ws, "Priya Shah")
    with monkeypatch.context() as m:
        for name in ("SOUNDSTAGE_TOKEN_FILE", "SOUNDSTAGE_SINGLE_USER", "SOUNDSTAGE_WORKSPACE"):
            m.delenv(name, raising=False)
        m.setenv("SOUNDSTAGE_TOKEN", token)
        m.setenv("COLUMNS", "400")  # the table's reason column, unwrapped
        capsys.readouterr()
        code = main(["-w", str(ws.settings.root), *args])
        out, _ = capsys.readouterr()
    return code, " ".join(out.split())


def test_a_real_worker_does_not_render_a_job_its_expired_certificate_could_not_sign(prod, tmp_path, monkeypatch,
                                                                                     capsys):
    ws = prod["ws"]
    expire_the_leaf(ws)
    job_id = q.queue_job(prod)  # queued, as the API queues a job
    ran = tmp_path / "backend-ran.txt"
    worker = q.soundstage(ws.settings.root, "worker", "--poll", "0.1", "--json", env={q.RAN_ENV: str(ran)},
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        q.wait_until(lambda: q.job_row(ws, job_id)["status"] != "queued", 90, what="the worker's claim")
        # ~20 more polls: a job the claim had left claimable would be claimed (and refused) again
        time.sleep(2.0)
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err[-2000:]
    tally = json.loads(out)

    view = q.job_row(ws, job_id)
    assert view["status"] == "failed", view
    assert not ran.exists(), "the backend ran"  # no operation was built, no chunk computed
    assert q.finished_chunks(ws, job_id) == []
    assert view["attempts"] == 0 and view["lease"] is None  # never claimed as running
    # recorded once, never started, never requeued: not retried in a loop
    assert q.actions(ws, job_id) == ["job.submitted", "job.queued", "job.failed"]
    assert tally["claimed"] == 0 and tally["failed"] == 1 and tally["done"] == 0
    failure = view["failure"]
    assert failure["stage"] == "signer"
    assert "expired on" in failure["error"] and "soundstage keys renew" in failure["error"]
    assert "\n" not in failure["error"]

    # the listings say why: the CLI's job show and job list, the API's job
    code, shown = cli(ws, monkeypatch, capsys, "job", "show", job_id)
    assert code == 0 and "failed before its backend ran: the production could not sign its outputs" in shown
    assert "expired on" in shown and f"soundstage job resume {job_id}" in shown
    # (the table's text wraps with the console's width, which pytest-xdist's workers do not take from
    # COLUMNS: its column is read through --json)
    code, as_json = cli(ws, monkeypatch, capsys, "job", "list", "--json")
    assert [j["failure"]["stage"] for j in json.loads(as_json) if j["id"] == job_id] == ["signer"]
    api = _api_job(ws, job_id)
    assert api["status"] == "failed" and api["failure"]["stage"] == "signer" and "expired on" in api["failure"]["error"]

    # renewed and resumed, the same job runs (and its backend with it)
    keys_service.renew_signing_certificate(ws, actor="Priya Shah")
    assert queue_service.resume_job(ws, job_id, actor="Ken Ito")["status"] == "queued"
    again = q.soundstage(ws.settings.root, "worker", "--once", env={q.RAN_ENV: str(ran)},
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-2000:]
    view = q.job_row(ws, job_id)
    assert view["status"] == "done" and view["failure"] is None and ran.exists()
    assert q.actions(ws, job_id)[-3:] == ["job.requeued", "job.started", "job.completed"]


def _api_job(ws, job_id: str) -> dict:
    from fastapi.testclient import TestClient

    from soundstage.interfaces.api.app import create_app
    from soundstage.testing.identity import token_for

    headers = {"Authorization": "Bearer " + token_for(ws, "Priya Shah")}
    with TestClient(create_app(ws.settings.root, auth_cache_seconds=0), base_url="http://127.0.0.1") as client:
        response = client.get(f"/api/jobs/{job_id}", headers=headers)
        listed = client.get("/api/jobs", headers=headers, params={"status": "failed"})
    assert response.status_code == 200, response.text
    assert [j["failure"]["stage"] for j in listed.json()] == ["signer"]
    return response.json()


def _swap_in_another_ca(ws, tmp_path) -> None:
    other = keys.create_production_ca(tmp_path / "other-keys", "Somebody Else", None)
    for name in ("chain.pem", "signer.key"):
        shutil.copy(other.directory / name, ws.settings.keys_dir / name)


CAUSES = {
    # what makes the signer unusable -> words of the reason
    "a leaf expiring within the run": (lambda ws, tmp: keys_service.renew_signing_certificate(
        ws, actor="Priya Shah", validity_days=1), "within 24 hours"),
    "keys the audit log does not record": (_swap_in_another_ca, "the audit log"),
    "a key file others can read": (lambda ws, tmp: (ws.settings.keys_dir / "signer.key").chmod(0o644),
                                   "chmod 600"),
}


@pytest.mark.parametrize("cause", list(CAUSES))
def test_a_worker_fails_the_job_before_its_backend_whatever_stops_the_signer(prod, tmp_path, monkeypatch, cause):
    ws = prod["ws"]
    make, words = CAUSES[cause]
    make(ws, tmp_path)
    job_id = q.queue_job(prod)
    ran = tmp_path / "backend-ran.txt"
    monkeypatch.setenv(q.RAN_ENV, str(ran))
    stats = Worker(ws, poll=0.05, reap=False).run(until_idle=True)  # would never be idle if it looped
    view = q.job_row(ws, job_id)
    assert view["status"] == "failed" and view["failure"]["stage"] == "signer" and words in view["failure"]["error"]
    assert not ran.exists() and view["attempts"] == 0
    assert q.actions(ws, job_id) == ["job.submitted", "job.queued", "job.failed"]
    assert (stats.claimed, stats.failed) == (0, 1)
