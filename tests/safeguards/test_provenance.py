"""Content Credentials round trips on real JPEG, PNG and MP4 files, signed with a real production CA."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from soundstage.errors import InputError, NotFoundError, ParseError, SpecError, UnsafeInputError
from soundstage.safeguards.keys import callback_signer, create_production_ca
from soundstage.safeguards.provenance import (
    FRAME_INDEX_ASSERTION,
    IPTC,
    SOUNDSTAGE_ASSERTION,
    TRAINING_MINING_KEYS,
    CredentialState,
    IngredientSource,
    ManifestSpec,
    ModelInfo,
    Operation,
    SizeLimits,
    SoftwareAgent,
    SoundstageRecord,
    WatermarkInfo,
    build_manifest,
    consent_reference,
    read_credentials,
    sign_file,
    sign_sequence,
    verify_sequence,
)

MODEL = ModelInfo("tiny-sd", "1.0", "ab" * 32, "Apache-2.0", "licensed stock and production-owned plates only")
GENERATOR = SoftwareAgent("diffusers_local", "0.42.1")
WATERMARK = WatermarkInfo("io.soundstage.spread.1", 0x5EED, 64)
CONSENT_IDS = ("consent-ada-lovelace-2026", "consent-bob-2026")
RECORD = SoundstageRecord("prod-night-shoot", "job-42", "asset-7", CONSENT_IDS)


# --------------------------------------------------------------------------- fixtures
# keys, credentials and ca_pem: the module's production CA (tests/safeguards/conftest.py)


def _pixels(width: int, height: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)


def make_jpeg(path: Path, seed: int = 1) -> Path:
    Image.fromarray(_pixels(96, 64, seed)).save(path, quality=90)
    return path


def make_png(path: Path, seed: int = 2) -> Path:
    Image.fromarray(_pixels(64, 48, seed)).save(path)
    return path


def make_mp4(path: Path, seed: int = 3) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for index in range(6):
            frame = av.VideoFrame.from_ndarray(_pixels(64, 64, seed + index), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


MAKERS = {"jpeg": (make_jpeg, ".jpg", "image/jpeg"), "png": (make_png, ".png", "image/png"),
          "mp4": (make_mp4, ".mp4", "video/mp4")}


def spec_for(operation: Operation, tmp_path: Path, *, watermark=WATERMARK) -> ManifestSpec:
    parent = component = None
    if operation in (Operation.GENAI_EDIT, Operation.EDIT, Operation.COMPOSITE, Operation.INGEST):
        parent = IngredientSource("plate_A001.jpg", path=make_jpeg(tmp_path / "plate.jpg", seed=11))
    if operation is Operation.COMPOSITE:
        component = IngredientSource("collapse_element.png", path=make_png(tmp_path / "element.png", seed=12))
    return ManifestSpec(
        operation=operation,
        title=f"shot_010_{operation.value}",
        generator=SoftwareAgent("blender", "5.0.1") if operation is Operation.PROCEDURAL
        else SoftwareAgent("opencv", "4.11") if operation is Operation.EDIT else GENERATOR,
        model=MODEL if operation in (Operation.GENERATED, Operation.GENAI_EDIT, Operation.COMPOSITE) else None,
        parent=parent,
        components=(component,) if component else (),
        record=RECORD,
        watermark=watermark if operation is not Operation.INGEST else None,
    )


EXPECTED = {
    Operation.GENERATED: (["c2pa.created"], IPTC + "trainedAlgorithmicMedia", {"inputTo"}),
    Operation.PROCEDURAL: (["c2pa.created"], IPTC + "algorithmicMedia", set()),
    Operation.GENAI_EDIT: (["c2pa.opened", "c2pa.edited"], IPTC + "compositeWithTrainedAlgorithmicMedia",
                           {"inputTo", "parentOf"}),
    Operation.COMPOSITE: (["c2pa.opened", "c2pa.placed"], IPTC + "compositeWithTrainedAlgorithmicMedia",
                          {"inputTo", "parentOf", "componentOf"}),
    Operation.EDIT: (["c2pa.opened", "c2pa.edited"], IPTC + "algorithmicallyEnhanced", {"parentOf"}),
    Operation.INGEST: (["c2pa.opened"], None, {"parentOf"}),
}


# --------------------------------------------------------------------------- round trips

@pytest.mark.parametrize("kind", sorted(MAKERS))
@pytest.mark.parametrize("operation", list(Operation))
def test_round_trip_every_format_and_operation(tmp_path, credentials, ca_pem, kind, operation):
    maker, suffix, mime = MAKERS[kind]
    src = maker(tmp_path / f"src{suffix}")
    dst = tmp_path / f"signed{suffix}"
    spec = spec_for(operation, tmp_path)

    result = sign_file(src, dst, spec, credentials)
    assert result.mime == mime and result.manifest_label.startswith("urn:c2pa:")

    reading = read_credentials(dst, trust_anchors=[ca_pem])
    assert reading.state is CredentialState.TRUSTED, reading.status_codes
    assert reading.active_manifest == result.manifest_label
    actions, source_type, relationships = EXPECTED[operation]
    watermarked = ["c2pa.watermarked.unbound"] if spec.watermark else []  # no c2pa.soft-binding (DR009)
    assert list(reading.actions) == actions + watermarked
    assert reading.digital_source_types == ((source_type,) if source_type else ())
    assert {i.relationship for i in reading.ingredients} == relationships
    assert reading.generator == "soundstage 0.1.0"
    assert reading.signer_common_name == "Night Shoot claim signer" and reading.signer_issuer == "Night Shoot"

    # Our assertion survives, with consents hashed and salted with the production id.
    assert reading.soundstage is not None
    assert reading.soundstage["asset_id"] == "asset-7" and reading.soundstage["operation"] == operation.value
    assert reading.soundstage["consent_refs"] == sorted(consent_reference("prod-night-shoot", c) for c in CONSENT_IDS)
    assert SOUNDSTAGE_ASSERTION in reading.assertion_labels
    signed_bytes = dst.read_bytes()
    assert all(c.encode() not in signed_bytes for c in CONSENT_IDS)

    if operation is Operation.INGEST:
        assert reading.training_mining is None and reading.watermark is None
    else:
        assert reading.training_mining == {key: "notAllowed" for key in TRAINING_MINING_KEYS}
        assert reading.watermark["engine"] == "io.soundstage.spread.1"
        assert reading.watermark["payload_hex"] == "0000000000005eed"
    assert not reading.soft_bindings

    manifest = reading.store["manifests"][reading.active_manifest]
    action_list = next(a["data"]["actions"] for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))
    if operation in (Operation.GENAI_EDIT, Operation.EDIT, Operation.COMPOSITE, Operation.INGEST):
        assert len(action_list[0]["parameters"]["ingredients"]) == 1  # opened -> exactly one parentOf
    if operation is Operation.COMPOSITE:
        placed = action_list[1]["parameters"]["ingredients"]
        assert len(placed) == 2  # the component and the model
    if spec.model:
        model = next(i for i in manifest["ingredients"] if i["relationship"] == "inputTo")
        assert model["instance_id"] == "sha256:" + "ab" * 32
        assert {"type": "c2pa.types.generator"} in model["data_types"]


def test_signing_in_place_is_atomic_and_keeps_the_decodable_video(tmp_path, credentials):
    video = make_mp4(tmp_path / "clip.mp4")
    result = sign_file(video, video, spec_for(Operation.GENERATED, tmp_path), credentials)
    assert result.path == video
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
    with av.open(str(video)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 6
    assert read_credentials(video).state is CredentialState.VALID


def test_ingest_never_rewrites_the_original(tmp_path, credentials):
    spec = spec_for(Operation.INGEST, tmp_path)
    original = spec.parent.path
    before = original.read_bytes()
    with pytest.raises(SpecError, match="never rewritten"):
        sign_file(original, original, spec, credentials)
    assert original.read_bytes() == before


def test_parent_with_its_own_manifest_becomes_a_manifest_ingredient(tmp_path, credentials):
    plate = make_jpeg(tmp_path / "plate.jpg", seed=21)
    signed_plate = tmp_path / "plate_signed.jpg"
    sign_file(plate, signed_plate, spec_for(Operation.GENERATED, tmp_path), credentials)
    spec = ManifestSpec(Operation.GENAI_EDIT, "deaged", GENERATOR, model=MODEL,
                        parent=IngredientSource("plate_signed.jpg", path=signed_plate))
    out = tmp_path / "deaged.jpg"
    sign_file(signed_plate, out, spec, credentials)
    reading = read_credentials(out)
    assert reading.manifest_count == 2
    parent = next(i for i in reading.ingredients if i.relationship == "parentOf")
    assert parent.has_manifest and parent.title == "plate_signed.jpg"


def test_exr_like_ingredient_is_described_by_hash(tmp_path, credentials):
    spec = ManifestSpec(Operation.COMPOSITE, "comp", GENERATOR, model=MODEL,
                        parent=IngredientSource("plate.jpg", path=make_jpeg(tmp_path / "plate.jpg")),
                        components=(IngredientSource("fx.0001.exr", data=b"v/1\x01 not a real exr"),))
    out = tmp_path / "comp.jpg"
    sign_file(make_jpeg(tmp_path / "src.jpg"), out, spec, credentials)
    manifest = read_credentials(out).store
    manifest = manifest["manifests"][manifest["active_manifest"]]
    exr = next(i for i in manifest["ingredients"] if i["title"] == "fx.0001.exr")
    assert exr["relationship"] == "componentOf" and exr["instance_id"].startswith("sha256:")


def test_thumbnail_option_embeds_a_thumbnail(tmp_path, credentials):
    src = make_jpeg(tmp_path / "src.jpg")
    sign_file(src, tmp_path / "thumb.jpg", spec_for(Operation.GENERATED, tmp_path), credentials)  # on by default
    sign_file(src, tmp_path / "plain.jpg", spec_for(Operation.GENERATED, tmp_path), credentials, thumbnail=False)
    with_thumb = read_credentials(tmp_path / "thumb.jpg").store
    without = read_credentials(tmp_path / "plain.jpg").store
    assert "thumbnail" in with_thumb["manifests"][with_thumb["active_manifest"]]
    assert "thumbnail" not in without["manifests"][without["active_manifest"]]


# --------------------------------------------------------------------------- validation outcomes

def _flip_byte(path: Path, marker: bytes, offset: int) -> None:
    data = bytearray(path.read_bytes())
    where = data.rfind(marker) if marker else len(data)
    data[where + offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(("kind", "marker", "offset", "code"), [
    ("jpeg", b"", -40, "assertion.dataHash.mismatch"),
    ("png", b"IDAT", 30, "assertion.dataHash.mismatch"),
    ("mp4", b"mdat", 300, "assertion.bmffHash.mismatch"),
])
def test_changed_pixels_read_as_invalid(tmp_path, credentials, ca_pem, kind, marker, offset, code):
    maker, suffix, _ = MAKERS[kind]
    dst = tmp_path / f"signed{suffix}"
    sign_file(maker(tmp_path / f"src{suffix}"), dst, spec_for(Operation.GENERATED, tmp_path), credentials)
    assert read_credentials(dst, trust_anchors=[ca_pem]).state is CredentialState.TRUSTED
    _flip_byte(dst, marker, offset)
    reading = read_credentials(dst, trust_anchors=[ca_pem])
    assert reading.state is CredentialState.INVALID
    assert code in reading.failure_codes and reading.has_code(code)


def test_trust_depends_on_the_anchor(tmp_path, credentials, ca_pem):
    dst = tmp_path / "signed.jpg"
    sign_file(make_jpeg(tmp_path / "src.jpg"), dst, spec_for(Operation.GENERATED, tmp_path), credentials)
    untrusted = read_credentials(dst)
    assert untrusted.state is CredentialState.VALID
    assert untrusted.status_codes == ("signingCredential.untrusted",)
    trusted = read_credentials(dst.read_bytes(), trust_anchors=[ca_pem])
    assert trusted.state is CredentialState.TRUSTED and trusted.status_codes == ()
    other = create_production_ca(tmp_path / "other", "Other Show", None)
    stranger = read_credentials(dst, trust_anchors=[other.ca_cert.read_bytes()])
    assert stranger.state is CredentialState.VALID and stranger.has_code("signingCredential.untrusted")
    trust_file = tmp_path / "anchors.pem"
    trust_file.write_bytes(other.ca_cert.read_bytes() + ca_pem)
    assert read_credentials(dst, trust_list=trust_file).state is CredentialState.TRUSTED


def test_callback_signer_with_a_key_held_outside_the_workspace(tmp_path, ca_pem):
    """A KMS/HSM holds the key: only the chain is on disk, the callback signs and returns DER."""
    paths = create_production_ca(tmp_path / "hsm", "Night Shoot HSM", None)
    external_key = serialization.load_pem_private_key(paths.signer_key.read_bytes(), None)
    paths.signer_key.unlink()  # nothing in the workspace can sign any more
    calls: list[int] = []

    def kms_sign(data: bytes) -> bytes:
        calls.append(len(data))
        return external_key.sign(data, ec.ECDSA(hashes.SHA256()))

    signer = callback_signer(kms_sign, paths.chain.read_bytes())
    dst = tmp_path / "signed.png"
    sign_file(make_png(tmp_path / "src.png"), dst, spec_for(Operation.GENERATED, tmp_path), signer)
    signer.close()
    assert calls
    reading = read_credentials(dst, trust_anchors=[paths.ca_cert.read_bytes()])
    assert reading.state is CredentialState.TRUSTED
    assert reading.signer_common_name == "Night Shoot HSM claim signer"
    assert read_credentials(dst, trust_anchors=[ca_pem]).state is CredentialState.VALID


def test_plain_files_read_as_absent(tmp_path):
    assert read_credentials(make_jpeg(tmp_path / "a.jpg")).state is CredentialState.ABSENT
    assert read_credentials(make_png(tmp_path / "a.png").read_bytes()).state is CredentialState.ABSENT
    assert read_credentials(make_mp4(tmp_path / "a.mp4")).state is CredentialState.ABSENT


# --------------------------------------------------------------------------- frame sequences

def _frames(directory: Path, count: int) -> list[Path]:
    directory.mkdir()
    frames = []
    for index in range(count):
        frame = directory / f"shot010.{index + 1:04d}.exr"
        frame.write_bytes(b"\x76\x2f\x31\x01" + _pixels(16, 16, index).tobytes())
        frames.append(frame)
    return frames


def test_sequence_sidecar_finds_the_changed_frame(tmp_path, credentials, ca_pem):
    frames = _frames(tmp_path / "seq", 8)
    sidecar = tmp_path / "shot010.c2pa"
    spec = ManifestSpec(Operation.GENAI_EDIT, "shot010 deage", GENERATOR, model=MODEL, record=RECORD,
                        parent=IngredientSource("plate.mp4", path=make_mp4(tmp_path / "plate.mp4")),
                        watermark=WATERMARK)
    result = sign_sequence(frames, sidecar, spec, credentials)
    assert result.manifest_label.startswith("urn:c2pa:") and sidecar.stat().st_size == result.manifest_bytes

    clean = verify_sequence(frames, sidecar, trust_anchors=[ca_pem])
    assert clean.ok and clean.credentials.state is CredentialState.TRUSTED
    assert clean.credentials.actions[:2] == ("c2pa.opened", "c2pa.edited")
    assert FRAME_INDEX_ASSERTION in clean.credentials.assertion_labels

    frames[4].write_bytes(frames[4].read_bytes()[:-1] + b"\x00")
    changed = verify_sequence(frames, sidecar, trust_anchors=[ca_pem])
    assert not changed.ok and changed.index_authentic
    assert changed.changed == ("shot010.0005.exr",) and not changed.missing
    assert changed.credentials.state is CredentialState.INVALID
    assert "assertion.dataHash.mismatch" in changed.credentials.failure_codes

    extra = tmp_path / "seq" / "shot010.0009.exr"
    extra.write_bytes(b"new")
    reordered = verify_sequence(frames[:3] + [extra], sidecar)
    assert reordered.missing == tuple(f.name for f in frames[3:]) and reordered.unexpected == ("shot010.0009.exr",)


def test_sequence_sidecar_that_is_not_a_manifest_is_a_parse_error(tmp_path):
    frames = _frames(tmp_path / "seq", 2)
    bogus = tmp_path / "bogus.c2pa"
    bogus.write_bytes(b"\x00\x00\x00\x10jumbnot really")
    with pytest.raises(ParseError):
        verify_sequence(frames, bogus)


# --------------------------------------------------------------------------- hostile input

def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _bomb_png() -> bytes:
    header = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 2, 0, 0, 0)
    row = b"\x00" + b"\x00" * (60_000 * 3)
    compressor = zlib.compressobj(9)
    idat = compressor.compress(row * 4) + compressor.flush()
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


def test_decompression_bomb_png_is_not_decoded(tmp_path, credentials):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_bomb_png())
    assert read_credentials(bomb).state is CredentialState.ABSENT  # reading never decodes pixels
    with pytest.raises(UnsafeInputError):
        sign_file(bomb, tmp_path / "out.png", spec_for(Operation.GENERATED, tmp_path), credentials, thumbnail=True)


def test_malformed_jumbf_and_truncated_video_give_one_line_errors_or_readings(tmp_path, credentials):
    jpeg = make_jpeg(tmp_path / "a.jpg").read_bytes()
    segment = b"JP" + struct.pack(">HI", 1, 0xFFFFFFF0) + b"jumb" + b"\x00" * 40
    huge_box = jpeg[:2] + b"\xff\xeb" + struct.pack(">H", len(segment) + 2) + segment + jpeg[2:]
    reading = read_credentials(huge_box)
    assert reading.state in (CredentialState.ABSENT, CredentialState.INVALID)

    with pytest.raises(ParseError) as garbage:
        read_credentials(b"\xff\xd8\xff" + b"\x00" * 64)
    assert "\n" not in garbage.value.one_line()

    signed = tmp_path / "signed.mp4"
    sign_file(make_mp4(tmp_path / "v.mp4"), signed, spec_for(Operation.GENERATED, tmp_path), credentials)
    with pytest.raises(ParseError):
        read_credentials(signed.read_bytes()[:400])

    with pytest.raises(ParseError, match="not a JPEG"):
        read_credentials(b"GIF89a" + b"\x00" * 32)
    with pytest.raises(NotFoundError):
        read_credentials(tmp_path / "missing.jpg")


def test_size_limits_refuse_before_reading(tmp_path, credentials):
    src = make_jpeg(tmp_path / "a.jpg")
    tiny = SizeLimits(still_bytes=100)
    with pytest.raises(UnsafeInputError, match="limit"):
        read_credentials(src, limits=tiny)
    with pytest.raises(UnsafeInputError):
        sign_file(src, tmp_path / "b.jpg", spec_for(Operation.GENERATED, tmp_path), credentials, limits=tiny)
    assert not (tmp_path / "b.jpg").exists()


# --------------------------------------------------------------------------- the manifest builder

@pytest.mark.parametrize(("change", "field"), [
    ({"operation": Operation.GENAI_EDIT}, "parent"),
    ({"model": None}, "model"),
    ({"model": ModelInfo("m", "1", "not-a-hash", "MIT")}, "model.weights_sha256"),
    ({"operation": Operation.PROCEDURAL}, "model"),
    ({"watermark": WatermarkInfo("x", 1 << 64, 64)}, "watermark.payload"),
    ({"training_mining": {"cawg.ai_training": "maybe"}}, "training_mining.cawg.ai_training"),
    ({"title": "  "}, "title"),
])
def test_bad_specs_name_the_field(change, field):
    base = dict(operation=Operation.GENERATED, title="t", generator=GENERATOR, model=MODEL)
    with pytest.raises(SpecError) as refused:
        build_manifest(ManifestSpec(**{**base, **change}))
    assert refused.value.field == field


def test_training_mining_is_configurable_and_defaults_to_not_allowed():
    spec = ManifestSpec(Operation.GENERATED, "t", GENERATOR, model=MODEL,
                        training_mining={"cawg.ai_inference": "allowed"})
    entries = next(a for a in build_manifest(spec)["assertions"] if a["label"] == "cawg.training-mining")
    assert entries["data"]["entries"]["cawg.ai_inference"] == {"use": "allowed"}
    assert entries["data"]["entries"]["cawg.ai_training"] == {"use": "notAllowed"}


def test_consent_reference_is_salted_per_production():
    assert consent_reference("prod-a", "c1") != consent_reference("prod-b", "c1")
    assert len(consent_reference("prod-a", "c1")) == 64


def test_signer_must_be_a_signer(tmp_path):
    with pytest.raises(InputError):
        sign_file(make_jpeg(tmp_path / "a.jpg"), tmp_path / "b.jpg", spec_for(Operation.GENERATED, tmp_path), "key")


# --------------------------------------------------------------------------- third-party tools

@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed (apt libimage-exiftool-perl)")
def test_exiftool_sees_our_manifest_store_and_labels(tmp_path, credentials):
    dst = tmp_path / "signed.jpg"
    sign_file(make_jpeg(tmp_path / "src.jpg"), dst, spec_for(Operation.COMPOSITE, tmp_path), credentials)
    output = subprocess.run(["exiftool", "-j", "-G", "-a", "-JUMBF:all", str(dst)], check=True,
                            capture_output=True, text=True, timeout=30).stdout
    tags = json.loads(output)[0]
    assert tags["JUMBF:JUMDLabel"] == "c2pa"
    names = " ".join(tags)
    for label_tag in ("IoSoundstageProduction", "CawgTraining-mining", "IoSoundstageWatermark", "C2paActionsV2"):
        assert label_tag in names, label_tag
    assert tags["JUMBF:ActionsAction"] == ["c2pa.opened", "c2pa.placed", "c2pa.watermarked.unbound"]
    assert tags["JUMBF:Production_id"] == "prod-night-shoot"


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_our_assertions_are_created_ones_so_the_signer_vouches_for_the_ai_disclosure(tmp_path, credentials, kind):
    """C2PA 2.2 §10.2.2: the actions assertion belongs among the claim's created assertions; the
    watermark facts, training-mining statement and our record are ours too. Nothing we state is
    left as 'gathered'."""
    import c2pa

    maker, suffix, _ = MAKERS[kind]
    dst = tmp_path / f"signed{suffix}"
    sign_file(maker(tmp_path / f"src{suffix}"), dst, spec_for(Operation.GENERATED, tmp_path), credentials)
    with c2pa.Reader(str(dst)) as reader:
        detailed = json.loads(reader.detailed_json())
    claim = detailed["manifests"][detailed["active_manifest"]]["claim"]
    created = {a["url"].rsplit("/", 1)[-1].split(".v")[0] for a in claim.get("created_assertions", [])}
    gathered = {a["url"].rsplit("/", 1)[-1].split(".v")[0] for a in claim.get("gathered_assertions", [])}
    ours = {"c2pa.actions", "io.soundstage.watermark", "cawg.training-mining", "io.soundstage.production",
            "io.soundstage.models", "c2pa.ingredient", "c2pa.thumbnail.claim"}
    assert ours <= created, created
    assert not gathered & ours
