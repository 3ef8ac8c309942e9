"""The production's signing keys are the ones its audit log records (red-team findings k1-k3).

Every creation, import and renewal is an audit event carrying the SHA-256 of ca.pem, of the CA
the signing chain ends at and of its leaf. An insider who swaps files in keys/ - ca.pem alone,
chain.pem and signer.key for another CA's pair, a whole new CA - gets no signature out of the
guard (inline or as a worker would run it), and `audit verify` names the certificate. A leaf
that cannot sign (expired, expiring within the run, a key others can read) stops the job before
its backend runs. `keys renew` issues a new leaf from the same CA, so files signed before stay
Trusted - also after the old leaf expired (the clock moved with libfaketime)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
import tomli_w
from sqlalchemy import func, select, text, update

from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.errors import IntegrityError, WorkspaceError
from soundstage.safeguards import guard, keys
from soundstage.safeguards.provenance import read_credentials
from soundstage.services import jobs_service as jobs
from soundstage.services import keys_service, people_service
from soundstage.services import workspace as workspace_module
from soundstage.services.ledger import audit_log, verify_audit
from soundstage.services.verify_service import verify_file
from soundstage.services.workspace import init_workspace, open_workspace
from soundstage.store.models import Asset, AuditEvent, AuditHead
from soundstage.testing.tsa import running_tsa

PRIYA = "Priya Shah"


@pytest.fixture
def ws(sqlite_workspace):
    people_service.add_crew(sqlite_workspace, PRIYA, ["producer"], actor="setup")
    return sqlite_workspace


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    """Somebody else's production CA, unencrypted: the pair an insider plants."""
    return keys.create_production_ca(tmp_path_factory.mktemp("other") / "keys", "Somebody Else", None)


def spec(ws, prompt: str = "rainy street at dusk") -> JobSpec:
    return JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION, requested_by=PRIYA,
                   model_id="soundstage.procedural-card", prompt=prompt)


def assets(ws) -> int:
    with ws.unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(Asset))


def trusted(ws, path: Path) -> str:
    return read_credentials(path, trust_anchors=[(ws.settings.keys_dir / "ca.pem").read_bytes()]).state.value


def verified(ws):
    return keys_service.with_signing_keys(ws, verify_audit(ws))


SWAPS = {
    "ca.pem alone": ("ca.pem",),
    "another CA's chain and key": ("chain.pem", "signer.key"),
    "a whole new CA": ("ca.pem", "ca.key", "chain.pem", "signer.key"),
}


def plant(ws, other_ca, names) -> None:
    for name in names:
        shutil.copy(other_ca.directory / name, ws.settings.keys_dir / name)  # copy keeps the 0600 of the keys


# ---------------------------------------------------------------- what init records

def test_init_records_the_signing_keys_by_fingerprint(ws):
    events = [e for e in audit_log(ws, action="keys.created") if e["subject"] == "signing keys"]
    assert len(events) == 1
    found = keys.fingerprints(ws.settings.keys_dir)
    payload = events[0]["payload"]
    assert payload["anchor_sha256"] == payload["ca_sha256"] == found.anchor_sha256
    assert payload["leaf_sha256"] == found.leaf_sha256 and len(found.leaf_sha256) == 64
    assert payload["encrypted"] is False and payload["leaf_not_after"]
    status = keys_service.signing_status(ws)
    assert status["signing_keys"].startswith("as the audit log records (keys.created, event #")
    assert status["signing_ca_sha256"] == found.anchor_sha256 and status["private_key_files"] == "owner-only"


def test_an_untouched_workspace_signs_and_verifies_clean(ws):
    result = jobs.submit_job(ws, spec(ws), actor=PRIYA)
    assert result["status"] == "done"
    assert trusted(ws, ws.store.path_for(result["assets"][0]["sha256"])) == "Trusted"
    report = verified(ws)
    assert report.ok and report.state.differences == [] and report.state.unprovable == []


# ---------------------------------------------------------------- swapped keys: nothing is signed

