"""Helpers (imported by conftest and by the e2e tests): a small real production served by the real app: crew with one role each, a union performer
with a representative, a camera plate, a signed consent, and a token per person."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CREW = {
    "producer": ("Priya Shah", ["producer"]),
    "vfx_supervisor": ("Ken Ito", ["vfx_supervisor"]),
    "rights_clearance": ("Rita Moss", ["rights_clearance"]),
    "legal": ("Leo Hart", ["legal"]),
    "performer_rep": ("Lena Ortiz", ["performer_rep"]),
    "other_rep": ("Sam Cole", ["performer_rep"]),
    "vfx2": ("Vera Lind", ["vfx_supervisor"]),
}
ROLES = ("producer", "vfx_supervisor", "rights_clearance", "legal", "performer_rep")


def build_production(ws, tmp_path: Path) -> dict:
    from soundstage.services import auth_service
    from soundstage.services import consent_service, people_service, talent_service
    from soundstage.services.ledger import ingest_media
    from soundstage.testing.identity import token_for

    people = {key: people_service.add_crew(ws, name, roles, actor="setup") for key, (name, roles) in CREW.items()}
    maya = talent_service.add_performer(ws, "Maya Castell", union_status="sag-aftra", representatives=["Lena Ortiz"],
                            actor="setup")
    noah = talent_service.add_performer(ws, "Noah Fenn", representatives=["Sam Cole"], actor="setup")
    rng = np.random.default_rng(3)
    pixels = (rng.random((180, 320, 3)) * 60 + np.linspace(60, 180, 320)[None, :, None]).astype(np.uint8)
    plate_path = tmp_path / "plate_A001.png"
    Image.fromarray(pixels).save(plate_path)
    plate = ingest_media(ws, plate_path, kind="plate", actor="setup", scene="5", shot="5A")
    # a token per person: the producer's is the production's first (its identity root) and certifies the others
    tokens = {key: token_for(ws, CREW[key][0]) for key in CREW}
    document = tmp_path / "signed_consent.pdf"
    document.write_bytes(b"%PDF-1.4 signed digital alteration consent, Maya Castell, scene 5")
    consent = consent_service.grant_consent(
        ws, maya["id"], document=document, kind="digital_alteration",
        operations=["likeness_deage", "likeness_cosmetic"],
        description="De-ageing of Maya Castell by about 30 years in the 1994 flashback, scene 5 only",
        scenes=["5"], max_alteration=0.5, signed_separately=True, representation="union",
        signer=auth_service.signer_for_token(ws, tokens["performer_rep"]))
    return {"people": people, "maya": maya, "noah": noah, "plate": plate, "consent": consent, "tokens": tokens}


def deage_spec(prod: dict) -> dict:
    return {"operation": "likeness_deage", "model_id": "soundstage.retouch", "inputs": [prod["plate"]["id"]],
            "performers": [prod["maya"]["id"]], "scene": "5", "shot": "5A", "alteration_amount": 0.3,
            "deliverable": "final", "medium": "final"}


def submit_deage(prod: dict, **changes) -> str:
    """Submit the de-age of Maya in shot 5A (``deage_spec``, with ``changes``) without waiting; its job id."""
    from soundstage.domain.safeguards import JobSpec
    from soundstage.services import jobs_service

    ws = prod["ws"]
    spec = JobSpec.from_dict({**deage_spec(prod), "id": "x", "production_id": ws.production_id,
                              "requested_by": "Ken Ito", **changes})
    return jobs_service.submit_job(ws, spec, actor="Ken Ito", wait=False)["job"]


IDEATION = {"operation": "ideation", "model_id": "soundstage.procedural-card", "prompt": "rainy street at dusk"}


@pytest.fixture
def production(sqlite_workspace, tmp_path):
    prod = build_production(sqlite_workspace, tmp_path)
    prod["ws"] = sqlite_workspace
    return prod


@pytest.fixture
def client(production):
    from fastapi.testclient import TestClient

    from soundstage.interfaces.api.app import create_app

    app = create_app(production["ws"].settings.root, max_upload_bytes=2 * 1024 * 1024, auth_cache_seconds=0)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def run_queue(production: dict) -> None:
    """What a worker does with the queued jobs (the API only queues them): the real worker loop,
    in this process, until the queue is empty."""
    from soundstage.services.worker_service import drain_queue

    drain_queue(production["ws"])


def preview_over_api(client, production: dict, job: str, who: str) -> dict:
    """Ask for a job's preview as an approver does (202 at once, DR023), let the worker render it,
    and return the current preview the poll URL then shows (job, asset, preview_digest, ...)."""
    asked = client.post(f"/api/jobs/{job}/preview", headers=auth(production, who))
    assert asked.status_code == 202, asked.text
    assert asked.headers["location"] == f"/api/jobs/{job}/preview" == asked.json()["poll"]
    run_queue(production)
    polled = client.get(asked.headers["location"], headers=auth(production, who)).json()
    assert polled["status"] == "done" and polled["preview"], polled
    assert polled["request"]["request"] == asked.json()["request"]
    return polled["preview"]


def auth(production: dict, who: str) -> dict:
    return {"Authorization": f"Bearer {production['tokens'][who]}"}


def upload_script(client, production: dict, text: str, *, name: str = "script.fountain",
                  who: str = "producer") -> None:
    """Upload a screenplay over the API as ``who`` (the production's current draft)."""
    response = client.post("/api/script", headers=auth(production, who), files={"file": (name, text.encode())})
    assert response.status_code < 300, response.text


def approved_assist_job(client, production: dict) -> str:
    """Ask for the breakdown assist as the producer - the guard escalates it (409 naming the job,
    DR022) - and approve it as a second producer (Omar Reyes, added here: nobody approves their own
    request); the approved job's id. A chat model must be registered."""
    from soundstage.services import people_service
    from soundstage.testing.identity import token_for

    ws = production["ws"]
    people_service.add_crew(ws, "Omar Reyes", ["producer"], actor="setup")
    response = client.post("/api/script/assist", headers=auth(production, "producer"), json={})
    assert response.status_code == 409 and "waiting for approval" in response.json()["error"]["message"], response.text
    job = response.json()["error"]["message"].split("job ")[1].split()[0]
    response = client.post(f"/api/jobs/{job}/decision", headers={"Authorization": f"Bearer {token_for(ws, 'Omar Reyes')}"},
                           json={"role": "producer", "verdict": "approve"})
    assert response.status_code < 300, response.text
    return job
