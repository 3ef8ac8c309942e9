"""`soundstage verify` against someone trying to borrow a production's name or hide a file from it:
a public-key mark naming a production's asset, credentials an outsider signed, a renamed file,
damaged credentials, a thumbnail, a sidecar that is not read. Each case is a file made the way an
adversary would make it, read by the real verify path (red-team findings, issue 13)."""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.safeguards import keys
from soundstage.safeguards.guard import parse_asset_id
from soundstage.safeguards.provenance import signing
from soundstage.safeguards.provenance.manifest import IPTC
from soundstage.safeguards.provenance import (
    ManifestSpec,
    Operation,
    SoftwareAgent,
    SoundstageRecord,
    sign_file,
)
from soundstage.safeguards.watermark import default_engine, samples
from soundstage.services import jobs_service as jobs
from soundstage.services.verify_service import failed, media_kind, verify_file


def _card(ws, prompt: str = "rainy street at dusk") -> dict:
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION,
                   requested_by="Priya Shah", model_id="soundstage.procedural-card", prompt=prompt)
    result = jobs.submit_job(ws, spec, actor="Priya Shah")
    assert result["status"] == "done", result
    return {"job": result["job"], **result["assets"][0]}


@pytest.fixture
def card(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    made = _card(ws)
    path = tmp_path / "card.png"
    shutil.copyfile(ws.store.path_for(made["sha256"]), path)
    return ws, made, path


def strip_manifest(path: Path, out: Path) -> Path:
    """The picture alone, re-encoded: what a re-post or a screenshot keeps (no C2PA chunk)."""
    Image.open(path).convert("RGB").save(out)
    return out


def _outsider_signer(tmp_path: Path):
    """Mallory's own CA and signer: a certificate chain the production has never seen."""
    folder = tmp_path / "mallory_keys"
    keys.create_production_ca(folder, "Mallory Pictures", None)
    return keys.load_signer(folder, None)


def test_a_public_key_mark_naming_a_production_keyed_asset_is_a_forgery(card, tmp_path):
    """Asset ids are in every manifest, and the public default key is public: anyone can mark any
    picture with any production's asset id. Before, verify answered "made by production ..., the
    watermark recovered asset ..." for such a picture."""
    ws, made, _ = card
    picture = samples.natural_frame(640, 360, variant=5)     # any picture: not the card
    forged = tmp_path / "forged.png"
    Image.fromarray(default_engine(None).embed(picture, parse_asset_id(made["id"]))).save(forged)
    result = verify_file(forged, ws)
    assert result["watermark"]["found"] and result["watermark"]["key"] == "public default"
    assert result["ledger"]["found"] and result["ledger"]["marked_with"] == "production"
    assert result["identity"]["forged"] is True and result["identity"]["attributed"] is False
    assert result["verdict"].startswith("FORGED WATERMARK")
    assert "by production" not in result["verdict"] and made["job"] not in result["verdict"]
    assert failed(result)


def test_a_stripped_file_marked_with_the_production_key_is_credited(card, tmp_path):
    ws, made, path = card
    stripped = strip_manifest(path, tmp_path / "stripped.png")
    result = verify_file(stripped, ws)
    assert result["c2pa"]["state"] == "Absent" and result["watermark"]["key"] == "production"
    assert result["identity"]["attributed"] is True and not result["identity"].get("forged")
    assert f"job {made['job']}" in result["verdict"] and "made with the production's secret key" in result["verdict"]
    assert not failed(result)


def test_an_outsiders_credentials_naming_a_production_asset_are_not_believed(card, tmp_path):
    """Valid (intact) but signed by a CA of Mallory's making: its record names the production's asset.
    Before, the ledger row was looked up by it and credited ("Camera original by production ...")."""
    ws, made, _ = card
    unrelated = tmp_path / "unrelated.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(unrelated)
    spec = ManifestSpec(Operation.PROCEDURAL, "claim.png", SoftwareAgent("camera", "1"),
                        record=SoundstageRecord(ws.production_id, made["job"], made["id"], ()))
    sign_file(unrelated, tmp_path / "claims_the_card.png", spec, _outsider_signer(tmp_path))
    result = verify_file(tmp_path / "claims_the_card.png", ws)
    assert result["c2pa"]["state"] == "Valid"
    assert result["ledger"] is None and result["identity"]["attributed"] is False
    assert result["identity"]["impersonates"]["asset"] == made["id"]
    assert result["verdict"].startswith("IMPERSONATION") and made["job"] not in result["verdict"]
    assert failed(result)


def test_an_outsiders_relabelling_of_a_production_asset_is_a_dispute(card, tmp_path, monkeypatch):
    """The card, stripped and re-signed by Mallory as a camera original (her manifest writer says
    digitalCapture): the mark (production key) names the card, whose own record says procedurally
    generated. Before, the untrusted signer's word was the verdict's ("Camera original by production
    ..."); now it is reported as a contradiction of the production's record."""
    ws, made, path = card
    stripped = strip_manifest(path, tmp_path / "stripped.png")
    written = signing.build_manifest

    def as_camera(spec):
        manifest = written(spec)
        for assertion in manifest["assertions"]:
            if assertion["label"] == "c2pa.actions":
                for action in assertion["data"]["actions"]:
                    if "digitalSourceType" in action:
                        action["digitalSourceType"] = IPTC + "digitalCapture"
        return manifest

    monkeypatch.setattr(signing, "build_manifest", as_camera)
    spec = ManifestSpec(Operation.PROCEDURAL, "camera.png", SoftwareAgent("camera", "1"),
                        record=SoundstageRecord(ws.production_id, made["job"], made["id"], ()))
    sign_file(stripped, tmp_path / "resigned.png", spec, _outsider_signer(tmp_path))
    result = verify_file(tmp_path / "resigned.png", ws)
    assert result["c2pa"]["state"] == "Valid" and result["identity"]["attributed"] is True
    assert result["c2pa"]["digital_source_types"] == [IPTC + "digitalCapture"]
    assert result["identity"]["disputed_kind"] == "camera original"
    assert result["verdict"].startswith("Procedurally generated") and "camera original" not in result["verdict"][:60]
    assert "the production's own record says otherwise" in result["verdict"] and failed(result)


def test_the_watermark_is_read_whatever_the_file_is_called(card, tmp_path):
    """The reader is chosen from the bytes: the card stripped and renamed .dat, or with no suffix, was
    "no soundstage watermark found" without being looked at."""
    ws, made, path = card
    stripped = strip_manifest(path, tmp_path / "stripped.png")
    for name in ("card.dat", "card", "card.mp4"):
        renamed = tmp_path / name
        shutil.copyfile(stripped, renamed)
        assert media_kind(renamed) == "image"
        result = verify_file(renamed, ws)
        assert result["watermark"]["found"] and result["watermark"]["payload"] == made["id"], name
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x00\x01not a picture" * 100)
    result = verify_file(junk, ws)
    assert media_kind(junk) is None and "could not be decoded to look for a watermark" in result["verdict"]
    assert "not an image, video or sound file" in result["watermark"]["error"] and failed(result)


def _png_with_chunk(png: bytes, kind: bytes, body: bytes) -> bytes:
    chunk = struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    end = 8 + 8 + struct.unpack(">I", png[8:12])[0] + 4      # after IHDR
    return png[:end] + chunk + png[end:]


def test_damaged_credentials_are_a_finding_not_bad_input(card, tmp_path):
    """A junk manifest chunk (or junk sidecar) stopped verify with exit 2 before it looked at the
    watermark: a file's credentials, however damaged, are evidence about the file."""
    ws, made, path = card
    stripped = strip_manifest(path, tmp_path / "stripped.png")
    junk = tmp_path / "junk_manifest.png"
    junk.write_bytes(_png_with_chunk(stripped.read_bytes(), b"caBX", b"garbage" * 20))
    result = verify_file(junk, ws)
    assert result["c2pa"]["state"] == "Invalid" and result["c2pa"]["failure_codes"] == ["general.error"]
    assert "cannot be read" in result["verdict"] and result["watermark"]["payload"] == made["id"]
    assert result["identity"]["attributed"] and failed(result)

    beside = tmp_path / "beside"
    beside.mkdir()
    shutil.copyfile(stripped, beside / "card.png")
    (beside / "card.png.c2pa").write_bytes(np.random.default_rng(1).bytes(500))
    result = verify_file(beside / "card.png", ws)
    assert result["c2pa"]["state"] == "Invalid" and result["sidecar"].endswith("card.png.c2pa")
    assert result["watermark"]["payload"] == made["id"] and failed(result)


def test_a_sidecar_beside_a_file_with_embedded_credentials_is_named_as_not_read(card, tmp_path):
    ws, _, path = card
    other = _card(ws, "sunny beach at noon")
    (path.parent / "card.png.c2pa").write_bytes(ws.store.path_for(other["sha256"]).read_bytes()[:64])
    result = verify_file(path, ws)
    assert result["c2pa"]["state"] == "Trusted" and result["sidecar_not_read"].endswith("card.png.c2pa")
    assert "card.png.c2pa) was not read" in result["verdict"]


def test_a_thumbnail_is_too_small_to_look_at_not_a_failure(tmp_path):
    tiny = tmp_path / "icon.png"
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(tiny)
    result = verify_file(tiny)
    assert result["watermark"]["looked"] is False and "too small to carry a watermark" in result["verdict"]
    assert not failed(result)


def test_a_swapped_production_ca_is_not_trusted_by_verify(card, tmp_path):
    """An insider who replaces keys/ca.pem with a CA of their own would make files signed under it read
    Trusted: verify trusts ca.pem only as the audit log records it."""
    from soundstage.errors import IntegrityError

    ws, _, path = card
    mallory = tmp_path / "mallory_ca"
    keys.create_production_ca(mallory, "Mallory Pictures", None)
    shutil.copyfile(mallory / "ca.pem", ws.settings.keys_dir / "ca.pem")
    with pytest.raises(IntegrityError, match="nothing can be verified against it"):
        verify_file(path, ws)


@pytest.mark.parametrize(("head", "kind"), [(b"\x76\x2f\x31\x01", "unmarked"), (b"SDPX", "unmarked"),
                                          (b"XPDS", "unmarked"), (b"BLENDER-v300", "unmarked"), (b"glTF", "unmarked"),
                                          (b"%PDF-1.7", "document"), (b"\x1aE\xdf\xa3", "video")])
def test_plates_and_scenes_carry_no_watermark_by_design_and_say_nothing_was_missed(tmp_path, head, kind):
    """A camera scan (EXR, DPX) or a scene file without credentials: nothing to look for, exit 0."""
    path = tmp_path / "renamed.bin"
    path.write_bytes(head + bytes(256))
    assert media_kind(path) == kind
    if kind == "unmarked":
        result = verify_file(path)
        assert result["watermark"] is None and not failed(result)
