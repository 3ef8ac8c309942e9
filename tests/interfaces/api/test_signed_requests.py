"""Verdicts and consent actions made over HTTP are signed by the caller's key: derived from the
bearer token for the request, or - for a web session - unsealed with the cookie's nonce, which the
server does not keep."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from api_helpers import auth
from soundstage.errors import SoundstageError
from soundstage.store.models import Approval, PersonKey, WebSession

FINAL = {"operation": "ideation", "model_id": "soundstage.procedural-card", "prompt": "rainy street at dusk",
         "deliverable": "final", "medium": "final"}


def _escalated(client, production) -> str:
    job = client.post("/api/jobs", json=FINAL, headers=auth(production, "vfx_supervisor")).json()
    assert job["status"] == "escalated", job
    return job["job"]


def _signer_of(ws, job_id: str, role: str) -> tuple[str, str]:
    with ws.unit_of_work() as s:
        row = s.scalars(select(Approval).where(Approval.job_id == job_id, Approval.role == role)).one()
        return row.person_id, s.get(PersonKey, row.key_id).person_id


def test_a_bearer_verdict_is_signed_with_the_callers_key(client, production):
    job_id = _escalated(client, production)
    response = client.post(f"/api/jobs/{job_id}/decision", json={"role": "legal", "verdict": "approve"},
                           headers=auth(production, "legal"))
    assert response.status_code == 200, response.text
    legal = production["people"]["legal"]["id"]
    assert _signer_of(production["ws"], job_id, "legal") == (legal, legal)


def test_a_web_verdict_is_signed_with_the_key_sealed_in_the_session(client, production):
    from soundstage.services import auth_service

    ws = production["ws"]
    job_id = _escalated(client, production)
    page = client.get("/login")
    pre = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
    assert client.post("/login", data={"csrf_token": pre, "token": production["tokens"]["producer"]},
                       follow_redirects=False).status_code == 303
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/").text).group(1)
    decided = client.post(f"/jobs/{job_id}/decide", data={"csrf_token": csrf, "role": "producer",
                                                           "verdict": "approve", "note": "looks right"},
                          follow_redirects=False)
    assert decided.status_code == 303, decided.text
    producer = production["people"]["producer"]["id"]
    assert _signer_of(ws, job_id, "producer") == (producer, producer)

    # what the server keeps cannot sign: the sealed key opens only with the cookie's nonce
    with ws.unit_of_work() as s:
        session = s.scalars(select(WebSession).where(WebSession.ended_at.is_(None))).one()
        sealed, session_id = session.sealed_key, session.id
    assert sealed and len(sealed) == 120
    for nonce in ("", session_id, "0" * 32):
        with pytest.raises(SoundstageError, match="does not open"):
            auth_service._unseal(sealed, nonce, session_id)
    # a session row whose sealed key was swapped for another cannot sign either
    other = _escalated(client, production)
    with ws.unit_of_work() as s:
        s.get(WebSession, session_id).sealed_key = "00" * 60
    refused = client.post(f"/jobs/{other}/decide", data={"csrf_token": csrf, "role": "producer",
                                                          "verdict": "approve"}, follow_redirects=False)
    assert refused.status_code in (401, 303), refused.text
    with ws.unit_of_work() as s:
        assert s.scalars(select(Approval).where(Approval.job_id == other)).first() is None


def test_a_web_verdict_is_bound_to_the_spec_the_page_showed(client, production):
    """The approval form carries the spec digest of the job it displayed: if the job is no longer
    that job, the verdict is refused and nothing is recorded."""
    ws = production["ws"]
    job_id = _escalated(client, production)
    pre = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"csrf_token": pre, "token": production["tokens"]["producer"]}, follow_redirects=False)
    page = client.get(f"/jobs/{job_id}").text
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)
    shown = re.search(r'name="spec_digest" value="([0-9a-f]{64})"', page).group(1)
    refused = client.post(f"/jobs/{job_id}/decide", data={"csrf_token": csrf, "role": "producer", "verdict": "approve",
                                                          "spec_digest": "0" * 64}, follow_redirects=False)
    assert refused.status_code == 409, refused.text
    with ws.unit_of_work() as s:
        assert s.scalars(select(Approval).where(Approval.job_id == job_id)).first() is None
    accepted = client.post(f"/jobs/{job_id}/decide", data={"csrf_token": csrf, "role": "producer", "verdict": "approve",
                                                           "spec_digest": shown}, follow_redirects=False)
    assert accepted.status_code == 303, accepted.text
