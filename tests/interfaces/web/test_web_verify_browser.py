"""The verify page in Debian's Chromium (Playwright), against a real uvicorn server: a long clip's
reading is followed on the page (a progress bar, then the result in place), and the page's error
line when the upload is refused. Screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest

from web_helpers import browser_login

pytestmark = pytest.mark.slow  # and skipped without Debian's Chromium (the chromium fixture)


def test_a_long_clip_is_followed_on_the_verify_page(served, chromium, artifacts, tmp_path):
    from soundstage.testing.sample_media import write_spliced_clip

    base = served["base"]
    clip = write_spliced_clip(tmp_path / "film.mp4", 0x5EC0DE0F1A7E)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    page = chromium.new_page()
    browser_login(page, base, served["tokens"]["legal"])
    page.goto(base + "/verify")
    # everything the progress line said, as it said it
    page.evaluate("""() => {
        window.stages = [];
        const stage = document.getElementById("verify-stage");
        new MutationObserver(() => window.stages.push(stage.textContent)).observe(stage, {childList: true});
    }""")
    page.set_input_files("input[name=file]", str(clip))
    page.click("form[action='/verify'] button[type=submit]")
    # a picture of the page while the clip is read (or of the result, should the reading be done first)
    page.wait_for_function("document.getElementById('verify-bar').value > 0 || document.getElementById('verdict')")
    page.screenshot(path=str(artifacts / "verify_long_clip_progress.png"), full_page=True)
    page.wait_for_selector("#verdict")
    assert page.url == base + "/verify"                    # followed in place: no page load
    stages = page.evaluate("window.stages")
    assert any("of 5 parts" in s for s in stages), stages
    assert page.locator("#verify-progress").is_hidden()
    watermark = page.locator("#watermark").inner_text()
    assert "watermark found at 6.00-8.00 s with the public default key (payload 00005ec0de0f1a7e" in watermark
    assert page.locator("form[action='/verify'] button[type=submit]").is_enabled()
    page.screenshot(path=str(artifacts / "verify_long_clip.png"), full_page=True)

    page.set_input_files("input[name=file]", str(empty))
    page.click("form[action='/verify'] button[type=submit]")
    page.wait_for_function("document.getElementById('verify-stage').textContent.startsWith('Not verified')")
    assert page.locator("#verify-stage").inner_text() == "Not verified: the uploaded file is empty"
    assert page.locator("#verdict").count() == 0


def test_a_long_clip_named_in_japanese_says_how_much_of_it_was_read(served, chromium, artifacts, tmp_path):
    """An unmarked 40 s clip (20 spans of 2 s, read at 16 spread over it) uploaded under a Japanese
    name: the page shows the name as given and says how much was read and how to read it all."""
    from soundstage.testing.sample_media import write_spliced_clip

    clip = write_spliced_clip(tmp_path / "撮影 長回し.mp4", 1, seconds=40.0, marked_seconds=0.0, width=96, height=64,
                              crf=30)
    page = chromium.new_page()
    browser_login(page, served["base"], served["tokens"]["legal"])
    page.goto(served["base"] + "/verify")
    page.set_input_files("input[name=file]", str(clip))
    page.click("form[action='/verify'] button[type=submit]")
    page.wait_for_selector("#verdict", timeout=120_000)
    page.screenshot(path=str(artifacts / "verify_japanese_long_clip.png"), full_page=True)
    assert "撮影 長回し.mp4" in page.content()
    assert page.locator("#watermark").inner_text() == (
        "not found (32 reads: 16 of the file's 20 spans, spread over it; soundstage verify --whole reads them all)")
