"""A voice job's approval card in the web app (DR023): the approver asks for a preview, the card
says it is rendering, a queue worker makes it, and the card plays it in an HTML5 <audio> player
with its digest in the approval form."""

from __future__ import annotations

import re

from web_helpers import HTML, login


def _a_waiting_voice_line(production, tmp_path, server) -> str:
    from soundstage.services import consent_service
    from soundstage.services import voice_service as voice
    from soundstage.testing.fake_voice_server import register_speech_model, speak
    from soundstage.testing.identity import signer_for
    from soundstage.voice.pcm import write_wav16

    ws, maya = production["ws"], production["maya"]
    register_speech_model(ws, server, {maya["id"]: "maya-v2"})
    document = tmp_path / "voice_consent.pdf"
    document.write_bytes(b"%PDF-1.4 voice consent")
    consent_service.grant_consent(ws, maya["id"], document=document, kind="employment_based_replica",
                     operations=["voice.synthetic_line"], scenes=["5"], signed_separately=True,
                     description="One synthetic line in Maya's voice in scene 5, nothing else",
                     representation="union", signer=signer_for(ws, "Lena Ortiz"))
    ref = write_wav16(tmp_path / "maya.wav", speak("my voice reading the reference", "maya-v2"), 24000)
    voice.enroll_voice(ws, maya["id"], ref, actor="Lena Ortiz")
    spec = voice.build_voice_job(ws, "line", maya["id"], "Where were you on the night of the fourth",
                                 requested_by="Ken Ito", model_id="studio.tts", scene="5")
    result = voice.submit_voice_job(ws, spec, actor="Ken Ito")
    assert result["status"] == "escalated", result
    return result["job"]


def _card(page: str, job: str) -> str:
    return page.split(f'id="job-{job}"', 1)[1].split("</section>", 1)[0]


def test_the_approval_card_plays_a_voice_preview(client, production, tmp_path, monkeypatch):
    from api_helpers import auth, run_queue

    from soundstage.testing.fake_voice_server import FakeOpenAISpeech

    monkeypatch.setenv("STUDIO_TTS_KEY", "sk-test")
    with FakeOpenAISpeech(api_key="sk-test") as server:
        job = _a_waiting_voice_line(production, tmp_path, server)
        csrf = login(client, production["tokens"]["rights_clearance"])  # one of the roles it waits for
        card = _card(client.get("/approvals", headers=HTML).text, job)
        assert 'class="make-preview"' in card and 'class="side listen"' not in card  # the reference plays; no preview yet
        asked = client.post(f"/jobs/{job}/preview", data={"csrf_token": csrf}, follow_redirects=False)
        assert asked.status_code == 303
        assert "preview rendering" in _card(client.get("/approvals", headers=HTML).text, job)
        run_queue(production)
    page = client.get("/approvals", headers=HTML).text
    card = _card(page, job)
    player = re.search(r'<audio class="side listen" src="([^"]+)" controls', card)
    assert player and "Preview by ear" in card and "preview rendering" not in card
    digest = re.search(r'name="preview_digest" value="([0-9a-f]{64})"', card).group(1)
    media = client.get(player.group(1), headers={**auth(production, "legal"), "Range": "bytes=0-11"})
    assert media.status_code == 206 and media.headers["content-type"] == "audio/wav"
    assert media.content[:4] == b"RIFF"
    status = client.get(f"/api/jobs/{job}/preview", headers=auth(production, "legal")).json()
    assert status["preview"]["preview_digest"] == digest and player.group(1).endswith(status["preview"]["asset"])
