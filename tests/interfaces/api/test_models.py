"""POST /api/models: a card records only what it states; unstated data handling is the unsafe case."""

from __future__ import annotations

from api_helpers import auth


def test_a_card_that_does_not_state_its_data_handling_is_recorded_as_keeping_inputs(client, production):
    ken = auth(production, "vfx_supervisor")
    card = {"id": "acme.up", "name": "Acme upscaler", "licence": "commercial", "training_data": "licensed",
            "evidence": "contract 2026-11", "runs_in_production_env": True, "trained_model": False}
    added = client.post("/api/models", headers=ken, json=card)
    assert added.status_code == 201, added.text
    assert (added.json()["stores_inputs"], added.json()["trains_on_inputs"]) == (True, True)
    listed = {m["id"]: m for m in client.get("/api/models", headers=ken).json()}
    assert (listed["acme.up"]["stores_inputs"], listed["acme.up"]["trains_on_inputs"]) == (True, True)

    stated = client.post("/api/models", headers=ken, json={**card, "id": "acme.clean", "stores_inputs": False,
                                                           "trains_on_inputs": False})
    assert (stated.json()["stores_inputs"], stated.json()["trains_on_inputs"]) == (False, False)
    refused = client.post("/api/models", headers=ken, json={**card, "id": "acme.vague", "stores_inputs": "no"})
    assert refused.status_code == 422 and refused.json()["error"]["type"] == "SpecError"
    assert "stores_inputs" in refused.json()["error"]["message"]
