"""Helpers and fixtures of the red-team suite (imported by tests/security/conftest.py and by the
tests): a real production served by the real app (TestClient or a real uvicorn server on
loopback), the real CLI as a subprocess, a counting test backend, and snapshots of everything an
attack could have written (ledger rows, store files, workspace files).

The production is the API suite's (tests/interfaces/api/api_helpers.py): crew with one role each
and a token per person, Maya Castell (SAG-AFTRA, consent for de-ageing in scene 5, represented by
Lena Ortiz), Noah Fenn (no consent, represented by Sam Cole), a camera plate. Added here: a mask
(the cleanup operation's second input) and Maya's enrolled reference face."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

HERE = Path(__file__).resolve().parent
API_TESTS = HERE.parent / "interfaces" / "api"
if str(API_TESTS) not in sys.path:
    sys.path.append(str(API_TESTS))

from api_helpers import CREW, auth, build_production  # noqa: E402

__all__ = ["CREW", "auth"]

#: every table an attack could write to
TABLES = ("job", "approval", "asset", "asset_edge", "asset_consent", "audit_event", "person", "consent",
          "model_card")
VFX_MODEL = "soundstage.vfx-classical"
CARD_MODEL = "soundstage.procedural-card"


# ------------------------------------------------------------------------------ side effects

def ledger_counts(ws) -> dict[str, int]:
    from sqlalchemy import text

    with ws.unit_of_work() as s:
        return {t: int(s.scalar(text(f"SELECT count(*) FROM {t}"))) for t in TABLES}


def store_files(ws) -> set[str]:
    root = Path(ws.settings.assets_dir)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def workspace_files(ws) -> set[str]:
    """Every file under the workspace root except the live database files (their pages change on
    any read transaction's checkpoint)."""
    root = Path(ws.settings.root)
    return {str(p.relative_to(root)) for p in root.rglob("*")
            if p.is_file() and not p.name.startswith("ledger.sqlite")}


def snapshot(ws) -> dict:
    return {"rows": ledger_counts(ws), "store": store_files(ws), "files": workspace_files(ws)}


def assert_unchanged(ws, before: dict) -> None:
    after = snapshot(ws)
    assert after["rows"] == before["rows"], f"rows changed: {before['rows']} -> {after['rows']}"
    assert after["store"] == before["store"], f"asset store changed: {after['store'] ^ before['store']}"
    assert after["files"] == before["files"], f"workspace files changed: {after['files'] ^ before['files']}"


def audit_actions(ws, after_seq: int = 0) -> list[tuple[str, str]]:
    """(action, subject) of every audit event after ``after_seq``."""
    from sqlalchemy import select

    from soundstage.store.models import AuditEvent

    with ws.unit_of_work() as s:
        return [(e.action, e.subject) for e in s.scalars(select(AuditEvent).where(AuditEvent.seq > after_seq)
                                                          .order_by(AuditEvent.seq))]


def last_seq(ws) -> int:
    from sqlalchemy import func, select

    from soundstage.store.models import AuditEvent

    with ws.unit_of_work() as s:
        return int(s.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0))))


