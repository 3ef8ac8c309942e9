"""Performers' consents: grant (signed by who records it), show, list, revoke, suspend and resume,
and the quarantine a revocation sends down the lineage graph.

Every change is one transaction with its audit event and the signer's signature.
"""

from __future__ import annotations

import difflib
import uuid
from datetime import datetime
from pathlib import Path
from typing import Iterable

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from soundstage.clock import as_utc, utcnow
from soundstage.domain.permissions import may_act_for_performer
from soundstage.domain.safeguards import (
    Consent,
    ConsentKind,
    ConsentScope,
    OperationKind,
)
from soundstage.errors import (
    AlreadyExistsError,
    NotFoundError,
    PermissionDeniedError,
    SpecError,
)
from soundstage.safeguards import audit
from soundstage.safeguards.consent_rules import MISSING_WHAT, missing_requirements, operations_for
from soundstage.safeguards.guard import IngestRequest, format_asset_id, ingest
from soundstage.safeguards.resolve import consent_of, performer_of
from soundstage.safeguards.signatures import Signer, sign_consent_action
from soundstage.services.people_service import find_person
from soundstage.services.workspace import Workspace
from soundstage.store.models import (
    Asset,
    AssetConsent,
    ConsentRecord,
    Person,
)


def consent_status(c: ConsentRecord, now: datetime) -> str:
    consent = Consent.from_dict(c.data)
    if c.revoked_at is not None:
        return "revoked"
    if c.suspended:
        return "suspended"
    if consent.valid_until is not None and now >= consent.valid_until:
        return "expired"
    if now < consent.valid_from:
        return "not_yet_valid"
    return "active"


def consent_view(c: ConsentRecord) -> dict:
    """A consent as shown: its lifecycle ``status`` (active, revoked...), and ``missing``: what it
    lacks to authorise any job at all (each a rule id and the thing to supply). A consent with
    anything missing is stored as granted, since the record is evidence of what was signed, but
    ``valid`` is false and every job relying on it is denied naming the same rules."""
    consent = consent_of(c)
    missing = [{"rule_id": rule, "what": MISSING_WHAT[rule]} for rule in missing_requirements(consent)]
    return {**consent.to_dict(), "status": consent_status(c, utcnow()), "missing": missing, "valid": not missing,
            "document_asset": format_asset_id(c.document_asset_id) if c.document_asset_id else None}


def _choice(value: str, choices: Iterable[str], field: str, what: str, listed: Iterable[str] | None = None,
            listed_as: str = "") -> None:
    """SpecError for a value not among `choices`, with a did-you-mean (among `listed` first, the
    values worth suggesting) and that list."""
    options = list(choices)
    if value in options:
        return
    shown = list(listed) if listed is not None else options
    typed = value.strip().lower()
    close = [o for o in shown if typed and o.split("_", 1)[-1] == typed][:1]  # 'deage' -> 'likeness_deage'
    close = close or difflib.get_close_matches(typed, shown, n=1, cutoff=0.5) or \
        difflib.get_close_matches(typed, options, n=1, cutoff=0.6)
    guess = f"did you mean '{close[0]}'? " if close else ""
    raise SpecError(f"unknown {what} '{value}'", field=field,
                    hint=f"{guess}{listed_as or what + 's'}: {', '.join(shown)}")


