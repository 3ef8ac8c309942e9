"""The review flow in Debian's Chromium (Playwright, no browser download) against a real uvicorn
server: a VFX job waits for approval, the approver asks for its guarded preview (the card shows
"preview rendering…" until a queue worker has made it, then shows it), sees it beside the
input with the performer's name and the amount, approves it; the job runs; its page links and
shows its output. Screenshots go to test-artifacts/."""

from __future__ import annotations

import time

import httpx
import pytest

from api_helpers import deage_spec
from web_helpers import browser_login

pytestmark = pytest.mark.slow  # and skipped without Debian's Chromium (the chromium fixture)


def _video_plate(prod: dict, tmp_path) -> str:
    """The sample push-in on the astronaut photograph (8 frames, 512x288) as a camera plate, and the
    performer's enrolled reference face (a de-age alters identified faces only)."""
    from PIL import Image

    from soundstage.services import talent_service
    from soundstage.services.ledger import ingest_media
    from soundstage.testing import sample_media

    Image.fromarray(sample_media.reference_face()).save(tmp_path / "maya_ref.png")
    talent_service.enroll_reference(prod["ws"], prod["maya"]["id"], tmp_path / "maya_ref.png", actor="Lena Ortiz")
    path = sample_media.write_plate(tmp_path / "A005_C002.mp4",
                                    sample_media.astronaut_push_in(count=8, width=512, height=288))
    return ingest_media(prod["ws"], path, kind="plate", actor="setup", scene="5", shot="5A")["id"]


def test_preview_approve_output_in_chromium(served, chromium, artifacts, tmp_path):
    from soundstage.services.worker_service import drain_queue

    base, tokens = served["base"], served["tokens"]

    def api(who: str):
        return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens[who]}"}, timeout=60)

    plate = _video_plate(served, tmp_path)
    spec = {**deage_spec(served), "model_id": "soundstage.vfx-classical", "inputs": [plate],
            "params": {"codec": "h264"}}
    submitted = api("vfx_supervisor").post("/api/jobs", json=spec)
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()["job"]
    page = chromium.new_page(viewport={"width": 1280, "height": 1000})
    browser_login(page, base, tokens["legal"])
    page.goto(base + "/approvals")
    card = page.locator(f"#job-{job}")
    began = time.monotonic()
    card.locator("form.make-preview button").click()
    page.wait_for_url(f"{base}/approvals#job-{job}")
    # the click returns at once (DR023): no worker has rendered anything yet; the card says so and polls
    card = page.locator(f"#job-{job}")
    card.locator(".preview-rendering").wait_for()
    answered = time.monotonic() - began
    assert card.locator("form.make-preview").count() == 0 and card.locator(".side-by-side").count() == 0
    drain_queue(served["ws"])  # the queue worker renders it; the card's poll sees it done and reloads
    card.locator(".side-by-side video").nth(1).wait_for(timeout=30000)
    assert card.locator(".preview-rendering").count() == 0
    print(f"preview click answered in {answered:.2f} s")
    assert "Maya Castell" in card.locator(".performers").inner_text()
    assert "30% strength" in card.locator(".amount").inner_text()
    assert "performer_rep:t-" not in card.inner_text() and "performer rep of Maya Castell" in card.inner_text()
    # the input and the preview play in <video> players (served in byte ranges), side by side and as a wipe
    preview = card.locator(".side-by-side video").nth(1)
    page.wait_for_function("v => v.readyState >= 2 && v.videoWidth > 0", arg=preview.element_handle())
    assert page.evaluate("v => v.videoWidth", preview.element_handle()) <= 512
    before, after = card.locator("video.compare-before"), card.locator("video.compare-after")
    assert before.count() == 1 and after.count() == 1
    page.wait_for_function("v => v.readyState >= 2", arg=before.element_handle())
    before.evaluate("v => { v.currentTime = 0.2; }")
    page.wait_for_function("([b, a]) => Math.abs(b.currentTime - 0.2) < 0.01 && Math.abs(a.currentTime - 0.2) < 0.06",
                           arg=[before.element_handle(), after.element_handle()])
    card.locator(".compare-range").fill("70")
    assert card.locator(".compare-after-wrap").evaluate("w => w.style.width") == "70%"
    page.wait_for_function("els => els.every(v => v.readyState >= 2)",
                           arg=card.locator("video").element_handles())
    card.screenshot(path=str(artifacts / "approval-card.png"))
    digest = card.locator("input[name=preview_digest]").input_value()
    assert len(digest) == 64
    card.locator("select[name=role]").select_option("legal")
    card.locator("button[value=approve]").click()
    page.wait_for_url(f"{base}/jobs/{job}")

    for who, role in (("producer", "producer"), ("vfx2", "vfx_supervisor"),
                      ("rights_clearance", "rights_clearance"), ("performer_rep", "performer_rep")):
        answer = api(who).post(f"/api/jobs/{job}/decision",
                               json={"role": role, "verdict": "approve", "preview_digest": digest})
        assert answer.status_code < 300, answer.text
    drain_queue(served["ws"])

    page.goto(f"{base}/jobs/{job}")
    assert page.locator("#job-status").inner_text() == "done"
    output = page.locator(".output").first
    assert output.locator("a.download").count() == 1 and output.locator("a.verify").count() == 1
    media = output.locator(".output-media")
    assert media.evaluate("el => el.tagName") == "VIDEO"
    page.wait_for_function("v => v.readyState >= 2 && v.videoWidth === 512", arg=media.element_handle())
    media.evaluate("v => { v.currentTime = 0.25; }")  # a seek: the player asks for a byte range
    page.wait_for_function("v => !v.seeking && Math.abs(v.currentTime - 0.25) < 0.05", arg=media.element_handle())
    page.wait_for_function("els => els.every(v => v.readyState >= 2)", arg=page.locator("video").element_handles())
    page.screenshot(path=str(artifacts / "job-page.png"), full_page=True)
    output.locator("a.verify").click()
    page.wait_for_selector("#provenance")
    assert page.locator(".verdict").inner_text().strip()
    page.goto(base + "/assets")
    page.wait_for_selector(".asset-thumb img")
    page.screenshot(path=str(artifacts / "asset-browser.png"), full_page=True)
