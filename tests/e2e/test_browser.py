"""The web app in Debian's Chromium (Playwright, no browser download): log in, approve an
escalated job, revoke a consent and see the derived asset quarantined, verify an uploaded file.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from soundstage.testing.approvals import approve
from soundstage.testing.identity import signer_for

pytestmark = pytest.mark.slow  # and skipped without Debian's Chromium (the chromium fixture)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interfaces" / "api"))
from api_helpers import build_production, deage_spec  # noqa: E402


@pytest.fixture
def served(sqlite_workspace, tmp_path, serve_app):
    prod = build_production(sqlite_workspace, tmp_path)
    prod["ws"] = sqlite_workspace
    # the queue worker `soundstage serve` starts with the server: the approve click only queues the job
    prod["base"] = serve_app(sqlite_workspace, worker=True)
    return prod


def test_review_flow_in_chromium(served, chromium, artifacts, tmp_path):
    from soundstage.domain.safeguards import job_spec_from_mapping
    from soundstage.services import jobs_service

    ws, base = served["ws"], served["base"]
    spec = job_spec_from_mapping({**deage_spec(served), "id": jobs_service.new_job_id(),
                                  "production_id": ws.production_id, "requested_by": "Ken Ito"})
    job = jobs_service.submit_job(ws, spec, actor="Ken Ito")
    assert job["status"] == "escalated"
    holders = {"producer": "Priya Shah", "vfx_supervisor": "Vera Lind", "rights_clearance": "Rita Moss",
               "legal": "Leo Hart"}
    for role in job["decision"]["approver_roles"]:
        if role != "performer_rep":
            # on the job's preview: the default pack asks approvers of a de-age to look at it first
            approve(ws, job["job"], signer=signer_for(ws, holders[role]), role=role, actor=holders[role])

    page = chromium.new_page()
    page.goto(base + "/")
    page.fill("input[name=token]", served["tokens"]["performer_rep"])
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")
    assert "Lena Ortiz" in page.content()

    page.goto(base + "/approvals")
    card = page.locator(f"#job-{job['job']}")
    assert "performer_rep" in card.inner_text() and "escalate" in card.inner_text()
    page.screenshot(path=str(artifacts / "approval_inbox.png"), full_page=True)
    card.locator("button[value=approve]").click()
    page.wait_for_url(f"{base}/jobs/{job['job']}")
    # the click only queued the job (the page answers at once); the worker runs it, the page follows
    # it over SSE and shows the outputs when it is done
    page.wait_for_selector("#job-status.status-done[data-initial=done]", timeout=90000)
    assert page.locator(".compare-range").count() == 1  # before/after slider: plate vs output
    page.locator(".compare-range").fill("80")
    page.screenshot(path=str(artifacts / "job_done_compare.png"), full_page=True)
    output = jobs_service.show_job(ws, job["job"])
    assert output["status"] == "done"

    page.goto(base + "/consents")
    page.fill(f"#consent-{served['consent']['id']} input[name=reason]", "performer withdrew consent")
    page.click(f"button[data-revoke='{served['consent']['id']}']")
    page.wait_for_selector("#quarantined")
    text = page.locator("#quarantined").inner_text()
    assert "QUARANTINED" in text
    page.screenshot(path=str(artifacts / "consent_revoked.png"), full_page=True)

    from soundstage.services.ledger import list_assets

    produced = [a for a in list_assets(ws) if a["job_id"] == job["job"]][0]
    assert produced["status"] == "quarantined" and produced["name"] in text
    upload = tmp_path / "from_the_edit.png"
    shutil.copyfile(ws.store.path_for(produced["sha256"]), upload)
    page.goto(base + "/verify")
    page.set_input_files("input[name=file]", str(upload))
    page.click("form[action='/verify'] button[type=submit]")
    verdict = page.locator("#verdict").inner_text()
    assert "QUARANTINED" in verdict and "trusted production" in verdict
    page.screenshot(path=str(artifacts / "verify_verdict.png"), full_page=True)
