"""A voice job's approval card in the web app (DR023): the approver asks for a preview, the card
says it is rendering, a queue worker makes it, and the card plays it in an HTML5 <audio> player
with its digest in the approval form."""

from __future__ import annotations

import re

from web_helpers import HTML, a_waiting_voice_line, login


def _card(page: str, job: str) -> str:
    return page.split(f'id="job-{job}"', 1)[1].split("</section>", 1)[0]


def test_the_approval_card_plays_a_voice_preview(client, production, tmp_path, monkeypatch):
    from api_helpers import auth, run_queue

    from soundstage.testing.fake_voice_server import FakeOpenAISpeech

    monkeypatch.setenv("STUDIO_TTS_KEY", "sk-test")
    with FakeOpenAISpeech(api_key="sk-test") as server:
        job = a_waiting_voice_line(production, tmp_path, server)["job"]
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
