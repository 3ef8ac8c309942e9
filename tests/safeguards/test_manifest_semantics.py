"""What a manifest says, rule by rule (issue 13 items 4-6): composites, masks and references, AI origin,
likeness disclosure, model ingredients per spec, the watermark assertion, created assertions, thumbnails.

Pure rules first (build_manifest), then the same rules read back by c2pa from real signed files, and
the adversary: an edited disclosure, a reference face that must never be embedded."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from soundstage.errors import SpecError
from soundstage.safeguards.keys import create_production_ca, load_signer
from soundstage.safeguards.provenance import (
    IPTC,
    MODELS_ASSERTION,
    WATERMARK_ASSERTION,
    CredentialState,
    HashedReference,
    IngredientSource,
    ManifestSpec,
    ModelInfo,
    Operation,
    SoftwareAgent,
    WatermarkInfo,
    build_manifest,
    read_credentials,
    sign_file,
)
from soundstage.safeguards.provenance.manifest import CREATED_ASSERTION_LABELS, spec_source_type

AGENT = SoftwareAgent("soundstage.vfx-classical", "0.1.0")
GENERATOR = ModelInfo("tiny-sd", "1.0", "ab" * 32, "Apache-2.0", "licensed stock only", training_data="licensed",
                      framework="pytorch", informational_uri="https://example.org/tiny-sd")
LANDMARKS = ModelInfo("MediaPipe Face Mesh with attention", "mediapipe 0.10.21", "cd" * 32, "Apache-2.0",
                      "trained by Google; see the model card", generative=False, task="regressor",
                      framework="tensorflow", informational_uri="https://google.github.io/mediapipe/solutions/face_mesh",
                      training_data="licensed")
IDENTITY = ModelInfo("dlib ResNet face descriptor v1", "face_recognition_models 0.3.0", "ef" * 32,
                     "public domain dedication", "FaceScrub, VGG Face and scraped images", generative=False,
                     task="classifier", training_data="licensed")
PIPELINE = ModelInfo("soundstage VFX", "0.1.0", "12" * 32, "Apache-2.0", "see the networks", generative=False)
WATERMARK = WatermarkInfo("io.soundstage.spread.1", 0x1234ABCD, 64)
MADE_WITH_AI = {IPTC + "trainedAlgorithmicMedia", IPTC + "compositeWithTrainedAlgorithmicMedia"}


def made_with_ai(actions: list[dict]) -> bool:
    """The Content Credentials viewers' rule (c2pa-js): an AI digitalSourceType among the active
    manifest's actions."""
    return any(a.get("digitalSourceType") in MADE_WITH_AI for a in actions)


def _plate(tmp_path: Path, name: str = "plate.png", seed: int = 1, size: tuple[int, int] = (64, 48)) -> Path:
    path = tmp_path / name
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def _actions(manifest: dict) -> list[dict]:
    return next(a["data"]["actions"] for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))


def _spec(tmp_path: Path, operation: Operation, **over) -> ManifestSpec:
    fields = dict(operation=operation, title="shot_010", generator=AGENT,
                  parent=None if operation in (Operation.GENERATED, Operation.PROCEDURAL)
                  else IngredientSource("plate.png", path=_plate(tmp_path)),
                  watermark=WATERMARK)
    fields.update(over)
    return ManifestSpec(**fields)


# --------------------------------------------------------------------------- pure rules

def test_a_composite_opens_the_plate_and_places_its_components(tmp_path):
    background = IngredientSource("mood_board.png", path=_plate(tmp_path, "bg.png", 2))
    spec = _spec(tmp_path, Operation.COMPOSITE, components=(background,), networks=(LANDMARKS,))
    actions = _actions(build_manifest(spec))
    assert [a["action"] for a in actions] == ["c2pa.opened", "c2pa.placed", "c2pa.watermarked.unbound"]
    assert actions[0]["parameters"]["ingredientIds"] == ["soundstage.parent"]
    placed = actions[1]["parameters"]["ingredientIds"]
    assert placed[0] == "soundstage.component.0" and "soundstage.network.0" in placed
    # nothing in it was generated: IPTC "composite", and no "made with AI" flag
    assert actions[1]["digitalSourceType"] == IPTC + "composite" and not made_with_ai(actions)