def grant_consent(ws: Workspace, performer_ref: str, *, kind: str, operations: list[str], description: str,
                  valid_from: datetime | None = None, valid_until: datetime | None = None,
                  scenes: list[str] = (), shots: list[str] = (), max_alteration: float = 0.0,
                  media: list[str] = ("previz", "final"), territory: list[str] = ("worldwide",),
                  signed_separately: bool = False, representation: str = "none", compensation_ref: str = "",
                  granted_by: str | None = None, document: Path | None = None, signer: Signer,
                  actor: str | None = None) -> dict:
    """Record a consent, signed by the person recording it (``signer``): rights clearance, legal,
    or the performer's own representative - the matrix's ``consents.grant``. The signed document,
    when given, is stored as an asset by its hash."""
    actor = actor or signer.name
    _choice(kind, (k.value for k in ConsentKind), "kind", "consent kind")
    covered = [o.value for o in operations_for(ConsentKind(kind))]
    for op in operations:
        _choice(op, (o.value for o in OperationKind), "operations", "operation", covered,
                f"operations a consent of kind {kind} covers")
    consent_kind = ConsentKind(kind)
    ops = tuple(OperationKind(o) for o in operations)
    if not ops:
        raise SpecError("a consent must name the operations it permits", field="operations")
    if not description.strip():
        raise SpecError("a consent needs a reasonably specific description of the intended use",
                        field="description")
    if not 0.0 <= max_alteration <= 1.0:
        raise SpecError("must be between 0 and 1", field="max_alteration")
    if representation not in ("counsel", "union", "none"):
        raise SpecError("must be counsel, union or none", field="representation")
    start = as_utc(valid_from) or utcnow()
    end = as_utc(valid_until)
    if end is not None and end <= start:
        raise SpecError("the consent ends before it starts", field="valid_until")
    with ws.unit_of_work() as s:
        row = find_person(s, ws, performer_ref, kind="performer")
        performer = performer_of(row)
        _check_may_act_for(s, ws, signer, row, "consents.grant")
        doc_asset = None
        doc_sha = None
        if document is not None:
            if not document.is_file():
                raise NotFoundError(f"consent document not found: {document}")
            doc_asset = ingest(s, ws.store, IngestRequest(
                production_id=ws.production_id, actor=actor, kind="consent_document",
                media_type="application/pdf" if document.suffix.lower() == ".pdf" else "application/octet-stream",
                name=document.name, path=document, details={"performer": row.id}))
            doc_sha = doc_asset.sha256
        cid = "c-" + uuid.uuid4().hex[:10]
        consent = Consent(
            id=cid, performer_id=row.id, production_id=ws.production_id, kind=consent_kind,
            scope=ConsentScope(operations=ops, scenes=tuple(scenes), shots=tuple(shots),
                               max_alteration=max_alteration, media=tuple(media), territory=tuple(territory)),
            description=description.strip(), valid_from=start, valid_until=end,
            signed_separately=signed_separately, representation=representation,
            compensation_ref=compensation_ref, document_sha256=doc_sha,
            granted_by=granted_by or performer.consent_authority, revoked_at=None, suspended=False)
        rec = ConsentRecord(id=cid, production_id=ws.production_id, performer_id=row.id, data=consent.to_dict(),
                            document_asset_id=doc_asset.id if doc_asset else None, revoked_at=None,
                            suspended=False, created_by=actor, created_at=utcnow())
        sign_consent_action(rec, signer, ws.production_id, action="granted", reason=description.strip(),
                            at=rec.created_at)
        s.add(rec)
        s.flush()
        audit.append(s, production_id=ws.production_id, actor=actor, action="consent.granted", subject=cid,
                     payload={"performer": row.id, "kind": consent_kind.value,
                              "operations": [o.value for o in ops], "valid_until": end.isoformat() if end else None,
                              "document_sha256": doc_sha, "key": signer.key_id, "consent": consent.to_dict(),
                              "document_asset": format_asset_id(doc_asset.id) if doc_asset else None})
        return consent_view(rec)


def show_consent(ws: Workspace, consent_id: str) -> dict:
    with ws.reading() as s:
        rec = _consent_row(s, ws, consent_id)
        view = consent_view(rec)
        view["assets_relying_on_it"] = [format_asset_id(a.asset_id) for a in s.scalars(
            select(AssetConsent).where(AssetConsent.consent_id == consent_id))]
        return view


def list_consents(ws: Workspace, performer_ref: str | None = None) -> list[dict]:
    with ws.reading() as s:
        q = select(ConsentRecord).where(ConsentRecord.production_id == ws.production_id)
        if performer_ref:
            q = q.where(ConsentRecord.performer_id == find_person(s, ws, performer_ref, kind="performer").id)
        return [consent_view(c) for c in s.scalars(q.order_by(ConsentRecord.created_at))]


def _consent_row(s: Session, ws: Workspace, consent_id: str) -> ConsentRecord:
    rec = s.get(ConsentRecord, consent_id)
    if rec is None or rec.production_id != ws.production_id:
        raise NotFoundError(f"no consent {consent_id} in this production")
    return rec


def _check_may_act_for(s: Session, ws: Workspace, signer: Signer, performer: Person, action: str) -> Person:
    """Granting, revoking, suspending or resuming a consent: a registered crew member holding a role
    the matrix allows for ``action`` - rights clearance, legal, or the performer's own representative."""
    person = s.get(Person, signer.person_id)
    if person is None or person.production_id != ws.production_id or person.kind != "crew":
        raise PermissionDeniedError(f"{signer.name} is not a registered crew member of this production")
    if not may_act_for_performer(person.roles or [], person.id, performer_of(performer).representatives, action):
        raise PermissionDeniedError(f"{person.name} may not {action} for {performer.name}: not their representative, "
                                    "rights clearance or legal")
    return person


