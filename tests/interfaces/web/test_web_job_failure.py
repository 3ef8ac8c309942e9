"""A job a queue worker could not run because the production's signer could not sign its outputs
shows why on the web's job queue and job page, with how to resume it."""

from __future__ import annotations

from datetime import timedelta

from api_helpers import IDEATION, auth
from web_helpers import HTML, login

from soundstage.clock import utcnow
from soundstage.services import keys_service
from soundstage.services.worker_service import drain_queue


def test_the_job_pages_say_why_a_job_failed_before_its_backend(client, production):
    ws = production["ws"]
    queued = client.post("/api/jobs", json=IDEATION, headers=auth(production, "producer"))
    assert queued.status_code == 202 and queued.json()["status"] == "queued", queued.text
    job_id = queued.json()["job"]
    keys_service.renew_signing_certificate(ws, actor="setup", validity_days=1, now=utcnow() - timedelta(days=10))
    assert drain_queue(ws).failed == 1
    login(client, auth(production, "producer")["Authorization"].split()[1])
    listing = client.get("/jobs", headers=HTML).text
    assert "not run: the production could not sign its outputs" in listing and "expired on" in listing
    page = client.get(f"/jobs/{job_id}", headers=HTML).text
    assert "Failed before its backend ran: the production could not sign its outputs" in page
    assert f"soundstage job resume {job_id}" in page and "soundstage keys renew" in page
