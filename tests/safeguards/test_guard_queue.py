"""The guard and the queue, on SQLite and PostgreSQL: a job that may run is queued, never run by the
request that cleared it; a worker's claim proves the job again from the ledger (the one guarded
path); racing claims - real processes - claim each job once."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import update

from soundstage.domain.safeguards import JobSpec, OperationKind, job_spec_from_request
from soundstage.safeguards import guard
from soundstage.services import jobs_service as jobs
from soundstage.services import consent_service, people_service, talent_service
from soundstage.services.ledger import audit_log, ingest_media, verify_audit
from soundstage.services.worker_service import drain_queue
from soundstage.store.models import Asset, Job
from soundstage.testing.approvals import approve
from soundstage.testing.identity import signer_for

HOLDERS = {"producer": "Priya Shah", "vfx_supervisor": "Vera Lind", "rights_clearance": "Tom Reed",
           "legal": "Tom Reed", "performer_rep": "Lena Ortiz"}


@pytest.fixture
def cast(workspace, tmp_path):
    ws = workspace
    for name, roles in [("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor"]),
                        ("Vera Lind", ["vfx_supervisor"]), ("Tom Reed", ["rights_clearance", "legal"]),
                        ("Lena Ortiz", ["performer_rep"])]:
        people_service.add_crew(ws, name, roles, actor="setup")
    maya = talent_service.add_performer(ws, "Maya Castell", union_status="sag-aftra", representatives=["Lena Ortiz"],
                            actor="setup")
    rng = np.random.default_rng(5)
    pixels = (rng.random((360, 640, 3)) * 60 + np.linspace(60, 180, 640)[None, :, None]).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "plate.png")
    plate = ingest_media(ws, tmp_path / "plate.png", kind="plate", actor="setup", scene="5", shot="5A")
    return ws, maya, plate


def card(ws, prompt: str = "fog over the pier") -> JobSpec:
    return job_spec_from_request({"operation": "ideation", "model_id": "soundstage.procedural-card",
                                  "prompt": prompt}, production_id=ws.production_id, requested_by="Priya Shah")


def job_assets(ws, job_id: str) -> list[int]:
    from sqlalchemy import select

    with ws.unit_of_work() as s:
        # the job's outputs: not the review preview its approvers looked at
        return list(s.scalars(select(Asset.id).where(Asset.job_id == job_id, Asset.kind != "preview")))


def actions(ws, job_id: str) -> list[str]:
    return [e["action"] for e in audit_log(ws, limit=10000) if e["subject"] == job_id]


def queued_deage(ws, maya, plate) -> str:
    """A consented, fully approved de-age, queued (approved as the API does: queue, do not run)."""
    document = ws.settings.root.parent / "signed_consent.pdf"
    document.write_bytes(b"%PDF-1.4 signed digital alteration consent, Maya Castell, scene 5")
    consent_service.grant_consent(ws, maya["id"], document=document, kind="digital_alteration", operations=["likeness_deage"],
                     description="De-ageing of Maya Castell by about 30 years in the 1994 flashback, scene 5 "
                                 "only, for the final cut of The Last Take",
                     scenes=["5"], max_alteration=0.5, signed_separately=True, representation="union",
                     signer=signer_for(ws, "Lena Ortiz"))
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.LIKENESS_DEAGE,
                   requested_by="Ken Ito", model_id="soundstage.retouch", inputs=(plate["id"],),
                   performers=(maya["id"],), scene="5", shot="5A", alteration_amount=0.3, deliverable="final",
                   medium="final")
    result = jobs.submit_job(ws, spec, actor="Ken Ito", wait=False)
    assert result["status"] == "escalated"
    for role in result["decision"]["approver_roles"]:
        result = approve(ws, result["job"], signer=signer_for(ws, HOLDERS[role]), role=role, actor=HOLDERS[role],
                         wait=False)
    assert result["status"] == "queued" and job_assets(ws, result["job"]) == []
    return result["job"]


def test_the_request_that_clears_a_job_only_queues_it(cast):
    ws, _, _ = cast
    result = jobs.submit_job(ws, card(ws), actor="Priya Shah", wait=False)
    assert result["status"] == "queued" and result["assets"] == []
    view = jobs.show_job(ws, result["job"])
    assert view["queued_at"] and view["attempts"] == 0 and view["lease"] is None
    assert actions(ws, result["job"]) == ["job.submitted", "job.queued"]
    stats = drain_queue(ws)
    assert stats.done == 1
    view = jobs.show_job(ws, result["job"])
    assert view["status"] == "done" and view["attempts"] == 1 and len(job_assets(ws, result["job"])) == 1
    assert actions(ws, result["job"]) == ["job.submitted", "job.queued", "job.started", "job.completed"]
    assert verify_audit(ws).ok


def test_a_consent_revoked_while_the_job_waited_denies_it_at_the_claim(cast):
    ws, maya, plate = cast
    job_id = queued_deage(ws, maya, plate)
    consent = consent_service.list_consents(ws)[0]
    consent_service.revoke_consent(ws, consent["id"], reason="withdrawn while the job was queued",
                      signer=signer_for(ws, "Lena Ortiz"))
    stats = drain_queue(ws)
    assert stats.claimed == 0 and stats.outcomes == [{"job": job_id, "status": "denied"}]
    view = jobs.show_job(ws, job_id)
    assert view["status"] == "denied" and job_assets(ws, job_id) == []
    assert actions(ws, job_id)[-2:] == ["job.queued", "job.denied"]
    assert any(r["rule_id"].startswith("SAG-") and r["outcome"] == "deny" for r in view["decision"]["reasons"])


def test_a_consent_revoked_while_the_output_is_signed_quarantines_it(cast, monkeypatch):
    """The adversary's timing: the consent is revoked after the guard's last decision and before the
    output's rows exist (while it is signed). The revocation waits for the registration, and its walk
    quarantines the output. Before the decision and the walk took the ledger's write order first
    (``audit.serialize``), the revocation committed at once, quarantined only the review preview, and
    the de-aged output registered active under the revoked consent (both databases)."""
    ws, maya, plate = cast
    job_id = queued_deage(ws, maya, plate)
    consent = consent_service.list_consents(ws)[0]
    sign = guard.sign_file
    revoker: dict = {}

    def revoke() -> None:
        revoker["result"] = consent_service.revoke_consent(
            ws, consent["id"], reason="withdrawn while the output was being signed", signer=signer_for(ws, "Lena Ortiz"))

    def signing_while_revoked(*args, **kwargs):
        if "thread" not in revoker:
            revoker["thread"] = threading.Thread(target=revoke)
            revoker["thread"].start()
            revoker["thread"].join(3)  # the unguarded ledger let the revocation commit here
            revoker["waited"] = revoker["thread"].is_alive()
        return sign(*args, **kwargs)

    monkeypatch.setattr(guard, "sign_file", signing_while_revoked)
    assert drain_queue(ws).done == 1
    revoker["thread"].join(60)
    assert revoker["waited"], "the revocation committed while the guard was registering on its decision"
    (output,) = job_assets(ws, job_id)
    with ws.unit_of_work() as s:
        assert s.get(Asset, output).status == "quarantined"
    assert guard.format_asset_id(output) in {a["id"] for a in revoker["result"]["quarantined"]}
    order = [e["action"] for e in audit_log(ws, limit=10000) if e["action"] in ("job.completed", "consent.revoked")]
    assert order == ["job.completed", "consent.revoked"]
    assert verify_audit(ws).ok


def test_the_same_queued_job_runs_when_nothing_changed(cast):
    """Control for the test above: the claim's checks are not simply refusing de-ages."""
    ws, maya, plate = cast
    job_id = queued_deage(ws, maya, plate)
    assert drain_queue(ws).done == 1
    assert jobs.show_job(ws, job_id)["status"] == "done" and len(job_assets(ws, job_id)) == 1