@pytest.mark.parametrize("origin", ["component_ai_origin", "parent_ai_origin", "generative_model"])
def test_a_composite_with_an_ai_made_part_says_so(tmp_path, origin):
    background = IngredientSource("mood_board.png", path=_plate(tmp_path, "bg.png", 2))
    over = {"model": GENERATOR} if origin == "generative_model" else {origin: True}
    actions = _actions(build_manifest(_spec(tmp_path, Operation.COMPOSITE, components=(background,), **over)))
    assert actions[1]["digitalSourceType"] == IPTC + "compositeWithTrainedAlgorithmicMedia"
    assert made_with_ai(actions)


def test_an_edit_keeps_ai_origin_and_a_likeness_alteration_is_flagged(tmp_path):
    plain = _spec(tmp_path, Operation.EDIT, networks=(LANDMARKS,))
    assert spec_source_type(plain) == IPTC + "algorithmicallyEnhanced"
    assert not made_with_ai(_actions(build_manifest(plain)))
    for over in ({"parent_ai_origin": True}, {"likeness": True}):
        spec = _spec(tmp_path, Operation.EDIT, networks=(LANDMARKS, IDENTITY), **over)
        actions = _actions(build_manifest(spec))
        assert actions[1]["action"] == "c2pa.edited"
        assert actions[1]["digitalSourceType"] == IPTC + "compositeWithTrainedAlgorithmicMedia"
        assert made_with_ai(actions), over


@pytest.mark.parametrize(("over", "field"), [
    ({"operation": Operation.EDIT, "likeness": True}, "likeness"),  # flagged as AI but names no network
    ({"operation": Operation.COMPOSITE, "likeness": True, "networks": (LANDMARKS,),
      "components": (IngredientSource("e.png", data=b"x"),)}, "likeness"),
    ({"operation": Operation.EDIT, "model": GENERATOR}, "model"),  # a generative model is never an "edit"
    ({"operation": Operation.GENERATED, "parent": None, "model": PIPELINE}, "model"),  # nor is a detector a generator
    ({"operation": Operation.EDIT, "networks": (ModelInfo("n", "1", "zz", "MIT", generative=False, task="regressor"),)},
     "networks[0].weights_sha256"),
    ({"operation": Operation.EDIT, "networks": (ModelInfo("n", "1", None, "MIT", generative=False, task="painter"),)},
     "networks[0].task"),
    ({"operation": Operation.EDIT, "networks": (ModelInfo("n", "1", None, "MIT", generative=False, task="regressor",
                                                          framework="caffe9"),)}, "networks[0].framework"),
    ({"operation": Operation.EDIT, "networks": (ModelInfo("n", "1", None, "MIT", generative=False, task="regressor",
                                                          informational_uri="javascript:alert(1)"),)},
     "networks[0].informational_uri"),
    ({"operation": Operation.EDIT, "references": (IngredientSource("face.png", data=b"face"),)}, "references[0]"),
    ({"operation": Operation.EDIT, "references": (HashedReference("face", "12" * 31),)}, "references[0].sha256"),
    ({"operation": Operation.EDIT, "watermark": WatermarkInfo("io.soundstage.spread.1", 1 << 64, 64)},
     "watermark.payload"),
    ({"operation": Operation.INGEST, "watermark": None, "references": (HashedReference("f", "ab" * 32),)},
     "operation"),
])
def test_contradictory_specs_are_refused_naming_the_field(tmp_path, over, field):
    with pytest.raises(SpecError) as refused:
        build_manifest(_spec(tmp_path, over.pop("operation"), **over))
    assert refused.value.field == field