@pytest.mark.parametrize("swap", list(SWAPS))
def test_swapped_keys_stop_a_job_before_it_runs_and_audit_verify_names_them(ws, other_ca, swap):
    plant(ws, other_ca, SWAPS[swap])
    with pytest.raises(IntegrityError) as refused:
        jobs.submit_job(ws, spec(ws), actor=PRIYA)
    line = refused.value.one_line()
    assert "the audit log" in line and "did not run and is recorded failed" in line and "\n" not in line
    assert "soundstage job resume" in line
    listed = jobs.list_jobs(ws)[-1]
    assert listed["status"] == "failed" and listed["failure"]["stage"] == "signer" and assets(ws) == 0
    assert "the audit log" in listed["failure"]["error"] and listed["attempts"] == 0  # never started

    report = verified(ws)
    assert not report.ok
    named = {(d.table, Path(d.row).name, d.field) for d in report.state.differences}
    expected = {"ca.pem alone": {("keys", "ca.pem", "anchor_sha256")},
                "another CA's chain and key": {("keys", "chain.pem", "ca_sha256"), ("keys", "chain.pem", "leaf_sha256")},
                "a whole new CA": {("keys", "ca.pem", "anchor_sha256"), ("keys", "chain.pem", "ca_sha256"),
                                   ("keys", "chain.pem", "leaf_sha256")}}[swap]
    assert named == expected
    assert keys_service.signing_status(ws)["signing_keys"].startswith("DIFFER from the audit log")


@pytest.mark.parametrize("swap", ["another CA's chain and key", "ca.pem alone"])
def test_the_guard_itself_does_not_sign_with_swapped_keys(ws, other_ca, swap):
    """The worker's path (guard.run: claim and execute, no service in front): the keys are swapped
    after the job was queued; the guard refuses at signing, the job fails, nothing is stored."""
    queued = jobs.submit_job(ws, spec(ws), actor=PRIYA, wait=False)
    assert queued["status"] == "queued"
    plant(ws, other_ca, SWAPS[swap])
    with pytest.raises(IntegrityError, match="the audit log"):
        guard.run(ws, queued["job"], actor=PRIYA)
    assert jobs.show_job(ws, queued["job"])["status"] == "failed" and assets(ws) == 0
    failed = audit_log(ws, action="job.failed")[-1]
    assert failed["subject"] == queued["job"] and "the audit log" in failed["payload"]["error"]


def test_the_documents_signer_holds_to_the_record_too(ws, other_ca):
    """Every production signer is loaded through keys.load_production_signer (PDFs, checkpoints)."""
    assert keys.load_production_signer(ws.settings.keys_dir).algorithm == "ES256"
    plant(ws, other_ca, ("chain.pem", "signer.key"))
    with pytest.raises(IntegrityError):
        keys.load_production_signer(ws.settings.keys_dir)
    again = open_workspace(ws.settings.root)  # another workspace object of the same production
    del again
    with pytest.raises(IntegrityError):
        keys.load_production_signer(ws.settings.keys_dir)


def test_an_edited_keys_event_stops_signing(ws, other_ca):
    """Rewriting the recorded fingerprint to the planted chain's (without rebuilding the chain)."""
    plant(ws, other_ca, ("chain.pem", "signer.key"))
    forged = keys.fingerprints(ws.settings.keys_dir)
    with ws.unit_of_work() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.subject == "signing keys")).one()
        payload = {**json.loads(event.payload), "ca_sha256": forged.ca_sha256, "leaf_sha256": forged.leaf_sha256}
        s.execute(update(AuditEvent).where(AuditEvent.seq == event.seq).values(payload=json.dumps(payload)))
    with pytest.raises(IntegrityError, match=r"keys.created of signing keys \(#\d+\) is not the chain's"):
        jobs.submit_job(ws, spec(ws), actor=PRIYA)
    assert assets(ws) == 0


def test_a_keys_event_without_fingerprints_does_not_unpin(ws, other_ca):
    """Appending events needs no secret; one shaped like a pre-fingerprint event is either ignored
    (the old subject) or refused (the new one): it never switches the check off."""
    from soundstage.safeguards import audit

    plant(ws, other_ca, ("chain.pem", "signer.key"))
    with ws.unit_of_work() as s:
        audit.append(s, production_id=ws.production_id, actor="insider", action="keys.created",
                     subject="production CA", payload={"chain": "chain.pem", "encrypted": False})
    with pytest.raises(IntegrityError, match="chains to a CA the audit log does not record"):
        keys.load_production_signer(ws.settings.keys_dir)
    with ws.unit_of_work() as s:
        audit.append(s, production_id=ws.production_id, actor="insider", action="keys.imported",
                     subject="signing keys", payload={"chain": "chain.pem"})
    with pytest.raises(IntegrityError, match="names no certificate fingerprints"):
        keys.load_production_signer(ws.settings.keys_dir)


def test_a_rewound_renewal_does_not_make_the_new_leaf_acceptable(ws):
    """Drop the keys.renewed event (the last one, rewinding the head with it: a consistent chain)."""
    keys_service.renew_signing_certificate(ws, actor=PRIYA)
    with ws.unit_of_work() as s:
        last = s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
        assert last.action == "keys.renewed"
        s.execute(text("DELETE FROM audit_event WHERE seq = :seq"), {"seq": last.seq})
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=last.seq - 1, hash=last.prev_hash))
    assert verify_audit(ws).chain.ok
    with pytest.raises(IntegrityError, match="holds a signing certificate the audit log does not record"):
        jobs.submit_job(ws, spec(ws), actor=PRIYA)


