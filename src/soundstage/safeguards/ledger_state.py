"""The ledger proves its own state: the audit log, replayed, is the safeguard rows (issue 12).

Every safeguard-relevant change is an audit event that carries the full content it changes: a
consent's whole record (scope, window, document) when granted, the time it was revoked and every
asset that revocation quarantined, a performer's record (representatives, enrolled reference), an
asset's row and lineage, a model card, each approval verdict with the spec digest it approved,
each override and each move of a job. ``LedgerState`` folds those events, in log order, into the
rows they describe; nothing else is read.

- ``verify_ledger`` walks the chain once, folds it, and compares every safeguard row with the
  folded state (plus each asset's stored file): a row that differs is named with the field, what
  the log says and which event said it; a row no event describes is a forgery, a described row
  that is gone was deleted. ``soundstage audit verify`` and ``GET /api/audit/verify`` report it.
- ``prove_rows`` is the guard's check before a job runs: the job, its approvals, the consents of
  its performers, the performers (their representatives and reference face), the approvers, the
  model card and the input and reference assets (following their lineage to the consents that
  can quarantine them) are compared with their own events, found through the audit index by
  subject. A difference is an IntegrityError naming the row; nothing runs.

Events written before this proof existed lack some of that content: the fields they cannot prove
are reported as *unprovable (written before state proof)*, never as tampering, and the guard
compares what they do prove. Limits: someone who can rebuild the whole hash chain can also forge
matching events; anchoring the head elsewhere (``soundstage audit head``) is what catches that.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import re
import time
from collections import namedtuple
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from operator import itemgetter
from typing import Any, Callable, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from soundstage.domain.ids import format_asset_id, parse_asset_id
from soundstage.domain.jobs import TRANSITIONS
from soundstage.errors import IntegrityError, StateConflictError
from soundstage.safeguards import audit, keys
from soundstage.store.assets import AssetStore
from soundstage.store.models import (
    Approval,
    Asset,
    AssetConsent,
    AssetEdge,
    AuditEvent,
    AuditHead,
    ConsentRecord,
    Job,
    ModelRecord,
    Person,
)
from soundstage.vfx.sequences import SequenceIndex

__all__ = [
    "FIELDS",
    "LedgerState",
    "Difference",
    "Unprovable",
    "StateReport",
    "LedgerReport",
    "verify_ledger",
    "prove_rows",
    "prove_assets",
    "SIGNING_KEY_ACTIONS",
    "SIGNING_KEYS_SUBJECT",
    "recorded_signing_keys",
    "signing_key_differences",
]

#: the columns each safeguard table is proven on (created_at, timestamps of verdicts and the
#: job's cached decision are not safeguards: the guard decides again before every run)
FIELDS: dict[str, tuple[str, ...]] = {
    "person": ("production_id", "name", "kind", "roles", "details"),
    "consent": ("production_id", "performer_id", "data", "document_asset_id", "revoked_at", "suspended"),
    "model_card": ("production_id", "data"),
    "asset": ("production_id", "sha256", "kind", "media_type", "name", "size", "status", "job_id", "details"),
    "approval": ("person_id", "verdict", "note", "spec_digest", "preview_sha256"),
    "job": ("production_id", "kind", "spec", "spec_digest", "status", "requested_by", "overrides"),
}

LEGACY = "unprovable (written before state proof)"


class _Set:
    """The log says the value is set but not to what (a revocation recorded before state proof)."""

    def __repr__(self) -> str:
        return "a time (not recorded)"


SET = _Set()


class _Row:
    """One row as the log describes it: the fields it proves, the fields it cannot (``unknown``:
    written before state proof), the event that created it and the one that last set each field."""

    __slots__ = ("values", "seq", "unknown", "created", "seqs")

    def __init__(self, values: dict[str, Any], seq: int, unknown: frozenset[str] = frozenset(),
                 seqs: dict[str, int] | None = None) -> None:
        self.values = values
        self.seq = self.created = seq  # seq: the last event that changed the row
        self.unknown = unknown
        self.seqs = seqs

    def seq_of(self, name: str) -> int:
        return self.seqs.get(name, self.created) if self.seqs else self.created


# ----------------------------------------------------------------------------- the fold


def _asset_id(text: str) -> int:
    """An asset id as the log writes it (16 lowercase hex digits); anything else the slow way."""
    try:
        value = int(text, 16)
    except (TypeError, ValueError):
        return parse_asset_id(text)
    return value if len(text) == 16 and f"{value:016x}" == text else parse_asset_id(text)


def _target_of_action() -> dict[str, str]:
    targets: dict[str, set[str]] = {}
    for (_frm, to), action in TRANSITIONS.items():
        targets.setdefault(action, set()).add(to.value)
    if any(len(t) != 1 for t in targets.values()):
        raise RuntimeError("every job transition's audit action must name one target status")
    return {action: next(iter(t)) for action, t in targets.items()}


#: audit action -> the job status it moves to (one target per action, checked above)
JOB_TARGETS = _target_of_action()
#: an approver's verdict is recorded as f"job.{verdict}d": "job.approved" and (sic) "job.rejectd"
VERDICT_ACTIONS = ("job.approved", "job.rejectd")


class LedgerState:
    """The safeguard rows as the audit log describes them. ``apply`` one event at a time, in seq
    order; only the actions in ``ACTIONS`` change anything (their payloads are parsed, no other)."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[Any, _Row]] = {t: {} for t in FIELDS}
        self.edges: set[tuple[int, int]] = set()  # (child, parent)
        self.edges_known: set[int] = set()  # children whose every lineage edge the log names
        self.links: set[tuple[int, str]] = set()  # (asset, consent it relied on)
        self.links_known: set[int] = set()
        self.approvals_unknown: set[str] = set()  # jobs with a verdict recorded before state proof
        self.truncated_quarantine = False  # a revocation before state proof listed only part of it
        self.events = 0
        self.last_seq = 0

    # -- helpers
    def _row(self, table: str, key: Any, seq: int) -> _Row:
        row = self.rows[table].get(key)
        if row is None:  # the log changes a row it never created: every field is unproven
            row = self.rows[table][key] = _Row({}, seq, frozenset(FIELDS[table]))
        row.seq = seq
        return row

    def _new(self, table: str, key: Any, seq: int, values: dict, unknown: Iterable[str] = ()) -> _Row:
        if unknown:
            unknown = frozenset(unknown)
            values = {k: v for k, v in values.items() if k not in unknown}
        row = self.rows[table][key] = _Row(values, seq, unknown or frozenset())
        return row

    @staticmethod
    def _put(row: _Row, name: str, value: Any, seq: int) -> None:
        row.values[name] = value
        if name in row.unknown:
            row.unknown = row.unknown - {name}
        if row.seqs is None:
            row.seqs = {}
        row.seq = row.seqs[name] = seq

    # -- the one entry point
    def apply(self, ev) -> None:
        """Fold one audit event (anything with seq, production_id, actor, action, subject, payload)."""
        self.events += 1
        self.last_seq = ev.seq
        handler = ACTIONS.get(ev.action)
        if handler is not None:
            handler(self, ev, json.loads(ev.payload))

    # -- people
    def _crew_added(self, ev, p: dict) -> None:
        self._new("person", ev.subject, ev.seq, {"production_id": ev.production_id, "name": p.get("name"),
                                                 "kind": "crew", "roles": list(p.get("roles") or []),
                                                 "details": {}})

    def _talent_added(self, ev, p: dict) -> None:
        values = {"production_id": ev.production_id, "kind": "performer", "roles": [],
                  "name": p.get("name"), "details": {"performer": p.get("record")}}
        self._new("person", ev.subject, ev.seq, values, () if "record" in p else ("name", "details"))

    def _performer_changed(self, row: _Row, seq: int, performer: dict | None, reference: str | None = None) -> None:
        if "details" in row.values and performer is not None:
            details = {**row.values["details"], "performer": performer}
            if reference is not None:
                details["reference_asset"] = reference
            self._put(row, "details", details, seq)

    def _representative_added(self, ev, p: dict) -> None:
        row = self._row("person", ev.subject, ev.seq)
        performer = p.get("record")
        if performer is None and "details" in row.values:  # before state proof: the full list was recorded
            performer = {**(row.values["details"].get("performer") or {}),
                         "representatives": list(p.get("representatives") or [])}
        self._performer_changed(row, ev.seq, performer)

    def _reference_enrolled(self, ev, p: dict) -> None:
        row = self._row("person", ev.subject, ev.seq)
        performer = p.get("record")
        if performer is None and "details" in row.values:  # before state proof: the only change it made
            performer = {**(row.values["details"].get("performer") or {}), "has_reference": True}
        self._performer_changed(row, ev.seq, performer, p["asset"])
        asset = parse_asset_id(p["asset"])
        self.links.update((asset, cid) for cid in p.get("consents") or [])

    def _voice_enrolled(self, ev, p: dict) -> None:
        # a voice reference (issue 17): the asset's consents; the performer's record is unchanged
        asset = parse_asset_id(p["asset"])
        self.links.update((asset, cid) for cid in p.get("consents") or [])

    # -- consents
    def _consent_granted(self, ev, p: dict) -> None:
        doc = p.get("document_asset")
        values = {"production_id": ev.production_id, "performer_id": p.get("performer"),
                  "data": p.get("consent"), "document_asset_id": parse_asset_id(doc) if doc else None,
                  "revoked_at": None, "suspended": False}
        self._new("consent", ev.subject, ev.seq, values, () if "consent" in p else ("data", "document_asset_id"))

    def _consent_revoked(self, ev, p: dict) -> None:
        row = self._row("consent", ev.subject, ev.seq)
        self._put(row, "revoked_at", _iso_time(p["revoked_at"]) if p.get("revoked_at") else SET, ev.seq)
        assets = self.rows["asset"]
        for ref in p.get("quarantined") or []:
            try:
                asset_id = parse_asset_id(ref)
            except Exception:  # noqa: BLE001 - the "… and N more" line of a list written before state proof
                self.truncated_quarantine = True
                continue
            if asset_id in assets:
                self._put(assets[asset_id], "status", "quarantined", ev.seq)

    def _consent_suspension(self, ev, p: dict) -> None:
        self._put(self._row("consent", ev.subject, ev.seq), "suspended", ev.action == "consent.suspended", ev.seq)

    # -- models
    def _model_registered(self, ev, p: dict) -> None:
        self._new("model_card", ev.subject, ev.seq, {"production_id": ev.production_id, "data": p})

    # -- assets
    def _asset_ingested(self, ev, p: dict) -> None:
        # the hot path of a replay (one event per source asset): kept lean
        asset = _asset_id(ev.subject)
        seq = ev.seq
        if "details" in p:  # the payload is the row (kind, name, sha256, size, media_type, details) and more
            p["production_id"], p["status"], p["job_id"] = ev.production_id, "active", None
            self.rows["asset"][asset] = _Row(p, seq)
        else:
            values = {"production_id": ev.production_id, "sha256": p.get("sha256"), "kind": p.get("kind"),
                      "name": p.get("name"), "size": p.get("size"), "status": "active", "job_id": None}
            self._new("asset", asset, seq, values, ("media_type", "details"))
        for parent in p.get("parents") or ():
            self.edges.add((asset, _asset_id(parent)))
        self.edges_known.add(asset)
        self.links_known.add(asset)  # a source asset's consents come from enrolment events only

    def _asset_generated(self, ev, p: dict) -> None:
        asset = _asset_id(ev.subject)
        full = "details" in p
        values = {"production_id": ev.production_id, "sha256": p.get("sha256"), "kind": p.get("kind"),
                  "media_type": p.get("media_type"), "name": p.get("name"), "size": p.get("size"),
                  "status": "active", "job_id": p.get("job"), "details": p.get("details")}
        self._new("asset", asset, ev.seq, values, () if full else ("kind", "media_type", "name", "size", "details"))
        self.edges.update((asset, _asset_id(parent)) for parent in (p.get("edges") if full else p.get("parents")) or [])
        self.links.update((asset, cid) for cid in p.get("consents") or [])
        if full:
            self.edges_known.add(asset)
            self.links_known.add(asset)

    # -- jobs and verdicts
    def _job_submitted(self, ev, p: dict) -> None:
        values = {"production_id": ev.production_id, "kind": p.get("operation"), "spec": p.get("spec"),
                  "spec_digest": p.get("spec_digest"), "status": "submitted", "requested_by": ev.actor,
                  "overrides": []}
        unknown = set() if "spec" in p else {"spec", "spec_digest"}
        if "operation" not in p:
            unknown.add("kind")
        self._new("job", ev.subject, ev.seq, values, unknown)

    def _job_event(self, ev, p: dict) -> None:
        if ev.action in VERDICT_ACTIONS or (ev.action == "job.rejected" and "person" in p):
            if "person" in p and "role" in p:  # a verdict (job.rejected is the move to rejected)
                self._verdict(ev, p)
            return
        row = self._row("job", ev.subject, ev.seq)
        self._put(row, "status", p.get("to") or JOB_TARGETS[ev.action], ev.seq)
        if ev.action == "safeguard.override_requested" and "overrides" in row.values:
            entry = {k: p[k] for k in ("rule_id", "reason", "by", "at") if k in p}
            self._put(row, "overrides", [*row.values["overrides"], entry], ev.seq)

    def _verdict(self, ev, p: dict) -> None:
        keys = p.get("for")
        if keys is None:
            if p["role"] == "performer_rep":  # before state proof: which performers it covered is not recorded
                self.approvals_unknown.add(ev.subject)
                return
            keys = [p["role"]]
        values = {"person_id": p["person"], "verdict": "approve" if ev.action == "job.approved" else "reject",
                  "note": p.get("note", ""), "spec_digest": p.get("spec_digest"),
                  # the review preview the verdict names (issue 15); a verdict recorded before had none
                  "preview_sha256": p.get("preview_digest")}
        for key in keys:
            self._new("approval", (ev.subject, key), ev.seq, dict(values),
                      () if "spec_digest" in p else ("spec_digest",))


