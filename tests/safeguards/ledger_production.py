"""A real production for the state-proof tests (imported by tests/safeguards/test_ledger_state.py and
tests/security/test_attack_ledger_edits.py): every kind of safeguard-relevant change, made through
the services the CLI and the API call, so the audit log holds exactly what soundstage writes.

Crew with roles and credentials, Maya Castell (SAG-AFTRA, represented by Lena Ortiz) with a signed
consent for de-ageing in scene 5 and an enrolled reference face, Noah Fenn (his representative put on
file afterwards), a camera plate, a registered (and re-registered) model card, a de-age approved role
by role, an ideation job, a second de-age rejected, a denied job overridden and approved, a strike
suspension and its resumption - and, when asked, the revocation that quarantines what was derived."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from soundstage.domain.safeguards import JobSpec, ModelCard, OperationKind
from soundstage.services import jobs_service as jobs
from soundstage.services import consent_service, models, people_service, talent_service
from soundstage.services.ledger import ingest_media
from soundstage.testing.approvals import approve
from soundstage.testing.identity import signer_for

CREW = (("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor"]), ("Ana Lima", ["vfx_supervisor"]),
        ("Tom Reed", ["rights_clearance", "legal"]), ("Lena Ortiz", ["performer_rep"]),
        ("Sam Cole", ["performer_rep"]))
HOLDERS = {"producer": "Priya Shah", "vfx_supervisor": "Ana Lima", "rights_clearance": "Tom Reed",
           "legal": "Tom Reed", "performer_rep": "Lena Ortiz"}
REQUESTER = "Ken Ito"


def approve_all(ws, result: dict, *, skip: tuple[str, ...] = ()) -> dict:
    """Every role the decision asked for, each by its holder, on the job's preview when the policy
    asks for one (``skip``: roles left for later)."""
    for role in result["decision"]["approver_roles"]:
        if role in skip:
            continue
        result = approve(ws, result["job"], signer=signer_for(ws, HOLDERS[role]), role=role, note=f"{role} ok")
    return result


def deage_spec(ws, prod: dict, **over) -> JobSpec:
    fields = dict(id="", production_id=ws.production_id, operation=OperationKind.LIKENESS_DEAGE,
                  requested_by=REQUESTER, model_id="soundstage.retouch", inputs=(prod["plate"]["id"],),
                  performers=(prod["maya"]["id"],), scene="5", shot="5A", alteration_amount=0.3,
                  deliverable="final", medium="final")
    fields.update(over)
    return JobSpec(**fields)


def skyline_spec(ws) -> JobSpec:
    """A set extension by a model nobody can vouch for: denied for a final deliverable (overridable)."""
    return JobSpec(id="", production_id=ws.production_id, operation=OperationKind.SET_EXTENSION,
                   requested_by=REQUESTER, model_id="acme.skyline", prompt="1950s city skyline at dusk",
                   deliverable="final", medium="final", scene="6")


def grant(ws, prod: dict, tmp_path: Path, **over) -> dict:
    document = tmp_path / "signed_consent.pdf"
    document.write_bytes(b"%PDF-1.4 signed digital alteration consent, Maya Castell, scene 5")
    args = dict(document=document, kind="digital_alteration", operations=["likeness_deage", "likeness_cosmetic"],
                description="De-ageing of Maya Castell by about 30 years in the 1994 flashback, scene 5 only, "
                            "for the final cut of The Last Take",
                scenes=["5"], max_alteration=0.5, signed_separately=True, representation="union",
                signer=signer_for(ws, "Lena Ortiz"))
    args.update(over)
    return consent_service.grant_consent(ws, prod["maya"]["id"], **args)


def build(ws, tmp_path: Path, *, jobs_too: bool = True, revoke: bool = False) -> dict:
    for name, roles in CREW:
        people_service.add_crew(ws, name, roles, actor="setup")
    maya = talent_service.add_performer(ws, "Maya Castell", union_status="sag-aftra", representatives=["Lena Ortiz"],
                            actor="setup")
    noah = talent_service.add_performer(ws, "Noah Fenn", actor="setup")
    talent_service.add_representative(ws, noah["id"], "Sam Cole", actor="setup")
    rng = np.random.default_rng(3)
    pixels = (rng.random((180, 320, 3)) * 60 + np.linspace(60, 180, 320)[None, :, None]).astype(np.uint8)
    plate_path = tmp_path / "plate_A001.png"
    Image.fromarray(pixels).save(plate_path)
    prod = {"maya": maya, "noah": noah, "plate": ingest_media(ws, plate_path, kind="plate", actor="setup",
                                                                scene="5", shot="5A")}
    prod["consent"] = grant(ws, prod, tmp_path)
    import skimage.data

    reference = tmp_path / "maya_reference.png"
    Image.fromarray(skimage.data.astronaut()[20:300, 110:360]).save(reference)
    prod["reference"] = talent_service.enroll_reference(ws, maya["id"], reference, actor="Lena Ortiz")
    card = ModelCard(id="acme.skyline", name="Acme skyline model", version="2", licence="proprietary",
                     weights_sha256="ab" * 32, training_data="unknown", evidence="", trained_model=True,
                     runs_in_production_env=True, stores_inputs=False, trains_on_inputs=False)
    models.register_model(ws, card, actor="setup", backend="procedural-card")
    models.register_model(ws, ModelCard(**{**card.to_dict(), "version": "3"}), actor="setup",
                      backend="procedural-card", replace_existing=True)
    if jobs_too:
        deage = approve_all(ws, jobs.submit_job(ws, deage_spec(ws, prod), actor=REQUESTER))
        assert deage["status"] == "done", deage
        prod["deage"] = deage
        ideation = jobs.submit_job(ws, JobSpec(id="", production_id=ws.production_id,
                                               operation=OperationKind.IDEATION, requested_by=REQUESTER,
                                               model_id="soundstage.procedural-card", prompt="rainy street"),
                                   actor=REQUESTER)
        assert ideation["status"] == "done", ideation
        prod["ideation"] = ideation
        second = jobs.submit_job(ws, deage_spec(ws, prod, alteration_amount=0.2), actor=REQUESTER)
        rejected = jobs.decide_on_job(ws, second["job"], signer=signer_for(ws, "Priya Shah"), role="producer",
                                      verdict="reject", note="not this take")
        assert rejected["status"] == "rejected", rejected
        denied = jobs.submit_job(ws, skyline_spec(ws), actor=REQUESTER)
        assert denied["status"] == "denied"
        rule = next(r["rule_id"] for r in denied["decision"]["reasons"] if r["outcome"] == "deny")
        overridden = jobs.request_override(ws, denied["job"], rule, reason="vendor indemnifies; legal reviewed",
                                           actor=REQUESTER)
        assert overridden["status"] == "escalated"
        assert approve_all(ws, overridden)["status"] == "done"
        prod["overridden"] = denied["job"]
    consent_service.set_suspension(ws, prod["consent"]["id"], True, reason="strike", signer=signer_for(ws, "Lena Ortiz"))
    consent_service.set_suspension(ws, prod["consent"]["id"], False, reason="strike over", signer=signer_for(ws, "Lena Ortiz"))
    if revoke:
        prod["revocation"] = consent_service.revoke_consent(ws, prod["consent"]["id"], reason="performer withdrew consent",
                                               signer=signer_for(ws, "Lena Ortiz"))
    return prod


def sql(ws, statement: str, **params) -> None:
    """What an insider with sqlite3 or psql runs: plain SQL on the ledger, no service involved."""
    from sqlalchemy import text

    with ws.db.engine.begin() as conn:
        conn.execute(text(statement), params)


def json_param(ws, name: str) -> str:
    """A bound JSON text parameter as each database takes it into a JSON column."""
    return f"CAST(:{name} AS JSON)" if ws.db.engine.dialect.name == "postgresql" else f":{name}"


def cli(ws, *args: str) -> subprocess.CompletedProcess:
    """The real ``soundstage`` command in a subprocess (single-user laptop mode)."""
    env = {**os.environ, "SOUNDSTAGE_SINGLE_USER": "1"}
    for name in ("SOUNDSTAGE_WORKSPACE", "SOUNDSTAGE_DEBUG", "SOUNDSTAGE_TOKEN"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "soundstage", "-w", str(ws.settings.root), *args], env=env,
                          capture_output=True, text=True, timeout=180)