# ---------------------------------------------------------------- replacing keys the audited way

def test_keys_init_after_removing_the_keys_is_recorded_and_signs(ws):
    first = keys.fingerprints(ws.settings.keys_dir)
    for name in ("ca.pem", "ca.key", "chain.pem", "signer.key"):
        (ws.settings.keys_dir / name).unlink()
    made = keys_service.create_signing_keys(ws, None, actor=PRIYA)
    assert made["previous"].fingerprints == first
    event = audit_log(ws, action="keys.created")[-1]
    assert event["actor"] == PRIYA and event["payload"]["anchor_sha256"] != first.anchor_sha256
    assert jobs.submit_job(ws, spec(ws), actor=PRIYA)["status"] == "done" and verified(ws).ok


def test_an_imported_chain_is_recorded_and_signs(ws, other_ca):
    for name in ("chain.pem", "signer.key"):
        (ws.settings.keys_dir / name).unlink()
    anchor = keys.fingerprints(ws.settings.keys_dir).anchor_sha256
    keys_service.import_signing_keys(ws, other_ca.chain.read_bytes(), other_ca.signer_key.read_bytes(), None,
                                     actor=PRIYA)
    event = audit_log(ws, action="keys.imported")[-1]
    assert event["subject"] == "signing keys" and event["actor"] == PRIYA
    assert event["payload"]["ca_sha256"] == keys.fingerprints(other_ca.directory).ca_sha256
    assert event["payload"]["anchor_sha256"] == anchor  # the production's old ca.pem stays the anchor it was
    assert jobs.submit_job(ws, spec(ws), actor=PRIYA)["status"] == "done" and verified(ws).ok


def test_a_key_others_can_read_stops_the_job_before_it_runs(ws):
    signer_key = ws.settings.keys_dir / "signer.key"
    signer_key.chmod(0o644)
    with pytest.raises(WorkspaceError) as refused:
        jobs.submit_job(ws, spec(ws), actor=PRIYA)
    assert f"(chmod 600 {signer_key})" in refused.value.one_line() and assets(ws) == 0
    assert str(signer_key) in keys_service.signing_status(ws)["private_key_files"]
    signer_key.chmod(0o600)
    job = jobs.list_jobs(ws)[-1]["id"]
    assert jobs.show_job(ws, job)["failure"]["stage"] == "signer"
    assert jobs.run_job(ws, job, actor=PRIYA)["status"] == "done"  # fixed: the job runs again


def test_a_certificate_expiring_within_the_run_is_refused_before_it(ws):
    import datetime as dt

    expires = keys.signing_certificate_expiry(ws.settings.keys_dir)
    assert keys_service.check_signer_ready(ws).not_after == expires
    with pytest.raises(WorkspaceError, match="within 24 hours"):
        keys_service.check_signer_ready(ws, now=expires - dt.timedelta(hours=23))


# ---------------------------------------------------------------- renewal: same CA, files stay trusted

def test_a_file_signed_before_renewal_stays_trusted(ws):
    before = jobs.submit_job(ws, spec(ws, "before renewal"), actor=PRIYA)["assets"][0]
    recorded = keys.fingerprints(ws.settings.keys_dir)
    made = keys_service.renew_signing_certificate(ws, actor=PRIYA, validity_days=365)
    event = audit_log(ws, action="keys.renewed")[-1]
    assert event["subject"] == "signing keys" and event["actor"] == PRIYA
    assert event["payload"]["ca_sha256"] == event["payload"]["anchor_sha256"] == recorded.anchor_sha256
    assert event["payload"]["leaf_sha256"] != recorded.leaf_sha256
    assert made["previous"].fingerprints == recorded

    assert verify_file(ws.store.path_for(before["sha256"]), ws)["c2pa"]["state"] == "Trusted"
    after = jobs.submit_job(ws, spec(ws, "after renewal"), actor=PRIYA)
    assert after["status"] == "done"
    assert verify_file(ws.store.path_for(after["assets"][0]["sha256"]), ws)["c2pa"]["state"] == "Trusted"
    assert verified(ws).ok


def test_renewal_refuses_a_ca_the_log_does_not_record(ws, other_ca):
    plant(ws, other_ca, ("ca.pem", "ca.key"))
    chain = (ws.settings.keys_dir / "chain.pem").read_bytes()
    with pytest.raises(IntegrityError, match="ca.pem is not the production CA certificate"):
        keys_service.renew_signing_certificate(ws, actor=PRIYA)
    assert (ws.settings.keys_dir / "chain.pem").read_bytes() == chain and not audit_log(ws, action="keys.renewed")


