"""The Content Credentials of real VFX jobs, read back by c2pa (issue 13 items 4-6).

Each job runs the built-in model (soundstage.vfx-classical) with its real operations (mediapipe,
dlib) through the real guard; the manifest is built from the operation's registry declarations:
a background replacement places a signed background (componentOf, c2pa.placed), a cleanup keeps its
mask (inputTo), a de-age names its networks and the performer's reference face by hash only."""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from soundstage.domain.safeguards import JobSpec, ModelCard, OperationKind
from soundstage.safeguards.provenance import IPTC, MODELS_ASSERTION, CredentialState, read_credentials
from soundstage.services import jobs_service as jobs
from soundstage.services import consent_service, models, people_service, talent_service
from soundstage.services import vfx_service
from soundstage.services.ledger import ingest_media
from soundstage.testing.approvals import approve
from soundstage.testing.identity import signer_for
from soundstage.vfx.registry import NETWORKS, network_sha256, networks_digest

sys.path.insert(0, str(Path(__file__).parent))
import vfx_helpers as h  # noqa: E402

HOLDERS = {"producer": "Priya Shah", "rights_clearance": "Tom Reed", "legal": "Tom Reed",
           "performer_rep": "Lena Ortiz", "vfx_supervisor": "Rosa Vidal"}
AI = {IPTC + "trainedAlgorithmicMedia", IPTC + "compositeWithTrainedAlgorithmicMedia"}


@pytest.fixture
def production(workspace, tmp_path):
    ws = workspace
    for name, roles in [("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor"]),
                        ("Tom Reed", ["rights_clearance", "legal"]), ("Lena Ortiz", ["performer_rep"]),
                        ("Rosa Vidal", ["vfx_supervisor"])]:
        people_service.add_crew(ws, name, roles, actor="setup")
    maya = talent_service.add_performer(ws, "Maya Castell", union_status="sag-aftra", representatives=["Lena Ortiz"],
                            actor="setup")
    frames = h.astronaut_frames(12, 512, 288, step=2)
    plate = ingest_media(ws, h.make_clip(tmp_path / "A001_C003.mp4", frames), kind="plate", actor="setup",
                         scene="5", shot="5A")
    return ws, maya, plate, tmp_path


def _run(ws, spec: JobSpec, requester: str = "Ken Ito") -> dict:
    result = jobs.submit_job(ws, spec, actor=requester)
    if result["status"] == "escalated":
        for role in result["missing_roles"]:
            base = role.split(":")[0]
            holder = HOLDERS[base]
            result = approve(ws, result["job"], signer=signer_for(ws, holder), role=base, actor=holder)
    assert result["status"] == "done", result
    return result["assets"][0]


def _credentials(ws, asset: dict):
    import c2pa

    path = ws.store.path_for(asset["sha256"])
    reading = read_credentials(path, trust_anchors=[(ws.settings.keys_dir / "ca.pem").read_bytes()])
    manifest = reading.store["manifests"][reading.active_manifest]
    with c2pa.Reader(str(path)) as reader:
        detailed = json.loads(reader.detailed_json())
    claim = detailed["manifests"][detailed["active_manifest"]]["claim"]
    created = {a["url"].rsplit("/", 1)[-1].split("__")[0] for a in claim.get("created_assertions", [])}
    return path, reading, manifest, created


def _actions(manifest: dict) -> list[dict]:
    return next(a["data"]["actions"] for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))


def _models(manifest: dict) -> dict[str, dict]:
    return {i["title"]: i for i in manifest["ingredients"]
            if any(t["type"] == "c2pa.types.model" for t in i.get("data_types", []))}


def _ai_background(ws, tmp_path: Path) -> dict:
    """A mood-board still made by a (registered, trained) generator: it carries its own manifest."""
    card = ModelCard(id="studio.gen", name="studio generator (stand-in)", version="1", licence="proprietary",
                     weights_sha256="ab" * 32, training_data="owned", evidence="trained on the studio's own art",
                     stores_inputs=False, trains_on_inputs=False, runs_in_production_env=True, trained_model=True)
    models.register_model(ws, card, actor="setup", backend="procedural-card", config={})
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION, requested_by="Ken Ito",
                   model_id="studio.gen", prompt="a storm over the harbour")
    return _run(ws, spec)


