"""`soundstage verify` on sidecars (issue 13 item 2): the guard's file outputs carry a sidecar bound to
their bytes, exported beside them under the name verify looks for; a sidecar is read alone; a frame
sequence is checked against its sidecar and the changed, missing and added frames are named."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from soundstage.errors import InputError, NotFoundError, ParseError
from soundstage.safeguards import keys
from soundstage.safeguards.provenance import (
    CredentialState, ManifestSpec, Operation, SoftwareAgent, SoundstageRecord, read_with_sidecar, sign_sequence,
)
from soundstage.services import people_service
from soundstage.services.ledger import export_asset
from soundstage.services.verify_service import expand_sequence, failed, verify_file, verify_target

LEGACY = Path(__file__).resolve().parents[1] / "data" / "legacy_frame_index"


@pytest.fixture
def file_job(sqlite_workspace, file_outputs_job):
    """A real guarded job whose backend hands back files (a 16-bit depth PNG and a .blend)."""
    ws = sqlite_workspace
    people_service.add_crew(ws, "Priya Shah", ["producer"], actor="setup")
    result = file_outputs_job(ws)
    by_kind = {a["details"]["asset_kind"]: a for a in (show(ws, a["id"]) for a in result["assets"])}
    return ws, result["job"], by_kind


def show(ws, asset_id: str) -> dict:
    from soundstage.services.ledger import show_asset

    return show_asset(ws, asset_id)


def test_the_guard_binds_file_outputs_to_their_bytes(file_job):
    ws, job, assets = file_job
    anchors = [(ws.settings.keys_dir / "ca.pem").read_bytes()]
    for kind, asset in assets.items():
        sidecar_sha = asset["details"]["c2pa_sidecar_sha256"]
        assert sidecar_sha and asset["details"]["c2pa"]["manifest_label"].startswith("urn:c2pa:")
        reading = read_with_sidecar(ws.store.path_for(asset["sha256"]), ws.store.path_for(sidecar_sha),
                                    trust_anchors=anchors)
        assert reading.state is CredentialState.TRUSTED, (kind, reading.failure_codes)
        assert reading.soundstage["asset_id"] == asset["id"] and reading.soundstage["job_id"] == job
        assert reading.active_manifest == asset["details"]["c2pa"]["manifest_label"]


def test_exported_file_verifies_with_its_sidecar_beside_it(file_job, tmp_path):
    ws, job, assets = file_job
    out = tmp_path / "delivery"
    out.mkdir()
    written = export_asset(ws, assets["depth"]["id"], out, actor="Priya Shah")
    depth, sidecar = out / "scene1_shot1_depth.png", out / "scene1_shot1_depth.png.c2pa"
    assert written == [depth, sidecar]

    result = verify_target(depth, ws)
    assert result["c2pa"]["state"] == "Trusted" and result["sidecar"] == str(sidecar)
    assert result["ledger"]["found"] and result["ledger"]["asset"] == assets["depth"]["id"]
    assert result["ledger"]["found_by"] == "manifest" and result["ledger"]["job"] == job
    assert result["ledger"]["original_manifest"]["state"] == "Trusted"  # read from the stored sidecar
    assert not failed(result) and result["watermark"]["found"] is False

    sidecar.rename(out / "scene1_shot1_depth.c2pa")  # the c2pa-rs name for it is found too
    assert verify_target(depth, ws)["sidecar"] == str(out / "scene1_shot1_depth.c2pa")

    blend_out = tmp_path / "blend"
    blend_out.mkdir()
    export_asset(ws, assets["blend"]["id"], blend_out, actor="Priya Shah")
    blend = verify_target(blend_out / "scene_1_blocking.blend", ws)
    assert blend["c2pa"]["state"] == "Trusted" and blend["ledger"]["asset"] == assets["blend"]["id"]


def test_the_sidecar_of_one_output_beside_another_is_invalid(file_job, tmp_path):
    ws, _, assets = file_job
    export_asset(ws, assets["depth"]["id"], tmp_path, actor="Priya Shah")
    export_asset(ws, assets["blend"]["id"], tmp_path, actor="Priya Shah")
    blend = tmp_path / "scene_1_blocking.blend"
    (tmp_path / "scene_1_blocking.blend.c2pa").unlink()
    shutil.copyfile(tmp_path / "scene1_shot1_depth.png.c2pa", tmp_path / "scene_1_blocking.blend.c2pa")
    result = verify_target(blend, ws)
    assert result["c2pa"]["state"] == "Invalid" and "assertion.dataHash.mismatch" in result["c2pa"]["failure_codes"]
    assert failed(result) and result["ledger"] is None  # an invalid manifest's record is not looked up
    assert "INVALID" in result["verdict"] and "assertion.dataHash.mismatch" in result["verdict"]


def test_a_sidecar_alone_says_what_it_can_and_that_the_binding_was_not_checked(file_job, tmp_path):
    ws, _, assets = file_job
    export_asset(ws, assets["depth"]["id"], tmp_path, actor="Priya Shah")
    sidecar = tmp_path / "scene1_shot1_depth.png.c2pa"
    result = verify_target(sidecar, ws)
    assert result["c2pa"]["state"] == "Trusted" and not failed(result)
    assert result["binding"] == {"checked": False, "assertion": "c2pa.hash.data", "sha256": assets["depth"]["sha256"],
                                 "unchecked_codes": ["assertion.dataHash.mismatch"], "matches_ledger": True}
    assert result["ledger"]["asset"] == assets["depth"]["id"]
    assert "binding to the file was not checked" in result["verdict"]
    assert assets["depth"]["sha256"] in result["verdict"] and "ledger's stored file has that SHA-256" in result["verdict"]
    assert verify_file(sidecar, ws)["binding"]["checked"] is False  # a .c2pa handed to verify_file is read alone


def test_an_edited_sidecar_alone_is_invalid(file_job, tmp_path):
    ws, _, assets = file_job
    export_asset(ws, assets["depth"]["id"], tmp_path, actor="Priya Shah")
    sidecar = tmp_path / "scene1_shot1_depth.png.c2pa"
    data = bytearray(sidecar.read_bytes())
    data[-40] ^= 0xFF  # inside the COSE signature
    sidecar.write_bytes(bytes(data))
    result = verify_target(sidecar, ws)
    assert result["c2pa"]["state"] == "Invalid" and "claimSignature.mismatch" in result["c2pa"]["failure_codes"]
    assert failed(result) and result["ledger"] is None


def _plate(folder: Path, count: int) -> list[Path]:
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(5)
    frames = []
    for index in range(count):
        frame = folder / f"plate.{index + 1001:04d}.exr"
        frame.write_bytes(b"\x76\x2f\x31\x01" + rng.integers(0, 255, 256, dtype=np.uint8).tobytes())
        frames.append(frame)
    return frames


def _sign_plate(ws, frames: list[Path], sidecar: Path) -> None:
    spec = ManifestSpec(Operation.PROCEDURAL, "plate.####.exr", SoftwareAgent("blender", "5.0.1"),
                        record=SoundstageRecord(ws.production_id, "job-x", "00000000000000c1", ()))
    sign_sequence(frames, sidecar, spec, keys.load_production_signer(ws.settings.keys_dir))


@pytest.mark.parametrize("pattern", ["plate.%04d.exr", "plate.####.exr", "plate.*.exr", "plate.%d.exr",
                                     "plate.10[0-9][0-9].exr"])
def test_a_sequence_pattern_is_verified_against_the_sidecar_beside_it(sqlite_workspace, tmp_path, pattern):
    ws = sqlite_workspace
    frames = _plate(tmp_path / "shot", 5)
    _sign_plate(ws, frames, tmp_path / "shot" / "plate.c2pa")
    result = verify_target(str(tmp_path / "shot" / pattern), ws)
    assert result["c2pa"]["state"] == "Trusted" and not failed(result)
    assert result["sequence"] == {"schema": "FrameIndex.2", "frames_signed": 5, "frames_found": 5, "changed": [],
                                  "missing": [], "unexpected": [], "index_authentic": True}
    assert "all 5 signed frames present and unchanged" in result["verdict"]


def test_changed_missing_and_added_frames_are_named(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    frames = _plate(tmp_path / "shot", 6)
    sidecar = tmp_path / "signed" / "plate_v2.c2pa"  # not beside the frames: named with --sidecar
    _sign_plate(ws, frames, sidecar)
    frames[1].write_bytes(frames[1].read_bytes()[:-1] + b"\xff")
    frames[3].unlink()
    frames[5].unlink()
    (tmp_path / "shot" / "plate.1007.exr").write_bytes(b"\x76\x2f\x31\x01 new frame")
    with pytest.raises(NotFoundError, match="looked for plate.c2pa"):
        verify_target(str(tmp_path / "shot" / "plate.%04d.exr"), ws)
    result = verify_target(str(tmp_path / "shot" / "plate.%04d.exr"), ws, sidecar=sidecar)
    assert failed(result) and result["c2pa"]["state"] == "Invalid"
    assert result["sequence"]["changed"] == ["plate.1002.exr"]
    assert result["sequence"]["missing"] == ["plate.1004.exr", "plate.1006.exr"]
    assert result["sequence"]["unexpected"] == ["plate.1007.exr"]
    text = result["verdict"]
    assert "1 frame changed: plate.1002.exr" in text and "2 frames missing: plate.1004.exr, plate.1006.exr" in text
    assert "1 frame not in the signed list: plate.1007.exr" in text


def test_the_frame_list_with_its_sidecar_is_an_ordinary_file_to_verify(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    frames = _plate(tmp_path / "shot", 3)
    _sign_plate(ws, frames, tmp_path / "shot" / "plate.c2pa")
    result = verify_target(tmp_path / "shot" / "plate.sha256", ws)  # finds plate.c2pa: X.sha256 -> X.c2pa
    assert result["c2pa"]["state"] == "Trusted" and result["sidecar"].endswith("plate.c2pa")
    alone = verify_target(tmp_path / "shot" / "plate.c2pa", ws)
    assert alone["binding"]["frame_index"]["schema"] == "FrameIndex.2"
    assert [f["name"] for f in alone["binding"]["frame_index"]["frames"]] == [f.name for f in frames]
    assert "signs a sequence of 3 frames, which were not checked" in alone["verdict"]
    with pytest.raises(InputError, match="signs a sequence of 3 frames"):
        verify_target(frames[0], ws, sidecar=tmp_path / "shot" / "plate.c2pa")


def test_sidecars_from_before_issue_13_verify_from_the_cli_path():
    depth = verify_target(LEGACY / "scene1_shot1_depth.png")  # no workspace: no trust anchors, so Valid
    assert depth["c2pa"]["state"] == "Valid" and depth["sidecar"].endswith("scene1_shot1_depth.png.c2pa")
    assert not failed(depth)
    plate = verify_target(str(LEGACY / "plate.%04d.exr"))
    assert plate["sequence"]["schema"] == "FrameIndex.1" and plate["sequence"]["frames_signed"] == 3
    assert plate["c2pa"]["state"] == "Valid" and not failed(plate)


def test_files_without_credentials_and_bad_patterns(tmp_path):
    exr = tmp_path / "plain.exr"
    exr.write_bytes(b"\x76\x2f\x31\x01" + b"\x00" * 64)
    plain = verify_target(exr)  # a type that cannot embed, and no sidecar: Absent, not an error
    assert plain["c2pa"]["state"] == "Absent" and plain["sidecar"] is None and not failed(plain)
    with pytest.raises(NotFoundError, match="file not found"):
        verify_target(tmp_path / "nothing.png")
    with pytest.raises(NotFoundError, match="does not exist"):
        verify_target(str(tmp_path / "no-such-folder" / "plate.%04d.exr"))
    garbage = tmp_path / "garbage.c2pa"
    garbage.write_bytes(b"not a manifest store")
    with pytest.raises(ParseError) as refused:
        verify_target(garbage)
    assert "\n" not in refused.value.one_line() and str(tmp_path) not in refused.value.one_line()
    frames, candidates = expand_sequence(tmp_path / "x_####.exr")
    assert frames == [] and candidates == (tmp_path / "x.c2pa",)


def test_frames_that_cannot_be_hashed_are_changed_or_missing_not_an_error(sqlite_workspace, tmp_path):
    """Red team: a frame emptied stopped the check with "the file is empty" (exit 2), and a stray file
    named with a newline matched by a glob aborted it; a verification reports what it finds."""
    ws = sqlite_workspace
    frames = _plate(tmp_path / "shot", 4)
    _sign_plate(ws, frames, tmp_path / "shot" / "plate.c2pa")
    frames[1].write_bytes(b"")
    frames[2].unlink()
    frames[2].mkdir()                                   # a directory where a frame was: missing
    (tmp_path / "shot" / "plate.10\n05.exr").write_bytes(b"\x76\x2f\x31\x01 stray")
    result = verify_target(str(tmp_path / "shot" / "plate.*.exr"), ws)
    assert result["sequence"]["changed"] == ["plate.1002.exr"] and result["sequence"]["missing"] == ["plate.1003.exr"]
    assert result["sequence"]["unexpected"] == ["plate.10\n05.exr"] and failed(result)


@pytest.mark.parametrize("pattern", ["plate.[z-a].exr", "plate.[].exr", "plate.%999999999999d.exr"])
def test_a_malformed_pattern_is_a_one_line_input_error(tmp_path, pattern):
    (tmp_path / "plate.1001.exr").write_bytes(b"\x76\x2f\x31\x01")
    with pytest.raises(InputError) as refused:
        verify_target(str(tmp_path / pattern))
    assert refused.value.exit_code == 2 and "\n" not in refused.value.one_line()


def test_a_pattern_that_matches_nothing_says_so_instead_of_reading_as_tampering(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    frames = _plate(tmp_path / "shot", 3)
    _sign_plate(ws, frames, tmp_path / "shot" / "plate.c2pa")
    with pytest.raises(NotFoundError, match=r"no file matches plate.%04d.png"):
        verify_target(str(tmp_path / "shot" / "plate.%04d.png"), ws)   # the extension mistyped


# --------------------------------------------------------------------------- sequences signed in parts

def _sign_in_parts(ws, frames: list[Path], sidecar: Path, part_frames: int) -> list[Path]:
    spec = ManifestSpec(Operation.PROCEDURAL, "plate.####.exr", SoftwareAgent("nuke", "16.0"),
                        record=SoundstageRecord(ws.production_id, "job-x", "00000000000000c2", ()))
    result = sign_sequence(frames, sidecar, spec, keys.load_production_signer(ws.settings.keys_dir),
                           part_frames=part_frames)
    return [p.path for p in result.parts]


def test_a_pattern_reads_every_part_beside_it_and_names_a_missing_one(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    frames = _plate(tmp_path / "shot", 7)
    parts = _sign_in_parts(ws, frames, tmp_path / "shot" / "plate.c2pa", 3)
    assert [p.name for p in parts] == ["plate.part0001.c2pa", "plate.part0002.c2pa", "plate.part0003.c2pa"]
    result = verify_target(str(tmp_path / "shot" / "plate.%04d.exr"), ws)
    assert result["c2pa"]["state"] == "Trusted" and not failed(result)
    assert result["sidecars"] == [str(p) for p in parts]
    sequence = result["sequence"]
    assert (sequence["frames_signed"], sequence["parts_expected"], sequence["parts_missing"]) == (7, 3, [])
    assert [(p["part"], p["state"], p["first"], p["last"]) for p in sequence["parts"]] == [
        (1, "Trusted", "plate.1001.exr", "plate.1003.exr"), (2, "Trusted", "plate.1004.exr", "plate.1006.exr"),
        (3, "Trusted", "plate.1007.exr", "plate.1007.exr")]
    assert "signed in 3 parts, 3 read; all 7 signed frames present and unchanged" in result["verdict"]
    # --sidecar naming any one part reads its siblings too
    named = verify_target(str(tmp_path / "shot" / "plate.%04d.exr"), ws, sidecar=parts[2])
    assert named["sequence"]["parts_missing"] == [] and not failed(named)

    parts[1].unlink()
    gone = verify_target(str(tmp_path / "shot" / "plate.%04d.exr"), ws)
    assert failed(gone) and gone["sequence"]["parts_missing"] == [2]
    assert gone["sequence"]["unexpected"] == ["plate.1004.exr", "plate.1005.exr", "plate.1006.exr"]
    assert "part 2 of 3 MISSING" in gone["verdict"] and "3 frames covered by no part" in gone["verdict"]


def test_a_changed_frame_and_an_added_one_are_named_with_their_parts(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    frames = _plate(tmp_path / "shot", 6)
    _sign_in_parts(ws, frames, tmp_path / "shot" / "plate.c2pa", 2)
    frames[3].write_bytes(frames[3].read_bytes()[:-1] + b"\x00")  # plate.1004.exr, in part 2
    (tmp_path / "shot" / "plate.1007.exr").write_bytes(b"\x76\x2f\x31\x01 new frame")
    result = verify_target(str(tmp_path / "shot" / "plate.%04d.exr"), ws)
    assert failed(result) and result["c2pa"]["state"] == "Invalid"
    assert result["sequence"]["changed"] == ["plate.1004.exr"]
    assert result["sequence"]["unexpected"] == ["plate.1007.exr"]
    assert [p["state"] for p in result["sequence"]["parts"]] == ["Trusted", "Invalid", "Trusted"]
    assert "part 2 (plate.part0002.c2pa, plate.1003.exr to plate.1004.exr) reads Invalid" in result["verdict"]
    assert "1 frame changed: plate.1004.exr" in result["verdict"]
    assert "1 frame covered by no part: plate.1007.exr" in result["verdict"]
    alone = verify_target(tmp_path / "shot" / "plate.part0003.c2pa", ws)  # a part read alone
    assert "signs part 3 of 3 of a sequence of 6 frames" in alone["verdict"]
