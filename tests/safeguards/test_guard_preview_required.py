"""The default pack requires a review preview before anyone approves a job that alters a real
performer's likeness or performance on screen (issue 15, "approvers approve blind"), and no
production pack takes that away: not by leaving the operation out of its own list, not by listing
an empty one, not by narrowing which operations may be previewed."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interfaces" / "api"))

from api_helpers import build_production, deage_spec  # noqa: E402

from soundstage.domain.safeguards import LIKENESS_OPERATIONS, JobSpec, OperationKind  # noqa: E402
from soundstage.errors import RefusedError, StateConflictError  # noqa: E402
from soundstage.safeguards import preview_rules  # noqa: E402
from soundstage.services import jobs_service, preview_service  # noqa: E402

#: the likeness operations that have a picture: the ones the default pack requires a preview of
PICTURED = {"likeness_cosmetic", "likeness_deage", "likeness_replica", "performance_alteration"}
HEARD = {"voice.adr", "voice.dub", "voice.synthetic_line"}  # a line in a performer's voice: previewed by ear


def _with_pack(ws, tmp_path: Path, text: str):
    """The same production with one more pack (a production's own) listed after the default."""
    from soundstage.services.workspace import Workspace

    pack = tmp_path / f"studio-{abs(hash(text))}.yaml"
    pack.write_text(text)
    return Workspace(replace(ws.settings, policy_packs=(*ws.settings.policy_packs, pack)), ws.db, ws.store)


def _pack(lists: str) -> str:
    return (f"pack: studio\nversion: 1\nlists:\n{lists}rules:\n  - id: STUDIO-1\n    text: training is reviewed\n"
            "    when: {field: operation, eq: training}\n    then: {outcome: escalate, approvers: [legal]}\n")


@pytest.fixture
def prod(sqlite_workspace, tmp_path):
    p = build_production(sqlite_workspace, tmp_path)
    p["ws"] = sqlite_workspace
    return p


def _submit(ws, prod) -> str:
    spec = JobSpec.from_dict({**deage_spec(prod), "id": "x", "production_id": ws.production_id,
                              "requested_by": "Ken Ito"})
    return jobs_service.submit_job(ws, spec, actor="Ken Ito", wait=False)["job"]


def _signer(ws, prod, key: str):
    from soundstage.services import auth_service

    return auth_service.signer_for_token(ws, prod["tokens"][key])


def _approve_as_producer(ws, prod, job: str, preview: str | None) -> dict:
    return jobs_service.decide_on_job(ws, job, signer=_signer(ws, prod, "producer"), role="producer",
                                      verdict="approve", preview_digest=preview)


def test_the_default_pack_requires_a_preview_of_every_likeness_operation_that_has_one(sqlite_workspace):
    required = {op.value for op in OperationKind if preview_rules.preview_required(sqlite_workspace, op.value)}
    assert required == PICTURED | HEARD
    # every likeness operation left out has nothing to preview: no backend speaks it, or it is training
    assert {op.value for op in LIKENESS_OPERATIONS} - required == {"voice_synthesis", "training"}
    assert all(preview_rules.preview_allowed(sqlite_workspace, op) for op in HEARD)  # by ear (DR023)
    assert not any(preview_rules.preview_allowed(sqlite_workspace, op) for op in ("voice_synthesis", "training"))
    assert all(preview_rules.preview_allowed(sqlite_workspace, op) for op in PICTURED)


@pytest.mark.parametrize("lists", [
    "  preview_required_before_approval: []\n",  # an empty list of its own
    "  preview_required_before_approval: [key_visual]\n",  # a list of its own without the de-age
])
def test_a_production_pack_cannot_take_the_requirement_away(prod, tmp_path, lists):
    ws = _with_pack(prod["ws"], tmp_path, _pack(lists))
    assert preview_rules.preview_required(ws, "likeness_deage") and preview_rules.preview_required(ws, "likeness_replica")
    job = _submit(ws, prod)
    with pytest.raises(StateConflictError, match=f"look at the preview first: soundstage job preview {job}$"):
        _approve_as_producer(ws, prod, job, None)
    assert jobs_service.show_job(ws, job)["approvals"] == []
    # the control: the same approval naming the job's preview is recorded
    shown = preview_service.preview_for_review(ws, job, actor="Priya Shah").sha256
    assert "producer" not in _approve_as_producer(ws, prod, job, shown)["missing_roles"]


def test_narrowing_what_may_be_previewed_does_not_let_an_approval_through_blind(prod, tmp_path):
    """A production pack that leaves the de-age out of ``preview_before_approval`` stops its preview
    being made - and then no approval of a de-age counts until the packs agree (refused, 403)."""
    from soundstage.errors import http_status_for

    ws = _with_pack(prod["ws"], tmp_path, _pack("  preview_before_approval: [ideation, concept_art]\n"))
    assert preview_rules.preview_required(ws, "likeness_deage") and not preview_rules.preview_allowed(ws, "likeness_deage")
    job = _submit(ws, prod)
    with pytest.raises(RefusedError, match="makes no preview of likeness_deage"):
        preview_service.preview_for_review(ws, job, actor="Priya Shah")
    with pytest.raises(RefusedError, match="requires a preview before approving likeness_deage jobs") as err:
        _approve_as_producer(ws, prod, job, None)
    assert http_status_for(err.value) == 403 and "\n" not in str(err.value)
    assert jobs_service.show_job(ws, job)["approvals"] == []
    # a rejection still needs no preview
    assert jobs_service.decide_on_job(ws, job, signer=_signer(ws, prod, "legal"), role="legal",
                                      verdict="reject", note="the packs disagree")["status"] == "rejected"


def test_a_verdict_recorded_without_a_preview_does_not_run_the_job(prod, tmp_path):
    """A verdict that reached the ledger without a preview (given before the default asked for one,
    or written in by an insider with a real key): the guard's check before the run refuses it."""
    from datetime import datetime, timezone

    from soundstage.safeguards import audit, signatures
    from soundstage.store.models import Approval, Job

    ws = prod["ws"]
    job = _submit(ws, prod)
    shown = preview_service.preview_for_review(ws, job, actor="Priya Shah").sha256
    keys = (("producer", "producer"), ("vfx2", "vfx_supervisor"), ("rights_clearance", "rights_clearance"),
            ("legal", "legal"))
    for key, role in keys[1:]:
        jobs_service.decide_on_job(ws, job, signer=_signer(ws, prod, key), role=role, verdict="approve",
                                   preview_digest=shown)
    signer = _signer(ws, prod, "producer")
    with ws.unit_of_work() as s:
        row = s.get(Job, job)
        now = datetime.now(timezone.utc)
        s.add(Approval(job_id=job, role="producer", person_id=signer.person_id, verdict="approve", note="", at=now,
                       spec_digest=row.spec_digest, key_id=signer.key_id, preview_sha256=None,
                       signature=signatures.sign_approval(signer, ws.production_id, job_id=job,
                                                          spec_digest=row.spec_digest, role="producer",
                                                          verdict="approve", note="", at=now)))
        audit.append(s, production_id=ws.production_id, actor="Priya Shah", action="job.approved", subject=job,
                     payload={"role": "producer", "for": ["producer"], "person": signer.person_id, "note": "",
                              "spec_digest": row.spec_digest, "key": signer.key_id})
    with pytest.raises(RefusedError, match="names no preview: look at the preview first"):
        jobs_service.decide_on_job(ws, job, signer=_signer(ws, prod, "performer_rep"), role="performer_rep",
                                   verdict="approve", preview_digest=shown)
    assert jobs_service.show_job(ws, job)["status"] == "escalated"