ACTIONS: dict[str, Callable[[LedgerState, Any, dict], None]] = {
    "crew.added": LedgerState._crew_added,
    "talent.added": LedgerState._talent_added,
    "talent.representative_added": LedgerState._representative_added,
    "talent.reference_enrolled": LedgerState._reference_enrolled,
    "talent.voice_enrolled": LedgerState._voice_enrolled,
    "consent.granted": LedgerState._consent_granted,
    "consent.revoked": LedgerState._consent_revoked,
    "consent.suspended": LedgerState._consent_suspension,
    "consent.resumed": LedgerState._consent_suspension,
    "model.registered": LedgerState._model_registered,
    "asset.ingested": LedgerState._asset_ingested,
    "asset.generated": LedgerState._asset_generated,
    "job.submitted": LedgerState._job_submitted,
    **{action: LedgerState._job_event for action in JOB_TARGETS},
    **{action: LedgerState._job_event for action in VERDICT_ACTIONS},
}
STATE_ACTIONS = tuple(sorted(ACTIONS))


# ----------------------------------------------------------------------------- differences


@dataclass(frozen=True)
class Difference:
    """One row that is not what the log says. ``kind``: ``differs`` (a field), ``forged`` (no event
    describes the row), ``missing`` (the log describes it, the ledger lost it) or ``file`` (the
    stored content)."""

    table: str
    row: str
    field: str
    expected: Any
    found: Any
    seq: int | None = None
    kind: str = "differs"

    def message(self) -> str:
        where = f" (event #{self.seq})" if self.seq else ""
        if self.kind == "forged":
            if self.table == "approval":
                job, role = self.row.split("/", 1)
                return (f"approval {self.row}: the {role} verdict on job {job} was not given on this job's spec: "
                        "no audit event records it (a row made outside soundstage, e.g. copied from another job)")
            return f"{self.table} {self.row}: no audit event records this row (a row made outside soundstage)"
        if self.kind == "missing":
            return f"{self.table} {self.row}: the audit log records this row{where} but the ledger no longer has it"
        if self.kind == "file":
            return f"{self.table} {self.row}: {self.found} (the ledger says {self.expected})"
        return (f"{self.table} {self.row}: {self.field} is {_show(self.found)}, "
                f"the audit log says {_show(self.expected)}{where}")

    def to_dict(self) -> dict:
        return {"table": self.table, "row": self.row, "field": self.field, "kind": self.kind,
                "expected": _plain(self.expected), "found": _plain(self.found), "seq": self.seq,
                "message": self.message()}


