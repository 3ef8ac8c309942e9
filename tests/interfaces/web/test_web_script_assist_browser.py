"""The script page's assist button in Debian's Chromium (Playwright, no browser download), against a real
uvicorn server with its queue worker and a local OpenAI-compatible chat server (DR022): a producer
starts the job, another approves, the page shows where it stands, the merge shows "+" and "-"."""

from __future__ import annotations

import time

import pytest

from api_helpers import build_production
from test_web_script_assist import SCRIPT, responder
from web_helpers import browser_login
from soundstage.services import people_service, script_service
from soundstage.testing.approvals import approve
from soundstage.testing.fake_chat_server import (
    FakeOpenAIChat, register_chat_model,
)
from soundstage.testing.identity import signer_for

pytestmark = pytest.mark.slow  # and skipped without Debian's Chromium (the chromium fixture)

def test_the_assist_button_in_chromium(sqlite_workspace, tmp_path, serve_app, chromium, artifacts, monkeypatch):
    ws = sqlite_workspace
    prod = build_production(ws, tmp_path)
    monkeypatch.setenv("STUDIO_LLM_KEY", "sk-browser")
    people_service.add_crew(ws, "Omar Reyes", ["producer"], actor="setup")
    path = tmp_path / "bakery.fountain"
    path.write_text(SCRIPT)
    script_service.import_script(ws, path, actor="Priya Shah")
    with FakeOpenAIChat(responder, api_key="sk-browser") as server:
        register_chat_model(ws, server)
        base = serve_app(ws, worker=True)
        page = chromium.new_page()
        browser_login(page, base, prod["tokens"]["producer"])
        page.goto(base + "/script")
        page.click("form.assist-start button[type=submit]")
        page.wait_for_url(base + "/script#assist")
        status = page.locator("#assist .assist-status").inner_text()
        assert "escalated" in status and "waiting for approval by producer" in status
        assert server.seen == []
        job = script_service.assist_status(ws)["job"]
        approve(ws, job, signer=signer_for(ws, "Omar Reyes"), role="producer", actor="Omar Reyes", wait=False)
        deadline = time.monotonic() + 60
        while script_service.assist_status(ws)["status"] != "done" and time.monotonic() < deadline:
            time.sleep(0.2)  # the worker beside the server runs it
        page.reload()
        assert "done" in page.locator("#assist .assist-status").inner_text()
        page.click("form.assist-merge button[type=submit]")
        page.wait_for_url(base + "/script#assist")
    rejected = page.locator(".tag.rejected")
    assert rejected.count() == 1 and "vehicles: van" in rejected.inner_text()
    assert "only seen through the window" in rejected.get_attribute("title")
    assert "set_dressing: flour +" in page.locator("table").inner_text()
    assert "merged" in page.locator("#assist .assist-status").inner_text()
    page.screenshot(path=str(artifacts / "script_assist.png"), full_page=True)
