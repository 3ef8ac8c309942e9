"""The performance shortcuts must not weaken a safeguard: the cached policy engine follows an
edited pack, and `serve --http-workers 2` (one SO_REUSEPORT socket per worker) spreads connections
over both workers, answers with auth enforced, and stops cleanly."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

PACK = textwrap.dedent("""\
    pack: studio-x
    version: 1
    rules:
      - id: STUDIO-NO-REAL-EVENTS
        text: Real events are a sensitive subject at this studio.
        when: {field: depicts_real_event, eq: true}
        then: {outcome: %s, approvers: [producer, legal]}
""")


def _decide(ws, prompt: str) -> dict:
    from soundstage.domain.safeguards import job_spec_from_mapping
    from soundstage.services import policy_service

    spec = job_spec_from_mapping({"operation": "ideation", "model_id": "soundstage.procedural-card",
                                  "prompt": prompt, "production_id": ws.production_id, "id": "j-perf",
                                  "requested_by": "test", "depicts_real_event": True}, "test")
    return policy_service.check_job(ws, spec)["decision"]


def test_cached_policy_engine_recompiles_an_edited_pack(sqlite_workspace, tmp_path):
    from soundstage.safeguards.resolve import policy_engine
    from soundstage.services.workspace import Workspace

    pack = tmp_path / "studio.yaml"
    pack.write_text(PACK % "escalate")
    base = sqlite_workspace
    ws = Workspace(replace(base.settings, policy_packs=(pack,)), base.db, base.store)
    assert policy_engine(ws) is policy_engine(ws)  # compiled once, not per decision
    assert _decide(ws, "a ghost writer at work")["outcome"] == "escalate"
    pack.write_text(PACK % "deny" + "\n")  # an edit changes size and mtime
    assert _decide(ws, "a ghost writer at work")["outcome"] == "deny"
    pack.unlink()
    from soundstage.errors import SpecError

    with pytest.raises(SpecError):  # a vanished pack is an error, never a stale cached engine
        _decide(ws, "a ghost writer at work")


SERVE = ("import sys; from soundstage.interfaces.cli.app import app, main; "
         "from soundstage.interfaces.cli import cmd_serve; "
         "'serve' in {c.name for c in app.registered_commands} or cmd_serve.register(app); "
         "sys.exit(main(sys.argv[1:]))")


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return out


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT") or not Path("/proc/self/stat").exists(),
                    reason="needs Linux SO_REUSEPORT and /proc")
def test_two_workers_share_the_connections_and_stop_cleanly(sqlite_workspace):
    from soundstage.services import people_service
    from soundstage.testing.identity import new_token

    ws = sqlite_workspace
    people_service.add_crew(ws, "Ken Ito", ["vfx_supervisor"], actor="setup")
    token = new_token(ws, "Ken Ito", expires_in=timedelta(hours=1))["token"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", SERVE, "-w", str(ws.settings.root), "serve", "--port", str(port),
                             "--http-workers", "2", "--workers", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 30
        while _listening_sockets(port) < 2 or not _all_up(base):
            assert proc.poll() is None and time.time() < deadline, proc.stderr.read()
            time.sleep(0.2)
        workers = [pid for pid in _children(proc.pid) if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()]
        assert len(workers) == 2
        before = {pid: _cpu_ticks(pid) for pid in workers}
        clients = [httpx.Client(base_url=base, timeout=10) for _ in range(16)]  # 16 keep-alive connections
        try:
            assert clients[0].get("/api/production").status_code == 401  # auth still on every request
            headers = {"Authorization": f"Bearer {token}"}
            for _ in range(25):
                for client in clients:
                    assert client.get("/api/models", headers=headers).status_code == 200
        finally:
            for client in clients:
                client.close()
        used = {pid: _cpu_ticks(pid) - before[pid] for pid in workers}
        assert min(used.values()) > 0, f"one worker served nothing: {used}"
    finally:
        proc.terminate()
        assert proc.wait(20) == 0
    time.sleep(0.2)
    assert not any(Path(f"/proc/{pid}").exists() and "spawn_main" in _safe_cmdline(pid) for pid in workers)


def _safe_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return ""


def _listening_sockets(port: int) -> int:
    """How many sockets listen on the port (state 0A in /proc/net/tcp): one per ready worker."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A")


def _all_up(base: str) -> bool:
    try:
        return httpx.get(base + "/openapi.json", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="needs SO_REUSEPORT")
def test_workers_refuse_a_port_something_already_listens_on(sqlite_workspace):
    """SO_REUSEPORT must not let a second server silently share a port with the first."""
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # even a reuse-port listener
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-c", SERVE, "-w", str(sqlite_workspace.settings.root), "serve",
                                 "--port", str(port), "--http-workers", "2"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "cannot listen on" in result.stderr and "Traceback" not in result.stderr


def test_a_revoked_token_is_refused_once_the_auth_cache_window_passes(sqlite_workspace):
    """Authentication now runs inline (async); the per-worker cache must still let a revocation
    through within its window, and never serve a token past its expiry."""
    from fastapi.testclient import TestClient

    from soundstage.interfaces.api.app import create_app
    from soundstage.services import auth_service
    from soundstage.services import people_service
    from soundstage.testing.identity import new_token

    ws = sqlite_workspace
    people_service.add_crew(ws, "Ken Ito", ["vfx_supervisor"], actor="setup")
    made = new_token(ws, "Ken Ito", expires_in=timedelta(hours=1))
    headers = {"Authorization": f"Bearer {made['token']}"}
    window = 0.5
    with TestClient(create_app(ws.settings.root, web=False, auth_cache_seconds=window),
                    base_url="http://127.0.0.1") as client:
        assert client.get("/api/models", headers=headers).status_code == 200
        auth_service.revoke_token(ws, made["id"], actor="setup")
        time.sleep(window + 0.1)
        refused = client.get("/api/models", headers=headers)
        assert refused.status_code == 401
        assert "revoked" in refused.json()["error"]["message"]


def test_async_reads_leave_the_event_loop_only_for_a_networked_database(workspace, monkeypatch):
    """SQLite reads run inline on the event loop (cheaper than a thread hand-off); on PostgreSQL every
    query is a round trip, so the same reads go to the threadpool and cannot stall other requests."""
    import asyncio

    from fastapi.testclient import TestClient

    from soundstage.interfaces.api.app import create_app
    from soundstage.interfaces.api import routes
    from soundstage.services import people_service
    from soundstage.testing.identity import new_token

    people_service.add_crew(workspace, "Priya Shah", ["producer"], actor="setup")
    token = new_token(workspace, "Priya Shah", expires_in=timedelta(days=1))["token"]
    on_loop: list[bool] = []
    real = routes.production_summary

    def recording(ws):
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return real(ws)

    monkeypatch.setattr(routes, "production_summary", recording)
    app = create_app(workspace.settings.root, auth_cache_seconds=0)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        r = client.get("/api/production", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["watermark_key"].startswith("production")
    networked = not workspace.settings.database_url.startswith("sqlite")
    assert on_loop == [not networked]
