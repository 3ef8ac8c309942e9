"""The ledger's write order (``audit.serialize``, taken by every unit of work before its first read):
what a writer does rests on reads nobody changes under it. Each test is a red-team reproduction
(2026-12-07; DR011, amendment) that failed on the code before, on SQLite and PostgreSQL: the other
actor is started from inside a slow step of the first (monkeypatching only makes the timing); it
must wait for the first to commit, and both must land as if one came after the other.

Also here: a change made while a job's backend ran (an input quarantined, the model card
replaced) stops the registration of its outputs, because phase C runs the claim's checks again
(``guard.check_job``), and a read-only transaction (``Workspace.reading``) refuses to write."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select, text

from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.errors import InternalError, QuarantinedError, StateConflictError
from soundstage.generate.backends import procedural, retouch
from soundstage.safeguards import audit, guard, previews, signatures
from soundstage.safeguards.resolve import get_model
from soundstage.services import consent_service, keys_service, models, people_service, talent_service
from soundstage.services import jobs_service as jobs
from soundstage.services import voice_service as voice
from soundstage.services.ledger import audit_log, verify_audit
from soundstage.services.worker_service import drain_queue
from soundstage.store.models import Asset, AuditEvent, ConsentRecord, Person
from soundstage.testing.identity import signer_for
from soundstage.testing.ledger import write_order_held
from tests.safeguards import test_guard_queue as gq
from tests.safeguards.test_guard_queue import card, job_assets, queued_deage
from tests.services.test_voice_service import grant_voice, reference_wav

cast = gq.cast  # the guard tests' production: crew, Maya Castell, a plate (SQLite and PostgreSQL)

#: how long the first actor waits for the other before going on: the other must still be waiting
#: for the write order then (it was not: it committed in between)
WAITS = 2.0


class Other:
    """The other actor, on its own thread (its own connection), started from inside the first's
    critical step: ``waited`` says whether it was still waiting for the write order ``WAITS`` s later."""

    def __init__(self, act):
        self.act, self.result, self.error, self.thread, self.waited = act, None, None, None, None

    def start_and_wait(self) -> None:
        if self.thread is not None:
            return
        self.thread = threading.Thread(target=self._run)
        self.thread.start()
        self.thread.join(WAITS)
        self.waited = self.thread.is_alive()

    def _run(self) -> None:
        try:
            self.result = self.act()
        except Exception as exc:  # noqa: BLE001 - the test reads it
            self.error = exc

    def finish(self):
        self.thread.join(120)
        assert not self.thread.is_alive(), "the other actor never finished"
        if self.error is not None:
            raise self.error
        return self.result


def status_of(ws, asset_ref) -> str:
    with ws.reading() as s:
        return s.get(Asset, asset_ref if isinstance(asset_ref, int) else int(asset_ref, 16)).status


# ---------------------------------------------------------------- biometric references vs. revocation
def face_png(tmp_path):
    rng = np.random.default_rng(1)
    Image.fromarray((rng.random((128, 128, 3)) * 255).astype(np.uint8)).save(tmp_path / "face.png")
    return tmp_path / "face.png"


@pytest.mark.parametrize("reference", ["voice", "face"])
def test_a_reference_enrolled_while_its_consent_is_revoked_is_quarantined(cast, tmp_path, monkeypatch, reference):
    """Before: the revocation committed while the reference was stored, walked a lineage without it,
    and the reference registered active, linked to the revoked consent."""
    ws, maya, _ = cast
    consent = grant_voice(ws, maya, tmp_path)
    other = Other(lambda: consent_service.revoke_consent(ws, consent["id"], reason="withdrawn during enrolment",
                                                         signer=signer_for(ws, "Lena Ortiz")))
    put_file = ws.store.put_file

    def storing(path, grant, **kw):
        other.start_and_wait()
        return put_file(path, grant, **kw)

    monkeypatch.setattr(ws.store, "put_file", storing)
    if reference == "voice":
        asset = voice.enroll_voice(ws, maya["id"], reference_wav(tmp_path), actor="Lena Ortiz").asset
    else:
        asset = talent_service.enroll_reference(ws, maya["id"], face_png(tmp_path), actor="Lena Ortiz")["asset"]
    revoked = other.finish()
    assert other.waited
    assert asset in {a["id"] for a in revoked["quarantined"]} and status_of(ws, asset) == "quarantined"
    assert verify_audit(ws).ok


# ---------------------------------------------------------------- signed rows rewritten at once
@pytest.mark.parametrize("first", ["suspend", "revoke"])
def test_a_revocation_and_a_suspension_at_once_both_stay_signed(cast, tmp_path, monkeypatch, first):
    """Before: each read the consent's signed history unlocked and wrote it back whole; one signed
    action vanished, and every later job naming the performer was refused as tampered."""
    ws, maya, _ = cast
    cid = grant_voice(ws, maya, tmp_path)["id"]
    acts = {"revoke": lambda: consent_service.revoke_consent(ws, cid, reason="withdrawn", signer=signer_for(ws, "Lena Ortiz")),
            "suspend": lambda: consent_service.set_suspension(ws, cid, True, reason="strike",
                                                              signer=signer_for(ws, "Tom Reed"))}
    other = Other(acts["revoke" if first == "suspend" else "suspend"])
    sign = consent_service.sign_consent_action

    def signing(*args, **kwargs):
        entry = sign(*args, **kwargs)
        other.start_and_wait()
        return entry

    monkeypatch.setattr(consent_service, "sign_consent_action", signing)
    acts[first]()
    monkeypatch.setattr(consent_service, "sign_consent_action", sign)
    other.finish()
    assert other.waited
    with ws.reading() as s:
        rec = s.get(ConsentRecord, cid)
        assert [e["action"] for e in rec.signatures][-2:] == (["suspended", "revoked"] if first == "suspend"
                                                              else ["revoked", "suspended"])
        assert rec.revoked_at is not None and rec.suspended
        signatures.verify_consents(s, ws.production_id, [maya["id"]])  # the row is what its signers signed
    assert verify_audit(ws).ok


@pytest.mark.parametrize("first", ["represent", "enroll"])
def test_two_edits_of_one_performer_at_once_both_land(cast, tmp_path, monkeypatch, first):
    """Before: each rewrote the performer's record from an unlocked read; the reference face or the new
    representative was silently dropped, though both commands answered success."""
    ws, maya, _ = cast
    grant_voice(ws, maya, tmp_path)
    people_service.add_crew(ws, "Omar Diaz", ["performer_rep"], actor="setup")
    face = face_png(tmp_path)
    acts = {"enroll": lambda: talent_service.enroll_reference(ws, maya["id"], face, actor="Lena Ortiz"),
            "represent": lambda: talent_service.add_representative(ws, maya["id"], "Omar Diaz", actor="Priya Shah")}
    other = Other(acts["enroll" if first == "represent" else "represent"])
    if first == "represent":
        lookup = talent_service._representative

        def looking_up(*args, **kwargs):
            other.start_and_wait()
            return lookup(*args, **kwargs)

        monkeypatch.setattr(talent_service, "_representative", looking_up)
    else:
        put_file = ws.store.put_file

        def storing(path, grant, **kw):
            other.start_and_wait()
            return put_file(path, grant, **kw)

        monkeypatch.setattr(ws.store, "put_file", storing)
    results = {first: acts[first]()}
    monkeypatch.undo()
    results["enroll" if first == "represent" else "represent"] = other.finish()
    assert other.waited
    view = talent_service.show_performer(ws, maya["id"])
    assert view["reference_asset"] == results["enroll"]["asset"] and "Omar Diaz" in view["representative_names"]
    assert verify_audit(ws).ok


# ---------------------------------------------------------------- the guarded path
def test_a_cancel_while_outputs_are_signed_is_a_clean_409(cast, monkeypatch):
    """Before, on PostgreSQL: phase C held the audit head and wanted the job row, the cancel held the
    job row and wanted the head - a deadlock, reported as the job failed with a database error. Now
    both take the head first: the cancel waits, finds the job done, and is refused (409)."""
    ws, maya, plate = cast
    job_id = queued_deage(ws, maya, plate)
    other = Other(lambda: jobs.cancel_job(ws, job_id, actor="Priya Shah"))
    sign = guard.sign_file

    def signing(*args, **kwargs):
        other.start_and_wait()
        return sign(*args, **kwargs)

    monkeypatch.setattr(guard, "sign_file", signing)
    assert drain_queue(ws).done == 1
    with pytest.raises(StateConflictError):
        other.finish()
    assert other.waited and jobs.show_job(ws, job_id)["status"] == "done"
    assert verify_audit(ws).ok


def test_keys_renewed_while_an_output_is_signed_wait_for_it(cast, monkeypatch):
    """Before: the renewal wrote the new certificate into keys/ before recording it, so the output
    being signed met keys the audit log did not record and its job failed; on SQLite the renewal's
    own event then collided with the job's (same seq), leaving an unrecorded certificate that failed
    every later job."""
    ws, maya, plate = cast
    job_id = queued_deage(ws, maya, plate)
    other = Other(lambda: keys_service.renew_signing_certificate(ws, actor="Priya Shah"))
    manifest = guard._manifest_spec

    def describing(*args, **kwargs):
        other.start_and_wait()
        return manifest(*args, **kwargs)

    monkeypatch.setattr(guard, "_manifest_spec", describing)
    assert drain_queue(ws).done == 1
    monkeypatch.undo()
    renewed = other.finish()
    assert other.waited and renewed["recorded"]
    assert jobs.show_job(ws, job_id)["status"] == "done"
    later = jobs.submit_job(ws, card(ws, "after the renewal"), actor="Priya Shah", wait=False)
    assert drain_queue(ws).done == 1 and jobs.show_job(ws, later["job"])["status"] == "done"
    assert verify_audit(ws).ok


def test_an_append_as_a_units_first_write_waits_for_the_head(cast):
    """Before, on SQLite: a transaction whose first write was the audit append read the head outside
    any lock (the dialect drops FOR UPDATE) and took the seq another writer was taking."""
    ws, _, _ = cast

    def first(s) -> None:  # the holder's append, its first write, as it releases
        audit.append(s, production_id=ws.production_id, actor="first", action="demo.first")

    second = Other(lambda: _append(ws, "demo.second"))
    with write_order_held(ws, then=first):
        second.start_and_wait()
    second.finish()
    assert second.waited
    actions = [e["action"] for e in audit_log(ws)]
    assert actions.index("demo.first") < actions.index("demo.second")  # the second came after
    assert verify_audit(ws).ok


def _append(ws, action: str) -> None:
    with ws.unit_of_work() as s:
        audit.append(s, production_id=ws.production_id, actor="second", action=action)


def cleanup_of_a_deage(ws, maya, plate, monkeypatch, deliverable: str) -> tuple[int, dict]:
    """Maya's de-age, done; then a clean-up pass on its output naming no performer, whose backend
    run sees her consent revoked (the de-aged frame quarantined) while it renders. Returns the
    de-aged frame's id and the clean-up's submission."""
    deage = queued_deage(ws, maya, plate)
    assert drain_queue(ws).done == 1
    (deaged,) = job_assets(ws, deage)
    consent = consent_service.list_consents(ws)[0]
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.CLEANUP, requested_by="Ken Ito",
                   model_id="soundstage.retouch", inputs=(f"{deaged:016x}",), performers=(), scene="5", shot="5A",
                   alteration_amount=0.2, deliverable=deliverable,
                   medium="previz" if deliverable == "temporary" else "final")
    result = jobs.submit_job(ws, spec, actor="Ken Ito", wait=False)
    generate = retouch.RetouchAlterer.generate

    def revoked_while_running(self, request):
        if request.job.id == result["job"]:
            consent_service.revoke_consent(ws, consent["id"], reason="withdrawn during the clean-up",
                                           signer=signer_for(ws, "Lena Ortiz"))
        return generate(self, request)

    monkeypatch.setattr(retouch.RetouchAlterer, "generate", revoked_while_running)
    return deaged, result


def test_an_input_quarantined_while_the_backend_runs_registers_nothing(cast, monkeypatch):
    """Before: phase C decided again on the job's own performers only; a clean-up of Maya's de-aged
    frame whose consent was revoked while it ran registered an active output derived from the
    quarantined frame."""
    ws, maya, plate = cast
    deaged, result = cleanup_of_a_deage(ws, maya, plate, monkeypatch, "temporary")
    assert result["status"] == "queued", result
    drain_queue(ws)
    view = jobs.show_job(ws, result["job"])
    assert view["status"] == "failed" and job_assets(ws, result["job"]) == []
    assert status_of(ws, deaged) == "quarantined"
    failed = [e for e in audit_log(ws, limit=50) if e["subject"] == result["job"] and e["action"] == "job.failed"]
    assert "quarantined" in failed[0]["payload"]["error"]


def test_a_preview_whose_input_was_quarantined_while_it_rendered_registers_nothing(cast, monkeypatch):
    ws, maya, plate = cast
    _, result = cleanup_of_a_deage(ws, maya, plate, monkeypatch, "final")
    assert result["status"] == "escalated", result
    with pytest.raises(QuarantinedError):
        previews.preview(ws, result["job"], actor="Priya Shah")
    with ws.reading() as s:
        assert list(s.scalars(select(Asset).where(Asset.job_id == result["job"]))) == []


def test_a_model_card_replaced_while_the_job_runs_registers_nothing(cast, monkeypatch):
    """Before: phase C acted on a denial only, and signed with the card read at the claim: a card
    replaced while the job ran (now keeping inputs, trained on unknown data: the policy escalates to
    the producer and legal) registered the output with no approval, its credentials naming the old card."""
    ws, _, _ = cast
    result = jobs.submit_job(ws, card(ws), actor="Priya Shah", wait=False)
    assert result["status"] == "queued"
    generate = procedural.ProceduralCardGenerator.generate

    def replaced_while_running(self, request):
        with ws.reading() as s:
            old = get_model(s, "soundstage.procedural-card")
        models.register_model(ws, replace(old, stores_inputs=True, trains_on_inputs=True, trained_model=True,
                                          training_data="unknown", evidence="vendor now keeps prompts"),
                              actor="Tom Reed", replace_existing=True)
        return generate(self, request)

    monkeypatch.setattr(procedural.ProceduralCardGenerator, "generate", replaced_while_running)
    drain_queue(ws)
    assert jobs.show_job(ws, result["job"])["status"] == "failed" and job_assets(ws, result["job"]) == []
    failed = [e for e in audit_log(ws, limit=50) if e["subject"] == result["job"] and e["action"] == "job.failed"]
    assert "model registry's entry" in failed[0]["payload"]["error"]


# ---------------------------------------------------------------- reading
def test_a_read_only_transaction_refuses_to_write(cast):
    ws, maya, _ = cast
    with pytest.raises(InternalError, match="read-only"):
        with ws.reading() as s:
            s.get(Person, maya["id"]).name = "someone else"
    with pytest.raises(InternalError, match="read-only"):
        with ws.reading() as s:
            s.execute(AuditEvent.__table__.delete().where(AuditEvent.seq == 1))
    with pytest.raises(InternalError, match="raw SQL"):
        with ws.reading() as s:
            s.execute(text("DELETE FROM audit_event WHERE seq = 1"))
    with ws.reading() as s:
        assert s.get(Person, maya["id"]).name == "Maya Castell"
        assert s.execute(text("SELECT count(*) FROM audit_event")).scalar() > 0  # reading raw SQL is fine
    with pytest.raises(InternalError, match="inside another"):
        with ws.unit_of_work():
            with ws.unit_of_work():
                pass


# ---------------------------------------------------------------- a ledger held for long
def test_a_unit_that_waits_past_the_busy_timeout_is_a_busy_error(cast, monkeypatch):
    """SQLite gives up on the write lock after its busy timeout: the unit says the ledger is busy
    (BusyError: HTTP 503 with Retry-After, a one-line CLI error), not a database error."""
    from soundstage.errors import BusyError
    from soundstage.services.workspace import open_workspace
    from soundstage.store import db

    ws, _, _ = cast
    if not ws.db.url.startswith("sqlite"):
        pytest.skip("PostgreSQL waits for the row lock without a timeout")
    monkeypatch.setattr(db, "BUSY_SECONDS", 1)
    quick = open_workspace(ws.settings.root)
    try:
        with write_order_held(ws), pytest.raises(BusyError, match="the ledger is busy"):
            with quick.unit_of_work():
                pass
    finally:
        quick.close()


def test_a_lease_renewal_that_meets_a_busy_ledger_keeps_the_run(cast, monkeypatch):
    """Another job's phase C held SQLite's write lock past the busy timeout (a slow TSA): the run's
    renewal failed, and past a lease the run gave itself up - though nobody could have taken the job
    over (that is a write too). A busy ledger no longer counts as a lost claim."""
    from soundstage.safeguards.lease import LeaseKeeper, LeaseTerms
    from soundstage.services.workspace import open_workspace
    from soundstage.store import db

    ws, _, _ = cast
    if not ws.db.url.startswith("sqlite"):
        pytest.skip("PostgreSQL waits for the row lock without a timeout")
    monkeypatch.setattr(db, "BUSY_SECONDS", 1)
    quick = open_workspace(ws.settings.root)
    job_id = jobs.submit_job(ws, card(ws), actor="Priya Shah", wait=False)["job"]
    keeper = LeaseKeeper(quick.db.transaction, job_id, "worker:test", LeaseTerms(seconds=1.0, heartbeat=0.5))
    keeper._renewed -= 5  # its last renewal was longer than a lease ago
    try:
        with write_order_held(ws):
            assert keeper.beat() and keeper.lost is None
    finally:
        quick.close()


def test_phase_c_opens_no_second_connection(cast, monkeypatch):
    """While a unit holds the write order, writers waiting for it hold pooled connections: on
    PostgreSQL 15 of them exhausted the pool, and phase C, which opened a connection of its own to
    read the recorded signing keys, waited 30 s and failed the job. Every read phase C makes now goes
    through its own unit's session: a second transaction opened by the thread that holds a unit
    fails here at once."""
    from soundstage.services import workspace as W
    from soundstage.store.db import Database

    ws, maya, plate = cast
    job_id = queued_deage(ws, maya, plate)
    opened = Database.transaction

    def only_outside_a_unit(self, *args, **kwargs):
        if self.url in W._units_held():
            raise AssertionError("a second transaction opened by the thread that holds a unit of work")
        return opened(self, *args, **kwargs)

    monkeypatch.setattr(Database, "transaction", only_outside_a_unit)
    assert drain_queue(ws).done == 1 and jobs.show_job(ws, job_id)["status"] == "done"
