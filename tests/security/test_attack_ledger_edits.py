"""Red team, attack 6: an insider edits the ledger's rows (issue 12, "the ledger proves its own state").

Each attack is what the red-team report reproduced with ``sqlite3 ledger.sqlite`` (here: plain SQL
through ``text()``, on SQLite and on PostgreSQL), leaving the hash-chained audit log untouched - so
the chain alone said "intact" every time:

1. a revoked consent set back to active, then the de-age it covered approved to run;
2. a consent's scenes widened, so a de-age the consent denied would escalate;
3. a biometric reference face un-quarantined after its consent was revoked, then exported,
   downloaded and used again;
4. an approval row copied from another job (with this job's digest, so the digest check passes);
5. a hand-made asset row with a file dropped into the store, then downloaded, exported, used;
6. an override written into a denied job's row.

Now ``soundstage audit verify`` names the row (exit 1, one line per row that differs) and the guard
refuses the job before its backend runs (IntegrityError, HTTP 409): the counting backend's log stays
empty and no asset is registered.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import select, text

from soundstage.services import ledger
from soundstage.services import consent_service, models
from soundstage.testing.approvals import review_digest
from soundstage.testing.identity import signer_for

from redteam import approver_for, assert_error, auth, run_queue
from security_backends import read_runs

ROLE_ORDER = ("producer", "vfx_supervisor", "rights_clearance", "legal")


# ------------------------------------------------------------------------------ helpers

def sql(ws, statement: str, **params) -> None:
    """What an insider with sqlite3 or psql runs: plain SQL, no service, the audit log untouched."""
    with ws.db.engine.begin() as conn:
        conn.execute(text(statement), params)


def json_param(ws, name: str) -> str:
    return f"CAST(:{name} AS JSON)" if ws.db.engine.dialect.name == "postgresql" else f":{name}"


def audit_verify(ws) -> subprocess.CompletedProcess:
    """The real ``soundstage audit verify`` in a subprocess (single-user laptop mode)."""
    env = {**os.environ, "SOUNDSTAGE_SINGLE_USER": "1"}
    for name in ("SOUNDSTAGE_WORKSPACE", "SOUNDSTAGE_DEBUG", "SOUNDSTAGE_TOKEN"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "soundstage", "-w", str(ws.settings.root), "audit", "verify"],
                          env=env, capture_output=True, text=True, timeout=180)


def assert_verify_names(ws, table: str, row: str, field: str) -> str:
    """``audit verify`` exits 1, says the chain is intact, and names the row on a line of its own."""
    result = audit_verify(ws)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "the chain itself is intact" in result.stderr and "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith(f"{table} {row}:")]
    assert lines, result.stdout
    if field == "row":
        assert any("no audit event records" in line for line in lines), lines
    else:
        assert any(line.startswith(f"{table} {row}: {field} is ") for line in lines), lines
    return "\n".join(lines)


def deage_body(prod: dict, **over) -> dict:
    body = {"operation": "likeness_deage", "model_id": "test.counting", "inputs": [prod["plate"]["id"]],
            "performers": [prod["maya"]["id"]], "scene": "5", "shot": "5A", "alteration_amount": 0.3,
            "deliverable": "final", "medium": "final", "prompt": "Maya in the 1994 flashback"}
    body.update(over)
    return body


def post_job(api, prod, body: dict):
    return api.post("/api/jobs", headers=auth(prod, "vfx2"), json=body)  # Vera Lind requests it


def approve(api, prod, job_id: str, role_key: str):
    """``role_key``'s holder approves, naming the job's current preview (made at the first approval):
    the default pack asks approvers of a de-age to look at it first."""
    role = role_key.split(":", 1)[0]
    return api.post(f"/api/jobs/{job_id}/decision", headers=auth(prod, approver_for(prod, role_key)),
                    json={"role": role, "verdict": "approve", "note": f"{role} ok",
                          "preview_digest": review_digest(prod["ws"], job_id)})


def escalated_with_one_left(api, prod) -> tuple[dict, str]:
    """A de-age waiting for its last approval (the performer's representative's)."""
    response = post_job(api, prod, deage_body(prod))
    assert response.status_code == 202 and response.json()["status"] == "escalated", response.text
    job = response.json()
    last = next(r for r in job["missing_roles"] if r.startswith("performer_rep:"))
    for key in job["missing_roles"]:
        if key != last:
            response = approve(api, prod, job["job"], key)
            assert response.status_code == 200 and response.json()["status"] == "escalated", response.text
    return job, last


def job_assets(ws, job_id: str) -> list:
    from soundstage.store.models import Asset

    with ws.unit_of_work() as s:
        # the job's outputs: not the review preview its approvers looked at
        return list(s.scalars(select(Asset.id).where(Asset.job_id == job_id, Asset.kind != "preview")))


def refused(response, *names: str) -> str:
    message = assert_error(response, 409, "IntegrityError")
    assert "does not match its audit log" in message and "nothing ran" in message, message
    for name in names:
        assert name in message, message
    return message


@pytest.fixture
def counted(prod_db, counting):
    return counting(prod_db["ws"])


def revoke(ws, prod) -> dict:
    return consent_service.revoke_consent(ws, prod["consent"]["id"], reason="Maya withdrew her consent",
                             signer=signer_for(ws, "Lena Ortiz"))


# ------------------------------------------------------------------------------ the attacks

def test_control_the_untouched_production_verifies_and_runs(prod_db, api_db, counted):
    ws = prod_db["ws"]
    assert ledger.verify_audit(ws).ok
    job, last = escalated_with_one_left(api_db, prod_db)
    response = approve(api_db, prod_db, job["job"], last)
    assert response.status_code == 200 and response.json()["status"] == "queued", response.text
    run_queue(ws)
    assert len(read_runs(counted)) == 1
    result = audit_verify(ws)
    assert result.returncode == 0 and "ledger state proven" in result.stdout, result.stderr


def test_1_a_revoked_consent_set_back_to_active_runs_nothing(prod_db, api_db, counted):
    ws, cid = prod_db["ws"], prod_db["consent"]["id"]
    job, last = escalated_with_one_left(api_db, prod_db)
    seen = review_digest(ws, job["job"])  # the preview the first approvers looked at
    revoke(ws, prod_db)  # quarantines it with the consent
    sql(ws, "UPDATE consent SET revoked_at = NULL WHERE id = :id", id=cid)
    # the last approver must look at the job first (the default pack asks it of a de-age): the request
    # is recorded (202, DR023), and the worker's guard refuses to make the preview, naming the row
    headers = auth(prod_db, approver_for(prod_db, last))
    assert api_db.post(f"/api/jobs/{job['job']}/preview", headers=headers).status_code == 202
    run_queue(ws)
    polled = api_db.get(f"/api/jobs/{job['job']}/preview", headers=headers).json()
    assert polled["status"] == "failed" and polled["preview"] is None, polled
    for name in (f"consent {cid}", "revoked_at", "does not match its audit log", "nothing ran"):
        assert name in polled["request"]["error"], polled
    # and an approval on the withdrawn preview does not count
    stale = api_db.post(f"/api/jobs/{job['job']}/decision", headers=headers,
                        json={"role": "performer_rep", "verdict": "approve", "preview_digest": seen})
    assert "not its current preview" in assert_error(stale, 409, "StateConflictError")
    assert len(read_runs(counted, previews=True)) == 1  # the first approvers' preview, before the revocation
    assert read_runs(counted) == [] and job_assets(ws, job["job"]) == []
    assert_verify_names(ws, "consent", cid, "revoked_at")


def test_2_a_widened_consent_does_not_escalate_a_denied_deage(prod_db, api_db, counted):
    ws, cid = prod_db["ws"], prod_db["consent"]["id"]
    denied = post_job(api_db, prod_db, deage_body(prod_db, scene="6", shot="6A"))
    assert denied.status_code == 202 and denied.json()["status"] == "denied", denied.text
    from soundstage.store.models import ConsentRecord

    with ws.unit_of_work() as s:
        data = dict(s.get(ConsentRecord, cid).data)
    data["scope"] = {**data["scope"], "scenes": [*data["scope"]["scenes"], "6"]}
    sql(ws, f"UPDATE consent SET data = {json_param(ws, 'data')} WHERE id = :id", data=json.dumps(data), id=cid)
    response = post_job(api_db, prod_db, deage_body(prod_db, scene="6", shot="6A"))
    refused(response, f"consent {cid}", "data.scope.scenes")
    assert read_runs(counted) == []
    lines = assert_verify_names(ws, "consent", cid, "data.scope.scenes")
    assert '["5", "6"]' in lines and 'the audit log says ["5"]' in lines


def test_3_an_unquarantined_reference_face_is_not_exported_downloaded_or_used(prod_db, api_db, counted, tmp_path):
    ws = prod_db["ws"]
    reference = prod_db["reference"]["asset"]
    report = revoke(ws, prod_db)
    assert reference in {a["id"] for a in report["quarantined"]}
    sql(ws, "UPDATE asset SET status = 'active' WHERE id = :id", id=int(reference, 16))
    from soundstage.errors import IntegrityError

    out = tmp_path / "exports"
    out.mkdir()
    with pytest.raises(IntegrityError, match=f"asset {reference}: status is active, the audit log says quarantined"):
        ledger.export_asset(ws, reference, out, actor="Ken Ito")
    assert list(out.iterdir()) == []
    download = api_db.get(f"/api/assets/{reference}/download", headers=auth(prod_db, "producer"))
    assert_error(download, 409, "IntegrityError")
    # a new consent, and the de-age that would use the face again
    consent_service.grant_consent(ws, prod_db["maya"]["id"], kind="digital_alteration", operations=["likeness_deage"],
                     description="De-ageing of Maya Castell in the 1994 flashback, scene 5 only, re-negotiated",
                     scenes=["5"], max_alteration=0.5, signed_separately=True, representation="union",
                     signer=signer_for(ws, "Lena Ortiz"))
    refused(post_job(api_db, prod_db, deage_body(prod_db)), f"asset {reference}", "status")
    assert read_runs(counted) == []
    assert_verify_names(ws, "asset", reference, "status")
    verified = api_db.get("/api/audit/verify", headers=auth(prod_db, "legal"))
    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert body["ok"] is False and body["chain_ok"] is True
    assert {"table": "asset", "row": reference, "field": "status", "expected": "quarantined", "found": "active"} \
        .items() <= next(d for d in body["state"]["differences"] if d["row"] == reference).items()


def test_4_an_approval_copied_from_another_job_is_refused(prod_db, api_db, counted):
    ws = prod_db["ws"]
    job_a = post_job(api_db, prod_db, deage_body(prod_db)).json()
    job_b = post_job(api_db, prod_db, deage_body(prod_db)).json()
    assert approve(api_db, prod_db, job_a["job"], "producer").status_code == 200
    last = next(r for r in job_b["missing_roles"] if r.startswith("performer_rep:"))
    for key in ("vfx_supervisor", "rights_clearance", "legal"):
        assert approve(api_db, prod_db, job_b["job"], key).status_code == 200
    # the insider copies A's producer verdict onto B, with B's own digest so the digest check passes
    sql(ws, "INSERT INTO approval (job_id, role, person_id, verdict, note, at, spec_digest) "
            "SELECT :b, role, person_id, verdict, note, at, :digest "
            "FROM approval WHERE job_id = :a AND role = 'producer'", a=job_a["job"], b=job_b["job"],
        digest=api_db.get(f"/api/jobs/{job_b['job']}", headers=auth(prod_db, "producer")).json()["spec_digest"])
    refused(approve(api_db, prod_db, job_b["job"], last), f"approval {job_b['job']}/producer")
    assert read_runs(counted) == [] and job_assets(ws, job_b["job"]) == []
    assert_verify_names(ws, "approval", f"{job_b['job']}/producer", "row")


def test_5_a_hand_made_asset_row_is_not_downloaded_exported_or_used(prod_db, api_db, counted, tmp_path):
    ws = prod_db["ws"]
    blob = open(ws.store.path_for(prod_db["plate"]["sha256"]), "rb").read() + b"\x00forged"
    sha = hashlib.sha256(blob).hexdigest()
    path = ws.store.path_for(sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)  # a file dropped into the store
    forged = "00000feedfacecafe"[-16:]
    sql(ws, "INSERT INTO asset (id, production_id, sha256, kind, media_type, name, size, status, job_id, details, "
            "created_at) VALUES (:id, :p, :sha, 'plate', 'image/png', 'A002_C001.png', :size, 'active', NULL, "
            "'{}', CURRENT_TIMESTAMP)", id=int(forged, 16), p=ws.production_id, sha=sha, size=len(blob))
    from soundstage.errors import IntegrityError

    out = tmp_path / "exports"
    out.mkdir()
    with pytest.raises(IntegrityError, match=f"asset {forged}: no audit event records this row"):
        ledger.export_asset(ws, forged, out, actor="Ken Ito")
    assert list(out.iterdir()) == []
    download = api_db.get(f"/api/assets/{forged}/download", headers=auth(prod_db, "producer"))
    assert_error(download, 409, "IntegrityError")
    body = {"operation": "cleanup", "model_id": "test.counting", "inputs": [forged, prod_db["mask"]["id"]],
            "scene": "5", "shot": "5A"}
    refused(post_job(api_db, prod_db, body), f"asset {forged}")
    assert read_runs(counted) == []
    assert_verify_names(ws, "asset", forged, "row")


def test_6_an_override_written_into_a_denied_job_is_refused(prod_db, api_db, counted):
    from soundstage.domain.safeguards import ModelCard
    from soundstage.services.jobs_service import run_job

    ws = prod_db["ws"]
    # a trained model nobody can vouch for: a final deliverable from it is denied (an overridable rule)
    card = ModelCard(id="acme.skyline", name="Acme skyline", version="3", licence="proprietary",
                     weights_sha256="ab" * 32, training_data="unknown", trained_model=True,
                     runs_in_production_env=True, stores_inputs=False, trains_on_inputs=False)
    models.register_model(ws, card, actor="setup", backend="counting", config={"log": str(counted)})
    denied = post_job(api_db, prod_db, {"operation": "set_extension", "model_id": "acme.skyline",
                                        "prompt": "1950s skyline", "deliverable": "final", "medium": "final"})
    assert denied.status_code == 202 and denied.json()["status"] == "denied", denied.text
    job = denied.json()
    rule = next(r["rule_id"] for r in job["decision"]["reasons"] if r["outcome"] == "deny")
    entry = [{"rule_id": rule, "reason": "approved offline", "by": "Vera Lind", "at": "2026-01-01T00:00:00+00:00"}]
    sql(ws, f"UPDATE job SET overrides = {json_param(ws, 'o')}, status = 'submitted' WHERE id = :id",
        o=json.dumps(entry), id=job["job"])
    from soundstage.errors import IntegrityError

    with pytest.raises(IntegrityError, match=f"job {job['job']}: "):
        run_job(ws, job["job"], actor="Vera Lind")
    assert read_runs(counted) == [] and job_assets(ws, job["job"]) == []
    lines = assert_verify_names(ws, "job", job["job"], "overrides")
    assert f"job {job['job']}: status is submitted, the audit log says denied" in lines
