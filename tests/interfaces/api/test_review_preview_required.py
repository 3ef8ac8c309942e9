"""Over HTTP, when the studio's pack requires a preview before approving a de-age: a verdict without
its preview digest is a 409 naming the command, one with it is recorded with the digest, and the
job's JSON keeps machine ids beside the words."""

from __future__ import annotations

from pathlib import Path

import pytest

from api_helpers import auth, build_production, deage_spec, preview_over_api

PACK = ("pack: studio\nversion: 1\nlists:\n  preview_required_before_approval: [likeness_deage]\nrules:\n"
        "  - id: STUDIO-1\n    text: training is reviewed by legal\n    when: {field: operation, eq: training}\n"
        "    then: {outcome: escalate, approvers: [legal]}\n")


@pytest.fixture
def studio(sqlite_workspace, tmp_path):
    from fastapi.testclient import TestClient

    from soundstage.interfaces.api.app import create_app

    prod = build_production(sqlite_workspace, tmp_path)
    root = Path(sqlite_workspace.settings.root)
    (root / "studio.yaml").write_text(PACK)
    config = root / "soundstage.toml"
    config.write_text(config.read_text().replace("packs = []", 'packs = ["studio.yaml"]'))
    app = create_app(root, max_upload_bytes=2 * 1024 * 1024, auth_cache_seconds=0)
    prod["ws"] = app.state.ws  # the server's workspace (the studio pack loaded): its queue worker renders previews
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield prod, client


def test_a_verdict_without_the_preview_is_409_and_with_it_is_bound(studio):
    prod, client = studio
    job = client.post("/api/jobs", headers=auth(prod, "vfx_supervisor"), json=deage_spec(prod)).json()["job"]
    refused = client.post(f"/api/jobs/{job}/decision", headers=auth(prod, "legal"),
                          json={"role": "legal", "verdict": "approve"})
    assert refused.status_code == 409, refused.text
    assert f"look at the preview first: soundstage job preview {job}" in refused.text
    preview = preview_over_api(client, prod, job, "legal")["preview_digest"]
    given = client.post(f"/api/jobs/{job}/decision", headers=auth(prod, "legal"),
                        json={"role": "legal", "verdict": "approve", "preview_digest": preview})
    assert given.status_code < 300, given.text
    shown = client.get(f"/api/jobs/{job}", headers=auth(prod, "producer")).json()
    assert [a["preview_digest"] for a in shown["approvals"]] == [preview]
    assert f"performer_rep:{prod['maya']['id']}" in shown["missing_roles"]