def test_masks_and_references_are_input_to_and_references_carry_only_a_hash(tmp_path):
    mask = IngredientSource("boom_mask.png", path=_plate(tmp_path, "mask.png", 3))
    face = HashedReference("enrolled reference face 1", "AB" * 32, "image/png")
    spec = _spec(tmp_path, Operation.EDIT, inputs=(mask,), references=(face,), networks=(IDENTITY,))
    manifest = build_manifest(spec)
    edited = _actions(manifest)[1]["parameters"]["ingredientIds"]
    assert edited == ["soundstage.network.0", "soundstage.input.0", "soundstage.reference.0"]
    reference = next(i for i in manifest["ingredients"] if i["label"] == "soundstage.reference.0")
    assert reference["relationship"] == "inputTo" and reference["instance_id"] == "sha256:" + "ab" * 32
    assert not {"thumbnail", "data", "manifest_data"} & set(reference)


def test_model_ingredients_use_the_spec_fields_and_our_assertion_holds_licence_and_training_data(tmp_path):
    spec = _spec(tmp_path, Operation.GENAI_EDIT, model=GENERATOR, networks=(LANDMARKS, IDENTITY))
    manifest = build_manifest(spec)
    by_label = {i["label"]: i for i in manifest["ingredients"]}
    model, landmarks, identity = (by_label[k] for k in ("soundstage.model", "soundstage.network.0",
                                                         "soundstage.network.1"))
    assert model["data_types"] == [{"type": "c2pa.types.model"}, {"type": "c2pa.types.model.pytorch"},
                                   {"type": "c2pa.types.generator"}]
    assert landmarks["data_types"] == [{"type": "c2pa.types.model"}, {"type": "c2pa.types.model.tensorflow"},
                                       {"type": "c2pa.types.regressor"}]
    assert identity["data_types"] == [{"type": "c2pa.types.model"}, {"type": "c2pa.types.classifier"}]
    assert landmarks["informational_URI"].startswith("https://google.github.io/")
    assert all(i["instance_id"].startswith("sha256:") and i["description"] for i in (model, landmarks, identity))
    assert not any("metadata" in i for i in manifest["ingredients"])  # no custom metadata key any more
    records = next(a["data"] for a in manifest["assertions"] if a["label"] == MODELS_ASSERTION)["models"]
    assert [r["ingredient"] for r in records] == ["soundstage.model", "soundstage.network.0", "soundstage.network.1"]
    assert records[2]["licence"] == "public domain dedication" and records[2]["training_data"] == "licensed"
    assert "FaceScrub" in records[2]["training_data_attestation"] and records[0]["generative"] is True
    unhashed = build_manifest(_spec(tmp_path, Operation.EDIT, networks=(
        ModelInfo("dlib HOG", "20.0", None, "BSL-1.0", generative=False, task="classifier"),)))
    hog = next(i for i in unhashed["ingredients"] if i["label"] == "soundstage.network.0")
    assert "instance_id" not in hog and "no weights hash" in hog["description"]


def test_the_watermark_is_our_assertion_not_a_soft_binding(tmp_path):
    manifest = build_manifest(_spec(tmp_path, Operation.EDIT))
    labels = [a["label"] for a in manifest["assertions"]]
    assert "c2pa.soft-binding" not in labels and WATERMARK_ASSERTION in labels
    body = next(a["data"] for a in manifest["assertions"] if a["label"] == WATERMARK_ASSERTION)
    assert body["engine"] == "io.soundstage.spread.1" and body["payload_hex"] == "000000001234abcd"
    assert body["c2pa_soft_binding"] is False and body["keyed"] is True
    assert [a["action"] for a in _actions(manifest)][-1] == "c2pa.watermarked.unbound"
    assert not any(a["action"] == "c2pa.watermarked.bound" for a in _actions(manifest))


