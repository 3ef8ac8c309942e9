"""The hash chain catches every kind of tampering and names the first bad event."""

import pytest
from sqlalchemy import delete, select, update

from soundstage.safeguards import audit
from soundstage.store.models import AuditEvent, AuditHead


def _write_events(ws, n=5):
    with ws.unit_of_work() as s:
        for i in range(n):
            audit.append(s, production_id=ws.production_id, actor="maya", action="test.event",
                         subject=f"thing {i}", payload={"i": i})


def _verify(ws):
    with ws.unit_of_work() as s:
        return audit.verify_session(s)


def test_intact_chain_verifies(workspace):
    initial = _verify(workspace).events  # production.created, keys.created, built-in models
    _write_events(workspace)
    report = _verify(workspace)
    assert report.ok and report.events == initial + 5


def test_edited_event_is_named(workspace):
    _write_events(workspace)
    with workspace.unit_of_work() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(actor="mallory"))
    report = _verify(workspace)
    assert not report.ok and report.first_bad_seq == 4 and "edited" in report.problem


def test_edited_payload_is_named(workspace):
    _write_events(workspace)
    with workspace.unit_of_work() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(payload='{"i":99}'))
    assert _verify(workspace).first_bad_seq == 3


def test_deleted_event_is_named(workspace):
    _write_events(workspace)
    with workspace.unit_of_work() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq == 3))
    report = _verify(workspace)
    assert not report.ok and report.first_bad_seq == 4 and "deleted" in report.problem


def test_deleted_tail_is_caught_by_the_head(workspace):
    _write_events(workspace)
    last = _verify(workspace).events
    with workspace.unit_of_work() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq == last))
    report = _verify(workspace)
    assert not report.ok and report.first_bad_seq == last and "end" in report.problem


def test_inserted_event_is_named(workspace):
    _write_events(workspace)
    with workspace.unit_of_work() as s:
        # make room at seq 4 and insert a forged event whose hash is self-consistent
        last = s.get(AuditHead, 1).seq
        for seq in range(last, 3, -1):
            s.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(seq=seq + 1))
        prev = s.get(AuditEvent, 3)
        at = audit.now_iso()
        h = audit.event_hash(prev.hash, 4, workspace.production_id, at, "mallory", "forged", "x", "{}")
        s.add(AuditEvent(seq=4, production_id=workspace.production_id, at=at, actor="mallory",
                         action="forged", subject="x", payload="{}", prev_hash=prev.hash, hash=h))
        head = s.get(AuditHead, 1)
        head.seq = last + 1
    report = _verify(workspace)
    assert not report.ok and report.first_bad_seq == 5  # the event after the forgery no longer follows


def test_reordered_events_are_named(workspace):
    _write_events(workspace)
    with workspace.unit_of_work() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(seq=1000))
        s.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(seq=3))
        s.execute(update(AuditEvent).where(AuditEvent.seq == 1000).values(seq=4))
    report = _verify(workspace)
    assert not report.ok and report.first_bad_seq == 3


def test_events_commit_only_with_their_work(workspace):
    with pytest.raises(RuntimeError):
        with workspace.unit_of_work() as s:
            audit.append(s, production_id=workspace.production_id, actor="x", action="never", subject="")
            raise RuntimeError("the work failed")
    with workspace.unit_of_work() as s:
        actions = [e.action for e in s.scalars(select(AuditEvent))]
    assert "never" not in actions
    assert _verify(workspace).ok
