"""Red-team findings on the server: a download never streams bytes that do not match their hash,
logging out ends the session on the server, and no error message shows a server path."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest

from api_helpers import auth

HTML = {"Accept": "text/html"}


def _tamper(path: Path, data: bytes) -> None:
    os.chmod(path, 0o644)
    path.write_bytes(data)


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["status"] == status and "\n" not in error["message"]
    return error


# ---------------------------------------------------------------- download integrity

def test_download_of_an_altered_stored_file_is_refused_and_streams_nothing(client, production):
    plate = production["plate"]
    stored = production["ws"].store.path_for(plate["sha256"])
    good = client.get(f"/api/assets/{plate['id']}/download", headers=auth(production, "producer"))
    assert good.status_code == 200 and good.content == stored.read_bytes()
    assert good.headers["content-disposition"].endswith('"plate_A001.png"')
    bad = b"\x89PNG\r\n\x1a\n swapped on disk " * 20
    _tamper(stored, bad)
    response = client.get(f"/api/assets/{plate['id']}/download", headers=auth(production, "producer"))
    error = assert_error(response, 409)
    assert error["type"] == "IntegrityError" and "does not match its hash" in error["message"]
    assert b"swapped on disk" not in response.content


def test_altered_during_the_stream_fails_before_the_last_chunk(production):
    """The hash is checked again as the bytes go out: a file changed after the first check never
    reaches the end of the stream intact."""
    from soundstage.errors import IntegrityError

    store = production["ws"].store
    sha = production["plate"]["sha256"]
    chunks = store.iter_verified(sha, chunk_size=1024)
    first = next(chunks)
    stored = store.path_for(sha)
    data = bytearray(stored.read_bytes())
    data[-1] ^= 0xFF
    _tamper(stored, bytes(data))
    with pytest.raises(IntegrityError):
        for chunk in chunks:
            first += chunk


# ---------------------------------------------------------------- logout ends the session server-side

def _login(client, token: str) -> tuple[str, str]:
    page = client.get("/login")
    pre = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
    response = client.post("/login", data={"csrf_token": pre, "token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    cookie = client.cookies.get("ss_session")
    home = client.get("/")
    return cookie, re.search(r'name="csrf_token" value="([0-9a-f]+)"', home.text).group(1)


def test_a_logged_out_session_cookie_and_csrf_token_are_refused(client, production):
    cookie, csrf = _login(client, production["tokens"]["performer_rep"])
    consent = production["consent"]["id"]
    # the session works before logout (a harmless write: suspend, then resume)
    ok = client.post(f"/api/consents/{consent}/suspend", json={"suspended": False, "reason": "check"},
                     headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200, ok.text
    out = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.clear()

    # the attacker replays the old cookie and CSRF token
    client.cookies.set("ss_session", cookie)
    api = client.post(f"/api/consents/{consent}/revoke", json={"reason": "replayed"},
                      headers={"X-CSRF-Token": csrf})
    assert api.status_code == 401, api.text
    assert "ended" in api.json()["error"]["message"]
    form = client.post(f"/consents/{consent}/revoke", data={"csrf_token": csrf, "reason": "replayed"},
                       headers=HTML, follow_redirects=False)
    assert form.status_code == 303 and form.headers["location"] == "/login"
    assert client.get("/", follow_redirects=False).status_code == 303
    client.cookies.clear()
    shown = client.get(f"/api/consents/{consent}", headers=auth(production, "rights_clearance")).json()
    assert shown["status"] == "active"

    # the token itself still works, and a new login gets a new, working session
    assert client.get("/api/me", headers=auth(production, "performer_rep")).status_code == 200
    _, fresh = _login(client, production["tokens"]["performer_rep"])
    again = client.post(f"/api/consents/{consent}/suspend", json={"suspended": False, "reason": "check"},
                        headers={"X-CSRF-Token": fresh})
    assert again.status_code == 200, again.text


def test_logout_of_one_session_leaves_the_others(client, production):
    from fastapi.testclient import TestClient

    first, _ = _login(client, production["tokens"]["producer"])
    with TestClient(client.app, base_url="http://127.0.0.1") as other:
        _, csrf = _login(other, production["tokens"]["producer"])
        assert other.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    client.cookies.set("ss_session", first)
    assert client.get("/api/me").status_code == 200


# ---------------------------------------------------------------- no server paths in error messages

def _no_server_paths(text: str, production) -> None:
    root = str(production["ws"].settings.root)
    for secret in (root, str(Path(root).resolve()), tempfile.gettempdir(), "soundstage-upload-",
                   "soundstage-export-"):
        assert secret not in text, f"{secret!r} leaked in {text!r}"


def test_errors_from_uploads_do_not_show_the_temp_dir(client, production):
    headers = auth(production, "producer")
    broken = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40  # a PNG signature and nothing readable after it
    response = client.post("/api/verify", headers=headers, files={"file": ("broken.png", broken)})
    assert response.status_code >= 400, response.text
    message = response.json()["error"]["message"]
    _no_server_paths(message, production)
    assert "broken.png" in message


def test_errors_about_stored_files_do_not_show_the_workspace(client, production):
    stored = production["ws"].store.path_for(production["plate"]["sha256"])
    os.chmod(stored, 0o644)
    stored.unlink()
    headers = auth(production, "producer")
    for url in (f"/api/assets/{production['plate']['id']}/download",
                f"/api/assets/{production['plate']['id']}/provenance"):
        response = client.get(url, headers=headers)
        assert response.status_code in (404, 409), (url, response.text)
        _no_server_paths(response.json()["error"]["message"], production)
    page = client.get(f"/assets/{production['plate']['id']}", headers=HTML)
    _no_server_paths(page.text, production)


def test_the_error_handler_redacts_paths_left_in_a_message(client, production, monkeypatch):
    """The last line of defence: a message that still names a server path loses the folders."""
    from soundstage.errors import WorkspaceError
    from soundstage.services import ledger

    root = production["ws"].settings.root
    upload = Path(tempfile.gettempdir()) / "soundstage-upload-abc123" / "draft.fountain"

    def leaky(ws, kind=None):
        raise WorkspaceError(f"cannot read {root / 'assets' / 'ab' / 'cdef'} or {upload}: gone",
                             hint=f"look in {root}")

    monkeypatch.setattr(ledger, "list_assets", leaky)
    response = client.get("/api/assets", headers=auth(production, "producer"))
    message = assert_error(response, 500)["message"]
    _no_server_paths(message, production)
    assert "assets/ab/cdef" in message and "draft.fountain" in message and "gone" in message
