"""The audit log: append-only and hash-chained.

Each event's hash covers the previous event's hash and every field of the event, so an edited,
deleted, inserted or reordered event breaks the chain at that point; the head row (last seq and
hash) catches a deleted tail. ``verify_chain`` names the first event that does not fit.

Limits (documented, not hidden): someone who can rewrite the whole database can rebuild a
consistent chain; exporting the head hash elsewhere (``soundstage audit head``) anchors it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from soundstage.domain.canonical import canonical_json
from soundstage.store.models import AuditEvent, AuditHead

GENESIS = "0" * 64


#: one encoder for every event (json.dumps with options builds a new one per call)
def event_hash(prev_hash: str, seq: int, production_id: str, at: str, actor: str, action: str,
               subject: str, payload: str) -> str:
    body = canonical_json([prev_hash, seq, production_id, at, actor, action, subject, payload])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def recompute(ev) -> str:
    """The hash an event (a row, or any object with its columns) must carry."""
    return event_hash(ev.prev_hash, ev.seq, ev.production_id, ev.at, ev.actor, ev.action, ev.subject, ev.payload)


def still_chained(ev, following_prev_hash: str | None, head) -> bool:
    """One event, checked alone: its own hash recomputes, and the next event - or, for the last
    event, the ledger head - names that hash. An event edited without rebuilding the chain fails."""
    linked = following_prev_hash
    if linked is None and head is not None and head.seq == ev.seq:
        linked = head.hash
    return recompute(ev) == ev.hash and linked == ev.hash


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def serialize(session: Session) -> None:
    """Take the ledger's write order now, for the rest of the caller's transaction: the audit head's
    row, written (PostgreSQL: its row lock; SQLite: the database's write lock).

    Every write appends to this log, so every writer takes the head at the latest when it appends.
    A transaction whose writes rest on what it reads first takes it before those reads: the guard's
    checks (``guard.check_job``: the claim, the registration of outputs, previews), a revocation's
    walk of the lineage (``quarantine_for_consent``), a job's status change (``jobstate.transition``:
    the head before the job's row, in every transaction, so two never wait on each other), and the
    read-modify-write of a signed or proven row (consents, performers, enrolments, keys). The two are then serial: a
    revocation committed first is seen by the decision, and one that comes second walks a lineage
    that already holds what the decision registered. Without it, a consent revoked while an output
    was being signed (after the decision, before its rows) quarantined only what existed, and the
    output registered active under the revoked consent (found by an adversary's test, both
    databases)."""
    transaction = session.get_transaction()
    if transaction is not None and session.info.get(_SERIALIZED) is transaction:
        return  # taken already in this transaction
    locked = session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq)
                             .execution_options(synchronize_session=False))
    if locked.rowcount == 0:  # a ledger with no event yet: the head append would create, created now
        session.add(AuditHead(id=1, seq=0, hash=GENESIS))
        session.flush()
    session.info[_SERIALIZED] = session.get_transaction()


#: ``session.info`` key: the transaction that holds the write order (``serialize``)
_SERIALIZED = "soundstage.audit.serialized"


def append(session: Session, *, production_id: str, actor: str, action: str, subject: str = "",
           payload: dict | None = None, at: str | None = None) -> AuditEvent:
    """Add one event inside the caller's transaction (which commits it with the work it records),
    under the ledger's write order (``serialize``: on SQLite the head's row lock below is no lock at
    all, and two transactions whose first write was an append took the same seq)."""
    serialize(session)
    # populate_existing: a head this session read earlier (the guard reads it to sign it into an
    # output's credentials) is refreshed from the row just locked, not reused stale - else two
    # transactions appending at once would both take the same seq (issue 14: two workers finishing)
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()
                           .execution_options(populate_existing=True)).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
        session.flush()
    seq = head.seq + 1
    at = at or now_iso()
    body = canonical_json(payload or {})
    digest = event_hash(head.hash, seq, production_id, at, actor, action, subject, body)
    event = AuditEvent(seq=seq, production_id=production_id, at=at, actor=actor, action=action,
                       subject=subject, payload=body, prev_hash=head.hash, hash=digest)
    session.add(event)
    head.seq, head.hash = seq, digest
    session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    first_bad_seq: int | None = None
    first_bad_position: int | None = None  # 1-based position in seq order
    problem: str = ""

    def to_dict(self) -> dict:
        return {"ok": self.ok, "events": self.events, "first_bad_seq": self.first_bad_seq,
                "first_bad_position": self.first_bad_position, "problem": self.problem}


def verify_chain(events: Iterable[AuditEvent], head: AuditHead | None) -> ChainReport:
    """Walk the events in seq order and name the first one that breaks the chain."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    last_seq = 0
    for position, ev in enumerate(events, start=1):
        count = position
        if ev.seq != expected_seq:
            kind = "missing (deleted)" if ev.seq > expected_seq else "out of order or inserted"
            return ChainReport(False, count, ev.seq, position,
                               f"expected event #{expected_seq} here but found #{ev.seq}: an event is {kind}")
        if ev.prev_hash != prev:
            return ChainReport(False, count, ev.seq, position,
                               f"event #{ev.seq} does not follow event #{ev.seq - 1} "
                               "(an event was inserted, deleted or reordered before it)")
        if recompute(ev) != ev.hash:
            return ChainReport(False, count, ev.seq, position,
                               f"event #{ev.seq} ({ev.action}) was edited after it was written")
        prev = ev.hash
        last_seq = ev.seq
        expected_seq += 1
    if head is not None and (head.seq != last_seq or head.hash != prev):
        return ChainReport(False, count, last_seq + 1, count + 1,
                           f"the log ends at event #{last_seq} but the ledger head records #{head.seq}: "
                           "events were deleted from the end")
    if head is None and count:
        return ChainReport(False, count, 1, 1, "the ledger head is missing")
    return ChainReport(True, count)


def verify_session(session: Session) -> ChainReport:
    events = session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()
    head = session.get(AuditHead, 1)
    return verify_chain(events, head)
