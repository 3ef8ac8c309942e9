"""The newer web elements with a production that is not in English, in Debian's Chromium (Playwright,
no browser download): a script with Cyrillic and Japanese scene headings and its assist button and
status, an approval card whose preview is rendering, and a voice line in Japanese by a performer
with a long Cyrillic name, with its preview player - at a desktop width and a phone's. The page never
grows wider than the window (a long parameter description, a long name and a plate wider than the
card used to push it to 699 px on a 420 px phone), and every name and heading is shown as written.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest

from api_helpers import build_production, deage_spec
from web_helpers import browser_login
from test_web_script_assist import responder
from soundstage.services import people_service, script_service

pytestmark = pytest.mark.slow  # and skipped without Debian's Chromium (the chromium fixture)

PERFORMER = "Мария Александровна Кастельянова-Долгорукова"
# 39 characters: 2.3 s from the fake speech server (60 ms a character)
LINE = "四日の夜、あなたはどこにいたの？ずっと待っていたのに、電話にも出なかったよね。"
SCRIPT = ("ИНТ. КУХНЯ КОММУНАЛЬНОЙ КВАРТИРЫ НА ВАСИЛЬЕВСКОМ ОСТРОВЕ – НОЧЬ\n\n"
          "Маша ставит чайник. Грузовик стоит под окном.\n\nМАША\nТы опоздал.\n\n"
          "○ 喫茶店・店内（夜）\n\n花子がコーヒーを飲む。\n\n花子\nおそいね。\n\n"
          "○ 東京都千代田区丸の内二丁目の高層ビル最上階の会議室・屋内（朝）\n\n雨が降っている。\n")
HEADINGS = ("ИНТ. КУХНЯ КОММУНАЛЬНОЙ КВАРТИРЫ НА ВАСИЛЬЕВСКОМ ОСТРОВЕ – НОЧЬ", "喫茶店・店内（夜）",
            "東京都千代田区丸の内二丁目の高層ビル最上階の会議室・屋内（朝）")


def _voice_line_with_preview(prod: dict, tmp_path, speech) -> str:
    """A synthetic line in Japanese by a performer with a long Cyrillic name (consented, enrolled),
    waiting for approval, and its preview by ear rendered by the queue worker; the job id."""
    from soundstage.services import consent_service, preview_service, talent_service
    from soundstage.services import voice_service as voice
    from soundstage.services.worker_service import drain_queue
    from soundstage.testing.fake_voice_server import register_speech_model, speak
    from soundstage.testing.identity import signer_for
    from soundstage.voice.pcm import write_wav16

    ws = prod["ws"]
    masha = talent_service.add_performer(ws, PERFORMER, union_status="sag-aftra", representatives=["Lena Ortiz"],
                                         actor="setup")
    register_speech_model(ws, speech, {masha["id"]: "masha-v1"})
    document = tmp_path / "voice_consent.pdf"
    document.write_bytes(b"%PDF-1.4 voice consent")
    consent_service.grant_consent(ws, masha["id"], document=document, kind="employment_based_replica",
                                  operations=["voice.synthetic_line"], scenes=["5"], signed_separately=True,
                                  description="Одна синтетическая реплика в сцене 5", representation="union",
                                  signer=signer_for(ws, "Lena Ortiz"))
    reference = write_wav16(tmp_path / "masha.wav", speak("мой голос читает образец", "masha-v1"), 24000)
    voice.enroll_voice(ws, masha["id"], reference, actor="Lena Ortiz")
    spec = voice.build_voice_job(ws, "line", masha["id"], LINE, requested_by="Ken Ito", model_id="studio.tts",
                                 scene="5")
    result = voice.submit_voice_job(ws, spec, actor="Ken Ito")
    assert result["status"] == "escalated", result
    preview_service.request_preview(ws, result["job"], actor="Leo Hart")
    assert drain_queue(ws).previews == 1, preview_service.preview_status(ws, result["job"])["request"]["error"]
    return result["job"]


def _page_width(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth")


def test_script_assist_and_approval_cards_in_two_languages(sqlite_workspace, tmp_path, serve_app, chromium,
                                                           artifacts, monkeypatch):
    from soundstage.domain.safeguards import JobSpec
    from soundstage.services import jobs_service, preview_service
    from soundstage.testing.fake_chat_server import FakeOpenAIChat, register_chat_model
    from soundstage.testing.fake_voice_server import FakeOpenAISpeech

    ws = sqlite_workspace
    prod = build_production(ws, tmp_path)
    prod["ws"] = ws
    monkeypatch.setenv("STUDIO_LLM_KEY", "sk-browser")
    monkeypatch.setenv("STUDIO_TTS_KEY", "sk-test")
    people_service.add_crew(ws, "Омар Рейес", ["producer"], actor="setup")
    path = tmp_path / "kvartira.fountain"
    path.write_text(SCRIPT)
    script_service.import_script(ws, path, actor="Priya Shah")
    with FakeOpenAIChat(responder, api_key="sk-browser") as chat, FakeOpenAISpeech(api_key="sk-test") as speech:
        register_chat_model(ws, chat)
        voice_job = _voice_line_with_preview(prod, tmp_path, speech)
        spec = JobSpec.from_dict({**deage_spec(prod), "id": "x", "production_id": ws.production_id,
                                  "requested_by": "Ken Ito"})
        deage_job = jobs_service.submit_job(ws, spec, actor="Ken Ito", wait=False)["job"]
        assert preview_service.request_preview(ws, deage_job, actor="Leo Hart")["status"] == "pending"
        base = serve_app(ws)  # no queue worker: the de-age preview stays "rendering…"
        for width in (1280, 420):
            page = chromium.new_page(viewport={"width": width, "height": 900})
            browser_login(page, base, prod["tokens"]["producer"])

            page.goto(base + "/script")
            table = page.locator("table").first.inner_text()
            assert all(heading in table for heading in HEADINGS), table
            if width == 1280:  # the assist asked once; at the phone's width the page shows where it stands
                page.click("form.assist-start button[type=submit]")
                page.wait_for_url(base + "/script#assist")
            status = page.locator("#assist .assist-status")
            assert "escalated" in status.inner_text() and "waiting for approval by producer" in status.inner_text()
            assert _page_width(page) <= width, f"the script page is {_page_width(page)} px wide in a {width} px window"
            page.screenshot(path=str(artifacts / f"languages-script-{width}.png"), full_page=True)

            page.goto(base + "/approvals")
            voice_card, deage_card = page.locator(f"#job-{voice_job}"), page.locator(f"#job-{deage_job}")
            assert PERFORMER in voice_card.locator(".performers").inner_text()
            assert LINE in voice_card.inner_text()
            player = voice_card.locator("audio.listen")
            page.wait_for_function("a => a.readyState >= 1 && a.duration > 0", arg=player.element_handle())
            assert deage_card.locator(".preview-rendering").is_visible()
            assert _page_width(page) <= width, f"the approvals page is {_page_width(page)} px wide in a {width} px window"
            for card in (voice_card, deage_card):  # nothing sticks out of a card
                right = card.evaluate("c => c.getBoundingClientRect().right")
                inside = card.evaluate("c => Math.max(...[...c.querySelectorAll('*')].map(e => "
                                       "e.getBoundingClientRect().right))")
                assert inside <= right + 0.5, (width, inside, right)
            page.screenshot(path=str(artifacts / f"languages-approvals-{width}.png"), full_page=True)
            page.close()
