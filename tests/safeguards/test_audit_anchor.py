"""The audit chain anchored outside the database (issue 12): a signed checkpoint file, and the
head signed into every output's Content Credentials, detect a chain rebuilt or rewound by someone
who can rewrite the whole database - which the chain alone cannot."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.errors import AlreadyExistsError, IntegrityError, SpecError
from soundstage.safeguards import audit, checkpoint
from soundstage.safeguards.keys import load_production_signer
from soundstage.safeguards.provenance import (ManifestSpec, Operation, SoftwareAgent, SoundstageRecord,
                                              build_manifest, read_credentials)
from soundstage.services import jobs_service as jobs
from soundstage.services.audit_anchor import check_anchors, write_checkpoint
from soundstage.services.workspace import init_workspace
from soundstage.store.models import AuditEvent, AuditHead


def _events(ws, n: int) -> None:
    with ws.unit_of_work() as s:
        for i in range(n):
            audit.append(s, production_id=ws.production_id, actor="maya", action="test.event",
                         subject=f"thing {i}", payload={"i": i})


def _chain_ok(ws) -> bool:
    with ws.unit_of_work() as s:
        return audit.verify_session(s).ok


def _head(ws) -> tuple[int, str]:
    with ws.unit_of_work() as s:
        head = s.get(AuditHead, 1)
        return head.seq, head.hash


def rebuild(ws, *, drop: int | None = None, keep_first: int | None = None) -> None:
    """What an attacker with the whole database does: delete event #drop (or everything after
    #keep_first) and rewrite every later event through the same append, so the chain is consistent."""
    with ws.unit_of_work() as s:
        events = list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        kept = [e for e in events if e.seq != drop and (keep_first is None or e.seq <= keep_first)]
        rows = [(e.production_id, e.at, e.actor, e.action, e.subject, json.loads(e.payload)) for e in kept]
        s.execute(delete(AuditEvent))
        s.execute(delete(AuditHead))
        s.flush()
        for production_id, at, actor, action, subject, payload in rows:
            audit.append(s, production_id=production_id, actor=actor, action=action, subject=subject,
                         payload=payload, at=at)


def _only(results: list[dict]) -> dict:
    assert len(results) == 1
    return results[0]


# ---------------------------------------------------------------- checkpoints

