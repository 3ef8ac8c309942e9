"""The rollback race of DR010's 2026-12-06 amendment, through the workspace's real units of work and
ledger (SQLite and PostgreSQL): unit A stores content X and fails; unit B, another request on its
own thread, finds X already stored and commits an asset row naming it in the instant between A's
last look at the ledger and the moment A's rollback would remove X. B's row must name content that
is there and intact - and gc must not take it later either."""

from __future__ import annotations

import hashlib
import os
import threading
import time

import pytest

from soundstage.safeguards import guard
from soundstage.safeguards.guard import IngestRequest
from soundstage.services.content_gc import gc_content
from soundstage.store.models import Asset

DATA = b"INT. SOUND STAGE - NIGHT. The same page, uploaded twice at once."


def _ingest(ws, s, who: str) -> Asset:
    return guard.ingest(s, ws.store, IngestRequest(production_id=ws.production_id, actor=who, kind="document",
                                                   media_type="text/plain", name=f"{who}.txt", data=DATA))


def test_a_row_committed_during_a_failed_units_rollback_keeps_its_content(workspace, monkeypatch):
    ws = workspace
    sha = hashlib.sha256(DATA).hexdigest()
    blob_file = os.fspath(ws.store.path_for(sha))
    committed: dict = {}

    def unit_b() -> None:
        with ws.unit_of_work() as s:
            committed["b"] = _ingest(ws, s, "b").id

    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):
        if os.fspath(path) == blob_file and "b" not in committed:
            b = threading.Thread(target=unit_b)  # B commits after A's last check, before A's removal
            b.start()
            b.join(30)
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    with pytest.raises(RuntimeError, match="fails after storing"):
        with ws.unit_of_work() as s:
            assert _ingest(ws, s, "a").sha256 == sha
            raise RuntimeError("unit A fails after storing its content")
    if "b" not in committed:  # A's rollback removed nothing: B comes right after it
        unit_b()
    monkeypatch.setattr(os, "unlink", real_unlink)

    with ws.unit_of_work() as s:
        rows = [(a.id, a.name, a.sha256) for a in s.query(Asset).filter(Asset.sha256 == sha)]
    assert rows == [(committed["b"], "b.txt", sha)]  # A's row was rolled back, B's stands
    ws.store.verify(sha)
    assert ws.store.read_bytes(sha) == DATA
    # gc, even long after, never takes content a row names
    then = time.time() - 72 * 3600
    os.utime(blob_file, (then, then))
    assert gc_content(ws, delete=True) == []
    ws.store.verify(sha)


def test_a_failed_units_content_is_served_by_nothing_and_reused_by_the_next(workspace):
    ws = workspace
    sha = hashlib.sha256(DATA).hexdigest()
    with pytest.raises(RuntimeError):
        with ws.unit_of_work() as s:
            _ingest(ws, s, "a")
            raise RuntimeError("unit A fails")
    assert ws.store.exists(sha)  # left for gc
    with ws.unit_of_work() as s:
        assert s.query(Asset).filter(Asset.sha256 == sha).count() == 0  # nothing names it: no asset serves it
    with ws.unit_of_work() as s:
        asset_id = _ingest(ws, s, "c").id
    ws.store.verify(sha)
    with ws.unit_of_work() as s:
        assert s.get(Asset, asset_id).sha256 == sha
