"""Safeguard use cases: people, performers, consents, models, policy checks, approvals, revocation.

Every change here is one transaction with its audit event. The guarded run itself lives in
``soundstage.safeguards.guard``; this module is what the CLI and the API call.
"""

from __future__ import annotations

import difflib
import hashlib
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from soundstage.domain.permissions import SINGLE_USER_PREFIX, may_act_for_performer
from soundstage.domain.safeguards import (
    Consent,
    ConsentKind,
    ConsentScope,
    JobSpec,
    ModelCard,
    OperationKind,
    Performer,
    Role,
)
from soundstage.errors import (
    AlreadyExistsError,
    ConsentError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    SpecError,
    WorkspaceError,
)
from soundstage.generate.registry import BUILTIN_MODELS
from soundstage.media.images import read_image
from soundstage.safeguards import audit
from soundstage.safeguards.consent_rules import MISSING_WHAT, missing_requirements, operations_for
from soundstage.safeguards.disclosure import FORMATS, DisclosureData, render_disclosure, render_pdf
from soundstage.safeguards.guard import IngestRequest, format_asset_id, ingest, validated_params
from soundstage.safeguards.preview_rules import PREVIEW_KIND
from soundstage.safeguards.resolve import backend_of, card_of, consent_of, decide, performer_of
from soundstage.safeguards.signatures import Signer, sign_consent_action
from soundstage.safeguards.watermark import create_key
from soundstage.services.documents import publish_pdf
from soundstage.services.models import list_models as list_models
from soundstage.services.models import register_builtin_models as register_builtin_models
from soundstage.services.models import register_model as register_model
from soundstage.services.workspace import Workspace
from soundstage.store.models import (
    Approval,
    Asset,
    AssetConsent,
    AuditHead,
    ConsentRecord,
    Job,
    ModelRecord,
    Person,
    Production,
)

CREW_ROLES = tuple(r.value for r in Role)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


# ---------------------------------------------------------------- people

def find_person(s: Session, ws: Workspace, ref: str, kind: str | None = None) -> Person:
    """By id or by exact name (case-insensitive)."""
    person = s.get(Person, ref)
    if person is None or person.production_id != ws.production_id:
        q = select(Person).where(Person.production_id == ws.production_id)
        matches = [p for p in s.scalars(q) if p.name.casefold() == ref.casefold()]
        if kind:
            matches = [p for p in matches if p.kind == kind]
        if len(matches) > 1:
            raise InputError(f"{ref!r} names more than one person; use the id",
                             hint=", ".join(f"{p.id} ({p.kind})" for p in matches))
        person = matches[0] if matches else None
    if person is None or (kind and person.kind != kind):
        raise NotFoundError(f"no {kind or 'person'} {ref!r} in this production",
                            hint="add one with: soundstage talent add / soundstage crew add")
    return person


def add_crew(ws: Workspace, name: str, roles: list[str], *, actor: str) -> dict:
    name = name.strip()
    if not name:
        raise InputError("a crew member needs a name")
    if name.casefold().startswith(SINGLE_USER_PREFIX):
        raise InputError(f"{SINGLE_USER_PREFIX!r} names the CLI's single-user mode, not a person")
    bad = [r for r in roles if r not in CREW_ROLES]
    if bad:
        raise SpecError(f"unknown role {bad[0]!r}", field="roles", hint="roles: " + ", ".join(CREW_ROLES))
    with ws.unit_of_work() as s:
        _refuse_duplicate_name(s, ws, name, "crew")
        person = Person(id="p-" + uuid.uuid4().hex[:10], production_id=ws.production_id, name=name, kind="crew",
                        roles=sorted(set(roles)), details={}, created_at=utcnow())
        s.add(person)
        s.flush()
        audit.append(s, production_id=ws.production_id, actor=actor, action="crew.added", subject=person.id,
                     payload={"name": name, "roles": person.roles})
        return person_to_dict(person)


def _refuse_duplicate_name(s: Session, ws: Workspace, name: str, kind: str) -> None:
    q = select(Person).where(Person.production_id == ws.production_id, Person.kind == kind)
    if any(p.name.casefold() == name.casefold() for p in s.scalars(q)):
        raise AlreadyExistsError(f"a {kind} member named {name!r} already exists")


def person_to_dict(p: Person) -> dict:
    return {"id": p.id, "name": p.name, "kind": p.kind, "roles": list(p.roles or []), **(p.details or {})}


