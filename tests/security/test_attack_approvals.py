"""Red team, attack 4: approvals are bound to exactly what they approve (DR006, decision 4).

An escalated de-ageing job (final deliverable, a union performer: five approver roles) collects
four approvals over the API. Then an insider with write access to the ledger changes what the job
is - as ``sqlite3 ledger.sqlite "UPDATE job SET spec = ..."`` would - and the fifth approval's run
is refused (IntegrityError, HTTP 409, naming the spec digest): the backend never runs, no asset is
registered, and the only new audit event is the recorded verdict. The same holds when the insider
also rewrites ``job.spec_digest`` and every approval's digest to match (the ``job.submitted``
audit event still holds the original), when an approval row is copied from another job, when an
input's stored bytes are swapped, and when an approver's reviewed digest is not the job's.

The backend is the counting test backend, so "never ran" is counted, not assumed; a control test
runs the same job untouched and sees exactly one run and one asset.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from soundstage.testing.approvals import review_digest
from soundstage.testing.identity import signer_for

from redteam import approver_for, assert_error, audit_actions, auth, last_seq, ledger_counts, run_queue, store_files
from security_backends import read_runs

ROLE_ORDER = ("producer", "vfx_supervisor", "rights_clearance", "legal")


def deage_body(prod: dict, **over) -> dict:
    body = {"operation": "likeness_deage", "model_id": "test.counting", "inputs": [prod["plate"]["id"]],
            "performers": [prod["maya"]["id"]], "scene": "5", "shot": "5A", "alteration_amount": 0.3,
            "deliverable": "final", "medium": "final", "prompt": "Maya in the 1994 flashback"}
    body.update(over)
    return body


def submit(api, prod, body: dict) -> dict:
    response = api.post("/api/jobs", headers=auth(prod, "vfx2"), json=body)  # Vera Lind requests it
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "escalated", job
    return job


def approve(api, prod, job_id: str, role_key: str):
    """``role_key``'s holder approves, naming the job's current preview (made at the first approval):
    the default pack asks approvers of a de-age to look at it first."""
    role = role_key.split(":", 1)[0]
    return api.post(f"/api/jobs/{job_id}/decision", headers=auth(prod, approver_for(prod, role_key)),
                    json={"role": role, "verdict": "approve", "note": f"{role} ok",
                          "preview_digest": review_digest(prod["ws"], job_id)})


def approve_all_but_last(api, prod, job: dict) -> str:
    """Approve every missing role but the performer's representative; return that last role key."""
    missing = list(job["missing_roles"])
    assert set(ROLE_ORDER) <= set(missing) and len(missing) == 5, missing
    last = next(r for r in missing if r.startswith("performer_rep:"))
    for key in missing:
        if key != last:
            response = approve(api, prod, job["job"], key)
            assert response.status_code == 200 and response.json()["status"] == "escalated", response.text
    return last


def stored_spec(ws, job_id: str) -> dict:
    from soundstage.store.models import Job

    with ws.unit_of_work() as s:
        return dict(s.get(Job, job_id).spec)


def digest_of(ws, spec: dict) -> str:
    from soundstage.domain.safeguards import JobSpec
    from soundstage.safeguards.guard import job_digest, resolve_inputs

    job = JobSpec.from_dict(spec)
    with ws.unit_of_work() as s:
        return job_digest(job, resolve_inputs(s, ws, job, verify_content=False))


def insider_update(ws, job_id: str, *, spec: dict | None = None, spec_digest: str | None = None,
                   approval_digest: str | None = None) -> None:
    """Plain SQL UPDATEs on the ledger, bypassing every service (what a person with sqlite3 or psql
    and the database file or password can do)."""
    from soundstage.store.models import Approval, Job

    with ws.unit_of_work() as s:
        if spec is not None:
            s.execute(update(Job).where(Job.id == job_id).values(spec=spec))
        if spec_digest is not None:
            s.execute(update(Job).where(Job.id == job_id).values(spec_digest=spec_digest))
        if approval_digest is not None:
            s.execute(update(Approval).where(Approval.job_id == job_id).values(spec_digest=approval_digest))


