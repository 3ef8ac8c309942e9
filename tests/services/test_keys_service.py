"""The production's signing keys are the ones its audit log records (red-team finding k1).

Every creation and import is an audit event carrying the SHA-256 of ca.pem, of the CA the signing
chain ends at and of its leaf. An insider who swaps files in keys/ - ca.pem alone, chain.pem and
signer.key for another CA's pair - gets no signature out of the guard, an edited or hollow keys
event does not switch the check off, and keys replaced the audited way sign again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.errors import IntegrityError
from soundstage.safeguards import guard, keys
from soundstage.safeguards.provenance import read_credentials
from soundstage.services import jobs_service as jobs
from soundstage.services import keys_service, people_service
from soundstage.services.ledger import audit_log, verify_audit
from soundstage.services.workspace import open_workspace
from soundstage.store.models import Asset, AuditEvent

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
