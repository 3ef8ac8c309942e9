"""Every endpoint x every role: allowed roles get through the permission matrix, the others get
403 with the reason, in the one error shape. Plus the data-scoped rules (representatives)."""

from __future__ import annotations

import pytest

from api_helpers import IDEATION, ROLES, auth, deage_spec, run_queue
from soundstage.interfaces.api.security import PERMISSIONS
from soundstage.testing.approvals import review_digest

# (method, path template, action, request kwargs factory)
ENDPOINTS = [
    ("GET", "/api/production", "production.read", None),
    ("GET", "/api/script/breakdown", "script.read", None),
    ("POST", "/api/script", "script.import", lambda p: {"files": {"file": ("x.fountain", b"INT. ROOM - DAY\n\nHi.\n")}}),
    ("GET", "/api/assets", "assets.read", None),
    ("GET", "/api/assets/{document}", "assets.read", None),
    ("GET", "/api/people", "people.read", None),
    ("POST", "/api/crew", "crew.add", lambda p: {"json": {"name": "New Person", "roles": ["producer"]}}),
    ("POST", "/api/performers", "performers.add", lambda p: {"json": {"name": "New Performer"}}),
    ("POST", "/api/performers/{maya}/representatives", "performers.add",
     lambda p: {"json": {"representative": "Sam Cole"}}),
    ("GET", "/api/consents", "consents.read", None),
    ("POST", "/api/consents", "consents.grant", lambda p: {"data": {
        "performer": p["maya"]["id"], "kind": "digital_alteration", "operations": "likeness_cosmetic",
        "description": "Blemish removal on Maya Castell in scene 7 for the final cut"}}),
    ("POST", "/api/consents/{consent}/suspend", "consents.suspend", lambda p: {"json": {"reason": "strike"}}),
    ("GET", "/api/models", "models.read", None),
    ("GET", "/api/models/soundstage.procedural-card/operations", "models.read", None),
    ("POST", "/api/models", "models.add", lambda p: {"json": {"id": "acme.up", "name": "Acme upscaler",
                                                              "training_data": "licensed"}}),
    ("POST", "/api/policy/check", "policy.check", lambda p: {"json": IDEATION}),
    ("POST", "/api/jobs", "jobs.submit", lambda p: {"json": IDEATION}),
    ("GET", "/api/jobs", "jobs.read", None),
    ("GET", "/api/audit", "audit.read", None),
    ("GET", "/api/audit/verify", "audit.read", None),
    ("GET", "/api/disclosure?format=json", "disclosure.read", None),
]
CASES = [(m, path, action, make, role) for (m, path, action, make) in ENDPOINTS for role in ROLES]


@pytest.mark.parametrize("method,path,action,make,role", CASES,
                         ids=[f"{m} {p} as {r}" for m, p, _, _, r in CASES])
def test_endpoint_by_role(client, production, method, path, action, make, role):
    url = path.format(plate=production["plate"]["id"], consent=production["consent"]["id"],
                     document=production["consent"]["document_asset"], maya=production["maya"]["id"])
    kwargs = make(production) if make else {}
    if path.startswith("/api/script/breakdown"):
        client.post("/api/script", headers=auth(production, "producer"),
                    files={"file": ("draft.fountain", b"INT. ROOM - DAY\n\nMaya waits.\n")})
    response = client.request(method, url, headers=auth(production, role), **kwargs)
    if role in PERMISSIONS[action]:
        assert response.status_code < 300, response.text
    else:
        assert response.status_code == 403, response.text
        error = response.json()["error"]
        assert error["type"] == "PermissionDeniedError"
        assert action in error["message"] and "needs one of" in error["message"]


def test_unauthenticated_is_401_everywhere(client, production):
    for method, path, _, _ in ENDPOINTS:
        url = path.format(plate=production["plate"]["id"], consent=production["consent"]["id"],
                     document=production["consent"]["document_asset"], maya=production["maya"]["id"])
        response = client.request(method, url)
        assert response.status_code == 401, url
        assert response.json()["error"]["type"] == "AuthenticationError"


