"""gc of the content store through the ledger: what a failed unit of work stored is listed once past
the grace period and removed only with delete; whatever the ledger names - an asset's content, the
signed sidecar its details name, each frame an image sequence's index names - never is; and nothing
is removed while a sequence index of this production cannot be read."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import timedelta
from fractions import Fraction

import pytest

from soundstage.errors import IntegrityError
from soundstage.safeguards import guard
from soundstage.safeguards.guard import IngestRequest
from soundstage.services.content_gc import gc_content, named_content
from soundstage.vfx.sequences import SEQUENCE_MEDIA_TYPE, SequenceFrame, SequenceIndex


def _aged(ws, sha: str, hours: float = 48) -> None:
    then = time.time() - hours * 3600
    os.utime(ws.store.path_for(sha), (then, then))


def _ingest(ws, s, name: str, data: bytes, **extra):
    return guard.ingest(s, ws.store, IngestRequest(production_id=ws.production_id, actor="setup", kind="document",
                                                   media_type="text/plain", name=name, data=data, **extra))


def _failed_unit(ws, *contents: bytes) -> list[str]:
    """A unit of work that stores ``contents`` and fails (nothing names them)."""
    with pytest.raises(RuntimeError):
        with ws.unit_of_work() as s:
            for i, data in enumerate(contents):
                _ingest(ws, s, f"failed-{i}.txt", data)
            raise RuntimeError("the unit fails")
    return [hashlib.sha256(data).hexdigest() for data in contents]


def _sequence(ws, tmp_path):
    """An image-sequence asset: its index names two frame files stored beside it."""
    frames, members = [], []
    for n in (1001, 1002):
        path = tmp_path / f"A001_{n}.png"
        path.write_bytes(f"frame {n}".encode())
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        frames.append(SequenceFrame(n, path.name, sha))
        members.append((path, sha))
    index = SequenceIndex(pattern="A001_####.png", fps=Fraction(24), width=2, height=2, format="image",
                          frames=tuple(frames))
    with ws.unit_of_work() as s:
        asset = guard.ingest(s, ws.store, IngestRequest(
            production_id=ws.production_id, actor="setup", kind="plate", media_type=SEQUENCE_MEDIA_TYPE,
            name=index.pattern, data=index.to_bytes(), members=members))
    return asset.sha256, [f.sha256 for f in frames]


def test_gc_lists_and_removes_only_what_no_row_names(workspace, tmp_path):
    ws = workspace
    old, young, sidecar = _failed_unit(ws, b"stored by a failed unit, two days ago", b"stored just now",
                                       b"a signed sidecar, named by the asset below")
    with ws.unit_of_work() as s:
        plain = _ingest(ws, s, "page.txt", b"a page", details={"c2pa_sidecar_sha256": sidecar}).sha256
    index, frames = _sequence(ws, tmp_path)
    assert {plain, sidecar, index, *frames} <= named_content(ws)
    for sha in (old, sidecar, plain, index, *frames):
        _aged(ws, sha)

    listed = gc_content(ws)
    assert [(e.kind, e.status, str(e.path)) for e in listed] == [("content", "unnamed", str(ws.store.path_for(old)))]
    assert "no ledger row names it" in listed[0].note and listed[0].size == len(b"stored by a failed unit, two days ago")
    assert all(ws.store.exists(sha) for sha in (old, young, sidecar, plain, index, *frames))  # list-only

    assert [str(e.path) for e in gc_content(ws, delete=True)] == [str(ws.store.path_for(old))]
    assert not ws.store.exists(old)
    for sha in (young, sidecar, plain, index, *frames):
        ws.store.verify(sha)
    assert [e.path for e in gc_content(ws, older_than=timedelta(hours=1))] == []  # the young one: 0 h old
    _aged(ws, young, 2)
    assert [str(e.path) for e in gc_content(ws, older_than=timedelta(hours=1))] == [str(ws.store.path_for(young))]


def test_nothing_is_removed_while_a_sequence_index_is_unreadable(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    (old,) = _failed_unit(ws, b"stored by a failed unit")
    _aged(ws, old)
    index, _frames = _sequence(ws, tmp_path)
    path = ws.store.path_for(index)
    os.chmod(path, 0o644)
    path.unlink()  # the index is gone: which frames the ledger names is unknown
    with pytest.raises(IntegrityError, match="gc removes nothing"):
        gc_content(ws, delete=True)
    ws.store.verify(old)
