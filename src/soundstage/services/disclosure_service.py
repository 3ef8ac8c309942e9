"""The GenAI disclosure report: every use of the production gathered from the ledger (Disclosure.2),
prepared by an authenticated person, stating the audit head it was built from; written as JSON,
HTML and a signed PDF, with the credits notice.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select

from soundstage.clock import utcnow
from soundstage.domain.permissions import SINGLE_USER_PREFIX
from soundstage.domain.safeguards import (
    JobSpec,
    ModelCard,
)
from soundstage.errors import (
    SpecError,
    WorkspaceError,
)
from soundstage.safeguards import audit
from soundstage.safeguards.disclosure import FORMATS, DisclosureData, render_disclosure, render_pdf
from soundstage.safeguards.guard import format_asset_id
from soundstage.safeguards.preview_rules import PREVIEW_KIND
from soundstage.safeguards.resolve import card_of, consent_of
from soundstage.services.consent_service import consent_status
from soundstage.services.documents import publish_pdf
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
    status = consent_status(c, now)
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
