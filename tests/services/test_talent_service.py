"""Performers on a real workspace: putting a performer's representative on file."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
from PIL import Image

from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.errors import AlreadyExistsError, NotFoundError, PermissionDeniedError, SpecError
from soundstage.services import jobs_service as jobs
from soundstage.services import consent_service, people_service, talent_service
from soundstage.services.ledger import audit_log, ingest_media, verify_audit
from soundstage.testing.approvals import approve
from soundstage.testing.identity import signer_for


@pytest.fixture
def estate(workspace, tmp_path):
    """A deceased performer registered without a representative, an estate consent, and a
    de-ageing job on an archive plate that waits for approvals, their representative's among them."""
    ws = workspace
    for name, roles in [("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor"]),
                        ("Tom Reed", ["rights_clearance", "legal"]), ("Ada Marsh", ["performer_rep"])]:
        people_service.add_crew(ws, name, roles, actor="setup")
    legend = talent_service.add_performer(ws, "Late Legend", union_status="sag-aftra", living=False,
                              died_at=datetime(2019, 3, 1, tzinfo=timezone.utc), actor="setup")
    assert legend["representatives"] == [] and legend["consent_authority"] == "estate"
    document = tmp_path / "estate_consent.pdf"
    document.write_bytes(b"%PDF-1.4 estate consent, Late Legend, scene 5")
    consent_service.grant_consent(ws, legend["id"], document=document, kind="digital_alteration", operations=["likeness_deage"],
                     description="De-ageing of the late Late Legend in the archive flashback, scene 5 only, "
                                 "for the final cut",
                     scenes=["5"], max_alteration=0.5, signed_separately=True, representation="counsel",
                     granted_by="estate", signer=signer_for(ws, "Tom Reed"))
    pixels = (np.random.default_rng(5).random((180, 320, 3)) * 60 + 100).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "archive_plate.png")
    plate = ingest_media(ws, tmp_path / "archive_plate.png", kind="plate", actor="setup", scene="5", shot="5A")
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.LIKENESS_DEAGE,
                   requested_by="Ken Ito", model_id="soundstage.retouch", inputs=(plate["id"],),
                   performers=(legend["id"],), scene="5", shot="5A", alteration_amount=0.2,
                   deliverable="final", medium="final")
    job = jobs.submit_job(ws, spec, actor="Ken Ito")
    assert job["status"] == "escalated" and f"performer_rep:{legend['id']}" in job["missing_roles"]
    return ws, legend, job


def test_a_representative_put_on_file_later_can_approve_for_the_performer(estate):
    ws, legend, job = estate
    with pytest.raises(PermissionDeniedError, match="does not represent"):
        jobs.decide_on_job(ws, job["job"], signer=signer_for(ws, "Ada Marsh"), role="performer_rep", verdict="approve",
                           actor="Ada Marsh")

    shown = talent_service.add_representative(ws, "Late Legend", "Ada Marsh", actor="Tom Reed")
    ada = next(p for p in people_service.list_people(ws, "crew") if p["name"] == "Ada Marsh")
    assert shown["representatives"] == [ada["id"]] and shown["representative_names"] == ["Ada Marsh"]
    assert talent_service.show_performer(ws, legend["id"])["representatives"] == [ada["id"]]
    event = audit_log(ws, action="talent.representative_added")[-1]
    assert (event["actor"], event["subject"]) == ("Tom Reed", legend["id"])
    assert event["payload"]["performer"] == legend["id"] and event["payload"]["representative"] == ada["id"]
    assert verify_audit(ws).ok

    after = approve(ws, job["job"], signer=signer_for(ws, "Ada Marsh"), role="performer_rep", actor="Ada Marsh")
    assert f"performer_rep:{legend['id']}" not in after["missing_roles"]


def test_representation_is_refused_for_non_representatives_repeats_and_unknown_people(estate):
    ws, legend, _ = estate
    with pytest.raises(SpecError, match="not a performer's representative"):
        talent_service.add_representative(ws, legend["id"], "Ken Ito", actor="Tom Reed")
    with pytest.raises(NotFoundError):
        talent_service.add_representative(ws, "Nobody Known", "Ada Marsh", actor="Tom Reed")
    with pytest.raises(NotFoundError):
        talent_service.add_representative(ws, legend["id"], "Late Legend", actor="Tom Reed")  # a performer, not crew
    talent_service.add_representative(ws, legend["id"], "Ada Marsh", actor="Tom Reed")
    with pytest.raises(AlreadyExistsError, match="already represents"):
        talent_service.add_representative(ws, legend["id"], "ada marsh", actor="Tom Reed")
    assert len(audit_log(ws, action="talent.representative_added")) == 1