def test_representative_sees_only_their_performers(client, production):
    lena, sam = auth(production, "performer_rep"), auth(production, "other_rep")
    consent_id = production["consent"]["id"]
    assert [c["id"] for c in client.get("/api/consents", headers=lena).json()] == [consent_id]
    assert client.get("/api/consents", headers=sam).json() == []
    refused = client.get(f"/api/consents/{consent_id}", headers=sam)
    assert refused.status_code == 403 and "does not represent" in refused.json()["error"]["message"]
    assert client.post(f"/api/consents/{consent_id}/revoke", headers=sam, json={"reason": "x"}).status_code == 403
    names = {p["name"] for p in client.get("/api/people", headers=sam).json()}
    assert names == {"Noah Fenn", "Sam Cole"}
    # the consent document asset is Maya's: Lena sees it, Sam does not
    lena_assets = {a["kind"] for a in client.get("/api/assets", headers=lena).json()}
    assert "consent_document" in lena_assets
    assert client.get("/api/assets", headers=sam).json() == []
    assert client.get(f"/api/assets/{production['plate']['id']}", headers=sam).status_code == 403


def test_a_representative_put_on_file_then_acts_for_the_performer(client, production):
    maya, consent_id = production["maya"]["id"], production["consent"]["id"]
    sam = auth(production, "other_rep")
    assert client.get(f"/api/consents/{consent_id}", headers=sam).status_code == 403
    added = client.post(f"/api/performers/{maya}/representatives", headers=auth(production, "rights_clearance"),
                        json={"representative": "Sam Cole"})
    assert added.status_code == 200, added.text
    sam_id = production["people"]["other_rep"]["id"]
    assert added.json()["representative_names"] == ["Lena Ortiz", "Sam Cole"]
    assert sam_id in added.json()["representatives"]
    assert client.get(f"/api/consents/{consent_id}", headers=sam).status_code == 200
    events = client.get("/api/audit", headers=auth(production, "producer")).json()
    event = [e for e in events if e["action"] == "talent.representative_added"][-1]
    assert (event["actor"], event["payload"]["performer"], event["payload"]["representative"]) == \
        ("Rita Moss", maya, sam_id)
    again = client.post(f"/api/performers/{maya}/representatives", headers=auth(production, "producer"),
                        json={"representative": "Sam Cole"})
    assert again.status_code == 409
    not_a_rep = client.post(f"/api/performers/{maya}/representatives", headers=auth(production, "producer"),
                            json={"representative": "Ken Ito"})
    assert not_a_rep.status_code == 422 and not_a_rep.json()["error"]["type"] == "SpecError"
    assert "performer_rep" in not_a_rep.json()["error"]["message"]
    unknown = client.post("/api/performers/t-nobody/representatives", headers=auth(production, "producer"),
                          json={"representative": "Sam Cole"})
    assert unknown.status_code == 404


def test_escalated_job_approvals_by_role_holders_only(client, production):
    ken = auth(production, "vfx_supervisor")
    submitted = client.post("/api/jobs", headers=ken, json=deage_spec(production))
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()
    assert job["status"] == "escalated"
    job_id = job["job"]
    assert submitted.headers["location"] == f"/api/jobs/{job_id}"
    # not a role you hold
    wrong = client.post(f"/api/jobs/{job_id}/decision", headers=auth(production, "legal"),
                        json={"role": "producer", "verdict": "approve"})
    assert wrong.status_code == 403 and "does not hold" in wrong.json()["error"]["message"]
    # never your own request
    own = client.post(f"/api/jobs/{job_id}/decision", headers=ken, json={"role": "vfx_supervisor", "verdict": "approve"})
    assert own.status_code == 403
    # the other agent cannot act for Maya; and cannot even see the job
    sam = auth(production, "other_rep")
    assert client.post(f"/api/jobs/{job_id}/decision", headers=sam,
                       json={"role": "performer_rep", "verdict": "approve"}).status_code == 403
    assert client.get(f"/api/jobs/{job_id}", headers=sam).status_code == 403
    assert client.get(f"/api/jobs/{job_id}", headers=auth(production, "performer_rep")).status_code == 200
    holder = {"producer": "producer", "vfx_supervisor": "vfx2", "rights_clearance": "rights_clearance",
              "legal": "legal", "performer_rep": "performer_rep"}
    outcome = None
    preview = review_digest(production["ws"], job_id)  # the default pack asks approvers of a de-age to look first
    for role in job["decision"]["approver_roles"]:
        who = holder[role]
        assert who, f"unexpected approver role {role}"
        outcome = client.post(f"/api/jobs/{job_id}/decision", headers=auth(production, who),
                              json={"role": role, "verdict": "approve", "note": "ok", "preview_digest": preview})
        assert outcome.status_code == 200, outcome.text
    assert outcome.json()["status"] == "queued"  # the last approval queues the job; it never runs in the request
    run_queue(production)
    assert client.get(f"/api/jobs/{job_id}", headers=ken).json()["status"] == "done"
    events = client.get(f"/api/jobs/{job_id}/events?timeout=1", headers=ken)
    assert events.headers["content-type"].startswith("text/event-stream")
    assert '"status": "done"' in events.text and "event: end" in events.text
    out_id = next(a["id"] for a in client.get("/api/assets", headers=ken).json()
                  if a["job_id"] == job_id and a["kind"] != "preview")  # the output, not the approvers' preview
    lineage = client.get(f"/api/assets/{out_id}/lineage", headers=ken).json()
    assert [production["plate"]["id"], out_id] in [list(e) for e in lineage["edges"]]
    # revocation by Maya's agent quarantines the output; it can no longer be downloaded
    assert client.get(f"/api/assets/{out_id}/download", headers=ken).status_code == 200
    revoked = client.post(f"/api/consents/{production['consent']['id']}/revoke",
                          headers=auth(production, "performer_rep"), json={"reason": "withdrawn"})
    assert revoked.status_code == 200
    assert out_id in {a["id"] for a in revoked.json()["quarantined"]}
    refused = client.get(f"/api/assets/{out_id}/download", headers=ken)
    assert refused.status_code == 403 and refused.json()["error"]["type"] == "QuarantinedError"
    provenance = client.get(f"/api/assets/{out_id}/provenance", headers=ken).json()
    assert provenance["c2pa"]["state"] == "Trusted" and "QUARANTINED" in provenance["verdict"]