@dataclass(frozen=True)
class Unprovable:
    table: str
    row: str
    fields: tuple[str, ...]

    def message(self) -> str:
        return f"{self.table} {self.row}: {', '.join(self.fields)} {LEGACY}"

    def to_dict(self) -> dict:
        return {"table": self.table, "row": self.row, "fields": list(self.fields), "reason": LEGACY}


@dataclass
class StateReport:
    rows: int = 0
    files: int = 0
    deep: bool = False
    differences: list[Difference] = field(default_factory=list)
    unprovable: list[Unprovable] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict:
        return {"ok": self.ok, "rows": self.rows, "files": self.files, "deep": self.deep,
                "differences": [d.to_dict() for d in self.differences],
                "unprovable": [u.to_dict() for u in self.unprovable]}


@dataclass
class LedgerReport:
    """``audit verify``: the chain, then (when the chain holds) the state it proves."""

    chain: audit.ChainReport
    state: StateReport | None

    @property
    def ok(self) -> bool:
        return self.chain.ok and self.state is not None and self.state.ok

    @property
    def events(self) -> int:
        return self.chain.events

    @property
    def first_bad_seq(self) -> int | None:
        return self.chain.first_bad_seq

    @property
    def problem(self) -> str:
        if not self.chain.ok or self.state is None:
            return self.chain.problem
        if self.state.differences:
            n = len(self.state.differences)
            return (f"{n} ledger row{'s' if n != 1 else ''} differ{'s' if n == 1 else ''} from the state the audit "
                    f"log describes; first: {self.state.differences[0].message()}")
        return ""

    def to_dict(self) -> dict:
        return {**self.chain.to_dict(), "ok": self.ok, "chain_ok": self.chain.ok, "problem": self.problem,
                "state": self.state.to_dict() if self.state is not None else None}


