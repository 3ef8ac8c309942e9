"""Overriding a safeguard is itself a policy decision and an audit event - and never reaches consent."""

import pytest

from soundstage.domain.safeguards import JobSpec, ModelCard, OperationKind
from soundstage.errors import InputError, PermissionDeniedError
from soundstage.services import jobs_service as jobs
from soundstage.services import models, people_service, talent_service
from soundstage.services.ledger import audit_log, verify_audit
from soundstage.testing.identity import signer_for


@pytest.fixture
def production(workspace):
    ws = workspace
    for name, roles in (("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor"]), ("Ana Lima", ["vfx_supervisor"]),
                        ("Tom Reed", ["legal", "rights_clearance"])):
        people_service.add_crew(ws, name, roles, actor="setup")
    # a trained model whose training data nobody can vouch for: denied for final deliverables
    card = ModelCard(id="acme.skyline", name="Acme skyline model", version="3", licence="proprietary",
                     weights_sha256="ab" * 32, training_data="unknown", evidence="", trained_model=True,
                     runs_in_production_env=True, stores_inputs=False, trains_on_inputs=False)
    models.register_model(ws, card, actor="setup", backend="procedural-card")
    return ws


def skyline_job(ws) -> JobSpec:
    return JobSpec(id="", production_id=ws.production_id, operation=OperationKind.SET_EXTENSION,
                   requested_by="Ken Ito", model_id="acme.skyline", prompt="1950s city skyline at dusk",
                   deliverable="final", medium="final", scene="6")


def test_override_turns_a_denial_into_an_escalation_for_legal_and_the_producer(production):
    ws = production
    denied = jobs.submit_job(ws, skyline_job(ws), actor="Ken Ito")
    assert denied["status"] == "denied"
    rule = next(r["rule_id"] for r in denied["decision"]["reasons"] if r["outcome"] == "deny")
    with pytest.raises(InputError):
        jobs.request_override(ws, denied["job"], rule, reason="   ", actor="Ken Ito")
    result = jobs.request_override(ws, denied["job"], rule, reason="vendor indemnifies; legal reviewed the contract",
                                   actor="Ken Ito")
    assert result["status"] == "escalated"
    decision = result["decision"]
    assert "SOUNDSTAGE-OVERRIDE" in [r["rule_id"] for r in decision["reasons"]]
    assert {"legal", "producer"} <= set(decision["approver_roles"])
    with pytest.raises(PermissionDeniedError):  # the person who asked for the override cannot approve it
        jobs.decide_on_job(ws, denied["job"], signer=signer_for(ws, "Ken Ito"),
                           role="vfx_supervisor", verdict="approve",
                           actor="Ken Ito")
    holders = {"producer": "Priya Shah", "legal": "Tom Reed", "rights_clearance": "Tom Reed",
               "vfx_supervisor": "Ana Lima"}
    for role in decision["approver_roles"]:
        result = jobs.decide_on_job(ws, denied["job"], signer=signer_for(ws, holders[role]),
                                    role=role, verdict="approve",
                                    note="override reviewed", actor=holders[role])
    assert result["status"] == "done" and result["assets"]
    actions = [e["action"] for e in audit_log(ws)]
    assert "safeguard.override_requested" in actions
    assert verify_audit(ws).ok


def test_consent_rules_can_never_be_overridden(production, tmp_path):
    ws = production
    maya = talent_service.add_performer(ws, "Maya Castell", union_status="sag-aftra", actor="setup")
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.LIKENESS_DEAGE,
                   requested_by="Ken Ito", model_id="soundstage.retouch", performers=(maya["id"],),
                   alteration_amount=0.3, deliverable="final", medium="final")
    denied = jobs.submit_job(ws, spec, actor="Ken Ito")
    assert denied["status"] == "denied"
    consent_rule = next(r["rule_id"] for r in denied["decision"]["reasons"]
                        if r["outcome"] == "deny" and r["rule_id"].startswith("SAG-"))
    with pytest.raises(PermissionDeniedError, match="never be overridden"):
        jobs.request_override(ws, denied["job"], consent_rule, reason="deadline", actor="Priya Shah")
    assert jobs.show_job(ws, denied["job"])["status"] == "denied"


def test_only_a_rule_that_denied_can_be_overridden(production):
    ws = production
    denied = jobs.submit_job(ws, skyline_job(ws), actor="Ken Ito")
    with pytest.raises(InputError, match="did not deny"):
        jobs.request_override(ws, denied["job"], "NFX-NOTIFY", reason="x", actor="Ken Ito")