def job_assets(ws, job_id: str) -> list:
    from soundstage.store.models import Asset

    with ws.unit_of_work() as s:
        # the job's outputs: not the review preview its approvers looked at
        return list(s.scalars(select(Asset.id).where(Asset.job_id == job_id, Asset.kind != "preview")))


def assert_refused_and_nothing_ran(api, prod, job_id: str, last: str, log, *, match: str) -> None:
    """The last approval is answered 409 IntegrityError; only the verdict itself was recorded."""
    ws = prod["ws"]
    rows, files, seq = ledger_counts(ws), store_files(ws), last_seq(ws)
    message = assert_error(approve(api, prod, job_id, last), 409, "IntegrityError")
    assert match in message and "nothing ran" in message, message
    assert read_runs(log) == []  # the backend was never called
    assert job_assets(ws, job_id) == []
    after = ledger_counts(ws)
    assert after == {**rows, "approval": rows["approval"] + 1, "audit_event": rows["audit_event"] + 1}, after
    assert audit_actions(ws, seq) == [("job.approved", job_id)]
    assert store_files(ws) == files
    view = api.get(f"/api/jobs/{job_id}", headers=auth(prod, "producer")).json()
    assert view["status"] == "escalated"
    run_queue(ws)  # nothing was queued: a worker finds nothing to run
    assert read_runs(log) == []
    # and it stays refused: a later run (the service every retry goes through) refuses it again
    from soundstage.errors import IntegrityError
    from soundstage.services.jobs_service import run_job

    with pytest.raises(IntegrityError):
        run_job(ws, job_id, actor="Priya Shah")
    assert read_runs(log) == [] and job_assets(ws, job_id) == []


@pytest.fixture
def counted(prod_db, counting):
    return counting(prod_db["ws"])


def test_control_the_untouched_job_runs_exactly_once(prod_db, api_db, counted):
    """The setup is sound: without tampering, the fifth approval runs the backend once, on the
    spec that was submitted, and registers one asset."""
    job = submit(api_db, prod_db, deage_body(prod_db))
    last = approve_all_but_last(api_db, prod_db, job)
    assert read_runs(counted) == []
    response = approve(api_db, prod_db, job["job"], last)
    assert response.status_code == 200 and response.json()["status"] == "queued", response.text
    assert read_runs(counted) == []  # the request queued the job; a worker runs it
    run_queue(prod_db["ws"])
    (run,) = read_runs(counted)
    assert run["job"] == stored_spec(prod_db["ws"], job["job"])
    assert len(job_assets(prod_db["ws"], job["job"])) == 1


TAMPERING = {
    "prompt": {"prompt": "Maya, now a stunt double, in a car crash"},
    "alteration_amount": {"alteration_amount": 0.45},  # still inside the consent's 0.5: only the digest says no
    "scene": {"scene": "6"},
    "performers": "add Noah",
    "inputs": "swap to the mask",
    "params": {"params": {"seed": 7}},
    "deliverable": {"deliverable": "temporary", "medium": "previz"},
}


def tampered(prod: dict, spec: dict, kind: str) -> dict:
    change = TAMPERING[kind]
    if kind == "performers":
        return {**spec, "performers": [*spec["performers"], prod["noah"]["id"]]}
    if kind == "inputs":
        return {**spec, "inputs": [prod["mask"]["id"]]}
    return {**spec, **change}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_an_edited_spec_is_refused_at_the_last_approval(prod_db, api_db, counted, kind):
    ws = prod_db["ws"]
    job = submit(api_db, prod_db, deage_body(prod_db))
    last = approve_all_but_last(api_db, prod_db, job)
    insider_update(ws, job["job"], spec=tampered(prod_db, stored_spec(ws, job["job"]), kind))
    assert_refused_and_nothing_ran(api_db, prod_db, job["job"], last, counted, match="spec digest")


