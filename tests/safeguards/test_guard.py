"""The guarded path end to end, on the real ledger (SQLite and PostgreSQL), real backends,
real watermark and real C2PA: nothing here is mocked."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from PIL import Image

from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.errors import (
    BackendError,
    PendingApprovalError,
    PermissionDeniedError,
    PolicyDeniedError,
    QuarantinedError,
    RefusedError,
)
from soundstage.media.images import read_image
from soundstage.safeguards.guard import parse_asset_id
from soundstage.safeguards.provenance import read_credentials
from soundstage.safeguards.watermark import default_engine
from soundstage.services import jobs_service as jobs
from soundstage.services import consent_service, disclosure_service, models, people_service, talent_service
from soundstage.services.ledger import audit_log, ingest_media, show_asset, verify_audit
from soundstage.testing.approvals import approve
from soundstage.testing.identity import signer_for


@pytest.fixture
def cast(workspace, tmp_path):
    """A small production: crew with roles, a union performer with an agent, a camera plate."""
    ws = workspace
    people = {
        "producer": people_service.add_crew(ws, "Priya Shah", ["producer"], actor="setup"),
        "vfx": people_service.add_crew(ws, "Ken Ito", ["vfx_supervisor"], actor="setup"),
        "rights": people_service.add_crew(ws, "Tom Reed", ["rights_clearance", "legal"], actor="setup"),
        "agent": people_service.add_crew(ws, "Lena Ortiz", ["performer_rep"], actor="setup"),
        "other_agent": people_service.add_crew(ws, "Sam Cole", ["performer_rep"], actor="setup"),
    }
    maya = talent_service.add_performer(ws, "Maya Castell", union_status="sag-aftra", representatives=["Lena Ortiz"],
                            actor="setup")
    rng = np.random.default_rng(3)
    plate_pixels = (rng.random((360, 640, 3)) * 60 + np.linspace(60, 180, 640)[None, :, None]).astype(np.uint8)
    plate_path = tmp_path / "plate_A001.png"
    Image.fromarray(plate_pixels).save(plate_path)
    plate = ingest_media(ws, plate_path, kind="plate", actor="setup", scene="5", shot="5A")
    return ws, people, maya, plate


HOLDERS = {"producer": "Priya Shah", "vfx_supervisor": "Ken Ito", "rights_clearance": "Tom Reed",
           "legal": "Tom Reed", "performer_rep": "Lena Ortiz"}


def approve_all(ws, result: dict) -> dict:
    for role in result["decision"]["approver_roles"]:
        result = approve(ws, result["job"], signer=signer_for(ws, HOLDERS[role]), role=role, note=f"{role} ok",
                         actor=HOLDERS[role])
    return result


def deage_job(ws, maya, plate, **over) -> JobSpec:
    fields = dict(id="", production_id=ws.production_id, operation=OperationKind.LIKENESS_DEAGE,
                  requested_by="Ken Ito", model_id="soundstage.retouch", inputs=(plate["id"],),
                  performers=(maya["id"],), scene="5", shot="5A", alteration_amount=0.3,
                  deliverable="final", medium="final")
    fields.update(over)
    return JobSpec(**fields)


def grant(ws, maya, **over):
    document = ws.settings.root.parent / "signed_consent.pdf"
    document.write_bytes(b"%PDF-1.4 signed digital alteration consent, Maya Castell, scene 5")
    args = dict(document=document, kind="digital_alteration", operations=["likeness_deage", "likeness_cosmetic"],
                description="De-ageing of Maya Castell by about 30 years in the 1994 flashback, scene 5 only, "
                            "for the final cut of The Last Take",
                scenes=["5"], max_alteration=0.5, signed_separately=True, representation="union",
                signer=signer_for(ws, "Lena Ortiz"))
    args.update(over)
    return consent_service.grant_consent(ws, maya["id"], **args)


def test_procedural_output_is_watermarked_signed_and_registered(cast):
    ws, people, maya, plate = cast
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION,
                   requested_by="Priya Shah", model_id="soundstage.procedural-card", prompt="rainy street at dusk")
    result = jobs.submit_job(ws, spec, actor="Priya Shah")
    assert result["status"] == "done" and len(result["assets"]) == 1
    asset = result["assets"][0]
    stored = ws.store.path_for(asset["sha256"])
    creds = read_credentials(stored, trust_anchors=[(ws.settings.keys_dir / "ca.pem").read_bytes()])
    assert creds.state.value == "Trusted"
    assert creds.soundstage["asset_id"] == asset["id"] and creds.soundstage["job_id"] == result["job"]
    assert "c2pa.watermarked.unbound" in creds.actions  # our own watermark assertion, no c2pa.soft-binding (DR009)
    assert creds.watermark["payload_hex"] == asset["id"] and not creds.soft_bindings
    detection = ws.watermark_engine().detect(read_image(stored))
    assert detection.found and detection.payload == parse_asset_id(asset["id"])
    # marked with the production's secret key: the public default key finds nothing to lift
    assert not default_engine().detect(read_image(stored)).found
    actions = [e["action"] for e in audit_log(ws)]
    # the job is queued once cleared, then claimed (started) under a lease - here by the submitting process
    assert actions[-5:] == ["job.submitted", "job.queued", "job.started", "asset.generated", "job.completed"]
    assert verify_audit(ws).ok


def test_deage_without_consent_is_denied_and_nothing_is_written(cast):
    ws, people, maya, plate = cast
    result = jobs.submit_job(ws, deage_job(ws, maya, plate), actor="Ken Ito")
    assert result["status"] == "denied" and result["assets"] == []
    rules = [r["rule_id"] for r in result["decision"]["reasons"] if r["outcome"] == "deny"]
    assert "SAG-CONSENT-MISSING" in rules
    with pytest.raises(PolicyDeniedError) as err:
        jobs.raise_for_outcome(result)
    assert "SAG-CONSENT-MISSING" in err.value.rule_ids
    assert jobs.show_job(ws, result["job"])["status"] == "denied"
    assert show_asset(ws, plate["id"])["children"] == []


def test_consented_deage_waits_for_every_role_then_runs(cast):
    ws, people, maya, plate = cast
    consent = grant(ws, maya)
    people_service.add_crew(ws, "Ana Lima", ["producer"], actor="setup")
    result = jobs.submit_job(ws, deage_job(ws, maya, plate), actor="Priya Shah")
    assert result["status"] == "escalated"
    missing = set(result["missing_roles"])
    assert f"performer_rep:{maya['id']}" in missing and "producer" in missing
    with pytest.raises(PendingApprovalError):
        jobs.raise_for_outcome(result)
    job_id = result["job"]

    # nobody approves their own request
    with pytest.raises(PermissionDeniedError, match="requested"):
        jobs.decide_on_job(ws, job_id, signer=signer_for(ws, "Priya Shah"), role="producer", verdict="approve",
                           actor="Priya Shah")
    # a representative acts only for their own performers
    with pytest.raises(PermissionDeniedError, match="does not represent"):
        jobs.decide_on_job(ws, job_id, signer=signer_for(ws, "Sam Cole"), role="performer_rep", verdict="approve",
                           actor="Sam Cole")
    # a role you do not hold
    with pytest.raises(PermissionDeniedError, match="does not hold"):
        jobs.decide_on_job(ws, job_id, signer=signer_for(ws, "Lena Ortiz"), role="producer", verdict="approve",
                           actor="Lena Ortiz")

    outcome = None
    for role in result["decision"]["approver_roles"]:
        holder = {"producer": "Ana Lima", "vfx_supervisor": "Ken Ito", "rights_clearance": "Tom Reed",
                  "legal": "Tom Reed", "performer_rep": "Lena Ortiz"}[role]
        outcome = approve(ws, job_id, signer=signer_for(ws, holder), role=role, note=f"{role} ok", actor=holder)
    assert outcome["status"] == "done" and len(outcome["assets"]) == 1
    out = outcome["assets"][0]
    shown = show_asset(ws, out["id"])
    assert shown["parents"] == [plate["id"]]  # lineage to the plate
    creds = read_credentials(ws.store.path_for(out["sha256"]),
                             trust_anchors=[(ws.settings.keys_dir / "ca.pem").read_bytes()])
    assert creds.actions[:2] == ("c2pa.opened", "c2pa.edited")
    assert any(i.relationship == "parentOf" for i in creds.ingredients)
    assert consent["id"] not in str(creds.store)  # consent ids only as salted hashes
    assert len(creds.soundstage["consent_refs"]) == 1
    # a retried run never produces a second asset
    again = jobs.run_job(ws, job_id, actor="Ken Ito")
    assert [a["id"] for a in again["assets"]] == [out["id"]]


def test_revocation_quarantines_everything_derived(cast):
    ws, people, maya, plate = cast
    consent = grant(ws, maya)
    outcome = approve_all(ws, jobs.submit_job(ws, deage_job(ws, maya, plate), actor="Rae Requester"))
    assert outcome["status"] == "done"
    first = outcome["assets"][0]
    # a second generation made from the de-aged frame (a cosmetic pass under the customary exception)
    cosmetic = deage_job(ws, maya, plate, operation=OperationKind.LIKENESS_COSMETIC, inputs=(first["id"],),
                         exception_claim="cosmetic", alteration_amount=0.1, deliverable="temporary", medium="previz")
    second = jobs.submit_job(ws, cosmetic, actor="Rae Requester")
    if second["status"] == "escalated":
        second = approve_all(ws, second)
    assert second["status"] == "done"
    derived = second["assets"][0]

    # someone who does not represent Maya cannot revoke
    with pytest.raises(PermissionDeniedError):
        consent_service.revoke_consent(ws, consent["id"], reason="no", signer=signer_for(ws, "Sam Cole"))
    report = consent_service.revoke_consent(ws, consent["id"], reason="performer withdrew consent",
                               signer=signer_for(ws, "Lena Ortiz"))
    quarantined = {a["id"] for a in report["quarantined"]}
    assert {first["id"], derived["id"]} <= quarantined
    assert plate["id"] not in quarantined  # the camera original is not derived from the consent
    assert {a["shot"] for a in report["quarantined"]} == {"5A"}
    assert show_asset(ws, derived["id"])["status"] == "quarantined"
    # quarantined assets cannot be used as inputs
    again = deage_job(ws, maya, plate, operation=OperationKind.IDEATION, model_id="soundstage.procedural-card",
                      inputs=(first["id"],), performers=(), deliverable="temporary", medium="previz")
    with pytest.raises(QuarantinedError):
        jobs.submit_job(ws, again, actor="Ken Ito")
    # and the same de-ageing is now denied
    denied = jobs.submit_job(ws, deage_job(ws, maya, plate), actor="Ken Ito")
    assert denied["status"] == "denied"
    assert verify_audit(ws).ok


def test_expired_and_other_production_consents_do_not_cover(cast):
    ws, people, maya, plate = cast
    past = datetime.now(timezone.utc) - timedelta(days=30)
    grant(ws, maya, valid_from=past - timedelta(days=10), valid_until=past)
    result = jobs.submit_job(ws, deage_job(ws, maya, plate), actor="Ken Ito")
    assert result["status"] == "denied"
    assert any("EXPIRED" in r["rule_id"] or "WINDOW" in r["rule_id"] for r in result["decision"]["reasons"])


def test_idempotent_submit_never_runs_twice(cast):
    ws, *_ = cast
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION,
                   requested_by="Priya Shah", model_id="soundstage.procedural-card", prompt="desert at night")
    first = jobs.submit_job(ws, spec, actor="Priya Shah", idempotency_key="k-1")
    second = jobs.submit_job(ws, spec, actor="Priya Shah", idempotency_key="k-1")
    assert second["replayed"] is True and second["id"] == first["job"]
    assert len([j for j in jobs.list_jobs(ws)]) == 1


def test_unregistered_model_never_runs(cast):
    ws, *_ = cast
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION,
                   requested_by="Priya Shah", model_id="acme.unknown-model", prompt="x")
    with pytest.raises(RefusedError, match="not in the model registry"):
        jobs.submit_job(ws, spec, actor="Priya Shah")


def test_reference_enrolment_needs_consent(cast, tmp_path):
    ws, people, maya, plate = cast
    face = tmp_path / "maya.png"
    Image.fromarray(np.full((128, 128, 3), 128, np.uint8)).save(face)
    from soundstage.errors import ConsentError

    with pytest.raises(ConsentError):
        talent_service.enroll_reference(ws, "Maya Castell", face, actor="Lena Ortiz")
    consent = grant(ws, maya)
    enrolled = talent_service.enroll_reference(ws, "Maya Castell", face, actor="Lena Ortiz")
    report = consent_service.revoke_consent(ws, consent["id"], reason="withdrawn", signer=signer_for(ws, "Lena Ortiz"))
    assert enrolled["asset"] in {a["id"] for a in report["quarantined"]}  # biometric data follows the consent


def test_disclosure_report_from_the_ledger(cast, tmp_path):
    ws, people, maya, plate = cast
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION, scene="1",
                   requested_by="Priya Shah", model_id="soundstage.procedural-card", prompt="diner sign")
    jobs.submit_job(ws, spec, actor="Priya Shah")
    paths = disclosure_service.write_disclosure(ws, tmp_path / "disclosure", ["json", "html", "pdf"], actor="Tom Reed")
    names = {p.name for p in paths}
    assert {"disclosure.json", "disclosure.html", "disclosure.pdf"} <= names
    import json

    data = json.loads((tmp_path / "disclosure" / "disclosure.json").read_text())
    assert len(data["uses"]) == 1 and data["uses"][0]["model"]["id"] == "soundstage.procedural-card"
    assert data["uses"][0]["assets"][0]["watermark"]["payload_hex"]


def test_quarantined_assets_cannot_be_exported(cast, tmp_path):
    from soundstage.errors import QuarantinedError
    from soundstage.services.ledger import export_asset

    ws, people, maya, plate = cast
    consent = grant(ws, maya)
    out = approve_all(ws, jobs.submit_job(ws, deage_job(ws, maya, plate), actor="Rae Requester"))["assets"][0]
    written = export_asset(ws, out["id"], tmp_path, actor="Ken Ito")
    assert written[0].read_bytes() == ws.store.path_for(out["sha256"]).read_bytes()
    consent_service.revoke_consent(ws, consent["id"], reason="withdrawn", signer=signer_for(ws, "Lena Ortiz"))
    with pytest.raises(QuarantinedError):
        export_asset(ws, out["id"], tmp_path / "again.png", actor="Ken Ito")


def test_every_production_gets_its_own_owner_only_watermark_key(tmp_path):
    import stat

    from soundstage.errors import AlreadyExistsError, IntegrityError
    from soundstage.safeguards.watermark import KEY_FILE, create_key, read_key
    from soundstage.services.workspace import init_workspace

    a = init_workspace(tmp_path / "a", "The Last Take")
    b = init_workspace(tmp_path / "b", "The Next Take")
    try:
        key_a, key_b = a.watermark_key, b.watermark_key
        assert key_a and key_b and key_a != key_b and len(key_a) == 32
        path = a.settings.keys_dir / KEY_FILE
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with pytest.raises(AlreadyExistsError):  # a key is never replaced: its marks would be orphaned
            create_key(a.settings.keys_dir)
        assert read_key(a.settings.keys_dir) == key_a
        import skimage.data

        frame = np.ascontiguousarray(skimage.data.astronaut())
        marked = a.watermark_engine().embed(frame, 0x1234_5678_9ABC)
        assert a.watermark_engine().detect(marked).payload == 0x1234_5678_9ABC
        assert not b.watermark_engine().detect(marked).found
        path.chmod(0o600)
        path.write_text("not hex\n")
        with pytest.raises(IntegrityError):
            read_key(a.settings.keys_dir)
    finally:
        a.close()
        b.close()


def test_verify_finds_production_marks_and_legacy_public_marks(sqlite_workspace, tmp_path):
    import skimage.data
    from PIL import Image

    from soundstage.safeguards.watermark import KEY_FILE
    from soundstage.services.keys_service import create_watermark_key
    from soundstage.services.verify_service import verify_file

    ws = sqlite_workspace
    picture = np.ascontiguousarray(skimage.data.astronaut())
    legacy = tmp_path / "legacy.png"  # marked by a workspace from before production keys
    Image.fromarray(default_engine().embed(picture, 0x00AB_CDEF_0123)).save(legacy)
    ours = tmp_path / "ours.png"
    Image.fromarray(ws.watermark_engine().embed(picture, 0x0012_3456_789A)).save(ours)
    found = verify_file(legacy, ws)["watermark"]
    assert (found["found"], found["key"], found["payload"]) == (True, "public default", f"{0x00AB_CDEF_0123:016x}")
    found = verify_file(ours, ws)["watermark"]
    assert (found["found"], found["key"], found["payload"]) == (True, "production", f"{0x0012_3456_789A:016x}")
    assert not verify_file(ours)["watermark"]["found"]  # outside the production, the key is not known
    # a workspace from before production keys gets one on request; its old marks stay verifiable
    (ws.settings.keys_dir / KEY_FILE).unlink()
    assert ws.watermark_key is None
    create_watermark_key(ws, actor="setup")
    assert ws.watermark_key and verify_file(legacy, ws)["watermark"]["key"] == "public default"


@pytest.mark.parametrize("marked_chunks", [1, 2, 3])
def test_a_clip_unmarked_in_a_later_chunk_is_refused(sqlite_workspace, monkeypatch, marked_chunks):
    """The guard samples runs of frames from across the clip (each chunk starts on a keyframe): a
    segment a worker left unmarked is found, not only an unmarked start."""
    import sys
    from pathlib import Path

    from soundstage.domain.safeguards import ModelCard
    from soundstage.generate import registry

    sys.path.insert(0, str(Path(__file__).parent))
    monkeypatch.setitem(registry.BACKENDS, "leaky", "leaky_backend:LeakyClipBackend")
    registry.available.cache_clear()
    ws = sqlite_workspace
    people_service.add_crew(ws, "Priya Shah", ["producer"], actor="setup")
    card = ModelCard(id="test.leaky", name="leaky", version="1", licence="test", training_data="owned",
                     evidence="test", trained_model=False, runs_in_production_env=True, stores_inputs=False,
                     trains_on_inputs=False)
    models.register_model(ws, card, actor="setup", backend="leaky", config={"marked_chunks": marked_chunks})
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION,
                   requested_by="Priya Shah", model_id="test.leaky", prompt="a clip")
    from soundstage.services.ledger import list_assets

    try:
        if marked_chunks == 3:  # the control: every chunk marked, the clip is registered
            assert jobs.submit_job(ws, spec, actor="Priya Shah")["status"] == "done"
            assert len(list_assets(ws)) == 1
            return
        with pytest.raises(RefusedError, match="not watermarked with its asset id throughout"):
            jobs.submit_job(ws, spec, actor="Priya Shah")
    finally:
        registry.available.cache_clear()
    assert list_assets(ws) == []  # nothing registered


def test_a_role_only_the_requester_holds_is_named_with_the_way_out(cast):
    ws, people, maya, plate = cast
    grant(ws, maya)
    spec = deage_job(ws, maya, plate)  # a final-cut de-age
    result = jobs.submit_job(ws, spec, actor="Ken Ito")  # the production's only VFX supervisor
    assert result["status"] == "escalated"
    assert "vfx_supervisor" in result["missing_roles"], result["missing_roles"]
    assert result["unstaffed_roles"] == ["vfx_supervisor"]
    with pytest.raises(PendingApprovalError) as err:
        jobs.raise_for_outcome(result)
    assert "nobody but the requester holds vfx_supervisor" in err.value.hint
    assert "crew add NAME --role vfx_supervisor" in err.value.hint
    people_service.add_crew(ws, "Rosa Vidal", ["vfx_supervisor"], actor="setup")
    view = approve(ws, result["job"], signer=signer_for(ws, "Rosa Vidal"), role="vfx_supervisor", actor="Rosa Vidal")
    assert "vfx_supervisor" not in view["missing_roles"] and view.get("unstaffed_roles", []) == []


def test_a_classical_edit_of_ai_made_media_still_declares_its_ai_origin(cast):
    """A retouch (no trained model) of a generated still is not merely 'algorithmically enhanced':
    its parent was made with a trained model, so it says compositeWithTrainedAlgorithmicMedia and a
    Content Credentials viewer still flags it as made with AI (issue 13, item 5)."""
    from soundstage.domain.safeguards import ModelCard

    ws, people, maya, plate = cast
    card = ModelCard(id="studio.gen", name="studio generator (stand-in)", version="1", licence="proprietary",
                     weights_sha256="ab" * 32, training_data="owned", evidence="trained on the studio's own art",
                     stores_inputs=False, trains_on_inputs=False, runs_in_production_env=True, trained_model=True)
    models.register_model(ws, card, actor="setup", backend="procedural-card", config={})
    made = jobs.submit_job(ws, JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION,
                                       requested_by="Ken Ito", model_id="studio.gen", prompt="a rainy street"),
                           actor="Ken Ito")
    if made["status"] == "escalated":
        made = approve_all(ws, made)
    assert made["status"] == "done", made
    still = made["assets"][0]
    assert still["details"]["c2pa"]["digital_source_type"].endswith("/trainedAlgorithmicMedia")
    edit = jobs.submit_job(ws, JobSpec(id="", production_id=ws.production_id, operation=OperationKind.CLEANUP,
                                       requested_by="Ken Ito", model_id="soundstage.retouch", inputs=(still["id"],),
                                       alteration_amount=0.2), actor="Ken Ito")
    if edit["status"] == "escalated":
        edit = approve_all(ws, edit)
    assert edit["status"] == "done", edit
    retouched = edit["assets"][0]
    assert retouched["details"]["c2pa"]["digital_source_type"].endswith("/compositeWithTrainedAlgorithmicMedia")
    reading = read_credentials(ws.store.path_for(retouched["sha256"]),
                               trust_anchors=[(ws.settings.keys_dir / "ca.pem").read_bytes()])
    assert reading.state.value == "Trusted"
    assert any(t.endswith("/compositeWithTrainedAlgorithmicMedia") for t in reading.digital_source_types), \
        reading.digital_source_types
    # the same retouch of a camera plate stays 'algorithmically enhanced'
    plain = jobs.submit_job(ws, JobSpec(id="", production_id=ws.production_id, operation=OperationKind.CLEANUP,
                                        requested_by="Ken Ito", model_id="soundstage.retouch", inputs=(plate["id"],),
                                        alteration_amount=0.2), actor="Ken Ito")
    if plain["status"] == "escalated":
        plain = approve_all(ws, plain)
    assert plain["assets"][0]["details"]["c2pa"]["digital_source_type"].endswith("/algorithmicallyEnhanced")


# ---------------------------------------------------------------- the anchors a signed output is read back with

def _ideation(ws, prompt: str) -> dict:
    try:
        people_service.add_crew(ws, "Priya Shah", ["producer"], actor="setup")
    except Exception:  # noqa: BLE001 - already on the crew
        pass
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION,
                   requested_by="Priya Shah", model_id="soundstage.procedural-card", prompt=prompt)
    return jobs.submit_job(ws, spec, actor="Priya Shah")


def _configure_trust(ws, anchors: list[str]):
    import tomllib

    import tomli_w

    from soundstage.services.workspace import open_workspace

    path = ws.settings.root / "soundstage.toml"
    cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    cfg["trust"] = {"anchors": anchors}
    path.write_text(tomli_w.dumps(cfg), encoding="utf-8")
    return open_workspace(ws.settings.root)


def test_a_configured_trust_anchor_that_is_missing_stops_the_read_back_as_it_stops_verify(sqlite_workspace):
    """The guard's read-back and verify read with one list of anchors (keys.trust_anchors). The
    read-back used to skip a configured anchor that was not there and sign and store the output
    anyway, while verify refused the same workspace with an InputError: now both refuse, in one line
    naming the file and the setting, and the job stores nothing."""
    from soundstage.errors import InputError
    from soundstage.services.ledger import list_assets
    from soundstage.services.verify_service import trust_anchors

    ws = _configure_trust(sqlite_workspace, ["studio-ca.pem"])
    missing = ws.settings.root / "studio-ca.pem"
    with pytest.raises(InputError) as by_verify:
        trust_anchors(ws)
    with pytest.raises(InputError) as by_guard:
        _ideation(ws, "read back with every configured anchor")
    for caught in (by_verify, by_guard):
        line = caught.value.one_line()
        assert f"configured trust anchor not found: {missing} ([trust] anchors)" in line and "\n" not in line
    assert list_assets(ws) == [] and jobs.list_jobs(ws)[-1]["status"] == "failed"


def test_the_read_back_trusts_ca_pem_only_as_the_audit_log_records_it_as_verify_does(sqlite_workspace, tmp_path):
    """A ca.pem swapped for another CA's: verify refuses to read with it; the guard's read-back read
    with it and let an output through (Valid: it accepts a chain the anchors do not hold). Both now
    refuse it with the same IntegrityError."""
    import shutil

    from soundstage.errors import IntegrityError
    from soundstage.safeguards import guard, keys
    from soundstage.services.verify_service import trust_anchors

    ws = sqlite_workspace
    signed = ws.store.path_for(_ideation(ws, "signed under the recorded CA")["assets"][0]["sha256"])
    guard.read_back(ws, signed)  # as the production's keys are: it reads back Trusted
    keys.create_production_ca(tmp_path / "mallory", "Mallory Pictures", None)
    shutil.copyfile(tmp_path / "mallory" / "ca.pem", ws.settings.keys_dir / "ca.pem")
    with pytest.raises(IntegrityError, match="nothing can be verified against it") as by_verify:
        trust_anchors(ws)
    with pytest.raises(IntegrityError, match="nothing can be verified against it") as by_guard:
        guard.read_back(ws, signed)
    assert by_guard.value.one_line() == by_verify.value.one_line()


# ---------------------------------------------------------------- a failed job leaves nothing in the store

def _tsa_that_fails_after(answers: int, then: str):
    """The project's loopback TSA (soundstage.testing.tsa), answering its first ``answers`` requests
    properly and then, as ``then`` says, refusing every later one ("refuse": the next signing fails)
    or stamping it 30 days back, before the production's certificate existed ("backdate": the next
    read-back fails)."""
    from soundstage.testing.tsa import TimeStampAuthority

    class Authority(TimeStampAuthority):
        def respond(self, request_der: bytes) -> bytes:
            reply = super().respond(request_der)
            if self.requests == answers:
                if then == "refuse":
                    self.refuse("out of time-stamps")
                else:
                    self.freeze(datetime.now(timezone.utc) - timedelta(days=30))
            return reply

    return Authority(valid_from=datetime(2020, 1, 1, tzinfo=timezone.utc))


def _with_tsa(ws, server):
    import tomllib

    import tomli_w

    from soundstage.services.workspace import open_workspace

    anchor = server.authority.write_ca(ws.settings.keys_dir / "tsa-ca.pem")
    path = ws.settings.root / "soundstage.toml"
    cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    cfg["provenance"] = {"tsa_url": server.url, "tsa_trust_anchor": str(anchor.relative_to(ws.settings.root))}
    path.write_text(tomli_w.dumps(cfg), encoding="utf-8")
    return open_workspace(ws.settings.root)


class _FileOutputs:
    """Jobs on tests/services/file_outputs_backend.py, whose two outputs (a depth pass, a .blend: the
    same bytes for the same seed) are each bound by a signed sidecar: per output, one time-stamped
    signing, then the sidecar stored, the read-back, the file stored."""

    def setup(self, ws) -> None:
        from file_outputs_backend import FileOutputsBackend

        people_service.add_crew(ws, "Priya Shah", ["producer"], actor="setup")
        models.register_model(ws, FileOutputsBackend().model_card(), actor="setup", backend="file-outputs",
                              config={})

    def submit(self, ws, prompt: str) -> dict:
        spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION,
                       requested_by="Priya Shah", model_id="test.file-outputs", prompt=prompt)
        return jobs.submit_job(ws, spec, actor="Priya Shah")


@pytest.fixture
def two_file_outputs(monkeypatch):
    import sys
    from pathlib import Path

    from soundstage.generate import registry

    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "services"))
    monkeypatch.setitem(registry.BACKENDS, "file-outputs", "file_outputs_backend:FileOutputsBackend")
    registry.available.cache_clear()
    yield _FileOutputs()
    registry.available.cache_clear()
    sys.modules.pop("file_outputs_backend", None)


def _stored(ws) -> list:
    return sorted(ws.store.iter_stored())


def _only_the_failed_jobs_events(before: list, after: list, job_id: str) -> None:
    """The log as it was, then only the job's own events: submitted ... failed, no asset event."""
    assert after[:len(before)] == before
    added = after[len(before):]
    assert added and all(e["subject"] == job_id and e["action"].startswith("job.") for e in added), added
    assert added[-1]["action"] == "job.failed"


