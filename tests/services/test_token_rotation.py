"""``token rotate`` is one unit of work: the new credential exists only with the old one revoked.

Before, it created the new credential and revoked the old one in two transactions: a failure
between them left both valid, and two rotations of one credential at once each made a new one
(red team, 2026-12-07). Now a failure leaves neither change, and the second rotation finds the old
credential revoked."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest


from soundstage.services import auth_service
from soundstage.services.auth_service import AuthenticationError
from soundstage.services.people_service import add_crew
from soundstage.testing.identity import token_for


@pytest.fixture
def crew(workspace):
    add_crew(workspace, "Priya Shah", ["producer"], actor="setup")
    add_crew(workspace, "Ken Ito", ["vfx_supervisor"], actor="setup")
    token_for(workspace, "Priya Shah")
    return workspace, token_for(workspace, "Ken Ito")


def live(ws, name: str) -> list[str]:
    return [t["id"] for t in auth_service.list_tokens(ws) if t["person"] == name and not t["revoked_at"]]


def test_a_rotation_that_fails_half_way_leaves_the_old_credential_alone(crew, monkeypatch):
    ws, token = crew
    before = live(ws, "Ken Ito")

    def failing(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(auth_service, "_revoke", failing)
    with pytest.raises(OSError):
        auth_service.rotate_token(ws, token, expires_in=timedelta(days=30))
    assert live(ws, "Ken Ito") == before  # no second credential, the old one still valid
    assert auth_service.authenticate(ws, token).name == "Ken Ito"


def test_two_rotations_of_one_credential_at_once_make_one_new_credential(crew, monkeypatch):
    ws, token = crew
    before = live(ws, "Ken Ito")
    issue = auth_service._issue
    results: list = []

    def rotate() -> None:
        try:
            results.append(auth_service.rotate_token(ws, token, expires_in=timedelta(days=30)))
        except AuthenticationError as exc:
            results.append(exc)

    other = threading.Thread(target=rotate)

    def issuing(*args, **kwargs):  # timing only: the second rotation starts inside the first
        if not other.is_alive() and not results:
            other.start()
            other.join(2)
        return issue(*args, **kwargs)

    monkeypatch.setattr(auth_service, "_issue", issuing)
    rotate()
    other.join(60)
    made = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, AuthenticationError)]
    assert len(made) == 1 and len(refused) == 1, results
    after = live(ws, "Ken Ito")
    assert before[0] not in after and after == [made[0]["id"]]