def list_people(ws: Workspace, kind: str | None = None) -> list[dict]:
    with ws.unit_of_work() as s:
        q = select(Person).where(Person.production_id == ws.production_id).order_by(Person.created_at)
        if kind:
            q = q.where(Person.kind == kind)
        return [person_to_dict(p) for p in s.scalars(q)]


def add_performer(ws: Workspace, name: str, *, union_status: str = "non-union", living: bool = True,
                  died_at: datetime | None = None, consent_authority: str | None = None,
                  representatives: Iterable[str] = (), actor: str) -> dict:
    """Register a performer; deceased performers default to their estate as the consenting party."""
    name = name.strip()
    if not name:
        raise InputError("a performer needs a name")
    authority = consent_authority or ("performer" if living else "estate")
    with ws.unit_of_work() as s:
        _refuse_duplicate_name(s, ws, name, "performer")
        rep_ids = [_representative(s, ws, ref).id for ref in representatives]
        pid = "t-" + uuid.uuid4().hex[:10]
        performer = Performer(id=pid, name=name, union_status=union_status, living=living,
                              consent_authority=authority, representatives=tuple(rep_ids),
                              has_reference=False, died_at=_aware(died_at))
        row = Person(id=pid, production_id=ws.production_id, name=name, kind="performer", roles=[],
                     details={"performer": performer.to_dict()}, created_at=utcnow())
        s.add(row)
        s.flush()
        audit.append(s, production_id=ws.production_id, actor=actor, action="talent.added", subject=pid,
                     payload={"union_status": union_status, "living": living, "consent_authority": authority,
                              "representatives": rep_ids, "name": name, "record": performer.to_dict()})
        return performer_view(s, ws, row)


def _representative(s: Session, ws: Workspace, ref: str) -> Person:
    rep = find_person(s, ws, ref, kind="crew")
    if "performer_rep" not in (rep.roles or []):
        raise SpecError(f"{rep.name} is not a performer's representative (role performer_rep)",
                        field="representatives")
    return rep


def add_representative(ws: Workspace, performer_ref: str, representative_ref: str, *, actor: str) -> dict:
    """Put a representative on file for a performer (e.g. the estate's agent of a deceased
    performer registered without one): from now on they may approve and revoke for them."""
    with ws.unit_of_work() as s:
        row = find_person(s, ws, performer_ref, kind="performer")
        rep = _representative(s, ws, representative_ref)
        perf = performer_of(row)
        if rep.id in perf.representatives:
            raise AlreadyExistsError(f"{rep.name} already represents {row.name}")
        perf = replace(perf, representatives=(*perf.representatives, rep.id))
        row.details = {**(row.details or {}), "performer": perf.to_dict()}
        audit.append(s, production_id=ws.production_id, actor=actor, action="talent.representative_added",
                     subject=row.id, payload={"performer": row.id, "representative": rep.id, "record": perf.to_dict(),
                                              "representatives": list(perf.representatives)})
        return performer_view(s, ws, row)


def performer_view(s: Session, ws: Workspace, row: Person) -> dict:
    perf = performer_of(row)
    consents = [consent_view(c) for c in s.scalars(
        select(ConsentRecord).where(ConsentRecord.performer_id == row.id).order_by(ConsentRecord.created_at))]
    reps = [s.get(Person, r) for r in perf.representatives]
    return {"id": row.id, "name": row.name, **perf.to_dict(),
            "representative_names": [r.name for r in reps if r is not None],
            "reference_asset": (row.details or {}).get("reference_asset"), "consents": consents}


def show_performer(ws: Workspace, ref: str) -> dict:
    with ws.unit_of_work() as s:
        return performer_view(s, ws, find_person(s, ws, ref, kind="performer"))


def enroll_reference(ws: Workspace, performer_ref: str, image: Path, *, actor: str) -> dict:
    """Store a performer's reference face image; only under an active consent that it depends on."""
    pixels = read_image(image)  # refuses bombs, truncation, non-images before anything is stored
    if min(pixels.shape[:2]) < 64:
        raise InputError(f"{image.name}: {pixels.shape[1]}x{pixels.shape[0]} is too small for a reference face")
    now = utcnow()
    with ws.unit_of_work() as s:
        row = find_person(s, ws, performer_ref, kind="performer")
        active = [c for c in s.scalars(select(ConsentRecord).where(ConsentRecord.performer_id == row.id))
                  if _consent_status(c, now) == "active"]
        if not active:
            raise ConsentError(f"{row.name} has no active consent in this production; a reference image is "
                               "biometric data and is enrolled only with consent",
                               hint="grant one first: soundstage consent grant ...")
        asset = ingest(s, ws.store, IngestRequest(
            production_id=ws.production_id, actor=actor, kind="reference_image",
            media_type="image/png" if image.suffix.lower() == ".png" else "image/jpeg", name=image.name,
            path=image, details={"performer": row.id, "size": [pixels.shape[1], pixels.shape[0]]}))
        for c in active:
            s.add(AssetConsent(asset_id=asset.id, consent_id=c.id))
        perf = replace(performer_of(row), has_reference=True)
        row.details = {**(row.details or {}), "performer": perf.to_dict(),
                       "reference_asset": format_asset_id(asset.id)}
        audit.append(s, production_id=ws.production_id, actor=actor, action="talent.reference_enrolled",
                     subject=row.id, payload={"asset": format_asset_id(asset.id),
                                              "consents": [c.id for c in active], "record": perf.to_dict()})
        return {"performer": row.id, "asset": format_asset_id(asset.id)}