def test_the_builtin_vfx_model_is_registered_as_trained_not_generative_with_its_networks(production):
    ws = production[0]
    card = next(m for m in models.list_models(ws) if m["id"] == vfx_service.DEFAULT_VFX_MODEL)
    assert card["trained_model"] is True and card["generative"] is False and card["training_data"] == "licensed"
    assert card["weights_sha256"] == networks_digest(tuple(NETWORKS))
    for network in NETWORKS.values():
        assert network.name in card["evidence"]
    assert "FaceScrub" in card["evidence"] and "no trained model" not in card["evidence"]


def test_a_generated_still_and_a_procedural_render_read_back_as_declared(production):
    ws, maya, plate, tmp_path = production
    generated = _ai_background(ws, tmp_path)
    path, reading, manifest, created = _credentials(ws, generated)
    assert reading.state is CredentialState.TRUSTED
    assert reading.actions == ("c2pa.created", "c2pa.watermarked.unbound")
    assert reading.digital_source_types == (IPTC + "trainedAlgorithmicMedia",)
    model = _models(manifest)["studio generator (stand-in) 1"]
    assert model["instance_id"] == "sha256:" + "ab" * 32 and {"type": "c2pa.types.generator"} in model["data_types"]
    assert reading.watermark["payload_hex"] == generated["id"] and "thumbnail" in manifest
    assert {"c2pa.actions.v2", "c2pa.ingredient.v3", "io.soundstage.models", "io.soundstage.watermark"} <= created

    card = _run(ws, JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION,
                            requested_by="Ken Ito", model_id="soundstage.procedural-card", prompt="a rainy street"))
    path, reading, manifest, created = _credentials(ws, card)
    assert reading.state is CredentialState.TRUSTED
    assert reading.actions == ("c2pa.created", "c2pa.watermarked.unbound")
    assert reading.digital_source_types == (IPTC + "algorithmicMedia",)
    assert not manifest.get("ingredients") and "c2pa.actions.v2" in created  # no trained model, no ingredient


@pytest.mark.slow
def test_background_replacement_places_the_signed_ai_background_and_says_made_with_ai(production):
    ws, maya, plate, tmp_path = production
    background = _ai_background(ws, tmp_path)
    spec = vfx_service.build_vfx_job(ws, "background", plate["id"], requested_by="Ken Ito",
                                     extra_inputs=[background["id"]], scene="5", shot="5A")
    asset = _run(ws, spec)
    path, reading, manifest, created = _credentials(ws, asset)

    assert reading.state is CredentialState.TRUSTED, reading.status_codes
    assert reading.actions == ("c2pa.opened", "c2pa.placed", "c2pa.watermarked.unbound")
    placed = _actions(manifest)[1]
    assert placed["digitalSourceType"] == IPTC + "compositeWithTrainedAlgorithmicMedia"
    assert asset["details"]["c2pa"]["digital_source_type"] == placed["digitalSourceType"]
    parent = next(i for i in manifest["ingredients"] if i["relationship"] == "parentOf")
    component = next(i for i in manifest["ingredients"] if i["relationship"] == "componentOf")
    assert parent["title"] == "A001_C003.mp4" and component["title"] == background["name"]
    own = reading.store["manifests"][component["active_manifest"]]  # the background's own credentials, kept
    assert any(a.get("digitalSourceType") == IPTC + "trainedAlgorithmicMedia" for a in _actions(own))
    assert len(placed["parameters"]["ingredients"]) == 3  # the background, the registered model, the matte network
    models = _models(manifest)
    matte = models[next(t for t in models if t.startswith(NETWORKS["mediapipe.selfie_segmentation_landscape"].name))]
    assert matte["instance_id"] == "sha256:" + network_sha256("mediapipe.selfie_segmentation_landscape")
    assert {"type": "c2pa.types.model.tensorflow"} in matte["data_types"]
    assert {"type": "c2pa.types.classifier"} in matte["data_types"]
    assert matte["informational_URI"].startswith("https://google.github.io/mediapipe/")
    records = next(a["data"]["models"] for a in manifest["assertions"] if a["label"] == MODELS_ASSERTION)
    assert {r["licence"] for r in records} >= {"Apache-2.0"}
    assert {"c2pa.actions.v2", "c2pa.ingredient.v3", "io.soundstage.watermark"} <= created
    assert "thumbnail" in manifest and "thumbnail" in component  # a video claim thumbnail, the background's

    # the same composite of a camera background: a composite, not made with AI
    still = tmp_path / "harbour.png"
    Image.fromarray(h.astronaut_frames(1, 512, 288)[0][::-1].copy()).save(still)
    camera = ingest_media(ws, still, kind="plate", actor="setup")
    spec = vfx_service.build_vfx_job(ws, "background", plate["id"], requested_by="Ken Ito",
                                     extra_inputs=[camera["id"]], scene="5", shot="5A", params={"key": "green"})
    keyed = _credentials(ws, _run(ws, spec))[2]
    assert _actions(keyed)[1]["digitalSourceType"] == IPTC + "composite"
    assert not any(a.get("digitalSourceType") in AI for a in _actions(keyed))
    keyed_models = _models(keyed)
    assert not any(t.startswith("MediaPipe selfie") for t in keyed_models)  # a chroma key runs no matte network


