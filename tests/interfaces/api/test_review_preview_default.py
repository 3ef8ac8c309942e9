"""Over HTTP, under the DEFAULT pack alone (no studio pack): an approval of a de-age without the
preview is a 409 with one line naming the command, one naming another job's preview is a 409 and
records nothing, and one naming the job's own current preview is recorded with it (issue 15)."""

from __future__ import annotations

from api_helpers import auth, deage_spec, preview_over_api


def _submit(client, production) -> str:
    response = client.post("/api/jobs", headers=auth(production, "vfx_supervisor"), json=deage_spec(production))
    assert response.status_code == 202 and response.json()["status"] == "escalated", response.text
    return response.json()["job"]


def test_a_de_age_is_approved_on_its_own_preview_or_not_at_all(client, production):
    assert "packs = []" in (production["ws"].settings.root / "soundstage.toml").read_text()  # the default pack only
    job, other = _submit(client, production), _submit(client, production)
    legal = auth(production, "legal")
    url = f"/api/jobs/{job}/decision"

    blind = client.post(url, headers=legal, json={"role": "legal", "verdict": "approve"})
    assert blind.status_code == 409, blind.text
    error = blind.json()["error"]
    assert error["type"] == "StateConflictError" and "\n" not in error["message"]
    assert f"look at the preview first: soundstage job preview {job}" in error["message"]

    theirs = preview_over_api(client, production, other, "legal")
    borrowed = client.post(url, headers=legal, json={"role": "legal", "verdict": "approve",
                                                     "preview_digest": theirs["preview_digest"]})
    assert borrowed.status_code == 409 and "not its current preview" in borrowed.json()["error"]["message"], \
        borrowed.text
    assert client.get(f"/api/jobs/{job}", headers=legal).json()["approvals"] == []  # nothing recorded

    mine = preview_over_api(client, production, job, "legal")["preview_digest"]
    assert mine != theirs["preview_digest"]
    given = client.post(url, headers=legal, json={"role": "legal", "verdict": "approve", "preview_digest": mine})
    assert given.status_code == 200, given.text
    shown = client.get(f"/api/jobs/{job}", headers=legal).json()
    assert [(a["role"], a["preview_digest"]) for a in shown["approvals"]] == [("legal", mine)]
