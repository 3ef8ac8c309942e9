"""The preview an approver was shown is bound into the signed approval (issue 15): the row keeps its
digest, the approver's signature covers it, the state proof checks it, and the guard - when a
pack requires previews (the default pack does for a de-age; a studio pack adds key visuals) -
refuses an approval without one and, before every run, one that names another job's preview, an
edited row, or a preview quarantined since."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interfaces" / "api"))

from api_helpers import build_production, deage_spec  # noqa: E402

from soundstage.domain.safeguards import JobSpec  # noqa: E402
from soundstage.errors import IntegrityError, QuarantinedError, StateConflictError  # noqa: E402
from soundstage.services import jobs_service, ledger, preview_service  # noqa: E402

#: (token key, role) of every approver a de-age needs in this production (Ken Ito requests it)
APPROVERS = (("producer", "producer"), ("vfx2", "vfx_supervisor"), ("rights_clearance", "rights_clearance"),
             ("legal", "legal"), ("performer_rep", "performer_rep"))
STUDIO_PACK = ("pack: studio\nversion: 1\nlists:\n  preview_required_before_approval: [key_visual]\nrules:\n"
               "  - id: STUDIO-1\n    text: training is reviewed by legal\n    when: {field: operation, eq: training}\n"
               "    then: {outcome: escalate, approvers: [legal]}\n")


@pytest.fixture
def prod(sqlite_workspace, tmp_path):
    from soundstage.services.workspace import Workspace

    p = build_production(sqlite_workspace, tmp_path)
    pack = tmp_path / "studio.yaml"
    pack.write_text(STUDIO_PACK)
    base = sqlite_workspace
    # the same production with a studio pack that also requires previews of key visuals before approval
    # (the default pack alone requires them of a de-age)
    p["ws"] = Workspace(replace(base.settings, policy_packs=(pack,)), base.db, base.store)
    p["plain"] = base
    return p


def _signer(prod, key: str):
    from soundstage.services import auth_service

    return auth_service.signer_for_token(prod["ws"], prod["tokens"][key])


def _submit(prod, ws=None, spec: dict | None = None) -> str:
    ws = ws or prod["ws"]
    spec = JobSpec.from_dict({**(spec or deage_spec(prod)), "id": "x", "production_id": ws.production_id,
                              "requested_by": "Ken Ito"})
    return jobs_service.submit_job(ws, spec, actor="Ken Ito", wait=False)["job"]


#: a key visual (escalated to producer and legal); the default pack requires no preview of it
KEY_VISUAL = {"operation": "key_visual", "model_id": "soundstage.procedural-card", "prompt": "the poster"}
KEY_VISUAL_APPROVERS = (("producer", "producer"), ("legal", "legal"))


def _approve(prod, job: str, preview: str | None, approvers=APPROVERS, ws=None) -> dict:
    result = {}
    for key, role in approvers:
        result = jobs_service.decide_on_job(ws or prod["ws"], job, signer=_signer(prod, key), role=role,
                                            verdict="approve", preview_digest=preview)
    return result


def test_an_approval_without_the_preview_is_refused_when_the_pack_requires_one(prod):
    ws, plain = prod["ws"], prod["plain"]
    job = _submit(prod)
    with pytest.raises(StateConflictError, match=f"look at the preview first: soundstage job preview {job}$"):
        _approve(prod, job, None, APPROVERS[:1])
    assert jobs_service.show_job(ws, job)["approvals"] == []  # nothing recorded
    # the default pack alone asks it of a de-age
    other = _submit(prod, plain)
    with pytest.raises(StateConflictError, match=f"look at the preview first: soundstage job preview {other}$"):
        _approve(prod, other, None, APPROVERS[:1], ws=plain)
    # a key visual: the default pack asks for no preview, the studio's pack adds the requirement
    free = _submit(prod, plain, KEY_VISUAL)
    assert _approve(prod, free, None, KEY_VISUAL_APPROVERS[:1], ws=plain)["status"] == "escalated"
    asked = _submit(prod, spec=KEY_VISUAL)
    with pytest.raises(StateConflictError, match=f"look at the preview first: soundstage job preview {asked}$"):
        _approve(prod, asked, None, KEY_VISUAL_APPROVERS[:1])
    # a rejection needs no preview
    jobs_service.decide_on_job(ws, job, signer=_signer(prod, "legal"), role="legal", verdict="reject", note="no")
    assert jobs_service.show_job(ws, job)["status"] == "rejected"


def test_the_preview_digest_is_signed_into_the_approval_and_the_job_runs(prod):
    from soundstage.safeguards import signatures
    from soundstage.store.models import Approval

    ws = prod["ws"]
    job = _submit(prod)
    shown = preview_service.preview_for_review(ws, job, actor="Priya Shah")
    assert preview_service.preview_for_review(ws, job, actor="Priya Shah").sha256 == shown.sha256  # reused
    partial = _approve(prod, job, shown.sha256, APPROVERS[:4])
    assert partial["status"] == "escalated" and partial["missing_roles"] == [f"performer_rep:{prod['maya']['id']}"]
    assert partial["waiting_for"] == ["performer_rep of Maya Castell"]
    done = _approve(prod, job, shown.sha256, APPROVERS[4:])
    assert done["status"] == "done" and done["assets"] and shown.sha256 not in {a["sha256"] for a in done["assets"]}
    assert {a["preview_digest"] for a in jobs_service.show_job(ws, job)["approvals"]} == {shown.sha256}
    with ws.unit_of_work() as s:
        row = s.query(Approval).filter_by(job_id=job, role="producer").one()
        args = dict(job_id=job, spec_digest=row.spec_digest, role=row.role, verdict=row.verdict, note=row.note,
                    person_id=row.person_id, key_id=row.key_id, at=row.at)
        signed = signatures.approval_content(ws.production_id, preview_sha256=row.preview_sha256, **args)
        assert signed["v"] == signatures.APPROVAL_WITH_PREVIEW and signed["preview"] == shown.sha256
        key = signatures.Verifier(s, ws.production_id).key(row.key_id).public
        key.verify(bytes.fromhex(row.signature), signatures.canonical(signed))
        # the same verdict without its preview (the v1 payload) is not what was signed
        from cryptography.exceptions import InvalidSignature

        with pytest.raises(InvalidSignature):
            key.verify(bytes.fromhex(row.signature),
                       signatures.canonical(signatures.approval_content(ws.production_id, **args)))
    assert ledger.verify_audit(ws, deep=True).ok


def test_another_jobs_preview_is_refused_when_given_and_when_forged_into_a_signed_row(prod):
    from soundstage.safeguards import audit, signatures
    from soundstage.store.models import Approval, Job

    ws = prod["ws"]
    job, other = _submit(prod), _submit(prod)
    theirs = preview_service.preview_for_review(ws, other, actor="Priya Shah").sha256
    with pytest.raises(StateConflictError, match="not its current preview"):
        _approve(prod, job, theirs, APPROVERS[:1])
    mine = preview_service.preview_for_review(ws, job, actor="Priya Shah").sha256
    _approve(prod, job, mine, APPROVERS[:4])
    # an insider who holds a real key writes the last verdict straight into the ledger, signed and
    # audited, naming the other job's preview: only the guard's own preview check stands in the way
    signer = _signer(prod, "performer_rep")
    role = f"performer_rep:{prod['maya']['id']}"
    with ws.unit_of_work() as s:
        row = s.get(Job, job)
        from datetime import datetime, timezone

        now = datetime.now(timezone.utc)
        s.add(Approval(job_id=job, role=role, person_id=signer.person_id, verdict="approve", note="", at=now,
                       spec_digest=row.spec_digest, key_id=signer.key_id, preview_sha256=theirs,
                       signature=signatures.sign_approval(signer, ws.production_id, job_id=job,
                                                          spec_digest=row.spec_digest, role=role, verdict="approve",
                                                          note="", at=now, preview_sha256=theirs)))
        audit.append(s, production_id=ws.production_id, actor="Lena Ortiz", action="job.approved", subject=job,
                     payload={"role": "performer_rep", "for": [role], "person": signer.person_id, "note": "",
                              "spec_digest": row.spec_digest, "key": signer.key_id, "preview_digest": theirs})
    with pytest.raises(IntegrityError, match=f"no preview of job {job}; nothing ran"):
        jobs_service.run_job(ws, job, actor="Priya Shah")
    assert jobs_service.show_job(ws, job)["status"] == "escalated"


def test_an_approval_rows_preview_edited_in_sql_is_named_and_refused(prod):
    ws = prod["ws"]
    job = _submit(prod)
    shown = preview_service.preview_for_review(ws, job, actor="Priya Shah").sha256
    _approve(prod, job, shown, APPROVERS[:4])
    with ws.db.engine.begin() as conn:
        conn.execute(text("UPDATE approval SET preview_sha256 = :d WHERE job_id = :j AND role = 'legal'"),
                     {"d": "e" * 64, "j": job})
    report = ledger.verify_audit(ws, deep=True)
    assert not report.ok and "preview_sha256" in str(report.to_dict())
    with pytest.raises(IntegrityError):
        _approve(prod, job, shown, APPROVERS[4:])  # the last verdict is recorded; the run is refused
    assert jobs_service.show_job(ws, job)["status"] == "escalated"


def test_a_preview_quarantined_after_the_approvals_stops_the_run(prod, tmp_path):
    from soundstage.services import consent_service

    ws = prod["ws"]
    job = _submit(prod)
    first = preview_service.preview_for_review(ws, job, actor="Priya Shah").sha256
    _approve(prod, job, first, APPROVERS[:4])
    # the consent the preview relied on is revoked (the preview is quarantined with it), and a new one granted
    consent_service.revoke_consent(ws, prod["consent"]["id"], reason="withdrawn for re-signing", signer=_signer(prod, "performer_rep"))
    document = tmp_path / "resigned.pdf"
    document.write_bytes(b"%PDF-1.4 re-signed digital alteration consent, Maya Castell, scene 5")
    consent_service.grant_consent(ws, prod["maya"]["id"], document=document, kind="digital_alteration",
                     operations=["likeness_deage"], scenes=["5"], max_alteration=0.5, signed_separately=True,
                     description="De-ageing of Maya Castell by about 30 years in the 1994 flashback, scene 5 only",
                     representation="union", signer=_signer(prod, "performer_rep"))
    assert preview_service.current_preview(ws, job) is None  # the first preview is quarantined
    second = preview_service.preview_for_review(ws, job, actor="Priya Shah").sha256
    assert second != first  # a new preview (a new id in its mark), relying on the new consent
    with pytest.raises(QuarantinedError, match="quarantined since"):
        _approve(prod, job, second, APPROVERS[4:])
    assert jobs_service.show_job(ws, job)["status"] == "escalated"


def test_missing_roles_read_as_names(prod):
    ws = prod["ws"]
    pid = prod["maya"]["id"]
    assert jobs_service.role_labels(ws, ["legal", f"performer_rep:{pid}", "performer_rep:t-unknown"]) == [
        "legal", "performer_rep of Maya Castell", "performer_rep of t-unknown"]
    job = _submit(prod)
    view = jobs_service.show_job(ws, job)
    assert f"performer_rep:{pid}" in view["missing_roles"] and "performer_rep of Maya Castell" in view["waiting_for"]


def test_the_guides_pack_example_is_the_list_the_guard_reads():
    import re

    import yaml

    from soundstage.safeguards import preview_rules

    guide = (Path(__file__).resolve().parents[2] / "docs" / "guides" / "review-before-approval.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", guide, re.S).group(1)
    assert yaml.safe_load(block)["lists"] == yaml.safe_load(STUDIO_PACK)["lists"] == {
        preview_rules.PREVIEW_REQUIRED_LIST: ["key_visual"]}


def test_verdicts_given_before_the_pack_asked_for_a_preview_do_not_run_the_job(prod):
    from soundstage.errors import RefusedError

    job = _submit(prod, prod["plain"], KEY_VISUAL)
    _approve(prod, job, None, KEY_VISUAL_APPROVERS[:1], ws=prod["plain"])  # no preview asked for yet
    shown = preview_service.preview_for_review(prod["ws"], job, actor="Leo Hart").sha256
    with pytest.raises(RefusedError, match="names no preview: look at the preview first"):
        _approve(prod, job, shown, KEY_VISUAL_APPROVERS[1:])  # the studio's pack now asks: the earlier verdict does not count
    assert jobs_service.show_job(prod["ws"], job)["status"] == "escalated"
