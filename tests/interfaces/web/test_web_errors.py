"""403 and 404 pages keep the site's navigation and say which permission is missing."""

from __future__ import annotations

import re

from soundstage.interfaces.api.security import SESSION_COOKIE
from web_helpers import HTML, login


def _nav(page: str) -> list[str]:
    match = re.search(r"<nav>(.*?)</nav>", page, re.S)
    return re.findall(r'<a href="([^"]+)"', match.group(1)) if match else []


def test_a_403_keeps_the_navigation_and_names_the_missing_permission(client, production):
    login(client, production["tokens"]["vfx_supervisor"])
    response = client.get("/audit", headers=HTML)
    assert response.status_code == 403
    page = response.text
    assert "/jobs" in _nav(page) and "/approvals" in _nav(page)
    assert "/audit" not in _nav(page)  # the nav is this person's: no link they cannot follow
    missing = re.search(r'<p id="missing-permission">(.*?)</p>', page, re.S).group(1)
    assert "<code>audit.read</code>" in missing and "legal" in missing and "producer" in missing
    assert "Ken Ito" in missing and "vfx_supervisor" in missing
    assert "Log out" in page and "Not allowed (403)" in page


def test_a_refused_post_keeps_the_navigation_too(client, production):
    csrf = login(client, production["tokens"]["vfx_supervisor"])
    response = client.post(f"/consents/{production['consent']['id']}/revoke",
                           data={"csrf_token": csrf, "reason": "x"}, headers=HTML)
    assert response.status_code == 403 and "/jobs" in _nav(response.text)
    assert "<code>consents.revoke</code>" in response.text


def test_a_404_keeps_the_navigation(client, production):
    login(client, production["tokens"]["producer"])
    for url in ("/jobs/j-000000000000", "/no/such/page", "/assets/00000000000000ff"):
        response = client.get(url, headers=HTML)
        assert response.status_code == 404, url
        assert "/jobs" in _nav(response.text) and "Not found (404)" in response.text, url
        assert 'id="missing-permission"' not in response.text


def test_without_a_session_the_error_page_has_no_navigation(client, production):
    response = client.get("/no/such/page", headers=HTML)
    assert response.status_code == 404 and _nav(response.text) == [] and "Log out" not in response.text
    client.cookies.set(SESSION_COOKIE, "forged.value")
    forged = client.get("/no/such/page", headers=HTML)
    assert forged.status_code == 404 and _nav(forged.text) == []