# ----------------------------------------------------------------------------- reading rows


def _iso_time(value) -> str | None:
    """A timestamp as UTC ISO-8601 (naive ones, as SQLite returns them, are UTC)."""
    if value is None or value is SET:
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


_COLUMNS = {
    "person": (Person, ("id",)),
    "consent": (ConsentRecord, ("id",)),
    "model_card": (ModelRecord, ("id",)),
    "asset": (Asset, ("id",)),
    "approval": (Approval, ("job_id", "role")),
    "job": (Job, ("id",)),
}
_NORMALISE: dict[str, Callable[[Any], Any]] = {
    "roles": lambda v: v or [],
    "details": lambda v: v or {},
    "overrides": lambda v: v or [],
    "revoked_at": _iso_time,
    "suspended": bool,
    "note": lambda v: v or "",
}


def _read(s: Session, table: str, where=None) -> dict[Any, dict]:
    """The current rows of a table as {key: {field: value}}, read with plain column queries (no
    ORM identity map: what is committed now, not what this session loaded earlier)."""
    model, key_cols = _COLUMNS[table]
    names = FIELDS[table]
    query = select(*(getattr(model, c) for c in key_cols), *(getattr(model, n) for n in names))
    if where is not None:
        query = query.where(where)
    nk = len(key_cols)
    fixes = [(n, _NORMALISE[n]) for n in names if n in _NORMALISE]
    out = {}
    for r in s.execute(query):
        values = dict(zip(names, r[nk:]))
        for n, fix in fixes:
            values[n] = fix(values[n])
        out[r[0] if nk == 1 else tuple(r[:nk])] = values
    return out


def _row_name(table: str, key: Any) -> str:
    if table == "asset":
        return format_asset_id(key)
    if table == "approval":
        return f"{key[0]}/{key[1]}"
    return str(key)


def _leaves(path: str, expected: Any, found: Any, out: list, limit: int = 3) -> None:
    """The differing leaves of two JSON values, as (dotted path, expected, found)."""
    if len(out) >= limit:
        return
    if isinstance(expected, dict) and isinstance(found, dict):
        for k in sorted(set(expected) | set(found), key=str):
            if expected.get(k, _MISSING) != found.get(k, _MISSING):
                _leaves(f"{path}.{k}", expected.get(k, _MISSING), found.get(k, _MISSING), out, limit)
        return
    out.append((path, expected, found))


_MISSING = type("_Missing", (), {"__repr__": lambda self: "(absent)"})()


