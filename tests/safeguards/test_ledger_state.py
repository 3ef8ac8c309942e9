"""The ledger proves its own state (issue 12): the audit log, replayed, is every safeguard row.

A real production (ledger_production.build: crew, performers, a signed consent, an enrolled face,
model cards, approved, rejected and overridden jobs, a suspension, a revocation) verifies clean and
fully provable; each row an insider edits, inserts or deletes with plain SQL, and each stored file
that goes missing or changes, is named - table, row, field, what the log says and which event said
it. Events written before state proof make rows *unprovable*, never tampered. SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import sys
from collections import namedtuple
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

sys.path.insert(0, str(Path(__file__).parent))

from ledger_production import build, cli, json_param, sql  # noqa: E402

from soundstage.safeguards import audit  # noqa: E402
from soundstage.safeguards.ledger_state import SET, LedgerState  # noqa: E402
from soundstage.services.ledger import verify_audit  # noqa: E402
from soundstage.store.models import AuditEvent, AuditHead, ConsentRecord  # noqa: E402

TABLES = ("person", "consent", "model_card", "asset", "approval", "job")


@pytest.fixture
def prod(workspace, tmp_path):
    return {**build(workspace, tmp_path, revoke=True), "ws": workspace}


def named(report) -> set[tuple[str, str, str]]:
    return {(d.table, d.row, d.field) for d in report.state.differences}


def count_rows(ws) -> int:
    with ws.unit_of_work() as s:
        return sum(int(s.scalar(text(f"SELECT count(*) FROM {t}"))) for t in TABLES)


# ----------------------------------------------------------------------------- a clean production


def test_a_real_production_is_the_state_its_log_describes(prod):
    ws = prod["ws"]
    report = verify_audit(ws)
    assert report.ok and report.chain.ok, report.problem
    assert report.state.differences == [] and report.state.unprovable == []  # a new workspace: all provable
    assert report.state.rows == count_rows(ws)  # every safeguard row was compared, none skipped
    assert report.state.files >= 6  # plate, consent document, reference face, three outputs
    deep = verify_audit(ws, deep=True)
    assert deep.ok and deep.state.deep
    # the revocation is in the replay: what it quarantined is expected quarantined, row by row
    assert prod["revocation"]["quarantined"], "the de-aged output and the reference relied on the consent"
    with ws.unit_of_work() as s:
        events = s.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars().all()
        state = LedgerState()
        for ev in events:
            state.apply(ev)
    for item in prod["revocation"]["quarantined"]:
        assert state.rows["asset"][int(item["id"], 16)].values["status"] == "quarantined"
    consent = state.rows["consent"][prod["consent"]["id"]].values
    assert consent["revoked_at"] is not None and consent["suspended"] is False
    assert consent["data"]["scope"]["scenes"] == ["5"]  # the full consent, scope and window, is in the log
    job = state.rows["job"][prod["overridden"]].values
    assert job["status"] == "done" and job["overrides"][0]["reason"] == "vendor indemnifies; legal reviewed"
    assert state.rows["model_card"]["acme.skyline"].values["data"]["version"] == "3"  # the latest card


def test_the_cli_says_intact_and_proven(prod):
    result = cli(prod["ws"], "audit", "verify")
    assert result.returncode == 0, result.stderr
    assert "chain verified; ledger state proven" in result.stdout and "unprovable" not in result.stdout
    result = cli(prod["ws"], "audit", "verify", "--deep", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] and data["state"]["deep"] and data["state"]["differences"] == []


# ----------------------------------------------------------------------------- the replay is pure

Event = namedtuple("Event", "seq production_id at actor action subject payload")


def events(*items) -> list[Event]:
    return [Event(i, "prod", "", actor, action, subject, json.dumps(payload))
            for i, (actor, action, subject, payload) in enumerate(items, start=1)]


def test_the_fold_is_a_pure_function_of_the_events():
    consent = {"id": "c-1", "scope": {"scenes": ["5"]}}
    log = events(
        ("lena", "consent.granted", "c-1", {"performer": "t-1", "consent": consent, "document_asset": None}),
        ("lena", "consent.suspended", "c-1", {"reason": "strike"}),
        ("ken", "asset.ingested", "00000000000000aa", {"kind": "plate", "name": "a.png", "sha256": "a" * 64,
                                                       "size": 3, "parents": [], "media_type": "image/png",
                                                       "details": {}}),
        ("ken", "job.submitted", "j-1", {"operation": "likeness_deage", "spec": {"id": "j-1"}, "spec_digest": "d"}),
        ("ken", "job.escalated", "j-1", {"from": "submitted", "to": "escalated"}),
        ("priya", "job.approved", "j-1", {"role": "producer", "for": ["producer"], "person": "p-1", "note": "",
                                          "spec_digest": "d"}),
        ("lena", "job.rejectd", "j-1", {"role": "performer_rep", "for": ["performer_rep:t-1"], "person": "p-2",
                                        "note": "no", "spec_digest": "d"}),
        ("ken", "job.rejected", "j-1", {"from": "escalated", "to": "rejected", "by_roles": ["performer_rep:t-1"]}),
        ("lena", "consent.revoked", "c-1", {"reason": "withdrawn", "revoked_at": "2026-01-02T03:04:05+00:00",
                                            "quarantined": ["00000000000000aa"]}),
    )
    first, second = LedgerState(), LedgerState()
    for ev in log:
        first.apply(ev)
        second.apply(ev)
    assert {t: {k: r.values for k, r in rows.items()} for t, rows in first.rows.items()} == \
        {t: {k: r.values for k, r in rows.items()} for t, rows in second.rows.items()}
    c = first.rows["consent"]["c-1"]
    assert c.values["data"] == consent and c.values["suspended"] is True
    assert c.values["revoked_at"] == "2026-01-02T03:04:05.000000+00:00" and c.seq_of("revoked_at") == 9
    assert first.rows["asset"][0xaa].values["status"] == "quarantined"
    assert first.rows["job"]["j-1"].values["status"] == "rejected"
    assert first.rows["approval"][("j-1", "producer")].values["verdict"] == "approve"
    assert first.rows["approval"][("j-1", "performer_rep:t-1")].values["verdict"] == "reject"
    assert not any(r.unknown for rows in first.rows.values() for r in rows.values())


def test_events_from_before_state_proof_are_unprovable_not_tampered():
    """Old payloads (no consent content, no revocation time, a truncated quarantine list): the
    fields they cannot prove are marked unknown; what they do prove is still proven."""
    log = events(
        ("lena", "consent.granted", "c-1", {"performer": "t-1", "kind": "digital_alteration"}),
        ("ken", "talent.added", "t-1", {"union_status": "sag-aftra", "living": True,
                                         "consent_authority": "performer", "representatives": []}),
        ("lena", "consent.revoked", "c-1", {"reason": "withdrawn", "quarantined": ["…"]}),
    )
    state = LedgerState()
    for ev in log:
        state.apply(ev)
    consent = state.rows["consent"]["c-1"]
    assert consent.unknown == {"data", "document_asset_id"} and consent.values["revoked_at"] is SET
    assert state.rows["person"]["t-1"].unknown == {"name", "details"}
    assert state.truncated_quarantine


# ----------------------------------------------------------------------------- each edit is named


def test_an_un_revoked_consent_is_named(prod):
    ws, cid = prod["ws"], prod["consent"]["id"]
    sql(ws, "UPDATE consent SET revoked_at = NULL WHERE id = :id", id=cid)
    report = verify_audit(ws)
    assert report.chain.ok and not report.ok  # the chain alone said "intact" to this
    (difference,) = [d for d in report.state.differences if d.table == "consent"]
    assert (difference.row, difference.field, difference.found) == (cid, "revoked_at", None)
    assert datetime.fromisoformat(difference.expected) == datetime.fromisoformat(prod["revocation"]["revoked_at"])
    assert f"consent {cid}: revoked_at is empty, the audit log says" in difference.message()


def test_a_widened_scope_is_named_down_to_the_field(prod):
    ws, cid = prod["ws"], prod["consent"]["id"]
    with ws.unit_of_work() as s:
        data = dict(s.get(ConsentRecord, cid).data)
    data["scope"] = {**data["scope"], "scenes": ["5", "6", "7"]}
    sql(ws, f"UPDATE consent SET data = {json_param(ws, 'data')} WHERE id = :id", data=json.dumps(data), id=cid)
    report = verify_audit(ws)
    assert (("consent", cid, "data.scope.scenes") in named(report)), named(report)
    scenes = next(d for d in report.state.differences if d.field == "data.scope.scenes")
    assert scenes.expected == ["5"] and scenes.found == ["5", "6", "7"]


def test_a_released_quarantine_a_forged_asset_and_edited_or_copied_verdicts_are_named(prod):
    ws = prod["ws"]
    reference = prod["reference"]["asset"]
    sql(ws, "UPDATE asset SET status = 'active' WHERE id = :id", id=int(reference, 16))
    # a hand-made asset row, its file dropped into the store
    blob = b"not from any job"
    import hashlib

    sha = hashlib.sha256(blob).hexdigest()
    path = ws.store.path_for(sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    sql(ws, "INSERT INTO asset (id, production_id, sha256, kind, media_type, name, size, status, job_id, details, "
            "created_at) VALUES (:id, :p, :sha, 'image', 'image/png', 'shot_12.png', :size, 'active', NULL, '{}', "
            "CURRENT_TIMESTAMP)", id=0x1234567890ab, p=ws.production_id, sha=sha, size=len(blob))
    # the rejected job: its producer's "reject" turned into "approve", and the vfx supervisor's
    # verdict on the approved de-age copied onto it
    with ws.unit_of_work() as s:
        rejected = s.scalar(text("SELECT job_id FROM approval WHERE verdict = 'reject'"))
    sql(ws, "UPDATE approval SET verdict = 'approve' WHERE job_id = :j", j=rejected)
    sql(ws, "INSERT INTO approval (job_id, role, person_id, verdict, note, at, spec_digest) "
            "SELECT :j, role, person_id, verdict, note, at, spec_digest FROM approval "
            "WHERE job_id = :src AND role = 'vfx_supervisor'", j=rejected, src=prod["deage"]["job"])
    report = verify_audit(ws)
    got = named(report)
    assert ("asset", reference, "status") in got
    assert ("asset", "00001234567890ab", "row") in got  # no event: forged
    assert ("approval", f"{rejected}/producer", "verdict") in got
    assert ("approval", f"{rejected}/vfx_supervisor", "row") in got
    forged = next(d for d in report.state.differences if d.row == "00001234567890ab")
    assert forged.kind == "forged" and "no audit event records this row" in forged.message()


def test_deleted_and_inserted_rows_and_lineage_are_named(prod):
    ws = prod["ws"]
    output = prod["deage"]["assets"][0]["id"]
    consent = prod["consent"]["id"]
    sql(ws, "DELETE FROM asset_consent WHERE asset_id = :a", a=int(output, 16))  # revocation would miss it
    sql(ws, "DELETE FROM asset_edge WHERE child_id = :a", a=int(output, 16))
    sql(ws, "INSERT INTO person (id, production_id, name, kind, roles, details, created_at) VALUES "
            "('p-mallory', :p, 'Mallory', 'crew', '[\"legal\"]', '{}', CURRENT_TIMESTAMP)", p=ws.production_id)
    sql(ws, "UPDATE person SET roles = '[\"performer_rep\", \"legal\"]' WHERE name = 'Sam Cole'")
    report = verify_audit(ws)
    got = named(report)
    assert ("asset_consent", f"{output}/{consent}", "row") in got
    assert ("asset_edge", f"{output}<-{prod['plate']['id']}", "row") in got
    assert ("person", "p-mallory", "row") in got
    assert any(d[0] == "person" and d[2] == "roles" for d in got)
    kinds = {d.table: d.kind for d in report.state.differences}
    assert kinds["asset_consent"] == "missing" and kinds["asset_edge"] == "missing"


def test_stored_files_missing_resized_or_altered(prod):
    ws = prod["ws"]
    plate, ideation = prod["plate"], prod["ideation"]["assets"][0]
    missing = ws.store.path_for(plate["sha256"])
    missing.chmod(0o644)
    missing.unlink()
    altered = ws.store.path_for(ideation["sha256"])
    altered.chmod(0o644)
    data = bytearray(altered.read_bytes())
    data[-1] ^= 0xFF  # same size: only a re-hash sees it
    altered.write_bytes(bytes(data))
    report = verify_audit(ws)
    assert ("asset", plate["id"], "file") in named(report)
    assert ("asset", ideation["id"], "file") not in named(report)
    deep = verify_audit(ws, deep=True)
    assert ("asset", ideation["id"], "file") in named(deep)
    message = next(d.message() for d in deep.state.differences if d.row == ideation["id"])
    assert "does not match its sha256" in message


def test_an_old_workspace_is_unprovable_not_tampered(prod):
    """Rewrite the log as a soundstage from before state proof wrote it (the content fields gone)
    and rebuild the chain: verify passes, naming what it cannot prove; an un-revoke is still caught."""
    ws = prod["ws"]
    strip = {"consent.granted": ("consent", "document_asset"), "talent.added": ("name", "record"),
             "asset.generated": ("kind", "media_type", "name", "size", "details", "edges", "consents"),
             "consent.revoked": ("revoked_at",)}
    with ws.unit_of_work() as s:
        prev = audit.GENESIS
        for ev in s.scalars(select(AuditEvent).order_by(AuditEvent.seq)):
            payload = json.loads(ev.payload)
            for key in strip.get(ev.action, ()):
                payload.pop(key, None)
            ev.payload = audit.canonical_json(payload)
            ev.prev_hash = prev
            ev.hash = prev = audit.event_hash(prev, ev.seq, ev.production_id, ev.at, ev.actor, ev.action,
                                              ev.subject, ev.payload)
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=prev))
    report = verify_audit(ws)
    assert report.ok, report.problem
    unprovable = {(u.table, u.row) for u in report.state.unprovable}
    assert ("consent", prod["consent"]["id"]) in unprovable and ("person", prod["maya"]["id"]) in unprovable
    assert all("written before state proof" in u.message() for u in report.state.unprovable)
    result = cli(ws, "audit", "verify")
    assert result.returncode == 0 and "unprovable (written before state proof)" in result.stdout, result.stderr
    sql(ws, "UPDATE consent SET revoked_at = NULL")
    assert ("consent", prod["consent"]["id"], "revoked_at") in named(verify_audit(ws))


def test_a_broken_chain_is_reported_as_before(prod):
    ws = prod["ws"]
    sql(ws, "UPDATE audit_event SET actor = 'mallory' WHERE seq = 3")
    report = verify_audit(ws)
    assert not report.ok and report.state is None and report.first_bad_seq == 3
    result = cli(ws, "audit", "verify")
    assert result.returncode == 1 and "event #3" in result.stderr


def test_the_sequence_media_type_is_the_one_vfx_writes():
    from soundstage.safeguards import ledger_state
    from soundstage.vfx.sequences import SEQUENCE_MEDIA_TYPE

    assert ledger_state._SEQUENCE_MEDIA_TYPE == SEQUENCE_MEDIA_TYPE


def test_an_image_sequence_frame_missing_from_the_store_is_named(sqlite_workspace, tmp_path):
    from fractions import Fraction

    import numpy as np
    from PIL import Image

    from soundstage.services.ledger import ingest_sequence
    from soundstage.vfx.sequences import SequenceIndex

    ws = sqlite_workspace
    folder = tmp_path / "png"
    folder.mkdir()
    for n in range(1, 4):
        Image.fromarray(np.full((64, 96, 3), 40 * n, dtype=np.uint8)).save(folder / f"A003_{n:04d}.png")
    plate = ingest_sequence(ws, folder / "A003_####.png", actor="setup", fps=Fraction(24))
    assert verify_audit(ws, deep=True).ok
    index = SequenceIndex.from_bytes(ws.store.path_for(plate["sha256"]).read_bytes())
    frame = ws.store.path_for(index.frames[1].sha256)
    frame.chmod(0o644)
    frame.unlink()
    report = verify_audit(ws)
    (difference,) = report.state.differences
    assert (difference.table, difference.row, difference.kind) == ("asset", plate["id"], "file")
    assert "frame A003_0002.png" in difference.message() and "missing from the store" in difference.message()


# ----------------------------------------------------------------------------- racing writers


def _escalated_deage(ws, tmp_path) -> tuple[str, object]:
    from ledger_production import REQUESTER, deage_spec

    from soundstage.domain.safeguards import JobSpec
    from soundstage.services import jobs_service as jobs
    from soundstage.store.models import Job

    prod = build(ws, tmp_path, jobs_too=False)
    job = jobs.submit_job(ws, deage_spec(ws, prod), actor=REQUESTER)
    assert job["status"] == "escalated"
    with ws.unit_of_work() as s:
        return job["job"], JobSpec.from_dict(s.get(Job, job["job"]).spec)


def test_a_verdict_committed_while_the_guard_reads_is_read_again_not_refused(workspace, tmp_path, monkeypatch):
    """Another request records a verdict (its row and its event, one commit: the head moves) between
    a proof's read of the log and its read of the rows: the proof reads again and passes."""
    from soundstage.safeguards import ledger_state
    from soundstage.store.models import Approval, Person

    ws = workspace
    job_id, spec = _escalated_deage(ws, tmp_path)
    real, reads = ledger_state._subject_events, []

    def racing(db, subjects, refused="nothing ran"):
        events = real(db, subjects, refused)
        reads.append(len(events))
        if len(reads) == 1:
            with ws.unit_of_work() as other:
                priya = other.scalars(select(Person).where(Person.name == "Priya Shah")).one()
                digest = other.scalar(text("SELECT spec_digest FROM job WHERE id = :j"), {"j": job_id})
                other.add(Approval(job_id=job_id, role="producer", person_id=priya.id, verdict="approve", note="",
                                   at=datetime.now(timezone.utc), spec_digest=digest))
                other.flush()
                audit.append(other, production_id=ws.production_id, actor="Priya Shah", action="job.approved",
                             subject=job_id, payload={"role": "producer", "for": ["producer"], "person": priya.id,
                                                      "note": "", "spec_digest": digest})
        return events

    monkeypatch.setattr(ledger_state, "_subject_events", racing)
    # a proof made while reading (``reading``: writers may commit meanwhile); inside a unit of work
    # nobody else can commit until it ends (DR025)
    with ws.reading() as s:
        ledger_state.prove_rows(s, job_id, spec)
    assert len(reads) == 2 and reads[1] > reads[0]  # read again: the verdict and its approver now in the log


def test_an_edit_seen_while_nothing_else_commits_is_refused_at_once(workspace, tmp_path, monkeypatch):
    from soundstage.errors import IntegrityError
    from soundstage.safeguards import ledger_state

    ws = workspace
    job_id, spec = _escalated_deage(ws, tmp_path)
    sql(ws, "UPDATE job SET status = 'submitted' WHERE id = :j", j=job_id)
    real, reads = ledger_state._subject_events, []

    def counted(db, subjects, refused="nothing ran"):
        reads.append(1)
        return real(db, subjects, refused)

    monkeypatch.setattr(ledger_state, "_subject_events", counted)
    with ws.unit_of_work() as s, pytest.raises(IntegrityError, match=f"job {job_id}: status is submitted"):
        ledger_state.prove_rows(s, job_id, spec)
    assert reads == [1]  # the head did not move: no second read, the row's own difference
