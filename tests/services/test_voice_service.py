"""Voice jobs down the guarded path on the real ledger, real HTTP speech server, real audio mark and
real C2PA: consent-gated voice enrolment, denial with its rule, a line replaced in a plate with the
picture untouched, and the adversary's moves (someone else's voice, a client-set field, a voice
enrolled without consent, a consent revoked while the job waits in the queue)."""

from __future__ import annotations

from dataclasses import replace

import av
import numpy as np
import pytest

from soundstage.domain.safeguards import ModelCard, OperationKind, job_spec_from_request
from soundstage.errors import ConsentError, InputError, PolicyDeniedError, RefusedError, SpecError
from soundstage.safeguards.guard import IngestRequest, ingest, parse_asset_id
from soundstage.safeguards.provenance import read_credentials
from soundstage.safeguards.watermark.audio import default_audio_engine
from soundstage.services import jobs_service as jobs
from soundstage.services import consent_service, disclosure_service, models, people_service, talent_service
from soundstage.services import voice_service as voice
from soundstage.services.ledger import ingest_media, verify_audit
from soundstage.services.worker_service import drain_queue
from soundstage.store.models import Asset
from soundstage.testing.fake_voice_server import FakeOpenAISpeech, speak
from soundstage.testing.approvals import approve, review_digest
from soundstage.testing.identity import signer_for
from soundstage.testing.sample_media import write_plate
from soundstage.voice.pcm import read_track, write_wav16

LINE = "Where were you on the night of the fourth"  # 41 characters: 2.46 s from the speech server
HOLDERS = {"producer": "Priya Shah", "rights_clearance": "Tom Reed", "legal": "Tom Reed",
           "performer_rep": "Lena Ortiz", "vfx_supervisor": "Ken Ito"}


def frames(n=72, w=128, h=96):
    ramp = np.linspace(0, 255, w, dtype=np.float32)[None, :, None]
    return [np.clip(ramp + 2 * i, 0, 255).astype(np.uint8).repeat(h, 0).repeat(3, 2) for i in range(n)]


def video_packets(path):
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]


@pytest.fixture
def speech_server(monkeypatch):
    monkeypatch.setenv("STUDIO_TTS_KEY", "sk-test")
    with FakeOpenAISpeech(api_key="sk-test") as srv:
        yield srv


@pytest.fixture
def cast(workspace, tmp_path, speech_server):
    ws = workspace
    for name, roles in (("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor"]),
                        ("Tom Reed", ["rights_clearance", "legal"]), ("Lena Ortiz", ["performer_rep"])):
        people_service.add_crew(ws, name, roles, actor="setup")
    maya = talent_service.add_performer(ws, "Maya Castell", union_status="sag-aftra", representatives=["Lena Ortiz"],
                            actor="setup")
    noel = talent_service.add_performer(ws, "Noel Park", union_status="sag-aftra", representatives=["Lena Ortiz"], actor="setup")
    models.register_model(ws, ModelCard(id="studio.tts", name="Studio TTS", version="2", licence="studio contract",
                                    training_data="licensed", evidence="vendor attestation 2026-11",
                                    stores_inputs=False, trains_on_inputs=False, runs_in_production_env=True),
                      actor="setup", backend="voice",
                      config={"engine": "openai-speech", "model": "tts-studio", "base_url": speech_server.url + "/v1",
                              "api_key_env": "STUDIO_TTS_KEY", "backoff_s": 0,
                              "voices": {maya["id"]: "maya-v2", noel["id"]: "noel-v1"}})
    plate = ingest_media(ws, write_plate(tmp_path / "A012_C003.mp4", frames()), kind="plate", actor="setup",
                         scene="12", shot="12A")
    return ws, maya, noel, plate, tmp_path