def test_a_spec_edited_in_the_ledger_while_queued_is_refused_at_the_claim(cast):
    """An insider edits the queued job's spec (sqlite3 / psql): the claim recomputes the spec digest,
    refuses the job (failed, with the reason; nothing runs) and the worker goes on to the next."""
    ws, _, _ = cast
    edited = jobs.submit_job(ws, card(ws), actor="Priya Shah", wait=False)["job"]
    untouched = jobs.submit_job(ws, card(ws, "gulls at dawn"), actor="Priya Shah", wait=False)["job"]
    with ws.unit_of_work() as s:
        spec = dict(s.get(Job, edited).spec)
        s.execute(update(Job).where(Job.id == edited).values(spec={**spec, "prompt": "a real news anchor"}))
    stats = drain_queue(ws)
    assert stats.failed == 1 and stats.done == 1
    view = jobs.show_job(ws, edited)
    assert view["status"] == "failed" and job_assets(ws, edited) == [] and view["attempts"] == 0
    refusal = [e for e in audit_log(ws, limit=10000) if e["subject"] == edited][-1]
    assert refusal["action"] == "job.failed" and refusal["payload"]["stage"] == "claim"
    assert "IntegrityError" in refusal["payload"]["error"] and "spec digest" in refusal["payload"]["error"]
    assert jobs.show_job(ws, untouched)["status"] == "done"
    assert drain_queue(ws).claimed == 0  # refused once: it is not claimed again in a loop