def _compare(table: str, key: Any, expected: _Row | None, found: dict | None, out: list[Difference],
             unprovable: list[Unprovable] | None = None) -> None:
    name = _row_name(table, key)
    if expected is None:
        out.append(Difference(table, name, "row", None, "present", None, "forged"))
        return
    if found is None:
        out.append(Difference(table, name, "row", "present", None, expected.seq, "missing"))
        return
    values = expected.values
    for f in FIELDS[table]:
        if f not in values:  # unknown: written before state proof
            continue
        want, got = values[f], found.get(f)
        if want is SET:
            if got is None:
                out.append(Difference(table, name, f, SET, None, expected.seq_of(f)))
            continue
        if want != got:
            leaves: list = []
            _leaves(f, want, got, leaves)
            out.extend(Difference(table, name, p, w, g, expected.seq_of(f)) for p, w, g in leaves)
    if expected.unknown and unprovable is not None:
        unprovable.append(Unprovable(table, name, tuple(sorted(expected.unknown))))


# ----------------------------------------------------------------------------- audit verify

_EVENT_COLUMNS = tuple(AuditEvent.__table__.c[n] for n in ("seq", "production_id", "at", "actor", "action", "subject",
                                                              "payload", "prev_hash", "hash"))


def verify_ledger(s: Session, store, *, deep: bool = False) -> LedgerReport:
    """Walk the hash chain once, fold it, prove every safeguard row and stored file against it.

    Every legitimate change appends an audit event, which moves the ledger head: when the head moved
    while this read the log and the rows (a busy production), a result that is not clean is read
    again (a few times) rather than reported - only rows that differ in a quiet read are."""
    with _no_gc():
        for _attempt in range(_ATTEMPTS):
            report, moved = _verify_once(s, store, deep)
            if report.ok or not moved:
                return report
        return report


def _ledger_head(db) -> tuple | None:
    row = db.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    return tuple(row) if row is not None else None


#: reads of a ledger whose head moved meanwhile, before the last one's result stands
_ATTEMPTS = 8


@contextmanager
def _no_gc():
    """A replay allocates a few objects per event and per row and frees none of them until the end:
    the cyclic collector, run every few hundred allocations, would walk them all again and again
    (a third of the time at 100,000 events). Nothing here makes reference cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


#: an audit event as the replay reads it (a plain named tuple: its fields are read a dozen times each)
Event = namedtuple("Event", "seq production_id at actor action subject payload prev_hash hash")


def _verify_once(s: Session, store, deep: bool) -> tuple[LedgerReport, bool]:
    """One read of the log and the rows, and whether the ledger head moved meanwhile."""
    conn = s.connection()  # plain Core reads: no ORM result machinery for 100,000s of rows
    before = _ledger_head(conn)
    events = list(map(Event._make, conn.execute(select(*_EVENT_COLUMNS).order_by(AuditEvent.seq))))
    head = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    state = LedgerState()

    def folded():
        # verify_chain takes each event and asks for the next only once it fits the chain: an event
        # is folded after the chain accepted it, and nothing after the first bad one is
        for ev in events:
            yield ev
            state.apply(ev)

    chain = audit.verify_chain(folded(), head)
    if not chain.ok:
        return LedgerReport(chain, None), _ledger_head(conn) != before
    report = LedgerReport(chain, compare_state(s, state, store, deep=deep))
    return report, _ledger_head(conn) != before


def compare_state(s: Session, state: LedgerState, store, *, deep: bool = False) -> StateReport:
    """Every safeguard row against the folded state, and every asset's stored file."""
    report = StateReport(deep=deep)
    diffs, unprovable = report.differences, report.unprovable
    files: list[tuple] = []
    conn = s.connection()  # plain Core reads: no ORM result machinery for 100,000s of rows
    for table, names in FIELDS.items():
        model, key_cols = _COLUMNS[table]
        cols = model.__table__.c
        nk = len(key_cols)
        expected = state.rows[table]
        wanted = itemgetter(*names)
        fixes = [(n, _NORMALISE[n]) for n in names if n in _NORMALISE]
        seen = set()
        asset_table = table == "asset"
        for r in conn.execute(select(*(cols[c] for c in key_cols), *(cols[n] for n in names))):
            key = r[0] if nk == 1 else tuple(r[:nk])
            seen.add(key)
            exp = expected.get(key)
            if asset_table and exp is not None:  # a forged row is reported as such, not for its file
                files.append((key, r[2], r[6], r[9], r[4]))  # sha256, size, details, media_type
            if exp is not None and not exp.unknown:
                try:
                    if wanted(exp.values) == tuple(r[nk:]):
                        continue  # exactly what the log says (the common case: no dict built)
                except KeyError:
                    pass
            values = dict(zip(names, r[nk:]))
            for n, fix in fixes:
                values[n] = fix(values[n])
            if exp is None and table == "approval" and key[0] in state.approvals_unknown:
                unprovable.append(Unprovable(table, _row_name(table, key), names))
                continue
            if exp is not None and asset_table and state.truncated_quarantine \
                    and values["status"] == "quarantined" and exp.values.get("status") == "active":
                exp = _Row({k: v for k, v in exp.values.items() if k != "status"}, exp.created,
                           exp.unknown | {"status"}, exp.seqs)
            _compare(table, key, exp, values, diffs, unprovable)
        for key, exp in expected.items():
            if key not in seen:
                _compare(table, key, exp, None, diffs)
        report.rows += len(seen)
    edge, link = AssetEdge.__table__.c, AssetConsent.__table__.c
    _compare_pairs(conn, "asset_edge", select(edge.child_id, edge.parent_id), state.edges,
                   state.edges_known, state.rows["asset"], diffs, unprovable,
                   lambda c, p: f"{format_asset_id(c)}<-{format_asset_id(p)}")
    _compare_pairs(conn, "asset_consent", select(link.asset_id, link.consent_id), state.links,
                   state.links_known, state.rows["asset"], diffs, unprovable,
                   lambda a, c: f"{format_asset_id(a)}/{c}")
    root = os.fspath(store.root) if isinstance(store, AssetStore) else None  # the local folder's fast path
    for asset_id, sha, size, details, media_type in files:
        report.files += _check_files(store, root, asset_id, sha, size, details, media_type, deep, diffs)
    return report