def test_an_edited_spec_with_a_matching_digest_is_still_refused(prod_db, api_db, counted):
    """The insider rewrites the spec, the job's digest and every approval's digest consistently:
    the job.submitted audit event still holds the digest that was submitted."""
    ws = prod_db["ws"]
    job = submit(api_db, prod_db, deage_body(prod_db))
    last = approve_all_but_last(api_db, prod_db, job)
    spec = {**stored_spec(ws, job["job"]), "alteration_amount": 0.5, "prompt": "thirty years younger, and crying"}
    forged = digest_of(ws, spec)
    insider_update(ws, job["job"], spec=spec, spec_digest=forged, approval_digest=forged)
    assert_refused_and_nothing_ran(api_db, prod_db, job["job"], last, counted, match="spec digest")


def test_an_approval_copied_from_another_job_is_refused(prod_db, api_db, counted):
    """Job A is approved by the producer; the insider copies that row onto job B (same spec but for
    its id, so a different digest). B's last approval is refused: a verdict is bound to its job."""
    from soundstage.store.models import Approval

    ws = prod_db["ws"]
    job_a = submit(api_db, prod_db, deage_body(prod_db))
    job_b = submit(api_db, prod_db, deage_body(prod_db))
    assert approve(api_db, prod_db, job_a["job"], "producer").status_code == 200
    last = next(r for r in job_b["missing_roles"] if r.startswith("performer_rep:"))
    for key in ("vfx_supervisor", "rights_clearance", "legal"):
        assert approve(api_db, prod_db, job_b["job"], key).status_code == 200
    with ws.unit_of_work() as s:
        row = s.scalars(select(Approval).where(Approval.job_id == job_a["job"])).one()
        s.add(Approval(job_id=job_b["job"], role=row.role, person_id=row.person_id, verdict=row.verdict,
                       note=row.note, at=row.at, spec_digest=row.spec_digest))
    assert_refused_and_nothing_ran(api_db, prod_db, job_b["job"], last, counted,
                                   match="not given on this job's spec")
    assert read_runs(counted) == [] and job_assets(ws, job_a["job"]) == []


def test_an_input_swapped_in_the_store_is_refused(prod_db, api_db, counted):
    """The digest covers each input's content hash, and the guard re-hashes the stored bytes."""
    import os

    ws = prod_db["ws"]
    job = submit(api_db, prod_db, deage_body(prod_db))
    last = approve_all_but_last(api_db, prod_db, job)
    stored = ws.store.path_for(prod_db["plate"]["sha256"])
    os.chmod(stored, 0o644)
    stored.write_bytes(stored.read_bytes()[:-16] + b"\0" * 16)
    rows, seq = ledger_counts(ws), last_seq(ws)
    response = approve(api_db, prod_db, job["job"], last)
    assert_error(response, 409, "IntegrityError")
    assert read_runs(counted) == [] and job_assets(ws, job["job"]) == []
    assert ledger_counts(ws) == {**rows, "approval": rows["approval"] + 1, "audit_event": rows["audit_event"] + 1}
    assert audit_actions(ws, seq) == [("job.approved", job["job"])]


