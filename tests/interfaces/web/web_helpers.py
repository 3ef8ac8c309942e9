"""Logging in through the web form, as a browser would; productions the web tests share."""

import re

HTML = {"Accept": "text/html"}


def login(client, token: str) -> str:
    """Log in through the login form; returns the session's CSRF token."""
    page = client.get("/login")
    pre = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
    response = client.post("/login", data={"csrf_token": pre, "token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    home = client.get("/")
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', home.text).group(1)


def browser_login(page, base: str, token: str) -> None:
    """Log in through the login form in a real browser (Playwright page), landing on the dashboard."""
    page.goto(base + "/login")
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def a_waiting_voice_line(production, tmp_path, server) -> dict:
    """A synthetic line in Maya's voice, consented and enrolled, submitted and waiting for approval
    (services): the submission's result."""
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
    return result