@pytest.mark.slow
def test_cleanup_keeps_its_mask_as_an_input(production):
    ws, maya, plate, tmp_path = production
    mask = np.zeros((288, 512, 3), np.uint8)
    mask[250:280, 440:500] = 255  # a boom in the corner, far from the face
    Image.fromarray(mask).save(tmp_path / "boom_mask.png")
    mask_asset = ingest_media(ws, tmp_path / "boom_mask.png", kind="plate", actor="setup")
    spec = vfx_service.build_vfx_job(ws, "cleanup", plate["id"], requested_by="Ken Ito",
                                     extra_inputs=[mask_asset["id"]], scene="5", shot="5A")
    path, reading, manifest, created = _credentials(ws, _run(ws, spec))
    assert reading.state is CredentialState.TRUSTED
    assert reading.actions == ("c2pa.opened", "c2pa.edited", "c2pa.watermarked.unbound")
    assert reading.digital_source_types == (IPTC + "algorithmicallyEnhanced",)  # classical inpainting
    mask_ingredient = next(i for i in manifest["ingredients"] if i["title"] == "boom_mask.png")
    assert mask_ingredient["relationship"] == "inputTo" and "thumbnail" in mask_ingredient
    edited_urls = {i["url"] for i in _actions(manifest)[1]["parameters"]["ingredients"]}
    assert any(url.endswith(mask_ingredient["label"]) for url in edited_urls)
    models = _models(manifest)
    assert any(t.startswith(NETWORKS["mediapipe.face_detection_full_range"].name) for t in models)
    assert not any(t.startswith("dlib") for t in models)  # no performer named: no identity network


def test_a_plate_another_tool_declared_ai_made_stays_ai_after_a_classical_cleanup(production):
    """Red team (issue 13 item 5): a still from another tool's generator, its credentials saying
    trainedAlgorithmicMedia, was ingested with no record of that; a cleanup of it was then signed
    algorithmicallyEnhanced, so the active manifest - the one viewers read - no longer said AI. The
    ingest now keeps what the file declares, and the edit declares it on."""
    from soundstage.safeguards.keys import create_production_ca, load_signer
    from soundstage.safeguards.provenance import ManifestSpec, ModelInfo, Operation, SoftwareAgent, sign_file

    ws, _, _, tmp_path = production
    other = tmp_path / "other_tool_keys"
    create_production_ca(other, "Other GenAI Tool", None)
    raw = tmp_path / "raw.png"
    Image.fromarray(h.astronaut_frames(1, 512, 288, step=1)[0]).save(raw)
    sign_file(raw, tmp_path / "ai_plate.png", ManifestSpec(Operation.GENERATED, "ai_plate.png",
                                                          SoftwareAgent("OtherGen", "3"),
                                                          model=ModelInfo("OtherGen", "3", None, "proprietary")),
              load_signer(other, None))
    plate = ingest_media(ws, tmp_path / "ai_plate.png", kind="plate", actor="setup")
    assert plate["details"]["c2pa"]["digital_source_type"] == IPTC + "trainedAlgorithmicMedia"
    assert plate["details"]["c2pa"]["credentials_state"] == "Valid"    # another tool's signer: its word, kept
    camera = ingest_media(ws, raw, kind="plate", actor="setup")         # no credentials: nothing declared
    assert "c2pa" not in camera["details"]
    mask = np.zeros((288, 512, 3), np.uint8)
    mask[250:280, 440:500] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    mask_asset = ingest_media(ws, tmp_path / "mask.png", kind="plate", actor="setup")
    spec = vfx_service.build_vfx_job(ws, "cleanup", plate["id"], requested_by="Ken Ito",
                                     extra_inputs=[mask_asset["id"]])
    _, reading, _, _ = _credentials(ws, _run(ws, spec))
    assert reading.state is CredentialState.TRUSTED and set(reading.digital_source_types) <= AI
    assert reading.digital_source_types == (IPTC + "compositeWithTrainedAlgorithmicMedia",)


