"""Appending to the audit chain after another transaction appended (SQLite and PostgreSQL): the
head read earlier in the same session is refreshed when it is locked, so the new event follows the
other one instead of taking its seq (two queue workers finishing jobs at the same moment)."""

from __future__ import annotations

from soundstage.safeguards import audit
from soundstage.services.ledger import verify_audit
from soundstage.store.models import AuditHead


def test_an_append_after_a_concurrent_append_follows_it(workspace):
    ws = workspace
    with ws.db.transaction() as first:
        seen = first.get(AuditHead, 1)  # as the guard reads the head to sign it into an output
        before = seen.seq
        with ws.db.transaction() as other:  # meanwhile another worker records something and commits
            audit.append(other, production_id=ws.production_id, actor="worker:b", action="test.other", subject="x")
        event = audit.append(first, production_id=ws.production_id, actor="worker:a", action="test.mine",
                             subject="y")
        assert event.seq == before + 2
    assert verify_audit(ws).ok
