"""Read what a safeguard decision depends on out of the ledger: performers, consents, models.

Used by the guard (at run time) and by the services (to show a decision before anything runs),
so both decide from exactly the same facts.
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from soundstage.clock import as_utc, utcnow
from soundstage.domain.ids import parse_asset_id
from soundstage.domain.safeguards import Consent, JobSpec, ModelCard, Performer
from soundstage.errors import NotFoundError, SpecError
from soundstage.safeguards.faces_seen import InputFile, ReferenceFile, faces_shown, scanned
from soundstage.safeguards.involvement import Involvement, RosterEntry, index_for, names_in_job
from soundstage.safeguards.policy import PolicyEngine
from soundstage.safeguards.policy.engine import build_context
from soundstage.safeguards.policy.loader import load_pack_file
from soundstage.store.models import Asset, ConsentRecord, ModelRecord, Person
from soundstage.vfx.sequences import SEQUENCE_MEDIA_TYPE, SequenceIndex

if TYPE_CHECKING:
    from soundstage.services.workspace import Workspace




def performer_of(row: Person) -> Performer:
    return Performer.from_dict(row.details["performer"])


def consent_of(c: ConsentRecord) -> Consent:
    consent = Consent.from_dict(c.data)
    return replace(consent, revoked_at=as_utc(c.revoked_at), suspended=bool(c.suspended))


MODEL_RECORD_EXTRAS = ("backend", "config")  # stored beside the card: how to run the model


def get_model(s: Session, model_id: str) -> ModelCard | None:
    rec = s.get(ModelRecord, model_id)
    return card_of(rec.data) if rec else None


def card_of(data: dict) -> ModelCard:
    return ModelCard.from_dict({k: v for k, v in data.items() if k not in MODEL_RECORD_EXTRAS})


def backend_of(s: Session, model_id: str) -> tuple[str | None, dict]:
    rec = s.get(ModelRecord, model_id)
    if rec is None:
        return None, {}
    return rec.data.get("backend"), dict(rec.data.get("config") or {})


_ENGINES: dict[tuple, object] = {}
_ENGINES_LOCK = threading.Lock()


def _pack_signature(path) -> tuple:
    """A pack file's identity for the engine cache: edit the file and the key changes."""
    try:
        st = os.stat(path)
    except OSError:
        return (str(path), None)  # let load_pack_file raise its own SpecError
    return (str(path), st.st_mtime_ns, st.st_size, st.st_ino)


def policy_engine(ws: Workspace):
    """The compiled engine for the workspace's packs, cached per process keyed by each pack file's
    path, mtime, size and inode: compiling packs on every decision cost more than deciding."""
    key = tuple(_pack_signature(p) for p in ws.settings.policy_packs)
    engine = _ENGINES.get(key)
    if engine is None or any(sig[1] is None for sig in key):
        engine = PolicyEngine.default([load_pack_file(p) for p in ws.settings.policy_packs])
        with _ENGINES_LOCK:
            if len(_ENGINES) > 64:
                _ENGINES.clear()
            _ENGINES[key] = engine
    return engine


def decide(s: Session, ws: Workspace, job: JobSpec, now: datetime | None = None):
    """Resolve everything the decision depends on from the ledger, then ask the engine. A caller that
    registers anything on the decision decides through ``guard.check_job``, which takes the ledger's
    write order first; a dry run (``policy check``) reads without it."""
    if job.production_id != ws.production_id:
        raise SpecError(f"job is for production {job.production_id!r}, this workspace is {ws.production_id!r}",
                        field="production_id")
    now = now or utcnow()
    performers = []
    consents = []
    for ref in job.performers:
        row = s.get(Person, ref)
        if row is None or row.kind != "performer" or row.production_id != ws.production_id:
            raise NotFoundError(f"job names performer {ref!r}, who is not registered in this production",
                                hint="register them first: soundstage talent add")
        performers.append(performer_of(row))
        # consents from every production are passed: the rules, not this query, refuse another production's
        consents.extend(consent_of(c) for c in s.scalars(
            select(ConsentRecord).where(ConsentRecord.performer_id == ref)))
    model = get_model(s, job.model_id)
    ctx = build_context(job, model=model, performers=performers, consents=consents, now=now,
                        production=ws.settings.extra.get("production_settings", {}),
                        involvement=involved_performers(s, ws, job))
    return policy_engine(ws).decide(job, ctx), ctx


# ---------------------------------------------------------------- performers a job involves (DR019)
def _names_of(row: Person) -> tuple[str, ...]:
    """Every name a performer row is known by: its name, the performer record's name, and a stage
    name / aliases when the record carries them."""
    details = row.details or {}
    record = details.get("performer") or {}
    names: list[str] = [row.name, record.get("name")]
    for source in (record, details):
        names.append(source.get("stage_name"))
        aliases = source.get("aliases")
        if isinstance(aliases, (list, tuple)):
            names.extend(aliases)
    return tuple(dict.fromkeys(n for n in names if isinstance(n, str) and n.strip()))


def involved_performers(s: Session, ws: Workspace, job: JobSpec) -> Involvement:
    """The production's registered performers this job involves, whatever it lists: those its text
    names (prompt and every text parameter) and those whose enrolled reference face is in one of its
    stored inputs. Read from the ledger and the store, never from the job's declarations."""
    rows = list(s.scalars(select(Person).where(Person.production_id == ws.production_id,
                                               Person.kind == "performer").order_by(Person.id)))
    roster = tuple(RosterEntry(row.id, row.name, _names_of(row)) for row in rows)
    named = names_in_job(job.prompt, job.params, index_for(roster))
    inputs = []
    for ref in job.inputs:
        asset = s.get(Asset, parse_asset_id(ref))
        if asset is None or asset.production_id != ws.production_id:
            continue  # the guard's input resolution refuses it
        members: tuple = ()
        if asset.media_type == SEQUENCE_MEDIA_TYPE:
            index = SequenceIndex.from_bytes(ws.store.read_bytes(asset.sha256), source=asset.name)
            members = tuple(ws.store.path_for(f.sha256) for f in index.frames)
        candidate = InputFile(ref, asset.kind, asset.media_type, asset.sha256, ws.store.path_for(asset.sha256),
                              members)
        if scanned(candidate):
            inputs.append(candidate)
    references = []
    for row in rows if inputs else ():
        ref = (row.details or {}).get("reference_asset")
        asset = s.get(Asset, parse_asset_id(ref)) if ref else None
        # a quarantined reference (consent revoked) still identifies its performer: it is read too
        if asset is not None and asset.production_id == ws.production_id:
            ws.store.verify(asset.sha256)
            references.append(ReferenceFile(row.id, asset.sha256, ws.store.path_for(asset.sha256)))
    shown = faces_shown(inputs, references)
    return Involvement(named=named, shown=shown, display={e.performer_id: e.display for e in roster})
