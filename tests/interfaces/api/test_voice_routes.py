"""Voice over HTTP: enrolment under consent (upload), a voice job decided like a likeness job, and
the fields a client cannot set."""

from __future__ import annotations

import io

import pytest
from api_helpers import auth

from soundstage.services import auth_service
from soundstage.services import consent_service
from soundstage.testing.fake_voice_server import FakeOpenAISpeech, encode, register_speech_model, speak


@pytest.fixture
def voiced(production, monkeypatch):
    monkeypatch.setenv("STUDIO_TTS_KEY", "sk-test")
    with FakeOpenAISpeech(api_key="sk-test") as server:
        register_speech_model(production["ws"], server, {production["maya"]["id"]: "maya-v2"})
        yield production


def wav() -> tuple[str, io.BytesIO, str]:
    return ("maya.wav", io.BytesIO(encode(speak("my voice reading the reference", "maya-v2"), "wav")), "audio/wav")


def test_enrol_upload_needs_a_voice_consent(client, voiced):
    maya = voiced["maya"]["id"]
    # her consent on file covers de-ageing, not her voice
    r = client.post(f"/api/performers/{maya}/voice", files={"file": wav()}, headers=auth(voiced, "performer_rep"))
    assert r.status_code in (403, 409, 422) and "covers their voice" in r.text
    document = voiced["ws"].settings.root.parent / "voice.pdf"
    document.write_bytes(b"%PDF-1.4 voice consent")
    consent_service.grant_consent(voiced["ws"], maya, document=document, kind="employment_based_replica",
                     operations=["voice.synthetic_line"], representation="union", signed_separately=True,
                     description="One synthetic line in Maya's voice for scene 5, final mix only",
                     signer=auth_service.signer_for_token(voiced["ws"], voiced["tokens"]["performer_rep"]))
    r = client.post(f"/api/performers/{maya}/voice", files={"file": wav()}, headers=auth(voiced, "vfx_supervisor"))
    assert r.status_code == 403  # not the VFX supervisor's to enrol
    r = client.post(f"/api/performers/{maya}/voice", files={"file": wav()}, headers=auth(voiced, "performer_rep"))
    assert r.status_code == 201, r.text
    ref = r.json()
    got = client.get(f"/api/performers/{maya}/voice", headers=auth(voiced, "producer")).json()
    assert got["asset"] == ref["asset"]
    # a job: decided exactly as a likeness job
    body = {"operation": "line", "performer": maya, "line": "Where were you on the night of the fourth",
            "model_id": "studio.tts", "scene": "5"}
    r = client.post("/api/voice/jobs", json=body, headers=auth(voiced, "vfx_supervisor"))
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "escalated" and "performer_rep" in r.json()["decision"]["approver_roles"]
    listed = client.get("/api/voice/jobs", headers=auth(voiced, "producer")).json()
    assert listed[0]["id"] == r.json()["job"] and listed[0]["spec"]["operation"] == "voice.synthetic_line"
    assert ref["asset"] in listed[0]["spec"]["inputs"]  # the server added her enrolled reference


@pytest.mark.parametrize("field, value", [("requested_by", "Priya Shah"), ("voice", "maya-v2"),
                                          ("reference", "00000000000000ab"), ("decision", "proceed"),
                                          ("base_url", "http://evil.example")])
def test_fields_a_client_cannot_set(client, voiced, field, value):
    body = {"operation": "line", "performer": voiced["maya"]["id"], "line": "Hello.", "model_id": "studio.tts",
            field: value}
    r = client.post("/api/voice/jobs", json=body, headers=auth(voiced, "vfx_supervisor"))
    assert r.status_code == 422 and field in r.text


def test_denied_without_voice_consent_names_the_rule(client, voiced):
    body = {"operation": "line", "performer": voiced["maya"]["id"], "line": "Hello there.", "model_id": "studio.tts"}
    r = client.post("/api/voice/jobs", json=body, headers=auth(voiced, "vfx_supervisor"))
    assert r.status_code == 202 and r.json()["status"] == "denied"
    rules = [x["rule_id"] for x in r.json()["decision"]["reasons"] if x["outcome"] == "deny"]
    assert "SAG-CONSENT-REQUIRED" in rules and "SAG-CONSENT-OPERATION" in rules