@pytest.mark.parametrize("then", ["refuse", "backdate"])
def test_a_job_whose_second_output_fails_leaves_nothing_in_the_store(sqlite_workspace, two_file_outputs, then):
    """The red team's finding: the first output's signed sidecar and file stayed in the content store,
    named by no row, until gc collected them a day later. A failed job leaves nothing half-written:
    what it created is removed, the ledger and the audit log hold nothing of its outputs."""
    from soundstage.services.ledger import list_assets
    from soundstage.testing.tsa import TsaServer

    errors = {"refuse": "gave no time-stamp", "backdate": "reads Invalid"}
    with TsaServer(_tsa_that_fails_after(1, then)) as server:
        ws = _with_tsa(sqlite_workspace, server)
        two_file_outputs.setup(ws)
        stored, assets, log = _stored(ws), list_assets(ws), audit_log(ws)
        with pytest.raises(BackendError, match=errors[then]):
            two_file_outputs.submit(ws, "blocking files")
        assert server.authority.requests == 2  # the first output was signed (and stored) before the second failed
    job = jobs.list_jobs(ws)[-1]
    assert job["status"] == "failed"
    assert _stored(ws) == stored  # no new blob: the first output's sidecar and file are gone
    assert list_assets(ws) == assets
    _only_the_failed_jobs_events(log, audit_log(ws), job["id"])
    assert ws.store.left_for_gc == []  # nothing left for gc either
    assert not any((ws.store.root / "trash").glob("*"))
    assert verify_audit(ws, deep=True).ok


