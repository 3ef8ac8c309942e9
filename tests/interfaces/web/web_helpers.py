"""Logging in through the web form, as a browser would."""

import re

HTML = {"Accept": "text/html"}


def login(client, token: str) -> str:
    """Log in through the login form; returns the session's CSRF token."""
    page = client.get("/login")
    pre = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
    response = client.post("/login", data={"csrf_token": pre, "token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    home = client.get("/")
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', home.text).group(1)