def _compare_pairs(conn, table, query, expected: set, known: set, assets: dict, diffs, unprovable, name) -> None:
    found = set(map(tuple, conn.execute(query)))
    legacy: set = set()
    for pair in found - expected:
        if pair[0] in known:
            diffs.append(Difference(table, name(*pair), "row", None, "present", None, "forged"))
        elif pair[0] in assets:
            legacy.add(pair[0])
        # else: the asset itself has no event and is reported as forged
    for pair in expected - found:
        if pair[0] in known:
            diffs.append(Difference(table, name(*pair), "row", "present", None, assets[pair[0]].seq
                                    if pair[0] in assets else None, "missing"))
    for asset in sorted(legacy):
        unprovable.append(Unprovable(table, format_asset_id(asset), ("rows",)))


def _check_files(store, root: str, asset_id: int, sha: str, size: int, details: dict | None, media_type: str,
                 deep: bool, diffs: list[Difference]) -> int:
    """The stored content of one asset: present, of its recorded size (and, deep, of its hash);
    an image sequence's frames and a signed sidecar too. Returns how many files were checked."""
    problem = _check_blob(store, root, sha, size, deep)
    if problem:
        diffs.append(Difference("asset", format_asset_id(asset_id), "file", f"stored file {str(sha)[:12]}…",
                                f"stored file {problem}", None, "file"))
        return 1
    checked = 1
    sidecar = details.get("c2pa_sidecar_sha256") if details else None
    if sidecar:
        checked += 1
        problem = _check_blob(store, root, sidecar, None, deep)
        if problem:
            diffs.append(Difference("asset", format_asset_id(asset_id), "file", f"signed sidecar {sidecar[:12]}…",
                                    f"signed sidecar {problem}", None, "file"))
            return checked
    if media_type == _SEQUENCE_MEDIA_TYPE:
        name = format_asset_id(asset_id)
        try:
            index = SequenceIndex.from_bytes(store.read_bytes(sha), source=name)
        except Exception as exc:  # noqa: BLE001 - reported as the asset's problem
            diffs.append(Difference("asset", name, "file", "a sequence index", f"unreadable index ({exc})",
                                    None, "file"))
            return checked
        for frame in index.frames:
            checked += 1
            problem = _check_blob(store, root, frame.sha256, None, deep)
            if problem:
                diffs.append(Difference("asset", name, "file", f"frame {frame.name} {frame.sha256[:12]}…",
                                        f"frame {frame.name} {problem}", None, "file"))
                break
    return checked


#: vfx.sequences.SEQUENCE_MEDIA_TYPE (a test holds the two equal; importing it here per asset cost more
#: than the check)
_SEQUENCE_MEDIA_TYPE = "application/vnd.soundstage.image-sequence+json"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _check_blob(store, root: str | None, sha: str, size: int | None, deep: bool) -> str | None:
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        return f"cannot be found (not a sha256 digest: {sha!r})"
    if root is None:  # any other backend (object storage), through the store's interface
        stored = store.stored_size(sha)
        if stored is None:
            return "is missing from the store"
        if size is not None and stored != size:
            return f"is {stored} bytes, not {size}"
        if deep:
            try:
                store.verify(sha)
            except IntegrityError:
                return "does not match its sha256 (altered in the store)"
        return None
    path = f"{root}{os.sep}{sha[:2]}{os.sep}{sha[2:]}"  # AssetStore.path_for, without a Path per file
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "is missing from the store"
    if size is not None and st.st_size != size:
        return f"is {st.st_size} bytes, not {size}"
    if deep:
        with open(path, "rb") as fh:
            if hashlib.file_digest(fh, "sha256").hexdigest() != sha:
                return "does not match its sha256 (altered on disk)"
    return None


# ----------------------------------------------------------------------------- the guard's proof