def grant_voice(ws, performer, tmp_path, ops=("voice.adr",), kind="digital_alteration", **over):
    document = tmp_path / f"voice_consent_{performer['id']}.pdf"
    document.write_bytes(b"%PDF-1.4 signed voice consent")
    args = dict(document=document, kind=kind, operations=list(ops), scenes=["12"],
                description="ADR of one line in Maya's voice in scene 12 for the final mix, nothing else",
                signed_separately=True, representation="union", signer=signer_for(ws, "Lena Ortiz"))
    args.update(over)
    return consent_service.grant_consent(ws, performer["id"], **args)


def reference_wav(tmp_path, name="maya_ref.wav", voice_id="maya-v2"):
    return write_wav16(tmp_path / name, speak("this is my voice reading the reference text", voice_id, rate=24000),
                       24000)


def approve_all(ws, result):
    for role in result["decision"]["approver_roles"]:
        result = approve(ws, result["job"], signer=signer_for(ws, HOLDERS[role]), role=role, note="ok",
                         actor=HOLDERS[role])
    return result


def adr_job(ws, maya, plate, **over):
    args = dict(requested_by="Ken Ito", model_id="studio.tts", plate=plate["id"], start="0.4", end="2.95",
                scene="12", shot="12A")
    args.update(over)
    return voice.build_voice_job(ws, "adr", maya["id"], LINE, **args)


