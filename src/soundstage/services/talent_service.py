"""Performers: registering them, their representatives, and their reference face image (enrolled
only under an active consent). Every change is one transaction with its audit event.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from soundstage.clock import as_utc, utcnow
from soundstage.domain.safeguards import Performer
from soundstage.errors import (
    AlreadyExistsError,
    ConsentError,
    InputError,
    SpecError,
)
from soundstage.media.images import read_image
from soundstage.safeguards import audit
from soundstage.safeguards.guard import IngestRequest, format_asset_id, ingest
from soundstage.safeguards.resolve import performer_of
from soundstage.services.consent_service import consent_status, consent_view
from soundstage.services.people_service import _refuse_duplicate_name, find_person
from soundstage.services.workspace import Workspace
from soundstage.store.models import (
    AssetConsent,
    ConsentRecord,
    Person,
)


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
                              has_reference=False, died_at=as_utc(died_at))
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
    with ws.reading() as s:
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
                  if consent_status(c, now) == "active"]
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