CLAIMER = """
import json, sys, time
from pathlib import Path
from soundstage.safeguards import guard
from soundstage.safeguards.lease import LeaseTerms
from soundstage.services.workspace import open_workspace

root, start, owner, tries = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
ws = open_workspace(Path(root))
with ws.db.engine.connect():
    pass  # connected before the start
won = []
while time.time() < start:
    time.sleep(0.001)
for _ in range(tries):
    outcome, cleared = guard.claim(ws, guard.Claim(owner, LeaseTerms(60, 5)))
    if cleared is not None:
        won.append(cleared.job_id)
print(json.dumps(won))
"""


def race(ws, claimers: int, tries: int) -> dict[str, list[str]]:
    """``claimers`` processes released at the same instant, each claiming ``tries`` times."""
    start = time.time() + 4.0
    procs = {f"worker:race:{i}:{i:04x}": subprocess.Popen(
        [sys.executable, "-c", CLAIMER, str(ws.settings.root), str(start), f"worker:race:{i}:{i:04x}", str(tries)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(claimers)}
    won = {}
    for owner, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        won[owner] = json.loads(out.strip().splitlines()[-1])
    return won


@pytest.mark.slow
def test_two_workers_claiming_one_job_at_once_one_wins(cast):
    ws, _, _ = cast
    job_id = jobs.submit_job(ws, card(ws), actor="Priya Shah", wait=False)["job"]
    won = race(ws, claimers=2, tries=1)
    winners = [owner for owner, jobs_won in won.items() if jobs_won]
    assert len(winners) == 1 and won[winners[0]] == [job_id], won
    view = jobs.show_job(ws, job_id)
    assert view["status"] == "running" and view["lease"]["owner"] == winners[0] and view["attempts"] == 1
    assert Counter(actions(ws, job_id))["job.started"] == 1


@pytest.mark.slow
def test_many_workers_claiming_many_jobs_claim_each_once(cast):
    ws, _, _ = cast
    queued = {jobs.submit_job(ws, card(ws, f"shot {i}"), actor="Priya Shah", wait=False)["job"] for i in range(3)}
    won = race(ws, claimers=4, tries=3)
    claims = [job for jobs_won in won.values() for job in jobs_won]
    assert sorted(claims) == sorted(queued), won  # every job claimed, none twice
    for job_id in queued:
        owner = next(o for o, jobs_won in won.items() if job_id in jobs_won)
        view = jobs.show_job(ws, job_id)
        assert view["status"] == "running" and view["lease"]["owner"] == owner
        assert Counter(actions(ws, job_id))["job.started"] == 1
    assert verify_audit(ws).ok


def test_a_lapsed_claim_is_taken_over_and_the_old_holder_can_write_nothing(cast):
    ws, _, _ = cast
    job_id = jobs.submit_job(ws, card(ws), actor="Priya Shah", wait=False)["job"]
    _, first = guard.claim(ws, guard.Claim("worker:old:1:0001", guard.LeaseTerms(0.5, 0.1)))
    assert first is not None
    time.sleep(0.7)
    assert guard.requeue_lapsed(ws, actor="worker:new:2") == [job_id]
    _, second = guard.claim(ws, guard.Claim("worker:new:2:0002", guard.LeaseTerms(30, 5)))
    assert second is not None and second.job_id == job_id
    # the old holder finishes its run late: its writes are compare-and-sets on its lease, so nothing lands
    outcome = guard.execute(ws, first, guard.Claim("worker:old:1:0001", guard.LeaseTerms(0.5, 0.1)),
                            actor="worker:old:1")
    assert outcome.status == "running" and job_assets(ws, job_id) == []
    view = jobs.show_job(ws, job_id)
    assert view["lease"]["owner"] == "worker:new:2:0002" and view["attempts"] == 2
    # the new holder completes it
    outcome = guard.execute(ws, second, guard.Claim("worker:new:2:0002", guard.LeaseTerms(30, 5)),
                            actor="worker:new:2")
    assert outcome.status == "done" and len(job_assets(ws, job_id)) == 1
    assert actions(ws, job_id) == ["job.submitted", "job.queued", "job.started", "job.requeued", "job.started",
                                   "job.completed"]


def test_the_inline_run_is_a_claim_too(cast):
    """The CLI and the services run a job where they are (``wait``): through the same claim, under a
    lease of their own, so a worker can resume it if that process dies."""
    ws, _, _ = cast
    result = jobs.submit_job(ws, card(ws), actor="Priya Shah")
    assert result["status"] == "done"
    started = next(e for e in audit_log(ws, limit=10000) if e["subject"] == result["job"]
                   and e["action"] == "job.started")
    assert started["payload"]["worker"].startswith("inline:") and started["payload"]["attempt"] == 1
    assert Path(guard.work_root(ws)).name == "vfx-work"