def test_a_voice_reference_is_enrolled_only_under_a_voice_consent(cast):
    ws, maya, _noel, _plate, tmp = cast
    with pytest.raises(ConsentError, match="no active consent in this production that covers their voice"):
        voice.enroll_voice(ws, maya["id"], reference_wav(tmp), actor="Lena Ortiz")
    # a likeness consent is not a voice consent
    grant_voice(ws, maya, tmp, ops=("likeness_deage",))
    with pytest.raises(ConsentError, match="covers their voice"):
        voice.enroll_voice(ws, maya["id"], reference_wav(tmp), actor="Lena Ortiz")
    consent = grant_voice(ws, maya, tmp)
    ref = voice.enroll_voice(ws, maya["id"], reference_wav(tmp), actor="Lena Ortiz")
    assert ref.consents == (consent["id"],) and ref.seconds > 1.0
    assert voice.voice_reference(ws, "maya castell").asset == ref.asset
    for bad, message in ((tmp / "x.ogg", "WAV, MP3, M4A or FLAC"), (tmp / "missing.wav", "not found")):
        with pytest.raises((InputError, Exception), match=message):
            voice.enroll_voice(ws, maya["id"], bad, actor="Lena Ortiz")
    (tmp / "noise.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(Exception, match="not readable audio|no audio"):
        voice.enroll_voice(ws, maya["id"], tmp / "noise.wav", actor="Lena Ortiz")
    # revoking the consent quarantines the reference with it
    consent_service.revoke_consent(ws, consent["id"], reason="withdrawn", signer=signer_for(ws, "Lena Ortiz"))
    assert voice.voice_reference(ws, maya["id"]) is None
    assert verify_audit(ws, deep=True).ok


def test_a_voice_job_without_a_voice_consent_is_denied_with_its_rule(cast):
    ws, maya, _noel, plate, _tmp = cast
    result = voice.submit_voice_job(ws, adr_job(ws, maya, plate), actor="Ken Ito")
    assert result["status"] == "denied"
    rules = [r["rule_id"] for r in result["decision"]["reasons"] if r["outcome"] == "deny"]
    assert "SAG-CONSENT-REQUIRED" in rules and "SAG-CONSENT-MISSING" in rules
    with pytest.raises(PolicyDeniedError, match="SAG-CONSENT-REQUIRED.*SAG-CONSENT-MISSING|SAG-CONSENT-MISSING"):
        jobs.raise_for_outcome(result)


def test_a_line_replaced_in_a_plate_picture_and_other_audio_untouched(cast):
    ws, maya, _noel, plate, tmp = cast
    grant_voice(ws, maya, tmp)
    voice.enroll_voice(ws, maya["id"], reference_wav(tmp), actor="Lena Ortiz")
    result = voice.submit_voice_job(ws, adr_job(ws, maya, plate), actor="Ken Ito")
    assert result["status"] == "escalated"  # exactly as a likeness: producer, rights clearance, her agent
    assert {"producer", "rights_clearance", "performer_rep"} <= set(result["decision"]["approver_roles"])
    assert "NFX-MATRIX-TALENT" in [r["rule_id"] for r in result["decision"]["reasons"]]
    done = approve_all(ws, result)
    assert done["status"] == "done", done
    asset = done["assets"][0]
    out = ws.store.path_for(asset["sha256"])
    source = ws.store.path_for(plate["sha256"])
    assert video_packets(out) == video_packets(source)  # the picture: the plate's own packets
    before, rate = read_track(source)
    after, _ = read_track(out)
    a, b = int(round(0.4 * rate)), int(round(2.95 * rate))
    assert before.shape == after.shape
    assert np.array_equal(before[:a], after[:a]) and np.array_equal(before[b:], after[b:])
    # the altered segment carries the output's id in the audio mark (production key), and only there
    mark = asset["details"]["watermark"]
    assert mark["engine"] == default_audio_engine(ws.watermark_key).name and mark["segments"] == [[0.4, 2.95]]
    found = default_audio_engine(ws.watermark_key).detect(after[a:b], rate)
    assert found.found and found.payload == parse_asset_id(asset["id"])
    assert not default_audio_engine(ws.watermark_key).detect(before[a:b], rate).found
    # Content Credentials: signed, the plate as parent, the voice reference by hash only
    creds = read_credentials(out, trust_anchors=[(ws.settings.keys_dir / "ca.pem").read_bytes()])
    assert creds.state.value == "Trusted" and creds.soundstage["asset_id"] == asset["id"]
    assert asset["details"]["voice"]["performer"] == maya["id"] and asset["details"]["operation"] == "voice.adr"
    assert verify_audit(ws, deep=True).ok  # the reference's consent links are proven by its enrolment event


def _wav_signing() -> bool:
    from soundstage.errors import ParseError
    from soundstage.safeguards.provenance.media import sniff_mime

    try:
        return sniff_mime(b"RIFF\x00\x00\x00\x00WAVEfmt ", "x.wav") == "audio/wav"
    except ParseError:
        return False


@pytest.mark.skipif(not _wav_signing(), reason="C2PA on WAV arrives with the audio credentials work (issue 17)")
# "No, not today." lasts 1.24 s from the speech server: under the mark's minimum, it is previewed,
# approved and delivered with a room-tone handle (it failed the guard's check before, DR018)
@pytest.mark.parametrize("line", [LINE, "No, not today."])
def test_a_synthetic_line_is_a_marked_signed_wav(cast, line):
    ws, maya, _noel, _plate, tmp = cast
    grant_voice(ws, maya, tmp, ops=("voice.synthetic_line",), kind="employment_based_replica")
    voice.enroll_voice(ws, maya["id"], reference_wav(tmp), actor="Lena Ortiz")
    spec = voice.build_voice_job(ws, "line", maya["id"], line, requested_by="Ken Ito", model_id="studio.tts",
                                 scene="12")
    done = approve_all(ws, voice.submit_voice_job(ws, spec, actor="Ken Ito"))
    assert done["status"] == "done"
    out = ws.store.path_for(done["assets"][0]["sha256"])
    samples, rate = read_track(out)
    found = default_audio_engine(ws.watermark_key).detect(samples, rate)
    assert found.found and found.payload == parse_asset_id(done["assets"][0]["id"])
    assert done["assets"][0]["media_type"] == "audio/wav"
    creds = read_credentials(out, trust_anchors=[(ws.settings.keys_dir / "ca.pem").read_bytes()])
    assert creds.state.value == "Trusted" and creds.soundstage["asset_id"] == done["assets"][0]["id"]
    assert done["assets"][0]["details"]["c2pa"]["digital_source_type"].endswith("trainedAlgorithmicMedia")


def test_adversary_someone_elses_voice(cast):
    """A job naming Noel that carries Maya's voice reference: refused before anything runs."""
    ws, maya, noel, plate, tmp = cast
    grant_voice(ws, maya, tmp)
    grant_voice(ws, noel, tmp)
    maya_ref = voice.enroll_voice(ws, maya["id"], reference_wav(tmp), actor="Lena Ortiz")
    spec = adr_job(ws, noel, plate)
    assert voice.voice_reference(ws, noel["id"]) is None
    forged = replace(spec, inputs=(plate["id"], maya_ref.asset))
    with pytest.raises(RefusedError, match="is p-|voice is used only for its own performer"):
        voice.submit_voice_job(ws, forged, actor="Ken Ito")


def test_adversary_a_voice_reference_without_consent(cast):
    """Audio stored as a 'voice_reference' by any other path than enrolment is not a voice."""
    ws, maya, _noel, plate, tmp = cast
    grant_voice(ws, maya, tmp)
    with ws.unit_of_work() as s:
        smuggled = ingest(s, ws.store, IngestRequest(
            production_id=ws.production_id, actor="Ken Ito", kind="voice_reference", media_type="audio/wav",
            name="found_on_a_drive.wav", path=reference_wav(tmp), details={"performer": maya["id"]}))
        ref_id = f"{smuggled.id:016x}"
    spec = replace(adr_job(ws, maya, plate), inputs=(plate["id"], ref_id))
    with pytest.raises(RefusedError, match="not enrolled under a consent"):
        voice.submit_voice_job(ws, spec, actor="Ken Ito")


def test_adversary_fields_the_policy_decides(cast):
    """A client cannot set who requested, the job id, or name a voice/URL: refused, never obeyed."""
    ws, maya, _noel, plate, _tmp = cast
    body = {"operation": "voice.adr", "model_id": "studio.tts", "prompt": LINE, "inputs": [plate["id"]],
            "performers": [maya["id"]], "params": {"start": "0.4", "end": "2.9"}}
    for field, value in (("requested_by", "Priya Shah"), ("id", "j-mine")):
        with pytest.raises(SpecError, match="set by the server"):
            job_spec_from_request({**body, field: value}, production_id=ws.production_id, requested_by="Ken Ito")
    spec = job_spec_from_request({**body, "params": {**body["params"], "voice": "maya-v2"}},
                                 production_id=ws.production_id, requested_by="Ken Ito")
    with pytest.raises(SpecError, match="params.voice"):
        jobs.submit_job(ws, spec, actor="Ken Ito")
    spec = job_spec_from_request({**body, "params": {**body["params"], "base_url": "http://evil"}},
                                 production_id=ws.production_id, requested_by="Ken Ito")
    with pytest.raises(SpecError, match="params.base_url"):
        jobs.submit_job(ws, spec, actor="Ken Ito")


def test_adversary_consent_revoked_while_the_job_waits_in_the_queue(cast):
    ws, maya, _noel, plate, tmp = cast
    consent = grant_voice(ws, maya, tmp)
    voice.enroll_voice(ws, maya["id"], reference_wav(tmp), actor="Lena Ortiz")
    result = voice.submit_voice_job(ws, adr_job(ws, maya, plate), actor="Ken Ito", wait=False)
    for role in result["decision"]["approver_roles"]:
        result = approve(ws, result["job"], signer=signer_for(ws, HOLDERS[role]), role=role, note="ok",
                         actor=HOLDERS[role], wait=False)
    assert result["status"] == "queued"
    consent_service.revoke_consent(ws, consent["id"], reason="withdrawn", signer=signer_for(ws, "Lena Ortiz"))
    drain_queue(ws)  # the worker's claim decides again from the ledger as it is now
    shown = jobs.show_job(ws, result["job"])
    # refused at the claim: her voice reference was quarantined with the consent, so nothing ran
    assert shown["status"] == "failed", shown
    with ws.unit_of_work() as s:
        from soundstage.store.models import AuditEvent

        failed = [e.payload for e in s.query(AuditEvent).filter(AuditEvent.subject == result["job"])
                  if e.action == "job.failed"]
    assert failed and "quarantined" in failed[-1]
    with ws.unit_of_work() as s:  # no output; the preview its approvers heard is quarantined with her voice
        assert s.query(Asset).filter(Asset.job_id == result["job"], Asset.kind != "preview").count() == 0
        assert {a.status for a in s.query(Asset).filter(Asset.job_id == result["job"])} == {"quarantined"}
    assert verify_audit(ws, deep=True).ok


def test_unknown_voice_operation_and_bad_range(cast):
    ws, maya, _noel, plate, _tmp = cast
    with pytest.raises(InputError, match="unknown voice operation"):
        voice.build_voice_job(ws, "sing", maya["id"], LINE, requested_by="Ken Ito", model_id="studio.tts")
    spec = adr_job(ws, maya, plate, crossfade_ms=9999)
    with pytest.raises(SpecError, match="params.crossfade_ms"):
        jobs.submit_job(ws, spec, actor="Ken Ito")
    assert OperationKind.VOICE_ADR.value == "voice.adr"


def test_disclosure_lists_synthetic_voices_and_the_credits_name_them(cast):
    from soundstage.safeguards.disclosure import credits_notice, html_document, summarize

    ws, maya, _noel, plate, tmp = cast
    grant_voice(ws, maya, tmp)
    voice.enroll_voice(ws, maya["id"], reference_wav(tmp), actor="Lena Ortiz")
    done = approve_all(ws, voice.submit_voice_job(ws, adr_job(ws, maya, plate, deliverable="final", medium="final"),
                                                  actor="Ken Ito"))
    assert done["status"] == "done"
    data = disclosure_service.disclosure_data(ws, actor="Tom Reed")
    voices = summarize(data)["synthetic_voices"]
    assert [(v["performer"], v["operations"], v["in_programme"], v["consented"]) for v in voices] == [
        ("Maya Castell", ["voice.adr"], True, True)]
    notice = credits_notice(data)
    assert "The voice of Maya Castell in this" in notice and "with their consent" in notice
    assert "appearance" not in notice  # an ADR alters a voice, not a picture
    assert "Synthetic voices" in html_document(data) and "ADR in a synthetic voice" in html_document(data)


def test_the_voice_guide_example_runs_and_its_model_record_loads(cast):
    import re
    from pathlib import Path

    import yaml

    guide = (Path(__file__).resolve().parents[2] / "docs" / "guides" / "voice.md").read_text()
    ws, maya, _noel, plate, tmp = cast
    grant_voice(ws, maya, tmp)
    namespace = {"ws": ws, "maya": maya, "plate": plate, "reference": reference_wav(tmp),
                 "signers": {n: signer_for(ws, n) for n in ("Priya Shah", "Tom Reed", "Lena Ortiz")}}
    example = re.search(r"<!-- example: voice_adr.py -->\n```python\n(.*?)```", guide, re.S).group(1)
    exec(compile(example, "voice_adr.py", "exec"), namespace)
    assert namespace["result"]["status"] == "done" and namespace["clip"]["details"]["operation"] == "voice.adr"
    record = yaml.safe_load(re.search(r"```yaml\n(id: studio.tts.*?)```", guide, re.S).group(1))
    card = ModelCard.from_dict({k: v for k, v in record.items() if k not in ("backend", "config")})
    assert record["backend"] == "voice" and card.training_data == "licensed" and not card.stores_inputs
    from soundstage.voice.registry import get_engine

    assert get_engine("studio.tts", record["config"]).name == "openai-speech"


def test_a_dub_on_the_studios_own_verified_weights(cast):
    """local-tts: the weights directory registered by digest; tampered weights never run."""
    from soundstage.testing.tiny_voice import build_tiny_voice
    from soundstage.voice.backends.local_tts import WEIGHTS_FILE

    ws, maya, _noel, _plate, tmp = cast
    weights, digest = build_tiny_voice(tmp / "studio-voice", seed=4)
    models.register_model(ws, ModelCard(id="studio.voice-local", name="Studio voice", version="1", licence="owned",
                                    training_data="owned", evidence="recorded in-house under contract",
                                    weights_sha256=digest, stores_inputs=False, trains_on_inputs=False,
                                    runs_in_production_env=True),
                      actor="setup", backend="voice",
                      config={"engine": "local-tts", "path": str(weights), "weights_sha256": digest})
    grant_voice(ws, maya, tmp, ops=("voice.dub",), kind="employment_based_replica",
                territory=["FR"], description="The French dub of Maya's scene 12 lines in her voice, nothing else")
    voice.enroll_voice(ws, maya["id"], reference_wav(tmp), actor="Lena Ortiz")

    def dub(territory):
        return voice.build_voice_job(ws, "dub", maya["id"], "Où étais-tu la nuit du quatre, dis-moi",
                                     requested_by="Ken Ito", model_id="studio.voice-local", language="fr-FR",
                                     scene="12", territory=territory)

    denied = voice.submit_voice_job(ws, dub("DE"), actor="Ken Ito")  # outside the consented territory
    assert denied["status"] == "denied"
    assert "SAG-CONSENT-TERRITORY" in [r["rule_id"] for r in denied["decision"]["reasons"]]
    done = approve_all(ws, voice.submit_voice_job(ws, dub("FR"), actor="Ken Ito"))
    assert done["status"] == "done", done
    out = ws.store.path_for(done["assets"][0]["sha256"])
    samples, rate = read_track(out)
    assert rate == 16000 and default_audio_engine(ws.watermark_key).detect(samples, rate).payload == \
        parse_asset_id(done["assets"][0]["id"])
    assert done["assets"][0]["details"]["voice"]["language"] == "fr-FR"
    # the weights on disk change after the next job was approved: it refuses to run them
    pending = voice.submit_voice_job(ws, dub("FR"), actor="Ken Ito", wait=False)
    for role in pending["decision"]["approver_roles"]:
        pending = approve(ws, pending["job"], signer=signer_for(ws, HOLDERS[role]), role=role, note="ok",
                          actor=HOLDERS[role], wait=False)
    (weights / WEIGHTS_FILE).write_bytes((weights / WEIGHTS_FILE).read_bytes()[:-8] + b"\x00" * 8)
    later = voice.submit_voice_job(ws, dub("FR"), actor="Ken Ito", wait=False)
    with pytest.raises(RefusedError, match="do not match"):  # nor do they speak a preview
        review_digest(ws, later["job"], actor="Priya Shah")
    drain_queue(ws)
    assert jobs.show_job(ws, pending["job"])["status"] == "failed"
    with ws.unit_of_work() as s:
        from soundstage.store.models import AuditEvent

        assert s.query(Asset).filter(Asset.job_id == pending["job"], Asset.kind != "preview").count() == 0
        failed = [e.payload for e in s.query(AuditEvent).filter(AuditEvent.subject == pending["job"])
                  if e.action == "job.failed"]
    assert failed and "do not match" in failed[-1]


def test_adversary_a_voice_operation_on_a_model_that_does_not_speak(cast):
    """A backend that accepts any operation ("*") would run a voice job unmarked: the guard refuses."""
    ws, maya, _noel, _plate, tmp = cast
    grant_voice(ws, maya, tmp, ops=("voice.synthetic_line",), kind="employment_based_replica")
    voice.enroll_voice(ws, maya["id"], reference_wav(tmp), actor="Lena Ortiz")
    spec = voice.build_voice_job(ws, "line", maya["id"], LINE, requested_by="Ken Ito",
                                 model_id="soundstage.procedural-card", scene="12")
    with pytest.raises(RefusedError, match="runs on a voice model"):
        approve_all(ws, voice.submit_voice_job(ws, spec, actor="Ken Ito"))


def test_disclosure_counts_voice_outputs_temporary_and_final_and_credits_only_the_final(cast):
    """A final ADR, a temporary synthetic line and a denied voice job of another performer: the
    report counts each job's one marked, signed output under its own deliverable (the denied job
    made nothing and is not a use), lists both voice uses under the performer, and the credits name
    her once, for the final one only."""
    from soundstage.safeguards.disclosure import credits_notice, html_document, summarize

    ws, maya, noel, plate, tmp = cast
    grant_voice(ws, maya, tmp)
    grant_voice(ws, maya, tmp, ops=("voice.synthetic_line",), kind="employment_based_replica")
    voice.enroll_voice(ws, maya["id"], reference_wav(tmp), actor="Lena Ortiz")
    line = voice.build_voice_job(ws, "line", maya["id"], LINE, requested_by="Ken Ito", model_id="studio.tts",
                                 scene="12")
    temporary = approve_all(ws, voice.submit_voice_job(ws, line, actor="Ken Ito"))
    assert temporary["status"] == "done" and len(temporary["assets"]) == 1
    # before the final job: a temporary voice line is disclosed but never credited
    data = disclosure_service.disclosure_data(ws, actor="Tom Reed")
    assert credits_notice(data) == ""
    assert [v["in_programme"] for v in summarize(data)["synthetic_voices"]] == [False]

    final = approve_all(ws, voice.submit_voice_job(ws, adr_job(ws, maya, plate, deliverable="final", medium="final"),
                                                   actor="Ken Ito"))
    assert final["status"] == "done" and len(final["assets"]) == 1
    denied = voice.submit_voice_job(ws, voice.build_voice_job(ws, "line", noel["id"], LINE, requested_by="Ken Ito",
                                                              model_id="studio.tts", scene="12"), actor="Ken Ito")
    assert denied["status"] == "denied" and denied["assets"] == []

    data = disclosure_service.disclosure_data(ws, actor="Tom Reed")
    s = summarize(data)
    voice_uses = {u["job_id"]: u for u in data["uses"] if u["operation"].startswith("voice.")}
    assert set(voice_uses) == {temporary["job"], final["job"]}  # a denied job made nothing: not a use
    assert voice_uses[temporary["job"]]["deliverable"] == "temporary"
    assert voice_uses[final["job"]]["deliverable"] == "final"
    # one output each (the enrolled voice reference and any review preview are not outputs)
    assert [len(voice_uses[j]["assets"]) for j in (temporary["job"], final["job"])] == [1, 1]
    assert s["by_deliverable"] == {"temporary": 1, "final": 1}
    assert s["by_operation"] == {"voice.adr": 1, "voice.synthetic_line": 1}
    assert s["assets"] == s["active_assets"] == 2
    assert s["marking"] == {"active_assets": 2, "with_c2pa": 2, "with_watermark": 2, "not_fully_marked": []}
    [maya_voice] = [v for v in s["synthetic_voices"] if v["performer"] == "Maya Castell"]
    assert maya_voice["operations"] == ["voice.adr", "voice.synthetic_line"]
    assert sorted(maya_voice["jobs"]) == sorted([temporary["job"], final["job"]])
    assert maya_voice["in_programme"] and maya_voice["consented"]
    notice = credits_notice(data)
    assert notice.count("Maya Castell") == 1 and "Noel Park" not in notice
    page = html_document(data)
    assert "Synthetic voices" in page and "Maya Castell" in page