def test_keys_from_before_fingerprints_are_unprovable_until_renewed(tmp_path, monkeypatch, other_ca):
    """A workspace made by a soundstage that recorded its keys without fingerprints."""
    from soundstage.safeguards import audit

    def legacy(s, ws, *, action, actor, encrypted=None):
        audit.append(s, production_id=ws.production_id, actor=actor, action=action, subject="production CA",
                     payload={"chain": "chain.pem", "encrypted": encrypted})

    monkeypatch.setattr(workspace_module, "record_signing_keys", legacy)
    old = init_workspace(tmp_path / "old", "Old Show")
    monkeypatch.undo()
    try:
        people_service.add_crew(old, PRIYA, ["producer"], actor="setup")
        assert jobs.submit_job(old, spec(old), actor=PRIYA)["status"] == "done"  # nothing to hold the keys to
        report = verified(old)
        assert report.ok and [(u.table, u.fields) for u in report.state.unprovable] == \
            [("keys", ("ca_sha256", "leaf_sha256"))]
        assert keys_service.signing_status(old)["signing_keys"].startswith("not recorded")
        keys_service.renew_signing_certificate(old, actor=PRIYA)  # records them (trust on first use)
        assert verified(old).state.unprovable == []
        plant(old, other_ca, ("chain.pem", "signer.key"))
        with pytest.raises(IntegrityError):
            jobs.submit_job(old, spec(old), actor=PRIYA)
    finally:
        old.close()


IN_2031 = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from soundstage.domain.safeguards import JobSpec, OperationKind
    from soundstage.errors import SoundstageError
    from soundstage.services import jobs_service as jobs, keys_service
    from soundstage.services.verify_service import verify_file
    from soundstage.services.workspace import open_workspace
    ws = open_workspace(Path(sys.argv[1]))
    def job(prompt):
        return jobs.submit_job(ws, JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION,
                                           requested_by="Priya Shah", model_id="soundstage.procedural-card",
                                           prompt=prompt), actor="Priya Shah")
    out = {}
    try:
        job("after the leaf expired")
    except SoundstageError as exc:
        out["refused"] = exc.one_line()
    out["jobs"] = [j["status"] for j in jobs.list_jobs(ws)]
    out["before"] = verify_file(Path(sys.argv[2]), ws)["c2pa"]["state"]
    keys_service.renew_signing_certificate(ws, actor="Priya Shah")
    out["after"] = verify_file(Path(sys.argv[2]), ws)["c2pa"]["state"]
    made = job("after renewal")
    out["new"] = verify_file(ws.store.path_for(made["assets"][0]["sha256"]), ws)["c2pa"]["state"]
    print(json.dumps(out))
""")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("faketime") is None,
                    reason="needs libfaketime's `faketime` (Debian package faketime; scripts/sysdeps.sh installs it)")
def test_after_the_leaf_expired_the_job_stops_early_and_renewal_keeps_stamped_files_trusted(ws, tmp_path):
    config = ws.settings.root / "soundstage.toml"
    with running_tsa(tmp_path / "tsa") as server:
        anchor = server.authority.write_ca(ws.settings.keys_dir / "tsa-ca.pem")
        cfg = tomllib.loads(config.read_text(encoding="utf-8"))
        cfg["provenance"] = {"tsa_url": server.url, "tsa_trust_anchor": str(anchor.relative_to(ws.settings.root))}
        config.write_text(tomli_w.dumps(cfg), encoding="utf-8")
        stamped = jobs.submit_job(open_workspace(ws.settings.root), spec(ws, "time-stamped"), actor=PRIYA)
    stamped_file = shutil.copy(ws.store.path_for(stamped["assets"][0]["sha256"]), tmp_path / "stamped.png")
    cfg["provenance"] = {"tsa_trust_anchor": cfg["provenance"]["tsa_trust_anchor"]}  # the TSA is not up in 2031
    config.write_text(tomli_w.dumps(cfg), encoding="utf-8")
    assert keys.signing_certificate_expiry(ws.settings.keys_dir).year < 2031

    done = subprocess.run(["faketime", "2031-01-01 12:00:00", sys.executable, "-c", IN_2031, str(ws.settings.root),
                           str(stamped_file)], capture_output=True, text=True, timeout=300, env={**os.environ})
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert "expired on" in out["refused"] and "soundstage keys renew" in out["refused"]
    assert "field 'chain'" not in out["refused"] and out["jobs"] == ["done", "failed"]  # stopped before its run
    assert out["before"] == out["after"] == "Trusted"  # DR007's promise, across the renewal
    assert out["new"] == "Trusted"
