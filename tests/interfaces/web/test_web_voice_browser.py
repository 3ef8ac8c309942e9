"""The voice page in a real browser (Debian's Chromium): the Voices link in the navigation, and a
done voice job's output playing in an HTML5 <audio> player served by the media route (byte ranges,
nosniff, sandboxed) - the browser decodes the marked, signed WAV, so its duration is the line's."""

from __future__ import annotations

import pytest

from test_web_voice import _a_done_voice_line
from web_helpers import browser_login

pytestmark = pytest.mark.slow  # and skipped without Debian's Chromium (the chromium fixture)


def test_a_voice_output_plays_in_chromium(served, chromium, artifacts, tmp_path, monkeypatch):
    from soundstage.testing.fake_voice_server import FakeOpenAISpeech

    monkeypatch.setenv("STUDIO_TTS_KEY", "sk-test")
    with FakeOpenAISpeech(api_key="sk-test") as speech:
        done = _a_done_voice_line(served, tmp_path, monkeypatch, speech)
    base = served["base"]
    page = chromium.new_page(viewport={"width": 1280, "height": 700})
    browser_login(page, base, served["tokens"]["performer_rep"])
    page.click("nav >> text=Voices")
    page.wait_for_url(base + "/voice")
    player = page.locator(f"audio[src$='/media/{done['assets'][0]['id']}']")
    assert player.count() == 1
    page.wait_for_function("a => a.readyState >= 1 && a.duration > 0", arg=player.element_handle())
    seconds = page.evaluate("a => a.duration", player.element_handle())
    assert 2.0 < seconds < 3.5  # the 41-character line from the speech server: 2.46 s
    page.screenshot(path=str(artifacts / "voice-page.png"), full_page=True)