def test_every_assertion_we_write_is_a_created_one(tmp_path):
    specs = [_spec(tmp_path, op, **extra) for op, extra in [
        (Operation.GENERATED, {"model": GENERATOR}), (Operation.PROCEDURAL, {}),
        (Operation.EDIT, {"networks": (LANDMARKS,), "likeness": True,
                          "references": (HashedReference("f", "ab" * 32),)}),
        (Operation.COMPOSITE, {"components": (IngredientSource("bg", data=b"x"),), "model": PIPELINE})]]
    for spec in specs:
        for assertion in build_manifest(spec)["assertions"]:
            assert assertion["label"] in CREATED_ASSERTION_LABELS, assertion["label"]


# --------------------------------------------------------------------------- read back from signed files

@pytest.fixture(scope="module")
def credentials(tmp_path_factory):
    keys = create_production_ca(tmp_path_factory.mktemp("keys") / "prod", "Night Shoot", "pw")
    return load_signer(keys.directory, "pw"), keys.ca_cert.read_bytes()


def _read(path: Path, ca: bytes):
    import c2pa

    reading = read_credentials(path, trust_anchors=[ca])
    with c2pa.Reader(str(path)) as reader:
        detailed = json.loads(reader.detailed_json())
        manifest = reading.store["manifests"][reading.active_manifest]
        thumbnails = {}
        for ingredient in [manifest] + manifest.get("ingredients", []):
            ref = (ingredient.get("thumbnail") or {}).get("identifier")
            if ref:
                out = io.BytesIO()
                reader.resource_to_stream(ref, out)
                thumbnails[ingredient.get("label", "claim") if ingredient is not manifest else "claim"] = out.getvalue()
    claim = detailed["manifests"][detailed["active_manifest"]]["claim"]
    created = {a["url"].rsplit("/", 1)[-1].split("__")[0] for a in claim.get("created_assertions", [])}
    gathered = {a["url"].rsplit("/", 1)[-1].split("__")[0] for a in claim.get("gathered_assertions", [])}
    return reading, manifest, created, gathered, thumbnails


def test_signed_composite_keeps_the_placed_signed_background_and_its_manifest(tmp_path, credentials):
    signer, ca = credentials
    background = tmp_path / "mood_board_signed.png"
    sign_file(_plate(tmp_path, "bg.png", 2), background, _spec(tmp_path, Operation.GENERATED, model=GENERATOR),
              signer)
    spec = _spec(tmp_path, Operation.COMPOSITE, components=(IngredientSource("mood_board.png", path=background),),
                 model=PIPELINE, networks=(LANDMARKS,), component_ai_origin=True,
                 inputs=(IngredientSource("matte_hint.png", path=_plate(tmp_path, "m.png", 4)),))
    out = tmp_path / "comp.png"
    sign_file(_plate(tmp_path, "src.png", 5), out, spec, signer)
    reading, manifest, created, gathered, thumbnails = _read(out, ca)

    assert reading.state is CredentialState.TRUSTED, reading.status_codes
    assert reading.actions == ("c2pa.opened", "c2pa.placed", "c2pa.watermarked.unbound")
    assert made_with_ai(_actions(manifest))
    component = next(i for i in manifest["ingredients"] if i["relationship"] == "componentOf")
    assert component["title"] == "mood_board.png" and component.get("active_manifest")
    own = reading.store["manifests"][component["active_manifest"]]  # the background's own manifest, kept
    assert any(a.get("digitalSourceType") == IPTC + "trainedAlgorithmicMedia" for a in _actions(own))
    placed_urls = [i["url"] for i in _actions(manifest)[1]["parameters"]["ingredients"]]
    assert len(placed_urls) == 4  # the component, the pipeline, the network, the input
    assert {i["relationship"] for i in manifest["ingredients"]} == {"parentOf", "componentOf", "inputTo"}
    assert {"c2pa.actions.v2", "c2pa.ingredient.v3", "io.soundstage.watermark", "io.soundstage.models",
            "c2pa.thumbnail.claim"} <= created, created
    assert not gathered, gathered
    # thumbnails: the output's and one per ingredient with bytes; JPEGs of at most 1024 px
    assert "claim" in thumbnails and len(thumbnails) == 4
    for jpeg in thumbnails.values():
        with Image.open(io.BytesIO(jpeg)) as image:
            assert image.format == "JPEG" and max(image.size) <= 1024