# ---------------------------------------------------------------- consents

def _consent_status(c: ConsentRecord, now: datetime) -> str:
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
    return {**consent.to_dict(), "status": _consent_status(c, utcnow()), "missing": missing, "valid": not missing,
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
    start = _aware(valid_from) or utcnow()
    end = _aware(valid_until)
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
    with ws.unit_of_work() as s:
        rec = _consent_row(s, ws, consent_id)
        view = consent_view(rec)
        view["assets_relying_on_it"] = [format_asset_id(a.asset_id) for a in s.scalars(
            select(AssetConsent).where(AssetConsent.consent_id == consent_id))]
        return view


def list_consents(ws: Workspace, performer_ref: str | None = None) -> list[dict]:
    with ws.unit_of_work() as s:
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
    event records them all)."""
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


# ---------------------------------------------------------------- models

# register_model, register_builtin_models and list_models live in services.models (below the workspace,
# which registers the built-ins when it creates a production); imported above under their own names so
# callers keep reaching them here.


# ---------------------------------------------------------------- policy

def check_job(ws: Workspace, job: JobSpec) -> dict:
    """The decision on a spec without running it (its parameters are checked as a submission's)."""
    with ws.unit_of_work() as s:
        decision, ctx = decide(s, ws, job)
        if ctx.model is not None and (backend_of(s, job.model_id)[0] or job.model_id in BUILTIN_MODELS):
            validated_params(s, job)  # a model with no backend can be decided on, not run
        return {"job": job.id, "decision": decision.to_dict(),
                "consent_checks": {k: v.to_dict() for k, v in ctx.consent_checks.items()},
                "model_registered": ctx.model is not None}


def hash_consent_refs(production_id: str, consent_ids: Iterable[str]) -> list[str]:
    return [hashlib.sha256(f"{production_id}:{cid}".encode()).hexdigest() for cid in consent_ids]


# ---------------------------------------------------------------- disclosure

def _iso(dt) -> str | None:
    """UTC to the whole second: the report is read by people; the audit log keeps the microseconds.
    SQLite hands back naive datetimes; the ledger writes UTC, so naive means UTC."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")


def _prepared_by(people: dict, actor: str) -> dict:
    """The person running the report, as authenticated (the CLI's principal, the API's token)."""
    authenticated = not actor.startswith(SINGLE_USER_PREFIX)
    crew = [p for p in people.values() if p.kind == "crew" and p.name == actor]
    return {"person": actor, "roles": sorted(crew[0].roles or []) if crew and authenticated else [],
            "authenticated": authenticated}


def _sign_off(people: dict, role: str | None, person: str | None) -> dict | None:
    """The crew member who signs the report off: they must hold the role they sign for."""
    if role is None:
        if person is not None:
            raise SpecError("a sign-off names a role too", field="sign_off.role",
                            hint="e.g. --sign-off legal --sign-off-person 'Tom Reed'")
        return None
    holders = sorted(p.name for p in people.values() if p.kind == "crew" and role in (p.roles or []))
    if person is None:
        if len(holders) != 1:
            raise SpecError(f"{len(holders)} crew members hold the role {role!r}"
                            + (f" ({', '.join(holders)})" if holders else ""), field="sign_off.person",
                            hint="name who signs with --sign-off-person" if holders
                            else "add the role with 'crew add NAME --role ROLE'")
        person = holders[0]
    match = [h for h in holders if h.casefold() == person.strip().casefold()]
    if not match:
        raise SpecError(f"{person!r} is not a crew member holding the role {role!r}", field="sign_off.person",
                        hint=f"holders: {', '.join(holders)}" if holders else "add the role with 'crew add'")
    return {"role": role, "person": match[0]}


def disclosure_data(ws: Workspace, episode: str | None = None, *, actor: str, sign_off_role: str | None = None,
                    sign_off_person: str | None = None) -> dict:
    """Gather every GenAI use of the production from the ledger into the Disclosure.2 document.

    ``actor`` is the authenticated person running the report (never free text); the audit head is
    read in the same transaction as the uses, so the report states exactly which log it reflects."""
    now = utcnow()
    with ws.unit_of_work() as s:
        prod = s.get(Production, ws.production_id)
        people = {p.id: p for p in s.scalars(select(Person).where(Person.production_id == ws.production_id))}
        sign_off = _sign_off(people, sign_off_role, sign_off_person)
        head = s.get(AuditHead, 1)
        audit_head = {"seq": head.seq if head else 0, "hash": head.hash if head else audit.GENESIS}
        consent_rows = {c.id: c for c in s.scalars(
            select(ConsentRecord).where(ConsentRecord.production_id == ws.production_id))}
        models = {m.id: card_of(m.data) for m in s.scalars(
            select(ModelRecord).where(ModelRecord.production_id == ws.production_id))}
        links: dict[int, list[str]] = {}
        for link in s.scalars(select(AssetConsent)):
            links.setdefault(link.asset_id, []).append(link.consent_id)

        def consent_info(cid: str, with_performer: bool) -> dict:
            c = consent_rows[cid]
            consent = consent_of(c)
            info = {"consent_id": cid, "performer": people[c.performer_id].name if c.performer_id in people
                    else c.performer_id, "kind": consent.kind.value, "description": consent.description,
                    "valid_until": _iso(consent.valid_until), "status": _disclosure_status(c, now)}
            if with_performer:
                info["performer_id"] = c.performer_id
            return info

        uses = []
        depicted: dict[str, set[str]] = {}
        jobs = s.scalars(select(Job).where(Job.production_id == ws.production_id, Job.status == "done")
                         .order_by(Job.created_at))
        for job in jobs:
            # media outputs (watermarked and signed); scene files and depth passes are bound by sidecars;
            # review previews are the approvers' proxies, never delivered (their audit events record them)
            assets = [a for a in s.scalars(select(Asset).where(Asset.job_id == job.id, Asset.kind != PREVIEW_KIND)
                                           .order_by(Asset.created_at))
                      if not (a.details or {}).get("c2pa_sidecar_sha256")]
            if not assets:
                continue
            spec = JobSpec.from_dict(job.spec)
            model = models.get(spec.model_id)
            if model is None:
                continue
            consent_ids = sorted({cid for a in assets for cid in links.get(a.id, [])})
            approvals = [{"role": a.role.split(":")[0],
                          "person": people[a.person_id].name if a.person_id in people else a.person_id,
                          "verdict": a.verdict, "note": a.note, "at": _iso(a.at)}
                         for a in s.scalars(select(Approval).where(Approval.job_id == job.id).order_by(Approval.at))]
            decision = job.decision or {}
            uses.append({
                "job_id": job.id, "operation": spec.operation.value, "scene": spec.scene, "shot": spec.shot,
                "deliverable": spec.deliverable, "requested_by": job.requested_by,
                "created_at": _iso(job.created_at), "model": _model_info(model),
                "decision": {"outcome": decision.get("outcome", "proceed"),
                             "reasons": [{"rule_id": r["rule_id"], "text": r["text"], "outcome": r["outcome"]}
                                         for r in decision.get("reasons", [])],
                             "approver_roles": list(decision.get("approver_roles", [])),
                             "duties": list(decision.get("duties", []))},
                "approvals": approvals,
                "consents": [consent_info(cid, False) for cid in consent_ids if cid in consent_rows],
                "assets": [_asset_info(a) for a in assets],
            })
            for pid in spec.performers:
                name = people[pid].name if pid in people else pid
                depicted.setdefault(name, set()).add(spec.operation.value)
        quarantined = []  # deliverables only: a quarantined review preview was never delivered, as above
        for a in s.scalars(select(Asset).where(Asset.production_id == ws.production_id, Asset.kind != PREVIEW_KIND,
                                               Asset.status == "quarantined").order_by(Asset.created_at)):
            revoked = [cid for cid in links.get(a.id, []) if cid in consent_rows
                       and consent_rows[cid].revoked_at is not None]
            d = a.details or {}
            quarantined.append({"asset_id": format_asset_id(a.id), "name": a.name, "scene": d.get("scene"),
                                "shot": d.get("shot"), "consent_id": revoked[0] if revoked else None,
                                "revoked_at": _iso(consent_rows[revoked[0]].revoked_at) if revoked else None,
                                "reason": "derived from a revoked consent" if not revoked
                                else "relied on a revoked consent"})
        return {
            "schema": "Disclosure.2",
            "production": {"id": ws.production_id, "title": prod.title},
            "scope": {"episode": episode},
            "generated_at": _iso(now),
            "prepared_by": _prepared_by(people, actor),
            "sign_off": sign_off,
            "audit_head": audit_head,
            "uses": uses,
            "models": [_model_info(m) for m in models.values()],
            "consents": [consent_info(cid, True) for cid in consent_rows],
            "quarantined": quarantined,
            "performers_depicted": [{"performer": k, "operations": sorted(v)} for k, v in sorted(depicted.items())],
        }


def _disclosure_status(c: ConsentRecord, now: datetime) -> str:
    status = _consent_status(c, now)
    return status if status in ("active", "revoked", "expired", "suspended") else "active"


def _model_info(m: ModelCard) -> dict:
    return {"id": m.id, "name": m.name, "version": m.version, "licence": m.licence,
            "weights_sha256": m.weights_sha256 if len(m.weights_sha256 or "") == 64 else "0" * 64,
            "training_data": m.training_data, "evidence": m.evidence, "stores_inputs": m.stores_inputs,
            "trains_on_inputs": m.trains_on_inputs, "runs_in_production_env": m.runs_in_production_env,
            "trained_model": m.trained_model}


def _asset_info(a: Asset) -> dict:
    d = a.details or {}
    wm = d.get("watermark")
    c2 = d.get("c2pa")
    return {"id": format_asset_id(a.id), "name": a.name, "media_type": a.media_type,
            "watermark": {"engine": wm["engine"], "payload_hex": wm["payload_hex"]} if wm else None,
            "c2pa": {"manifest_label": c2.get("manifest_label"), "digital_source_type": c2.get("digital_source_type")}
            if c2 else None,
            "status": a.status}


def write_disclosure(ws: Workspace, out_dir: Path, formats: list[str], *, episode: str | None = None,
                     actor: str, sign_off_role: str | None = None, sign_off_person: str | None = None) -> list[Path]:
    """Write the report in the chosen formats plus the credits notice; returns the paths written."""
    return write_disclosure_report(ws, out_dir, formats, episode=episode, actor=actor, sign_off_role=sign_off_role,
                                   sign_off_person=sign_off_person)[0]


def write_disclosure_report(ws: Workspace, out_dir: Path, formats: list[str], *, episode: str | None = None,
                            actor: str, sign_off_role: str | None = None,
                            sign_off_person: str | None = None) -> tuple[list[Path], dict]:
    """`write_disclosure`, also returning the audit head ({seq, hash}) the report was built from."""
    for i, fmt in enumerate(formats):
        if fmt not in FORMATS:
            raise SpecError(f"{fmt!r} is not one of {', '.join(FORMATS)}", field=f"formats[{i}]")
    data = disclosure_data(ws, episode, actor=actor, sign_off_role=sign_off_role, sign_off_person=sign_off_person)
    doc = DisclosureData.from_dict(data)  # a bad document is refused before any file is written
    # the PDF is rendered apart, so it leaves signed like every PDF soundstage writes; first, because
    # signing can fail (a time-stamp authority down): then no report is left half-written beside it
    if "pdf" in formats:
        target = Path(out_dir) / "disclosure.pdf"
        try:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"cannot create report folder {out_dir}: {exc.strerror or exc}") from exc
        publish_pdf(ws, target, lambda tmp: render_pdf(doc, tmp),
                    title=f"{ws.settings.title} - GenAI disclosure report", document="disclosure")
    paths = render_disclosure(doc, out_dir, tuple(f for f in formats if f != "pdf"))
    if "pdf" in formats:
        paths.insert(list(dict.fromkeys(formats)).index("pdf"), target)
    with ws.unit_of_work() as s:
        audit.append(s, production_id=ws.production_id, actor=actor, action="disclosure.written",
                     subject=str(out_dir), payload={"files": [p.name for p in paths], "uses": len(data["uses"]),
                                                    "audit_head": data["audit_head"], "sign_off": data["sign_off"]})
    return paths, data["audit_head"]


def create_watermark_key(ws, *, actor: str):
    """A secret watermark key for a workspace made before production keys (audited)."""
    path = create_key(ws.settings.keys_dir)
    with ws.unit_of_work() as s:
        audit.append(s, production_id=ws.production_id, actor=actor, action="keys.created",
                     subject="watermark key", payload={"file": path.name})
    return path