def test_checkpoint_is_signed_and_verifies_offline_with_the_ca(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    _events(ws, 3)
    seq, head_hash = _head(ws)
    made = write_checkpoint(ws, tmp_path / "cp.json", actor="legal")
    assert (made["seq"], made["hash"], made["timestamped"]) == (seq, head_hash, False)
    doc = json.loads((tmp_path / "cp.json").read_text())
    assert set(doc) == {"schema", "production_id", "seq", "hash", "at", "signature"}
    assert doc["signature"]["alg"] == "ES256" and len(doc["signature"]["x5chain"]) == 2
    # offline: only the file and the CA certificate
    anchor = checkpoint.verify_checkpoint((tmp_path / "cp.json").read_bytes(),
                                          [(ws.settings.keys_dir / "ca.pem").read_bytes()])
    assert (anchor.production_id, anchor.seq, anchor.hash) == (ws.production_id, seq, head_hash)
    # the act of checkpointing is itself in the log, after the head it signed
    with ws.unit_of_work() as s:
        event = s.get(AuditEvent, seq + 1)
        assert event.action == "audit.checkpointed" and json.loads(event.payload)["hash"] == head_hash
    assert _only(check_anchors(ws, [tmp_path / "cp.json"]))["ok"]
    with pytest.raises(AlreadyExistsError):
        write_checkpoint(ws, tmp_path / "cp.json", actor="legal")  # never over an earlier checkpoint


def test_rebuilt_chain_passes_plain_verify_but_not_the_checkpoint(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    _events(ws, 6)
    victim = _head(ws)[0] - 2  # an event before the checkpoint
    write_checkpoint(ws, tmp_path / "cp.json", actor="legal")
    _events(ws, 2)
    assert _only(check_anchors(ws, [tmp_path / "cp.json"]))["ok"]

    rebuild(ws, drop=victim)
    assert _chain_ok(ws)  # the chain alone cannot tell
    result = _only(check_anchors(ws, [tmp_path / "cp.json"]))
    assert not result["ok"] and "rebuilt" in result["problem"] and "cp.json" in result["problem"]


def test_rewound_chain_is_detected(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    _events(ws, 4)
    seq, _ = _head(ws)
    write_checkpoint(ws, tmp_path / "cp.json", actor="legal")
    rebuild(ws, keep_first=seq - 2)  # the tail deleted and the head reset to match
    assert _chain_ok(ws)
    result = _only(check_anchors(ws, [tmp_path / "cp.json"]))
    assert not result["ok"] and "rewound" in result["problem"]


def test_a_rebuild_after_the_checkpointed_event_is_not_blamed_on_it(sqlite_workspace, tmp_path):
    """A checkpoint vouches for events up to its seq; later history is the next checkpoint's."""
    ws = sqlite_workspace
    _events(ws, 2)
    write_checkpoint(ws, tmp_path / "cp.json", actor="legal")
    _events(ws, 3)
    rebuild(ws, drop=_head(ws)[0] - 1)
    assert _only(check_anchors(ws, [tmp_path / "cp.json"]))["ok"]


@pytest.mark.parametrize("edit, words", [
    (lambda d: d.update(seq=d["seq"] - 1), "signature does not verify"),
    (lambda d: d.update(hash="f" * 64), "signature does not verify"),
    (lambda d: d.update(at=d["at"].replace("+00:00", ".5+00:00")),
     "signature does not verify"),
    (lambda d: d["signature"].update(value=d["signature"]["value"][:-8] + "AAAAAAA="), "signature does not verify"),
    (lambda d: d["signature"].update(x5chain=d["signature"]["x5chain"][1:]), "signing certificate is not usable"),
    (lambda d: d.update(seq=True), "seq"),
    (lambda d: d.pop("signature"), "signature"),
    (lambda d: d.update(schema="Other.1"), "not a soundstage audit checkpoint"),
], ids=["seq", "hash", "time", "signature bytes", "CA as signer", "seq type", "unsigned", "schema"])
def test_forged_checkpoint_fails(sqlite_workspace, tmp_path, edit, words):
    ws = sqlite_workspace
    _events(ws, 3)
    write_checkpoint(ws, tmp_path / "cp.json", actor="legal")
    doc = json.loads((tmp_path / "cp.json").read_text())
    edit(doc)
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(doc))
    result = _only(check_anchors(ws, [forged]))
    assert not result["ok"] and words in result["problem"], result["problem"]


def test_forged_checkpoint_that_matches_a_rebuilt_chain_still_fails_its_signature(sqlite_workspace, tmp_path):
    """The attacker rebuilds the chain and edits the checkpoint to the new hash: the signature catches it."""
    ws = sqlite_workspace
    _events(ws, 4)
    write_checkpoint(ws, tmp_path / "cp.json", actor="legal")
    doc = json.loads((tmp_path / "cp.json").read_text())
    rebuild(ws, drop=2)
    with ws.unit_of_work() as s:
        doc["hash"] = s.get(AuditEvent, doc["seq"]).hash
    (tmp_path / "cp.json").write_text(json.dumps(doc))
    result = _only(check_anchors(ws, [tmp_path / "cp.json"]))
    assert not result["ok"] and "signature does not verify" in result["problem"]


def test_another_productions_checkpoint_is_refused(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    other = init_workspace(tmp_path / "other", "Another Picture")
    try:
        write_checkpoint(other, tmp_path / "theirs.json", actor="legal")
    finally:
        other.close()
    result = _only(check_anchors(ws, [tmp_path / "theirs.json"]))
    assert not result["ok"] and "does not chain to this production's CA" in result["problem"]
    # and one signed with this production's key for another production id names the mismatch
    signer = load_production_signer(ws.settings.keys_dir)
    doc = checkpoint.sign_checkpoint(signer, production_id="someone-else", seq=1, head_hash="a" * 64)
    (tmp_path / "mislabelled.json").write_text(json.dumps(doc))
    result = _only(check_anchors(ws, [tmp_path / "mislabelled.json"]))
    assert not result["ok"] and "is for production 'someone-else'" in result["problem"]


def test_no_checkpoint_of_a_broken_chain(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    _events(ws, 3)
    with ws.unit_of_work() as s:
        # one of the events above (an edited signing-keys event stops the signer itself first:
        # tests/services/test_keys_service.py)
        first = s.scalars(select(AuditEvent).where(AuditEvent.action == "test.event").order_by(AuditEvent.seq)).first()
        first.actor = "mallory"
    with pytest.raises(IntegrityError) as info:
        write_checkpoint(ws, tmp_path / "cp.json", actor="legal")
    assert "not signing a checkpoint" in info.value.message and not (tmp_path / "cp.json").exists()


# ---------------------------------------------------------------- witnesses: every delivered file

def _generate(ws, prompt: str) -> dict:
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION,
                   requested_by="Priya Shah", model_id="soundstage.procedural-card", prompt=prompt)
    result = jobs.submit_job(ws, spec, actor="Priya Shah")
    assert result["status"] == "done", result
    return result["assets"][0]


def _deliver(ws, asset: dict, folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    target = folder / f"{asset['id']}.png"
    shutil.copyfile(ws.store.path_for(asset["sha256"]), target)
    return target


def test_every_output_carries_the_head_it_was_signed_at(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    asset = _generate(ws, "rainy street at dusk")
    delivered = _deliver(ws, asset, tmp_path / "delivery")
    creds = read_credentials(delivered, trust_anchors=[(ws.settings.keys_dir / "ca.pem").read_bytes()])
    head = creds.soundstage["audit_head"]
    with ws.unit_of_work() as s:
        event = s.get(AuditEvent, head["seq"])
        generated = s.scalars(select(AuditEvent).where(AuditEvent.action == "asset.generated")).one()
    assert event.hash == head["hash"] and generated.seq == head["seq"] + 1  # signed just before its own event
    assert _only(check_anchors(ws, witnesses=[delivered]))["ok"]


def test_a_file_delivered_earlier_detects_a_rebuilt_chain(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    _events(ws, 3)
    delivered = _deliver(ws, _generate(ws, "rainy street at dusk"), tmp_path / "delivery")
    _generate(ws, "sunny beach at noon")
    rebuild(ws, drop=2)
    assert _chain_ok(ws)
    result = _only(check_anchors(ws, witnesses=[delivered]))
    assert not result["ok"] and "rebuilt" in result["problem"] and result["kind"] == "witness"


def test_files_that_cannot_witness_say_why(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    plain = tmp_path / "plain.png"
    from PIL import Image

    Image.new("RGB", (32, 32), "gray").save(plain)
    assert "carries no Content Credentials" in _only(check_anchors(ws, witnesses=[plain]))["problem"]
    assert "does not exist" in _only(check_anchors(ws, witnesses=[tmp_path / "missing.png"]))["problem"]
    # a file signed by another production: valid credentials, but not under this production's CA
    other = init_workspace(tmp_path / "other", "Another Picture")
    try:
        theirs = _deliver(other, _generate(other, "a quiet street"), tmp_path / "theirs")
    finally:
        other.close()
    assert "not signed under this production's CA" in _only(check_anchors(ws, witnesses=[theirs]))["problem"]


# ---------------------------------------------------------------- the manifest field

def test_manifest_record_carries_the_audit_head():
    spec = ManifestSpec(operation=Operation.PROCEDURAL, title="card.png", generator=SoftwareAgent("Card", "1"),
                        record=SoundstageRecord("prod", "job-1", "a1", audit_head=(7, "b" * 64)))
    body = next(a["data"] for a in build_manifest(spec)["assertions"] if a["label"] == "io.soundstage.production")
    assert body["audit_head"] == {"seq": 7, "hash": "b" * 64}
    assert checkpoint.anchor_from_record(body) == checkpoint.Anchor("prod", 7, "b" * 64)
    for bad in [(-1, "b" * 64), (1, "B" * 64), (1, "b" * 63), (True, "b" * 64)]:
        with pytest.raises(SpecError):
            build_manifest(ManifestSpec(operation=Operation.PROCEDURAL, title="x", generator=SoftwareAgent("C", "1"),
                                        record=SoundstageRecord("p", "j", "a", audit_head=bad)))
    with pytest.raises(SpecError):  # extra cannot smuggle in a head the guard did not put there
        build_manifest(ManifestSpec(operation=Operation.PROCEDURAL, title="x", generator=SoftwareAgent("C", "1"),
                                    record=SoundstageRecord("p", "j", "a", extra={"audit_head": {"seq": 1}})))
