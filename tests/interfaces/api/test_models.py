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


def test_a_models_operations_publish_the_declared_parameters(client, production):
    """The JSON schema a client builds its request from is the backend's declaration, seed included."""
    response = client.get("/api/models/soundstage.procedural-card/operations", headers=auth(production, "producer"))
    assert response.status_code == 200, response.text
    schema = response.json()["operations"]["*"]
    assert set(schema["properties"]) == {"width", "height", "element", "frames", "fps", "seed"}
    assert schema["additionalProperties"] is False
    assert schema["properties"]["element"]["enum"] == ["card", "collapse"]
    assert schema["properties"]["width"]["minimum"] == 64 and schema["properties"]["width"]["maximum"] == 4096
    vfx = client.get("/api/models/soundstage.vfx-classical/operations", headers=auth(production, "producer")).json()
    assert set(vfx["operations"]["cleanup"]["properties"]) == {"method", "radius", "codec", "seed"}
    assert "vfx_operation" not in str(vfx) and "performer_refs" not in str(vfx)
    assert client.get("/api/models/nope/operations", headers=auth(production, "producer")).status_code == 404


def test_a_card_whose_text_a_client_makes_huge_is_refused_naming_the_field(client, production):
    """Every card text is copied into reports, audit events and credentials: its size is bounded
    where the card is registered (the request-body limit alone let 100 KB of evidence in, and the
    disclosure PDF then failed with a 500)."""
    ken = auth(production, "vfx_supervisor")
    card = {"id": "acme.long", "name": "Acme", "licence": "commercial", "training_data": "licensed"}
    for field, text in (("evidence", "e" * 4001), ("name", "n" * 301), ("licence", "l" * 501), ("version", "v" * 101),
                        ("id", "acme." + "x" * 100), ("weights_sha256", "ab" * 33)):
        refused = client.post("/api/models", headers=ken, json={**card, field: text})
        assert refused.status_code == 422, (field, refused.text)
        assert refused.json()["error"]["type"] == "SpecError" and field in refused.json()["error"]["message"]
    assert "acme.long" not in {m["id"] for m in client.get("/api/models", headers=ken).json()}
    assert client.post("/api/models", headers=ken, json={**card, "evidence": "e" * 4000}).status_code == 201
