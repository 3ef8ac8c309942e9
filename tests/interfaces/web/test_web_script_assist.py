"""The script page's assist button (DR022): a producer starts the guarded job with a CSRF-checked POST,
the page shows where it stands, then merges it; assisted elements show "+", rejected ones "-" with
their reason. Against a local OpenAI-compatible chat server whose answers the test scripts."""

from __future__ import annotations

import html
import re

from api_helpers import run_queue
from web_helpers import HTML, login
from soundstage.services import people_service, script_service
from soundstage.testing.approvals import approve
from soundstage.testing.fake_chat_server import (
    FakeOpenAIChat, numbered_lines, register_chat_model, tagger_elements,
)
from soundstage.testing.identity import signer_for

SCRIPT = """INT. BAKERY - DAWN

Flour dusts the counter. A delivery van idles outside the window.
"""


def responder(body: dict) -> dict:
    """Suggests the flour, rejects the rules' van."""
    elements = [{"category": "set_dressing", "name": "flour", "line": n, "quote": "Flour dusts"}
                for n, text in numbered_lines(body).items() if "Flour" in text]
    reviews = [{"id": ref, "verdict": "not_an_element", "category": "", "reason": "only seen through the window",
                "quote": "delivery van idles"} for ref, (_, name, _) in tagger_elements(body).items() if name == "van"]
    return {"elements": elements, "reviews": reviews}


def _page(client, *, tags: bool = False) -> str:
    """The script page's text (its markup too with ``tags``), single-spaced."""
    response = client.get("/script", headers=HTML)
    assert response.status_code == 200, response.text
    text = response.text if tags else re.sub(r"<[^>]+>", "", response.text)
    return html.unescape(" ".join(text.split()))


def _a_drafted_production(client, production, tmp_path, monkeypatch):
    """The bakery draft imported, a second producer to approve, the chat key set, a producer logged
    in: the workspace, the script's path and the CSRF token."""
    ws = production["ws"]
    monkeypatch.setenv("STUDIO_LLM_KEY", "sk-web")
    people_service.add_crew(ws, "Omar Reyes", ["producer"], actor="setup")
    path = tmp_path / "bakery.fountain"
    path.write_text(SCRIPT)
    script_service.import_script(ws, path, actor="Priya Shah")
    return ws, path, login(client, production["tokens"]["producer"])


def test_a_producer_starts_the_assist_sees_where_it_stands_and_merges_it(client, production, tmp_path,
                                                                         monkeypatch):
    ws, path, csrf = _a_drafted_production(client, production, tmp_path, monkeypatch)
    assert "No assist model is registered" in _page(client)
    with FakeOpenAIChat(responder, api_key="sk-web") as server:
        register_chat_model(ws, server)
        page = _page(client)
        assert "Ask the assist to review this breakdown" in page and "studio.llm" in page
        refused = client.post("/script/assist", data={}, headers=HTML, follow_redirects=False)
        assert refused.status_code == 403 and script_service.assist_status(ws) is None  # no CSRF token: nothing
        response = client.post("/script/assist", data={"csrf_token": csrf}, headers=HTML, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/script#assist"
        status = script_service.assist_status(ws)
        assert status["status"] == "escalated" and server.seen == []  # nothing sent before the approval
        page = _page(client)
        assert f"Latest assist job {status['job']}: escalated, waiting for approval by producer" in page
        assert "Ask the assist" not in page  # one job at a time from this page
        approve(ws, status["job"], signer=signer_for(ws, "Omar Reyes"), role="producer", actor="Omar Reyes",
                wait=False)
        run_queue(production)
        page = _page(client)
        assert f"Latest assist job {status['job']}: done" in page and "Merge its suggestions and reviews" in page
        response = client.post("/script/assist", data={"csrf_token": csrf, "job": status["job"]}, headers=HTML,
                               follow_redirects=False)
        assert response.status_code == 303
    assert "<del>- vehicles: van</del>" in _page(client, tags=True)  # struck through
    page = _page(client)
    assert "set_dressing: flour +" in page  # suggested by the assist
    assert "- vehicles: van" in page and "only seen through the window" in page  # rejected, with its reason
    assert f"{status['job']}: done, merged" in page and "1 added, 1 rejected, 0 moved" in page
    # a new draft with the bakery word for word, after a new scene: the assist's work is still there, as the assist's
    path.write_text("EXT. STREET - DAWN\n\nA cyclist rings a bell.\n\n" + SCRIPT)
    script_service.import_script(ws, path, actor="Priya Shah")
    page = _page(client)
    assert "Draft 2 holds the assist of studio.llm" in page and "set_dressing: flour +" in page
    assert "- vehicles: van" in page and "Carried from draft 1 to the scenes whose words did not change" in page


def test_without_script_assist_there_is_no_button_and_the_post_is_refused(client, production, tmp_path):
    ws = production["ws"]
    path = tmp_path / "bakery.fountain"
    path.write_text(SCRIPT)
    script_service.import_script(ws, path, actor="Priya Shah")
    csrf = login(client, production["tokens"]["vfx_supervisor"])
    page = client.get("/script", headers=HTML)
    assert page.status_code == 200 and "Language-model assist" not in page.text
    response = client.post("/script/assist", data={"csrf_token": csrf}, headers=HTML, follow_redirects=False)
    assert response.status_code == 403 and script_service.assist_status(ws) is None


def test_a_done_assist_of_an_earlier_draft_is_not_offered_for_merge(client, production, tmp_path, monkeypatch):
    """Merging would put the suggestions into the old draft the job read, not the one on the page."""
    ws, path, csrf = _a_drafted_production(client, production, tmp_path, monkeypatch)
    with FakeOpenAIChat(responder, api_key="sk-web") as server:
        register_chat_model(ws, server)
        client.post("/script/assist", data={"csrf_token": csrf}, headers=HTML, follow_redirects=False)
        job = script_service.assist_status(ws)["job"]
        approve(ws, job, signer=signer_for(ws, "Omar Reyes"), role="producer", actor="Omar Reyes", wait=False)
        run_queue(production)
        assert "Merge its suggestions and reviews" in _page(client)  # done, for the draft on the page
        path.write_text(SCRIPT + "\nINT. BAKERY - LATER\n\nThe van is gone.\n")
        script_service.import_script(ws, path, actor="Priya Shah")
        status = script_service.assist_status(ws)
        assert status["draft"] == 1 and status["stale"] is True and status["merged"] is False
        page = _page(client)
        assert f"Latest assist job {job}: done. It read draft 1" in page
        assert "Merge its suggestions and reviews" not in page and "Ask the assist to review this breakdown" in page