def _chunks(items: list, size: int = 500):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _subject_events(s: Session, subjects: set[str], refused: str = "nothing ran") -> dict[int, Any]:
    """Every state-changing event of the subjects, through ix_audit_subject_action_seq; then each one
    checked against the chain: its own hash recomputes and the next event (or the head) names it."""
    found: dict[int, Any] = {}
    fetched: set[str] = set()
    pending = set(subjects)
    while pending:
        fetched |= pending
        got = []
        for chunk in _chunks(sorted(pending)):
            got.extend(s.execute(select(*_EVENT_COLUMNS).where(AuditEvent.subject.in_(chunk),
                                                               AuditEvent.action.in_(STATE_ACTIONS))).all())
        pending = set()
        for ev in got:
            found[ev.seq] = ev
            pending |= _leads(ev)
        pending -= fetched
    head = s.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    following: dict[int, str] = {}
    for chunk in _chunks(sorted(seq + 1 for seq in found)):
        following.update((r.seq, r.prev_hash) for r in s.execute(
            select(AuditEvent.seq, AuditEvent.prev_hash).where(AuditEvent.seq.in_(chunk))))
    for seq, ev in found.items():
        if not audit.still_chained(ev, following.get(seq + 1), head):
            raise IntegrityError(f"the audit event recording {ev.action} of {ev.subject} (#{seq}) was edited, so "
                                 f"the rows it describes cannot be proven; {refused}",
                                 hint="soundstage audit verify names what changed")
    return found


def _leads(ev) -> set[str]:
    """Subjects an event points to whose events bear on the rows it describes: an asset's parents
    and the consents it relied on (a revocation of any quarantines it), a reference face's
    performer (whose enrolment links it to consents)."""
    if ev.action not in ("asset.ingested", "asset.generated", "talent.reference_enrolled", "talent.voice_enrolled"):
        return set()
    p = json.loads(ev.payload)
    leads = set(p.get("consents") or [])
    if ev.action in ("talent.reference_enrolled", "talent.voice_enrolled"):
        leads.add(p["asset"])
    else:
        leads |= set(p.get("edges") or p.get("parents") or [])
        performer = (p.get("details") or {}).get("performer")
        if performer:
            leads.add(performer)
    return leads


def _fold(events: dict[int, Any]) -> LedgerState:
    state = LedgerState()
    for seq in sorted(events):
        state.apply(events[seq])
    return state


def _prove(s: Session, subjects: Callable[[], set[str]], checks: Callable[[LedgerState], list[Difference]],
           refused: str = "nothing ran") -> None:
    """Fold the subjects' events and run ``checks``. A row and the event describing it are committed
    together, and every such commit moves the ledger head: a difference seen while the head stayed
    put is the rows' own (refused); one seen while it moved may be a change that committed between
    reading the log and the rows (racing approvals), so the read is repeated."""
    for attempt in range(_ATTEMPTS):
        before = _ledger_head(s)
        state = _fold(_subject_events(s, subjects(), refused))
        problems = checks(state)
        if not problems:
            return
        if _ledger_head(s) == before:
            break
        time.sleep(0.002 * (attempt + 1))
    else:
        raise StateConflictError("the ledger kept changing while the rows this needs were being proven; "
                                 f"{refused}", hint="try again")
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    raise IntegrityError(f"{first.message()}{more}; the ledger does not match its audit log, so {refused}",
                         hint="soundstage audit verify names every row that differs")


def _check_assets(s: Session, state: LedgerState, asset_ids: Iterable[int], out: list[Difference]) -> None:
    ids = sorted(set(asset_ids))
    if not ids:
        return
    found = {}
    for chunk in _chunks(ids):
        found.update(_read(s, "asset", Asset.id.in_(chunk)))
    for asset_id in ids:
        _compare("asset", asset_id, state.rows["asset"].get(asset_id), found.get(asset_id), out)


def prove_event(s: Session, seq: int, refused: str = "nothing relies on it") -> Any:
    """The audit event ``seq``, once it is proven part of the chain (its own hash recomputes and the
    next event, or the head, names it): a row inserted or edited in the audit table without
    rebuilding the chain is an IntegrityError. Returns the event (its columns)."""
    ev = s.execute(select(*_EVENT_COLUMNS).where(AuditEvent.seq == seq)).first()
    if ev is None:
        raise IntegrityError(f"no audit event #{seq}; {refused}")
    following = s.execute(select(AuditEvent.prev_hash).where(AuditEvent.seq == seq + 1)).scalar_one_or_none()
    head = s.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    if not audit.still_chained(ev, following, head):
        raise IntegrityError(f"the audit event recording {ev.action} of {ev.subject} (#{seq}) is not the chain's; "
                             f"{refused}", hint="soundstage audit verify names what changed")
    return ev


def prove_assets(s: Session, asset_ids: Iterable[int], refused: str = "nothing leaves the store") -> None:
    """The asset rows (and the lineage that can quarantine them) are what the log says, or
    IntegrityError naming the first that is not. For export and download."""
    ids = [int(a) for a in asset_ids]

    def checks(state: LedgerState) -> list[Difference]:
        out: list[Difference] = []
        _check_assets(s, state, ids, out)
        return out

    _prove(s, lambda: {format_asset_id(a) for a in ids}, checks, refused)


