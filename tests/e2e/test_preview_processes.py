"""Queued review previews with real processes (DR023): ``soundstage worker`` renders a preview a
request asked for; killed with -9 mid-render, it leaves the request rendering under a lease that
lapses, and the next worker renders it (attempt 2) - not stuck, not rendered twice.

The preview's chunks are slowed (``SOUNDSTAGE_TEST_CHUNK_DELAY`` in the first worker's environment)
so that the kill lands mid-render; a production pack escalates the queue test's cleanup job so that
it waits for approval (a preview is made for a job waiting for approval)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))
import queue_helpers as q  # noqa: E402

pytestmark = pytest.mark.slow

LEASE = ("--lease-seconds", "2", "--heartbeat-seconds", "0.3")
PACK = ("pack: studio\nversion: 1\nrules:\n  - id: STUDIO-CLEANUP\n    text: cleanups are reviewed by legal\n"
        "    when: {field: operation, eq: cleanup}\n    then: {outcome: escalate, approvers: [legal]}\n")


def test_kill_9_mid_render_leaves_the_request_to_the_next_worker(sqlite_workspace, tmp_path):
    from soundstage.services import jobs_service, preview_service
    from soundstage.services.workspace import open_workspace

    base = q.build(sqlite_workspace, tmp_path, frames=48, chunk_frames=8)
    root = Path(sqlite_workspace.settings.root)
    (root / "studio.yaml").write_text(PACK)
    q.set_config(sqlite_workspace, policy={"packs": ["studio.yaml"]})
    ws = open_workspace(root)
    try:
        prod = {**base, "ws": ws}
        waiting = jobs_service.submit_job(ws, q.spec(prod), actor="Ken Ito", wait=False)
        assert waiting["status"] == "escalated", waiting
        job = waiting["job"]
        asked = preview_service.request_preview(ws, job, actor="Tom Reed")
        first = q.soundstage(root, "worker", *LEASE, env={q.DELAY_ENV: "2.0"})
        try:
            q.wait_until(lambda: preview_service.preview_status(ws, job)["status"] == "rendering", 60,
                         what="the first worker rendering the preview")
            time.sleep(1.0)  # into the render: its proxy's chunks take 2 s each
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
        status = preview_service.preview_status(ws, job)
        assert status["status"] == "rendering" and status["preview"] is None  # only its lease can tell
        q.wait_until(lambda: preview_service.preview_status(ws, job)["status"] == "pending", 10,
                     what="the killed worker's lease to lapse")
        second = q.soundstage(root, "worker", "--max-jobs", "1", "--poll", "0.2", *LEASE,
                              stderr=subprocess.PIPE, text=True)
        try:
            q.wait_until(lambda: preview_service.preview_status(ws, job)["status"] == "done", 120,
                         what="the second worker's render")
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(60)
        status = preview_service.preview_status(ws, job)
        assert status["request"]["request"] == asked["request"] and status["request"]["attempts"] == 2
        assert status["preview"]["media_type"] == "video/mp4"
        assert jobs_service.show_job(ws, job)["status"] == "escalated"
        assert [e for e in q.actions(ws, job) if e == "job.previewed"] == ["job.previewed"]  # rendered once
    finally:
        ws.close()