def test_an_approver_who_reviewed_another_digest_is_refused(prod_db, api_db, counted):
    """``spec_digest`` is what the approver was shown: a job that is not that job is refused with
    StateConflictError (409) and the verdict is not recorded. (The API's VerdictIn has no such
    field, so this is the service every interface calls.)"""
    from soundstage.errors import StateConflictError, http_status_for
    from soundstage.services.jobs_service import decide_on_job, show_job

    ws = prod_db["ws"]
    job = submit(api_db, prod_db, deage_body(prod_db))
    rows, seq = ledger_counts(ws), last_seq(ws)
    other = digest_of(ws, {**stored_spec(ws, job["job"]), "prompt": "what I was shown"})
    with pytest.raises(StateConflictError, match="not the job you reviewed") as err:
        decide_on_job(ws, job["job"], signer=signer_for(ws, "Priya Shah"), role="producer", verdict="approve",
                      actor="Priya Shah", spec_digest=other)
    assert http_status_for(err.value) == 409
    assert ledger_counts(ws) == rows and audit_actions(ws, seq) == []
    # the digest the approver really saw is accepted (the check is not simply always failing)
    shown = show_job(ws, job["job"])["spec_digest"]
    result = decide_on_job(ws, job["job"], signer=signer_for(ws, "Priya Shah"), role="producer", verdict="approve",
                           actor="Priya Shah", spec_digest=shown, preview_digest=review_digest(ws, job["job"]))
    assert result["status"] == "escalated" and "producer" not in result["missing_roles"]
    assert read_runs(counted) == []


def test_api_approver_who_reviewed_another_digest_is_refused(prod_db, api_db, counted):
    """Over the API too: the verdict body carries the digest the approver reviewed (regression: the
    field was once dropped silently and the approval recorded)."""
    ws = prod_db["ws"]
    job = submit(api_db, prod_db, deage_body(prod_db))
    rows, seq = ledger_counts(ws), last_seq(ws)
    url, headers = f"/api/jobs/{job['job']}/decision", auth(prod_db, "producer")
    other = digest_of(ws, {**stored_spec(ws, job["job"]), "prompt": "what I was shown"})
    message = assert_error(api_db.post(url, headers=headers, json={"role": "producer", "verdict": "approve",
                                                                   "spec_digest": other}),
                           409, "StateConflictError")
    assert "not the job you reviewed" in message
    # a digest that is not even a digest is a bad request, not an approval
    response = api_db.post(url, headers=headers, json={"role": "producer", "verdict": "approve",
                                                       "spec_digest": "../../etc/passwd"})
    assert response.status_code == 422, response.text
    assert ledger_counts(ws) == rows and audit_actions(ws, seq) == []
    # the digest the approver really reviewed is accepted
    shown = api_db.get(f"/api/jobs/{job['job']}", headers=headers).json()["spec_digest"]
    response = api_db.post(url, headers=headers, json={"role": "producer", "verdict": "approve", "spec_digest": shown,
                                                       "preview_digest": review_digest(ws, job["job"])})
    assert response.status_code == 200 and response.json()["status"] == "escalated", response.text
    assert read_runs(counted) == []


def test_an_edited_spec_with_a_forged_submission_event_is_refused(prod_db, api_db, counted):
    """The insider also edits the job.submitted event's payload (without rebuilding the hash chain
    after it): the guard checks that event's own hash and its link before believing its digest
    (regression: it once read the payload as it was and ran the edited job)."""
    import json

    from soundstage.services.ledger import verify_audit
    from soundstage.store.models import AuditEvent

    ws = prod_db["ws"]
    job = submit(api_db, prod_db, deage_body(prod_db))
    last = approve_all_but_last(api_db, prod_db, job)
    spec = {**stored_spec(ws, job["job"]), "alteration_amount": 0.5, "prompt": "thirty years younger, and crying"}
    forged = digest_of(ws, spec)
    insider_update(ws, job["job"], spec=spec, spec_digest=forged, approval_digest=forged)
    with ws.unit_of_work() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.subject == job["job"],
                                                   AuditEvent.action == "job.submitted")).one()
        payload = {**json.loads(event.payload), "spec_digest": forged, "spec": spec}
        s.execute(update(AuditEvent).where(AuditEvent.seq == event.seq).values(payload=json.dumps(payload)))
    assert not verify_audit(ws).ok  # the edit is detectable from the chain, and the guard reads it so
    assert_refused_and_nothing_ran(api_db, prod_db, job["job"], last, counted, match="was edited")