def prove_rows(s: Session, job_id: str, spec, refused: str = "nothing ran") -> None:
    """The guard's check before a job runs: every row the run relies on is the state its latest
    audit events describe, or IntegrityError naming the row (nothing runs).

    Proven: the job (spec, digest, status, overrides), every verdict on it, every consent of its
    performers (what the decision reads), the performers' records and their enrolled reference
    assets, the approvers' records (their roles), the model card, and the input assets - with
    their lineage's consents, so an asset a revocation quarantined cannot come back as active."""
    performers = sorted(set(spec.performers))
    inputs = [parse_asset_id(ref) for ref in spec.inputs]

    def subjects() -> set[str]:
        consents = set(s.scalars(select(ConsentRecord.id).where(ConsentRecord.performer_id.in_(performers))))
        approvers = set(s.scalars(select(Approval.person_id).where(Approval.job_id == job_id)))
        return {job_id, spec.model_id, *performers, *consents, *approvers, *(format_asset_id(a) for a in inputs)}

    def checks(state: LedgerState) -> list[Difference]:
        out: list[Difference] = []
        _compare("job", job_id, state.rows["job"].get(job_id), _read(s, "job", Job.id == job_id).get(job_id), out)
        found = _read(s, "approval", Approval.job_id == job_id)
        expected = {k: r for k, r in state.rows["approval"].items() if k[0] == job_id}
        for key in sorted(set(found) | set(expected)):
            if key not in expected and job_id in state.approvals_unknown:
                continue  # a performer_rep verdict recorded before state proof
            _compare("approval", key, expected.get(key), found.get(key), out)
        found = _read(s, "consent", ConsentRecord.performer_id.in_(performers))
        consents = state.rows["consent"]
        for key in sorted(found):  # (a row moved to this performer is compared with its own events)
            _compare("consent", key, consents.get(key), found[key], out)
        for key in sorted(k for k, r in consents.items() if r.values.get("performer_id") in performers):
            if key not in found:
                _compare("consent", key, consents[key], None, out)
        people = sorted({*performers, *(v["person_id"] for v in _read(s, "approval", Approval.job_id == job_id)
                                        .values())})
        found = _read(s, "person", Person.id.in_(people))
        references = set()
        for pid in people:
            _compare("person", pid, state.rows["person"].get(pid), found.get(pid), out)
            for details in ((found.get(pid) or {}).get("details"),
                            state.rows["person"][pid].values.get("details") if pid in state.rows["person"] else None):
                if details and details.get("reference_asset") and pid in performers:
                    references.add(parse_asset_id(details["reference_asset"]))
        model = _read(s, "model_card", ModelRecord.id == spec.model_id).get(spec.model_id)
        if model is not None or spec.model_id in state.rows["model_card"]:
            _compare("model_card", spec.model_id, state.rows["model_card"].get(spec.model_id), model, out)
        _check_assets(s, state, [*inputs, *references], out)
        return out

    _prove(s, subjects, checks, refused)


# ----------------------------------------------------------------------------- the signing keys

#: the events that record a production's signing keys, with the SHA-256 of ca.pem, of the CA the
#: signing chain ends at and of its leaf (services.keys_service). A soundstage from before recorded
#: `soundstage init`'s keys as keys.created of "production CA", without fingerprints: such events
#: are not read (appending one does not unpin anything), and the watermark key has its own subject.
SIGNING_KEY_ACTIONS = ("keys.created", "keys.imported", "keys.renewed")
SIGNING_KEYS_SUBJECT = "signing keys"


def recorded_signing_keys(s: Session, refused: str = "nothing is signed") -> keys.RecordedKeys | None:
    """The signing keys the audit log records last, once that event is proven part of the chain.
    None: no signing-keys event (a workspace from before they were recorded). IntegrityError: the
    event was edited, or it names no fingerprints."""
    seq = s.scalar(select(AuditEvent.seq)
                   .where(AuditEvent.subject == SIGNING_KEYS_SUBJECT, AuditEvent.action.in_(SIGNING_KEY_ACTIONS))
                   .order_by(AuditEvent.seq.desc()).limit(1))
    if seq is None:
        return None
    ev = prove_event(s, seq, refused)
    try:
        payload = json.loads(ev.payload)
    except ValueError:
        payload = None
    recorded = keys.RecordedKeys.from_payload(payload, seq=ev.seq, action=ev.action)
    if recorded is None:
        raise IntegrityError(f"the audit event recording {ev.action} of {SIGNING_KEYS_SUBJECT} (#{seq}) names no "
                             f"certificate fingerprints; {refused}", hint="soundstage audit log --action 'keys.*'")
    return recorded


def signing_key_differences(s: Session, keys_dir) -> tuple[list[Difference], list[Unprovable]]:
    """``audit verify``'s word on the key directory: each certificate in it that is not the one
    the audit log records last (ca.pem, the CA chain.pem ends at, its leaf), or, for keys recorded
    before fingerprints were, that they cannot be proven."""
    recorded = recorded_signing_keys(s, "the key directory cannot be checked")
    if recorded is None:
        return [], [Unprovable("keys", str(keys_dir), ("ca_sha256", "leaf_sha256"))]
    return [Difference("keys", str(m.path), m.field, m.recorded, m.found, recorded.seq)
            for m in keys.recorded_mismatches(keys_dir, recorded)], []


def _plain(value: Any) -> Any:
    if value is SET:
        return "(set)"
    if value is _MISSING:
        return None
    return value


def _show(value: Any) -> str:
    if value is _MISSING:
        return "absent"
    if value is None:
        return "empty"
    text = json.dumps(value, default=repr, ensure_ascii=False) if not isinstance(value, (str, _Set)) else (
        repr(value) if isinstance(value, _Set) else value)
    return text if len(text) <= 120 else text[:117] + "…"
