"""Approvals and consents are signatures: the guard verifies every verdict and every consent row a
job relies on before anything runs. A verdict copied from another job, edited (verdict, role,
note) or recorded in someone else's name, and a consent row edited, rolled back or signed by
someone the matrix does not allow, are refused with IntegrityError naming the row, on SQLite and
PostgreSQL. Edits are made the way someone with shell access would: straight in the database.

The guard also proves the rows against their audit events (``ledger_state.prove_rows``), which
catches these edits first - unless the editor rewrites the audit log to match, which needs no
secret (the chain is a hash chain). These tests stand for that editor: the state proof is
switched off, and the signatures alone must refuse."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.errors import IntegrityError
from soundstage.safeguards import signatures
from soundstage.services import jobs_service as jobs
from soundstage.services import consent_service, people_service, talent_service
from soundstage.services.ledger import ingest_media
from soundstage.store.models import Approval, ConsentRecord, Job, PersonKey
from soundstage.testing.identity import signer_for


@pytest.fixture
def prod(workspace, tmp_path, monkeypatch):
    from soundstage.safeguards import guard

    monkeypatch.setattr(guard, "prove_rows", lambda s, job_id, spec: None, raising=False)
    ws = workspace
    people = {name: people_service.add_crew(ws, name, roles, actor="setup")["id"] for name, roles in (
        ("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor"]), ("Tom Reed", ["rights_clearance", "legal"]),
        ("Lena Ortiz", ["performer_rep"]))}
    maya = talent_service.add_performer(ws, "Maya Castell", union_status="sag-aftra", representatives=["Lena Ortiz"],
                            actor="setup")
    pixels = (np.random.default_rng(3).random((180, 320, 3)) * 60 + 90).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "plate.png")
    plate = ingest_media(ws, tmp_path / "plate.png", kind="plate", actor="setup", scene="5", shot="5A")
    return {"ws": ws, "people": people, "maya": maya, "plate": plate}


def final_ideation(ws, prompt: str = "rainy street at dusk") -> dict:
    """A job Ken asks for that needs the producer's and legal's written approval."""
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION, requested_by="Ken Ito",
                   model_id="soundstage.procedural-card", prompt=prompt, deliverable="final", medium="final")
    result = jobs.submit_job(ws, spec, actor="Ken Ito")
    assert result["status"] == "escalated" and set(result["missing_roles"]) == {"producer", "legal"}
    return result


def approve(ws, job_id: str, role: str, who: str, verdict: str = "approve") -> dict:
    return jobs.decide_on_job(ws, job_id, signer=signer_for(ws, who), role=role, verdict=verdict, note=f"{role} ok")


def approval(ws, job_id: str, role: str) -> Approval:
    with ws.unit_of_work() as s:
        return s.scalars(select(Approval).where(Approval.job_id == job_id, Approval.role == role)).one()


def edit(ws, model, key, **changes) -> None:
    with ws.unit_of_work() as s:
        row = s.get(model, key)
        for name, value in changes.items():
            setattr(row, name, value)


def refused(ws, job_id: str, *names: str) -> str:
    """The guard refuses to run the job, naming what it refused; nothing ran."""
    with pytest.raises(IntegrityError) as err:
        jobs.run_job(ws, job_id, actor="Ken Ito")
    for name in names:
        assert name in err.value.message, err.value.message
    assert "nothing ran" in err.value.message
    assert jobs.show_job(ws, job_id)["status"] != "done"
    return err.value.message


def test_signed_verdicts_are_verified_and_the_job_runs(prod):
    ws = prod["ws"]
    job = final_ideation(ws)
    approve(ws, job["job"], "producer", "Priya Shah")
    done = approve(ws, job["job"], "legal", "Tom Reed")
    assert done["status"] == "done" and done["assets"]
    row = approval(ws, job["job"], "producer")
    with ws.unit_of_work() as s:
        key = s.get(PersonKey, row.key_id)
        assert key.person_id == prod["people"]["Priya Shah"] and len(row.signature) == 128


def test_a_verdict_copied_from_another_job_is_refused(prod):
    ws = prod["ws"]
    first, second = final_ideation(ws, "first"), final_ideation(ws, "second")
    approve(ws, first["job"], "producer", "Priya Shah")
    original = approval(ws, first["job"], "producer")
    with ws.unit_of_work() as s:
        digest = s.get(Job, second["job"]).spec_digest  # even re-pointed at the second job's spec
        s.add(Approval(job_id=second["job"], role="producer", person_id=original.person_id, verdict="approve",
                       note=original.note, at=original.at, spec_digest=digest, key_id=original.key_id,
                       signature=original.signature))
    refused(ws, second["job"], "producer verdict on job " + second["job"], "does not verify")
    assert approve(ws, first["job"], "legal", "Tom Reed")["status"] == "done"  # the original still counts


@pytest.mark.parametrize("change", [{"verdict": "approve"}, {"role": "legal"}, {"note": "fine by me"},
                                    {"at": datetime(2020, 1, 1, tzinfo=timezone.utc)}],
                         ids=["verdict", "role", "note", "time"])
def test_an_edited_verdict_is_refused(prod, change):
    ws = prod["ws"]
    job = final_ideation(ws)
    verdict = "reject" if "verdict" in change else "approve"
    role, who = ("legal", "Tom Reed") if change.get("role") == "producer" else ("producer", "Priya Shah")
    approve(ws, job["job"], role, who, verdict)
    row = approval(ws, job["job"], role)
    if "verdict" in change:  # a rejection ends the job; the edit would reopen it
        edit(ws, Job, job["job"], status="escalated")
    edit(ws, Approval, row.id, **change)
    refused(ws, job["job"], f"approval #{row.id}", "does not verify")


def test_a_verdict_recorded_in_someone_elses_name_is_refused(prod):
    ws, people = prod["ws"], prod["people"]
    job = final_ideation(ws)
    approve(ws, job["job"], "producer", "Priya Shah")
    row = approval(ws, job["job"], "producer")
    # re-attributed to another person: the key is Priya's
    edit(ws, Approval, row.id, person_id=people["Tom Reed"])
    refused(ws, job["job"], f"names {people['Tom Reed']}", f"key of {people['Priya Shah']}")


def test_the_requester_forging_a_producer_verdict_with_his_own_key_is_refused(prod):
    """Ken holds a real key; signing a producer verdict with it does not make him a producer."""
    ws, people = prod["ws"], prod["people"]
    job = final_ideation(ws)
    ken = signer_for(ws, "Ken Ito")
    with ws.unit_of_work() as s:
        digest = s.get(Job, job["job"]).spec_digest
        at = datetime.now(timezone.utc)
        for role in ("producer", "legal"):
            s.add(Approval(job_id=job["job"], role=role, person_id=people["Ken Ito"], verdict="approve", note="",
                           at=at, spec_digest=digest, key_id=ken.key_id,
                           signature=signatures.sign_approval(ken, ws.production_id, job_id=job["job"],
                                                              spec_digest=digest, role=role, verdict="approve",
                                                              note="", at=at)))
    refused(ws, job["job"], "certified roles (vfx_supervisor) do not include")


def test_a_key_planted_for_the_producer_is_refused(prod):
    """Someone with database access registers their own key for Priya: it is not certified by
    anyone who may issue credentials (self-signed, or signed by a key that may not)."""
    ws, people = prod["ws"], prod["people"]
    job = final_ideation(ws)
    mallory = signatures.Signer.from_seed(people["Priya Shah"], "Priya Shah", b"\x07" * 32)
    ken = signer_for(ws, "Ken Ito")
    for issuer in (None, ken):  # self-certified; certified by the requester's real key
        certificate = signatures.certificate_content(
            ws.production_id, key_id=mallory.key_id, public_key=mallory.public_hex, person_id=people["Priya Shah"],
            name="Priya Shah", roles=["producer", "legal"], token_id=None,
            issuer=issuer.key_id if issuer else None, issued_at=datetime.now(timezone.utc))
        with ws.unit_of_work() as s:
            s.query(Approval).filter(Approval.job_id == job["job"]).delete()
            s.query(PersonKey).filter(PersonKey.id == mallory.key_id).delete()
            s.add(PersonKey(id=mallory.key_id, production_id=ws.production_id, person_id=people["Priya Shah"],
                            public_key=mallory.public_hex, token_id=None,
                            issuer_key_id=issuer.key_id if issuer else None,
                            certificate=signatures.canonical(certificate).decode(),
                            signature=(issuer or mallory).sign(certificate), created_at=datetime.now(timezone.utc)))
            digest = s.get(Job, job["job"]).spec_digest
            at = datetime.now(timezone.utc)
            for role in ("producer", "legal"):
                s.add(Approval(job_id=job["job"], role=role, person_id=people["Priya Shah"], verdict="approve",
                               note="", at=at, spec_digest=digest, key_id=mallory.key_id,
                               signature=signatures.sign_approval(mallory, ws.production_id, job_id=job["job"],
                                                                  spec_digest=digest, role=role, verdict="approve",
                                                                  note="", at=at)))
        message = refused(ws, job["job"], mallory.key_id)
        assert ("is not the production's identity root" in message if issuer is None
                else "may not issue credentials" in message)


def test_an_unsigned_verdict_is_refused(prod):
    ws = prod["ws"]
    job = final_ideation(ws)
    approve(ws, job["job"], "producer", "Priya Shah")
    row = approval(ws, job["job"], "producer")
    edit(ws, Approval, row.id, key_id=None, signature=None)
    refused(ws, job["job"], "is not signed")


# ---------------------------------------------------------------- consents

def grant(prod, **over) -> dict:
    ws = prod["ws"]
    document = ws.settings.root.parent / "signed_consent.pdf"
    document.write_bytes(b"%PDF-1.4 signed digital alteration consent, Maya Castell, scene 5")
    args = dict(document=document, kind="digital_alteration", operations=["likeness_deage"], scenes=["5"], max_alteration=0.5,
                description="De-ageing of Maya Castell in the 1994 flashback, scene 5 only", signed_separately=True,
                representation="union", signer=signer_for(ws, "Lena Ortiz"))
    args.update(over)
    return consent_service.grant_consent(ws, prod["maya"]["id"], **args)


def deage(prod, amount: float = 0.3) -> dict:
    ws = prod["ws"]
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.LIKENESS_DEAGE,
                   requested_by="Ken Ito", model_id="soundstage.retouch", inputs=(prod["plate"]["id"],),
                   performers=(prod["maya"]["id"],), scene="5", shot="5A", alteration_amount=amount,
                   deliverable="temporary", medium="previz")
    return jobs.submit_job(ws, spec, actor="Ken Ito")


def consent_row(ws, consent_id: str) -> ConsentRecord:
    with ws.unit_of_work() as s:
        return s.get(ConsentRecord, consent_id)


def test_a_widened_consent_is_refused(prod):
    ws = prod["ws"]
    consent = grant(prod)
    assert deage(prod)["status"] == "escalated"  # within the consent: waits for approvals
    denied = deage(prod, amount=0.8)  # beyond the consented 0.5
    assert denied["status"] == "denied" and "SAG-CONSENT-ALTERATION" in str(denied["decision"])
    rec = consent_row(ws, consent["id"])
    data = {**rec.data, "scope": {**rec.data["scope"], "max_alteration": 0.9}}
    edit(ws, ConsentRecord, consent["id"], data=data)
    with pytest.raises(IntegrityError, match=f"consent {consent['id']} .*does not verify.*nothing ran"):
        deage(prod, amount=0.8)


@pytest.mark.parametrize("attack", ["un-revoked", "revocation removed", "un-suspended", "unsigned"])
def test_a_consent_rolled_back_or_unsigned_is_refused(prod, attack):
    ws = prod["ws"]
    consent = grant(prod)
    lena = signer_for(ws, "Lena Ortiz")
    if attack == "un-suspended":
        consent_service.set_suspension(ws, consent["id"], True, reason="strike", signer=lena)
    elif attack != "unsigned":
        consent_service.revoke_consent(ws, consent["id"], reason="withdrawn", signer=lena)
    assert deage(prod)["status"] == ("escalated" if attack == "unsigned" else "denied")
    rec = consent_row(ws, consent["id"])
    if attack == "un-revoked":
        edit(ws, ConsentRecord, consent["id"], revoked_at=None)
        expected = "is not the state its last signature covers"
    elif attack == "revocation removed":  # the revocation's signature dropped too: the audit log still has it
        edit(ws, ConsentRecord, consent["id"], revoked_at=None, signatures=rec.signatures[:1])
        expected = "the audit log records 2 consent action(s), its signatures 1"
    elif attack == "un-suspended":
        edit(ws, ConsentRecord, consent["id"], suspended=False)
        expected = "is not the state its last signature covers"
    else:
        edit(ws, ConsentRecord, consent["id"], signatures=None)
        expected = "is not signed"
    with pytest.raises(IntegrityError) as err:
        deage(prod)
    assert f"consent {consent['id']}" in err.value.message and expected in err.value.message


def test_a_consent_signed_by_someone_the_matrix_does_not_allow_is_refused(prod):
    """The issue's artist: Ken signs a consent with his own real key, straight into the database."""
    ws = prod["ws"]
    consent = grant(prod)
    ken = signer_for(ws, "Ken Ito")
    with ws.unit_of_work() as s:
        rec = s.get(ConsentRecord, consent["id"])
        rec.signatures = None
        signatures.sign_consent_action(rec, ken, ws.production_id, action="granted", reason="mine",
                                       at=datetime.now(timezone.utc))
    with pytest.raises(IntegrityError, match="may not consents.grant for this performer"):
        deage(prod)


def test_an_untouched_consent_history_verifies(prod):
    ws = prod["ws"]
    consent = grant(prod)
    lena = signer_for(ws, "Lena Ortiz")
    consent_service.set_suspension(ws, consent["id"], True, reason="strike", signer=lena)
    consent_service.set_suspension(ws, consent["id"], False, reason="strike over", signer=signer_for(ws, "Tom Reed"))
    result = deage(prod)
    assert result["status"] == "escalated", result["decision"]
    assert [e["action"] for e in consent_row(ws, consent["id"]).signatures] == ["granted", "suspended", "resumed"]