@pytest.mark.slow
def test_a_deage_is_disclosed_as_an_ai_alteration_with_its_networks_and_the_reference_by_hash(production):
    ws, maya, plate, tmp_path = production
    document = tmp_path / "signed_consent.pdf"
    document.write_bytes(b"%PDF-1.4 signed digital alteration consent, Maya Castell, scene 5")
    consent_service.grant_consent(ws, maya["id"], document=document, kind="digital_alteration",
                     operations=["likeness_deage", "likeness_cosmetic"], scenes=["5"], max_alteration=0.5,
                     description="De-ageing of Maya Castell in the 1994 flashback, scene 5 only, for the final cut",
                     signed_separately=True, representation="union", signer=signer_for(ws, "Lena Ortiz"))
    face = tmp_path / "maya_reference.png"
    import skimage.data

    Image.fromarray(skimage.data.astronaut()[20:300, 110:360]).save(face)
    talent_service.enroll_reference(ws, maya["id"], face, actor="Lena Ortiz")
    spec = vfx_service.build_vfx_job(ws, "deage", plate["id"], requested_by="Ken Ito", performers=[maya["id"]],
                                     amount=0.3, scene="5", shot="5A", deliverable="final", medium="final")
    asset = _run(ws, spec)
    path, reading, manifest, created = _credentials(ws, asset)

    assert reading.state is CredentialState.TRUSTED, reading.status_codes
    edited = _actions(manifest)[1]
    assert edited["action"] == "c2pa.edited"
    assert edited["digitalSourceType"] == IPTC + "compositeWithTrainedAlgorithmicMedia"  # viewers flag it
    assert "likeness altered with trained face networks" in edited["description"]
    models = _models(manifest)
    for key in ("mediapipe.face_detection_full_range", "mediapipe.face_landmark_with_attention",
                "dlib.face_recognition_resnet_v1", "dlib.shape_predictor_5_face_landmarks"):
        network = next(v for t, v in models.items() if t.startswith(NETWORKS[key].name))
        assert network["instance_id"] == "sha256:" + network_sha256(key)
    identity = next(v for t, v in models.items() if t.startswith(NETWORKS["dlib.face_recognition_resnet_v1"].name))
    assert {"type": "c2pa.types.classifier"} in identity["data_types"] and "FaceScrub" in identity["description"]
    hog = next(v for t, v in models.items() if t.startswith(NETWORKS["dlib.frontal_face_detector"].name))
    assert "instance_id" not in hog  # compiled into dlib: nothing separate to name by hash

    reference = next(i for i in manifest["ingredients"] if i["title"] == "enrolled reference face 1")
    face_sha = hashlib.sha256(face.read_bytes()).hexdigest()
    assert reference["instance_id"] == "sha256:" + face_sha and reference["relationship"] == "inputTo"
    assert "thumbnail" not in reference and "Maya" not in json.dumps(manifest)
    signed = path.read_bytes()
    assert face.read_bytes()[100:164] not in signed
    # every embedded thumbnail is the output's or the plate's: none is of the reference face
    import c2pa

    with c2pa.Reader(str(path)) as reader:
        for ingredient in manifest["ingredients"]:
            if "thumbnail" in ingredient:
                assert ingredient["relationship"] == "parentOf", ingredient["title"]
                out = io.BytesIO()
                reader.resource_to_stream(ingredient["thumbnail"]["identifier"], out)
                assert Image.open(io.BytesIO(out.getvalue())).size != Image.open(face).size
    assert "c2pa.actions.v2" in created
