"""The API's error answer (interfaces/api/app.py): a remote server's HTTP status, which a
BackendError carries as ``status`` for its caller (errors.py), never becomes ours. Whatever the
remote said - 401, 403, 404, 409, 429, even 200 - the client gets 502 in the error shape."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from soundstage.errors import BackendError
from soundstage.interfaces.api.app import create_app


@pytest.fixture
def api(sqlite_workspace):
    app = create_app(sqlite_workspace.settings.root, web=False)

    @app.get("/api/_remote/{status}")  # a route whose backend call failed with the remote's status
    def remote(status: int):
        raise BackendError(f"image service refused the request: HTTP {status}: no", status=status)

    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


@pytest.mark.parametrize("remote", [200, 400, 401, 403, 404, 409, 413, 429, 500, 503])
def test_a_remote_status_never_becomes_the_apis_answer(api, remote):
    response = api.get(f"/api/_remote/{remote}")
    assert response.status_code == 502
    assert response.json()["error"]["status"] == 502 and response.json()["error"]["type"] == "BackendError"
    assert "WWW-Authenticate" not in response.headers  # a remote 401 does not ask our client to log in