def test_a_reference_face_is_never_embedded_nor_thumbnailed(tmp_path, credentials):
    signer, ca = credentials
    face_path = _plate(tmp_path, "face.png", 9, size=(120, 160))
    face = face_path.read_bytes()
    reference = HashedReference("enrolled reference face 1", hashlib.sha256(face).hexdigest(), "image/png")
    spec = _spec(tmp_path, Operation.EDIT, model=PIPELINE, networks=(LANDMARKS, IDENTITY), likeness=True,
                 references=(reference,))
    out = tmp_path / "deaged.png"
    sign_file(_plate(tmp_path, "src.png", 5, size=(320, 240)), out, spec, signer)
    reading, manifest, created, gathered, thumbnails = _read(out, ca)
    assert reading.state is CredentialState.TRUSTED
    assert made_with_ai(_actions(manifest))
    ref = next(i for i in manifest["ingredients"] if i["title"] == "enrolled reference face 1")
    assert ref["instance_id"] == "sha256:" + hashlib.sha256(face).hexdigest()
    assert "thumbnail" not in ref and "active_manifest" not in ref
    assert set(thumbnails) == {"claim", next(i["label"] for i in manifest["ingredients"]
                                             if i["relationship"] == "parentOf")}
    signed = out.read_bytes()
    face_pixels = np.asarray(Image.open(face_path)).tobytes()
    assert face not in signed and face_pixels[:64] not in signed
    # every embedded thumbnail is of the output or the plate, none of the face
    for jpeg in thumbnails.values():
        with Image.open(io.BytesIO(jpeg)) as image:
            assert image.size != (120, 160)


def test_a_laundered_disclosure_is_caught(tmp_path, credentials):
    """The adversary edits the signed manifest to drop the AI flag (same length, so the file still
    parses): the actions assertion no longer matches its hash and the reading is Invalid."""
    signer, ca = credentials
    spec = _spec(tmp_path, Operation.EDIT, model=PIPELINE, networks=(LANDMARKS,), likeness=True)
    out = tmp_path / "deaged.png"
    sign_file(_plate(tmp_path, "src.png", 5), out, spec, signer)
    data = out.read_bytes()
    original = b"compositeWithTrainedAlgorithmicMedia"
    forged = b"compositeWithTrainedAlgorithmicMedib"  # one byte: a viewer would no longer flag it
    assert data.count(original) == 1
    out.write_bytes(data.replace(original, forged))
    reading = read_credentials(out, trust_anchors=[ca])
    assert reading.state is CredentialState.INVALID
    assert reading.has_code("assertion.hashedURI.mismatch") or reading.has_code("assertion.dataHash.mismatch")


def test_video_gets_a_claim_thumbnail_that_c2pa_rs_would_not_make(tmp_path, credentials):
    signer, ca = credentials
    clip = tmp_path / "clip.mp4"
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for index in range(6):
            pixels = np.full((180, 320, 3), 40 * index, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    out = tmp_path / "signed.mp4"
    sign_file(clip, out, _spec(tmp_path, Operation.EDIT, networks=(LANDMARKS,)), signer)
    reading, manifest, created, gathered, thumbnails = _read(out, ca)
    assert reading.state is CredentialState.TRUSTED
    with Image.open(io.BytesIO(thumbnails["claim"])) as image:
        assert image.size == (320, 180) and max(np.asarray(image).ravel()) < 20  # the first (dark) frame
    plain = tmp_path / "plain.mp4"
    sign_file(clip, plain, _spec(tmp_path, Operation.EDIT), signer, thumbnail=False)
    assert "thumbnail" not in _read(plain, ca)[1]
