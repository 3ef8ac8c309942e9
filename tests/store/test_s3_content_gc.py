"""``gc_content`` on a production whose store is the real S3 server (DR010): what a failed unit of
work left in the bucket is listed as content once past the grace by the server's clock, with its
s3:// URL, and removed with delete; what the ledger names - an asset, its signed sidecar - stays."""

from __future__ import annotations

import hashlib
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from soundstage.safeguards import guard
from soundstage.safeguards.guard import IngestRequest
from soundstage.services.content_gc import gc_content, named_content
from soundstage.services.workspace import open_workspace
from soundstage.store.s3 import S3Store
from tests.store.conftest import BUCKET

sys.path.insert(0, str(Path(__file__).parents[1] / "services"))
import queue_helpers as q  # noqa: E402


@pytest.fixture
def s3_ws(workspace, s3_server, monkeypatch):
    monkeypatch.setenv("CGC_S3_KEY", s3_server.access_key)
    monkeypatch.setenv("CGC_S3_SECRET", s3_server.secret_key)
    q.set_config(workspace, store={"backend": "s3", "endpoint": s3_server.endpoint, "bucket": BUCKET,
                                   "region": s3_server.region, "prefix": f"cgc-{uuid.uuid4().hex[:10]}/",
                                   "access_key_env": "CGC_S3_KEY", "secret_key_env": "CGC_S3_SECRET"})
    ws = open_workspace(workspace.settings.root)
    assert isinstance(ws.store, S3Store)
    yield ws
    ws.close()


def _ingest(ws, s, name: str, data: bytes, **extra):
    return guard.ingest(s, ws.store, IngestRequest(production_id=ws.production_id, actor="setup", kind="document",
                                                   media_type="text/plain", name=name, data=data, **extra))


def test_a_failed_units_objects_are_collected_and_named_ones_stay(s3_ws):
    ws = s3_ws
    with pytest.raises(RuntimeError):
        with ws.unit_of_work() as s:
            _ingest(ws, s, "failed.txt", b"stored by a failed unit")
            raise RuntimeError("the unit fails")
    failed = hashlib.sha256(b"stored by a failed unit").hexdigest()
    assert ws.store.exists(failed) and ws.store.left_for_gc == [failed]
    with ws.unit_of_work() as s:
        sidecar = ws.store.put_bytes(b"a signed sidecar", guard._grant(ws.store, "t")).sha256
        plain = _ingest(ws, s, "page.txt", b"a page", details={"c2pa_sidecar_sha256": sidecar}).sha256
    assert {plain, sidecar} <= named_content(ws)

    assert gc_content(ws) == []   # by the server's clock it is seconds old
    later = ws.store.server_time() + timedelta(hours=25)
    listed = gc_content(ws, now=later)
    assert [(e.kind, e.status, e.path) for e in listed] == [("content", "unnamed", ws.store.url_for(failed))]
    assert listed[0].size == len(b"stored by a failed unit") and "no ledger row names it" in listed[0].note
    assert [e.path for e in gc_content(ws, now=later, delete=True)] == [ws.store.url_for(failed)]
    assert not ws.store.exists(failed)
    ws.store.verify(plain)
    ws.store.verify(sidecar)
