"""Hostile input is refused cleanly, always in the one error shape (or the 403 page on the web)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from api_helpers import IDEATION, auth
from soundstage.interfaces.api.uploads import safe_filename

SQLISH = ["'; DROP TABLE job; --", "\" OR 1=1 --", "Robert'); DELETE FROM person;--", "%' UNION SELECT * --"]


def assert_error_shape(response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"type", "message", "rule_ids", "status"} and error["status"] == status
    assert "Traceback" not in error["message"] and "\n" not in error["message"]
    return error


def test_oversized_upload_is_413(client, production):
    big = b"x" * (3 * 1024 * 1024)
    response = client.post("/api/verify", headers=auth(production, "producer"), files={"file": ("big.png", big)})
    assert_error_shape(response, 413)


@pytest.mark.parametrize("name", ["../../../../etc/passwd", "..\\..\\windows\\system32\\x.fountain",
                                  "/abs/path/draft.fountain", "....//....//x.fountain", "\x00evil.fountain"])
def test_path_traversal_file_names_never_become_paths(client, production, name, tmp_path):
    clean = safe_filename(name)
    assert "/" not in clean and "\\" not in clean and not clean.startswith(".") and "\x00" not in clean
    response = client.post("/api/script", headers=auth(production, "producer"),
                           files={"file": (name, b"INT. ROOM - DAY\n\nHello.\n")})
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        assets = client.get("/api/assets?kind=screenplay", headers=auth(production, "producer")).json()
        assert all(not re.search(r"[/\\\x00]", a["name"]) and not a["name"].startswith(".") for a in assets)
    else:
        assert_error_shape(response, 400)


@pytest.mark.parametrize("text", SQLISH)
def test_sqlish_strings_in_every_text_field(client, production, text):
    producer, ken = auth(production, "producer"), auth(production, "vfx_supervisor")
    assert client.post("/api/crew", headers=producer, json={"name": text, "roles": ["producer"]}).status_code == 201
    assert client.post("/api/performers", headers=producer, json={"name": text + "p"}).status_code == 201
    assert client.post("/api/policy/check", headers=ken, json={**IDEATION, "prompt": text}).status_code == 200
    assert client.post("/api/jobs", headers=ken, json={**IDEATION, "prompt": text}).status_code == 202
    for url in (f"/api/assets/{text}", f"/api/jobs/{text}", f"/api/consents/{text}", f"/api/performers/{text}"):
        response = client.get(url, headers=auth(production, "rights_clearance"))
        assert response.status_code in (400, 404), url
        assert_error_shape(response, response.status_code)
    assert client.get("/api/jobs", params={"status": text}, headers=ken).json() == []
    assert client.get("/api/assets", params={"kind": text}, headers=ken).json() == []
    assert client.get("/api/audit", params={"action": text}, headers=producer).status_code == 200
    assert client.get("/api/audit/verify", headers=producer).json()["ok"] is True
    people = {p["name"] for p in client.get("/api/people", headers=producer).json()}
    assert text in people and "Priya Shah" in people


def test_forged_expired_and_revoked_tokens_are_401(client, production):
    from soundstage.services import auth_service
    from soundstage.testing.identity import new_token

    ws = production["ws"]
    for token in ("sst_" + "A" * 43, "not-a-token", "", "sst_" + "x" * 500):
        response = client.get("/api/production", headers={"Authorization": f"Bearer {token}"})
        assert_error_shape(response, 401)
    expired = new_token(ws, "Priya Shah", expires_in=timedelta(minutes=1))
    from soundstage.store.models import ApiToken

    with ws.unit_of_work() as s:
        row = s.get(ApiToken, expired["id"])
        row.expires_at = row.created_at - timedelta(seconds=1)
    error = assert_error_shape(client.get("/api/production", headers={"Authorization": f"Bearer {expired['token']}"}),
                               401)
    assert "expired" in error["message"]
    live = new_token(ws, "Priya Shah", expires_in=timedelta(days=1))
    headers = {"Authorization": f"Bearer {live['token']}"}
    assert client.get("/api/production", headers=headers).status_code == 200
    auth_service.revoke_token(ws, live["id"], actor="t")
    assert "revoked" in assert_error_shape(client.get("/api/production", headers=headers), 401)["message"]


def _login(client, token: str) -> str:
    page = client.get("/login")
    pre = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
    response = client.post("/login", data={"csrf_token": pre, "token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    home = client.get("/")
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', home.text).group(1)


def test_web_forms_need_the_session_csrf_token(client, production):
    html = {"Accept": "text/html"}
    assert client.get("/", follow_redirects=False).status_code == 303  # not logged in: to /login
    bad_login = client.post("/login", data={"csrf_token": "nope", "token": production["tokens"]["performer_rep"]},
                            headers=html)
    assert bad_login.status_code == 403 and "CSRF" in bad_login.text
    csrf = _login(client, production["tokens"]["performer_rep"])
    consent = production["consent"]["id"]
    for sent in (None, "0" * 64):
        data = {"reason": "x"} | ({"csrf_token": sent} if sent else {})
        refused = client.post(f"/consents/{consent}/revoke", data=data, headers=html)
        assert refused.status_code == 403 and "CSRF" in refused.text
    # the cookie alone does not authorise an API write either
    api = client.post(f"/api/consents/{consent}/revoke", json={"reason": "x"})
    assert_error_shape(api, 403)
    ok = client.post(f"/consents/{consent}/revoke", data={"csrf_token": csrf, "reason": "withdrawn"}, headers=html)
    assert ok.status_code == 200 and "revoked" in ok.text


def test_web_pages_render_for_their_roles(client, production):
    _login(client, production["tokens"]["producer"])
    for page in ("/", "/script", "/storyboards", "/jobs", "/approvals", "/consents", "/people", "/audit",
                 "/disclosure", "/verify", f"/assets/{production['plate']['id']}"):
        response = client.get(page, headers={"Accept": "text/html"})
        assert response.status_code == 200, page
    _login(client, production["tokens"]["vfx_supervisor"])
    assert client.get("/audit", headers={"Accept": "text/html"}).status_code == 403
