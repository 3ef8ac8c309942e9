"""A real `soundstage serve` process on a loopback port, hit over HTTP with httpx."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta

import httpx
import pytest

SERVE = ("import sys; from soundstage.interfaces.cli.app import app, main; "
         "from soundstage.interfaces.cli import cmd_serve; "
         "'serve' in {c.name for c in app.registered_commands} or cmd_serve.register(app); "
         "sys.exit(main(sys.argv[1:]))")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workspace_dir, port: int, *extra: str) -> subprocess.Popen:
    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, "-c", SERVE, "-w", str(workspace_dir), "serve", "--host", "127.0.0.1",
                             "--port", str(port), *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 20
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=0.5)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.terminate()
    raise AssertionError("server did not start in 20 s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.mark.slow
def test_serve_answers_over_http(sqlite_workspace):
    from soundstage.services import people_service
    from soundstage.testing.identity import new_token

    ws = sqlite_workspace
    people_service.add_crew(ws, "Priya Shah", ["producer"], actor="setup")
    token = new_token(ws, "Priya Shah", expires_in=timedelta(hours=1))["token"]
    port = free_port()
    proc = start_server(ws.settings.root, port)
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as http:
            assert http.get("/api/production").status_code == 401
            headers = {"Authorization": f"Bearer {token}"}
            summary = http.get("/api/production", headers=headers).json()
            assert summary["title"] == "The Last Take"
            submitted = http.post("/api/jobs", headers={**headers, "Idempotency-Key": "k1"},
                                  json={"operation": "ideation", "model_id": "soundstage.procedural-card",
                                        "prompt": "fog"})
            job = submitted.json()
            # queued at once; the server's own queue worker runs it
            assert submitted.status_code == 202 and job["status"] == "queued"
            assert submitted.headers["location"] == f"/api/jobs/{job['job']}"
            with http.stream("GET", f"/api/jobs/{job['job']}/events", headers=headers) as events:
                text = "".join(events.iter_text())
            assert '"status": "done"' in text and "event: end" in text
            schema = http.get("/openapi.json").json()
            assert "/api/jobs/{job_id}/events" in schema["paths"]
    finally:
        stop(proc)


def test_serve_refuses_a_non_loopback_host(sqlite_workspace):
    result = subprocess.run([sys.executable, "-c", SERVE, "-w", str(sqlite_workspace.settings.root), "serve",
                             "--host", "0.0.0.0", "--port", "1"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "refusing to listen" in result.stderr
