"""The depiction fields (JobSpec.2) travel through the API and show on the web job page (issue 12)."""

from __future__ import annotations

import re

from api_helpers import auth

NEWS = {"operation": "background_element", "model_id": "soundstage.procedural-card",
        "prompt": "studio desk at night, Dana Whitfield reading the evening bulletin",
        "depicts_real_person": True, "news_format": True}


def _login(client, token: str) -> None:
    page = client.get("/login")
    pre = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
    assert client.post("/login", data={"csrf_token": pre, "token": token}, follow_redirects=False).status_code == 303


def test_policy_check_and_submit_read_the_depiction_fields(client, production):
    ken = auth(production, "vfx_supervisor")
    unstated = client.post("/api/policy/check", headers=ken, json={k: v for k, v in NEWS.items()
                                                                   if not k.startswith(("depicts", "news"))})
    assert unstated.status_code == 200 and not any(r["rule_id"].startswith("DEPICT-")
                                                   for r in unstated.json()["decision"]["reasons"])
    checked = client.post("/api/policy/check", headers=ken, json=NEWS)
    assert checked.status_code == 200, checked.text
    decision = checked.json()["decision"]
    assert decision["outcome"] == "escalate"
    assert {"DEPICT-REAL-PERSON", "DEPICT-NEWS-FORMAT"} <= {r["rule_id"] for r in decision["reasons"]}

    submitted = client.post("/api/jobs", headers=ken, json=NEWS)
    assert submitted.status_code == 202, submitted.text
    body = submitted.json()
    assert body["status"] == "escalated"
    assert {"legal", "rights_clearance", "producer"} <= set(body["missing_roles"])
    job = client.get(f"/api/jobs/{body['job']}", headers=ken).json()
    assert job["spec"]["depicts_real_person"] is True and job["spec"]["news_format"] is True
    assert job["spec"]["depicts_public_figure"] is False

    bad = client.post("/api/policy/check", headers=ken, json={**NEWS, "news_format": "yes"})
    assert bad.status_code == 422 and "news_format" in bad.json()["error"]["message"]

    _login(client, production["tokens"]["vfx_supervisor"])
    page = client.get(f"/jobs/{body['job']}")
    assert page.status_code == 200
    assert re.findall(r'data-depicts="(\w+)"', page.text) == ["depicts_real_person", "news_format"]
    assert "a real person" in page.text and "a news-like format" in page.text
    plain = client.post("/api/jobs", headers=ken, json={k: v for k, v in NEWS.items()
                                                        if not k.startswith(("depicts", "news"))}).json()
    page = client.get(f"/jobs/{plain['job']}")
    assert "data-depicts" not in page.text and "no real person, public figure, real event or news format" in page.text


def test_a_likeness_job_shows_the_performers_it_depicts(client, production):
    """A de-age names its performer: the page must not say it depicts no real person."""
    from api_helpers import deage_spec

    ken = auth(production, "vfx_supervisor")
    body = client.post("/api/jobs", headers=ken, json=deage_spec(production)).json()
    _login(client, production["tokens"]["vfx_supervisor"])
    page = client.get(f"/jobs/{body['job']}").text
    assert re.findall(r'data-depicts="(\w+)"', page) == ["performers"]
    assert "1 performer named on the job" in page and "no real person" not in page