def revoke_consent(ws: Workspace, consent_id: str, *, reason: str, signer: Signer, actor: str | None = None) -> dict:
    """Revoke a consent (signed by who revokes it) and quarantine every asset derived from it,
    through the lineage graph."""
    actor = actor or signer.name
    with ws.unit_of_work() as s:
        rec = _consent_row(s, ws, consent_id)
        if rec.revoked_at is not None:
            raise AlreadyExistsError(f"consent {consent_id} was already revoked at {rec.revoked_at.isoformat()}")
        performer = s.get(Person, rec.performer_id)
        _check_may_act_for(s, ws, signer, performer, "consents.revoke")
        now = utcnow()
        rec.revoked_at = now
        sign_consent_action(rec, signer, ws.production_id, action="revoked", reason=reason, at=now)
        every: list[str] = []
        affected = quarantine_for_consent(s, [consent_id], every=every)
        audit.append(s, production_id=ws.production_id, actor=actor, action="consent.revoked", subject=consent_id,
                     payload={"reason": reason, "quarantined": every, "key": signer.key_id,
                              "revoked_at": now.isoformat()})
        return {"consent": consent_id, "performer": performer.name, "revoked_at": now.isoformat(),
                "quarantined": affected}


def set_suspension(ws: Workspace, consent_id: str, suspended: bool, *, reason: str, signer: Signer,
                   actor: str | None = None) -> dict:
    """Strike suspension: the consent stops covering new work until resumed (nothing is quarantined).
    Both are signed by the registered person who does them."""
    actor = actor or signer.name
    with ws.unit_of_work() as s:
        rec = _consent_row(s, ws, consent_id)
        _check_may_act_for(s, ws, signer, s.get(Person, rec.performer_id), "consents.suspend")
        rec.suspended = suspended
        action = "suspended" if suspended else "resumed"
        sign_consent_action(rec, signer, ws.production_id, action=action, reason=reason, at=utcnow())
        audit.append(s, production_id=ws.production_id, actor=actor, action=f"consent.{action}", subject=consent_id,
                     payload={"reason": reason, "key": signer.key_id})
        return consent_view(rec)


def quarantine_for_consent(s: Session, consent_ids: list[str], *, every: list[str] | None = None) -> list[dict]:
    """Every asset that relied on the consents, and everything derived from those: one recursive query.
    Returns the first 2,000 to show; ``every``, when given, receives the id of each one (the audit
    event records them all). The ledger's write order is taken before the walk (``audit.serialize``):
    an output the guard is registering under these consents is either in the lineage walked here or
    registered after the revocation, whose decision then refuses it."""
    audit.serialize(s)
    if not consent_ids:
        return []
    params = {f"c{i}": cid for i, cid in enumerate(consent_ids)}
    placeholders = ", ".join(f":c{i}" for i in range(len(consent_ids)))
    if s.get_bind().dialect.name == "postgresql":
        # the walk's hash tables for six-figure lineages fit in memory instead of spilling to disk
        s.execute(text("SET LOCAL work_mem = '64MB'"))
    # one statement: walk the lineage from every asset that relied on the consents, quarantine all of
    # it. UNION already yields each id once, so the update joins the walk directly (a hash join; an
    # IN (...) would de-duplicate again and, misestimated, probe the primary key row by row)
    ids = list(s.execute(text(f"""
        WITH RECURSIVE tainted(id) AS (
            SELECT asset_id FROM asset_consent WHERE consent_id IN ({placeholders})
            UNION
            SELECT e.child_id FROM asset_edge e JOIN tainted t ON e.parent_id = t.id
        )
        UPDATE asset SET status = 'quarantined' FROM tainted WHERE asset.id = tainted.id
        RETURNING asset.id"""), params).scalars().all())
    if every is not None:
        every.extend([f"{i:016x}" for i in ids])  # format_asset_id, inlined: 100,000s of them
    out = []
    listed = select(Asset).where(Asset.id.in_(ids[:2000])).order_by(Asset.created_at)
    for asset in s.scalars(listed.execution_options(populate_existing=True)):
        d = asset.details or {}
        out.append({"id": format_asset_id(asset.id), "name": asset.name, "kind": asset.kind,
                    "scene": d.get("scene"), "shot": d.get("shot"), "job": asset.job_id})
    if len(ids) > 2000:
        out.append({"id": "…", "name": f"and {len(ids) - 2000} more", "kind": "", "scene": None,
                    "shot": None, "job": None})
    return out