def test_a_failed_job_keeps_content_that_an_existing_asset_names(sqlite_workspace, two_file_outputs):
    """The store is content-addressed: the failed job's first output is a depth pass whose bytes are
    already an asset's (the same job ran before, same seed). The job found that content, it did not
    create it: only what it created (its new signed sidecar) is removed; the existing asset keeps its
    file."""
    from soundstage.services.ledger import list_assets
    from soundstage.testing.tsa import TsaServer

    with TsaServer(_tsa_that_fails_after(3, "refuse")) as server:
        ws = _with_tsa(sqlite_workspace, server)
        two_file_outputs.setup(ws)
        done = two_file_outputs.submit(ws, "blocking files, first take")
        assert done["status"] == "done"
        depth = next(a for a in done["assets"] if a["name"].endswith("_depth.png"))
        stored, assets, log = _stored(ws), list_assets(ws), audit_log(ws)
        with pytest.raises(BackendError, match="gave no time-stamp"):
            two_file_outputs.submit(ws, "blocking files, second take")  # same seed: the same depth pass bytes
        assert server.authority.requests == 4
    assert _stored(ws) == stored  # the new sidecar is gone; the depth pass's file is still there
    ws.store.verify(depth["sha256"])
    assert list_assets(ws) == assets
    _only_the_failed_jobs_events(log, audit_log(ws), jobs.list_jobs(ws)[-1]["id"])
    assert verify_audit(ws, deep=True).ok