def assert_error(response, status: int, error_type: str | None = None, field: str | None = None) -> str:
    """The API's one error shape; returns the message."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["status"] == status and "Traceback" not in error["message"] and "\n" not in error["message"]
    if error_type:
        assert error["type"] == error_type, error
    if field:
        assert f"field '{field}'" in error["message"], error["message"]
    return error["message"]


# ------------------------------------------------------------------------------ the production

def _add_mask_and_reference(ws, prod: dict, tmp_path: Path) -> None:
    import skimage.data

    from soundstage.services import talent_service
    from soundstage.services.ledger import ingest_media

    mask = np.zeros((180, 320, 3), dtype=np.uint8)
    mask[60:120, 100:220] = 255
    mask_path = tmp_path / "mask_A001.png"
    Image.fromarray(mask).save(mask_path)
    prod["mask"] = ingest_media(ws, mask_path, kind="element", actor="setup", scene="5", shot="5A")
    reference = tmp_path / "maya_reference.png"
    Image.fromarray(skimage.data.astronaut()[20:300, 110:360]).save(reference)
    prod["reference"] = talent_service.enroll_reference(ws, prod["maya"]["id"], reference, actor="Lena Ortiz")


def _production(ws, tmp_path: Path) -> dict:
    prod = build_production(ws, tmp_path)
    _add_mask_and_reference(ws, prod, tmp_path)
    prod["ws"] = ws
    return prod


@pytest.fixture
def prod(sqlite_workspace, tmp_path):
    """The production on SQLite (attacks refused before the ledger is touched)."""
    return _production(sqlite_workspace, tmp_path)


@pytest.fixture
def prod_db(workspace, tmp_path):
    """The production on every database the suite has (SQLite; PostgreSQL when configured)."""
    return _production(workspace, tmp_path)


def make_client(ws):
    from fastapi.testclient import TestClient

    from soundstage.interfaces.api.app import create_app

    app = create_app(ws.settings.root, max_upload_bytes=2 * 1024 * 1024, auth_cache_seconds=0)
    return TestClient(app, base_url="http://127.0.0.1")


@pytest.fixture
def api(prod):
    with make_client(prod["ws"]) as client:
        yield client


@pytest.fixture
def api_db(prod_db):
    with make_client(prod_db["ws"]) as client:
        yield client


# ------------------------------------------------------------------------------ a real server

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(ws, *, queue_worker: bool = True):
    """The real app under a real uvicorn server on loopback, in this process (so a test backend
    registered here is the one it runs), answering from uvicorn's own threadpool - and, as
    ``soundstage serve`` has, a queue worker running the jobs the API queues (the real worker loop,
    in a thread of this process)."""
    import uvicorn

    from soundstage.interfaces.api.app import create_app
    from soundstage.services.worker_service import Worker

    app = create_app(ws.settings.root, max_upload_bytes=2 * 1024 * 1024, auth_cache_seconds=0)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise AssertionError("the test server did not start")
        time.sleep(0.05)
    worker = Worker(ws, poll=0.05, reap=False) if queue_worker else None
    worker_thread = threading.Thread(target=worker.run, name="queue-worker-test", daemon=True) if worker else None
    if worker_thread is not None:
        worker_thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        if worker is not None:
            worker.request_stop()
            worker_thread.join(timeout=60)
        thread.join(timeout=15)


def run_queue(ws) -> None:
    """What a queue worker does with the jobs the API queued (the API never runs a job): the real
    worker loop, in this process, until the queue is empty."""
    from soundstage.services.worker_service import drain_queue

    drain_queue(ws)


def wait_for_job(ws, job_id: str, statuses=("done", "denied", "rejected", "cancelled", "failed"),
                 timeout: float = 60.0) -> str:
    """The job's status once it is one of ``statuses`` (a queue worker runs it after the API answers)."""
    from soundstage.store.models import Job

    deadline = time.monotonic() + timeout
    while True:
        with ws.unit_of_work() as s:
            status = s.get(Job, job_id).status
        if status in statuses or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


# ------------------------------------------------------------------------------ the counting backend

@pytest.fixture
def counting(monkeypatch, tmp_path):
    """Register the counting backend; returns ``register(ws, model_id=..., **config) -> log path``."""
    from soundstage.generate import registry

    monkeypatch.setitem(registry.BACKENDS, "counting", "security_backends:CountingBackend")
    registry.available.cache_clear()

    def register(ws, model_id: str = "test.counting", **config) -> Path:
        import security_backends

        from soundstage.services import models

        log = tmp_path / f"{model_id}.runs.jsonl"
        models.register_model(ws, security_backends.card(model_id), actor="setup", backend="counting",
                          config={"log": str(log), **config})
        return log

    yield register
    registry.available.cache_clear()


# ------------------------------------------------------------------------------ the CLI

def cli(root: Path, *args: str, user: str = "Ken Ito") -> subprocess.CompletedProcess:
    """The real ``soundstage`` command in a subprocess, run with ``user``'s credential."""
    from soundstage.services.workspace import open_workspace
    from soundstage.testing.identity import token_for

    ws = open_workspace(Path(root))
    try:
        token = token_for(ws, user)
    finally:
        ws.close()
    env = {**os.environ, "SOUNDSTAGE_TOKEN": token}
    env.pop("SOUNDSTAGE_WORKSPACE", None)
    env.pop("SOUNDSTAGE_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "soundstage", "-w", str(root), *args], env=env,
                          capture_output=True, text=True, timeout=120)


def error_line(result: subprocess.CompletedProcess) -> str:
    """The CLI's one error line (and nothing else on stderr)."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def write_yaml(path: Path, data: dict) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ outbound connections

class Listener:
    """A TCP listener on loopback that counts the connections made to it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"tcp://127.0.0.1:{self.port}"

    def connections(self, wait: float = 0.5) -> int:
        """Connections accepted within ``wait`` seconds (a finished handshake waits in the backlog
        even when the client has gone, so a connection made earlier is still counted)."""
        count = 0
        self.sock.settimeout(wait)
        while True:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, TimeoutError):
                return count
            conn.close()
            count += 1
            self.sock.settimeout(0.05)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener():
    lst = Listener()
    try:
        yield lst
    finally:
        lst.close()


# ------------------------------------------------------------------------------ job bodies

def cleanup_body(prod: dict, **params) -> dict:
    return {"operation": "cleanup", "model_id": VFX_MODEL, "inputs": [prod["plate"]["id"], prod["mask"]["id"]],
            "scene": "5", "shot": "5A", "params": params}


def approver_for(prod: dict, role_key: str) -> str:
    """The token key of the person who gives ``role_key`` ("performer_rep:<performer id>" too)."""
    if role_key.startswith("performer_rep:"):
        performer = role_key.split(":", 1)[1]
        return "performer_rep" if performer == prod["maya"]["id"] else "other_rep"
    return role_key