def test_denied_job_carries_rule_ids_and_cancel(client, production):
    ken = auth(production, "vfx_supervisor")
    spec = {**deage_spec(production), "performers": [production["noah"]["id"]]}
    denied = client.post("/api/jobs", headers=ken, json=spec).json()
    assert denied["status"] == "denied"
    assert any(r["outcome"] == "deny" for r in denied["decision"]["reasons"])
    waiting = client.post("/api/jobs", headers=ken, json=deage_spec(production)).json()
    cancelled = client.post(f"/api/jobs/{waiting['job']}/cancel", headers=auth(production, "producer"))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.post(f"/api/jobs/{waiting['job']}/cancel", headers=auth(production, "producer"))
    assert again.status_code == 409 and again.json()["error"]["type"] == "StateConflictError"


def test_idempotency_key_replays_instead_of_running_twice(client, production):
    ken = {**auth(production, "vfx_supervisor"), "Idempotency-Key": "submit-42"}
    first = client.post("/api/jobs", headers=ken, json=IDEATION).json()
    run_queue(production)
    second = client.post("/api/jobs", headers=ken, json=IDEATION).json()
    assert second["replayed"] is True and second["id"] == first["job"]
    assert len([a for a in client.get("/api/assets", headers=ken).json() if a["job_id"] == first["job"]]) == 1
    other = client.post("/api/jobs", headers=ken, json={**IDEATION, "prompt": "something else"})
    assert other.status_code == 400


def test_me_and_reports_and_disclosure_formats(client, production):
    producer = auth(production, "producer")
    me = client.get("/api/me", headers=producer).json()
    assert me["name"] == "Priya Shah" and "jobs.submit" in me["allowed"]
    client.post("/api/script", headers=producer,
                files={"file": ("draft.fountain", b"INT. KITCHEN - NIGHT\n\nMAYA\nHello.\n")})
    csv = client.get("/api/script/reports/scenes?format=csv", headers=producer)
    assert csv.status_code == 200 and "KITCHEN" in csv.text.upper()
    for fmt, marker in (("json", b"Disclosure.2"), ("html", b"<html"), ("pdf", b"%PDF")):
        body = client.get(f"/api/disclosure?format={fmt}", headers=producer).content
        assert marker in body[:4000], fmt
    # prepared by the token's holder (never a parameter); sign-off by a holder of the role, or a 422
    report = client.get("/api/disclosure?format=json&sign_off=producer", headers=producer).json()
    assert report["prepared_by"]["person"] == "Priya Shah" and report["prepared_by"]["authenticated"] is True
    assert report["sign_off"]["role"] == "producer" and report["audit_head"]["seq"] > 0
    bad = client.get("/api/disclosure?format=json&sign_off=legal&sign_off_person=Nobody", headers=producer)
    assert bad.status_code == 422 and "sign_off.person" in bad.text
