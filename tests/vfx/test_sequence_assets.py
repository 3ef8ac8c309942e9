"""Image sequences as ledger assets: ingest (EXR, DPX), refusals that store nothing, a guarded VFX job
on a sequence plate, export, and the CLI's pattern syntax."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from soundstage.domain.safeguards import ModelCard
from soundstage.errors import AlreadyExistsError, InputError, ParseError
from soundstage.safeguards.guard import parse_asset_id
from soundstage.safeguards.provenance import read_credentials
from soundstage.services import models, people_service
from soundstage.services import vfx_service
from soundstage.services.content_gc import gc_content
from soundstage.services.ledger import export_asset, ingest_media, ingest_sequence, list_assets, show_asset
from soundstage.vfx import media
from soundstage.vfx.sequences import SEQUENCE_MEDIA_TYPE, write_exr

sys.path.insert(0, str(Path(__file__).parent))
import vfx_helpers as h  # noqa: E402

MODEL = "soundstage.vfx-test-grade"
W, H = 512, 288  # the mark check refuses a few random ids on tiny 320x192 clips (issue 13, item 7)


def exr_sequence(folder: Path, count: int = 8, first: int = 1001) -> list[np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    frames = h.astronaut_frames(count, W, H)
    for i, frame in enumerate(frames):
        write_exr(folder / f"A001_C005_{first + i:04d}.exr", (frame / 255.0) ** 2.2)  # scene-linear
    return frames


def dpx_sequence(folder: Path, count: int = 6, **header) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [h.write_dpx(folder / f"B002_{1001 + i:04d}.dpx", (frame.astype(int) * 1023) // 255, **header)
            for i, frame in enumerate(h.astronaut_frames(count, W, H))]


def blobs(ws) -> set[Path]:
    """The store's content files (not its scratch folder; the test's own tmp path may say "tmp" too)."""
    root = Path(ws.store.root)
    return {p for p in root.rglob("*") if p.is_file() and "tmp" not in p.relative_to(root).parts}


@pytest.fixture
def production(workspace):
    ws = workspace
    for name, roles in [("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor"]),
                        ("Tom Reed", ["rights_clearance", "legal"])]:
        people_service.add_crew(ws, name, roles, actor="setup")
    card = ModelCard(id=MODEL, name="temporal grade (test op)", version="1", licence="Apache-2.0",
                     weights_sha256="", training_data="owned", evidence="classical", trained_model=False,
                     runs_in_production_env=True, stores_inputs=False, trains_on_inputs=False)
    models.register_model(ws, card, actor="setup", backend="vfx", config={"factory": h.FACTORY, "chunk_frames": 4})
    return ws


def run_cleanup(ws, plate_id: str, mask_path: Path) -> dict:
    mask = ingest_media(ws, mask_path, kind="element", actor="setup")
    spec = vfx_service.build_vfx_job(ws, "cleanup", plate_id, requested_by="Ken Ito", extra_inputs=[mask["id"]],
                                     model_id=MODEL, scene="5", shot="5A")
    result = h.submit_approved(ws, spec)
    assert result["status"] == "done", result
    return result["assets"][0]


def test_exr_sequence_is_one_asset_and_a_plate_for_a_guarded_job(production, tmp_path):
    ws = production
    exr_sequence(tmp_path / "exr", 8)
    seen = []
    plate = ingest_sequence(ws, tmp_path / "exr" / "A001_C005_####.exr", actor="setup", fps=Fraction(25),
                            scene="5", shot="5A", progress=lambda d, t: seen.append((d, t)))
    d = plate["details"]
    assert plate["media_type"] == SEQUENCE_MEDIA_TYPE and plate["name"] == "A001_C005_####.exr"
    assert (d["frames"], d["first_frame"], d["last_frame"], d["size"], d["fps"], d["format"]) == \
        (8, 1001, 1008, [W, H], "25/1", "exr")
    assert seen[-1] == (8, 8)
    # the same frames again are the same content: the index (and so the asset hash) is canonical
    again = ingest_sequence(ws, tmp_path / "exr" / "A001_C005_####.exr", actor="setup", fps=Fraction(25))
    assert again["sha256"] == plate["sha256"]

    mask = tmp_path / "mask.png"
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(mask)
    asset = run_cleanup(ws, plate["id"], mask)
    stored = ws.store.path_for(asset["sha256"])
    info = media.probe(stored)
    assert info.frame_count == 8 and info.fps == Fraction(25) and (info.width, info.height) == (W, H)
    assert info.colour.color_trc == 13  # sRGB-encoded frames are tagged as such
    out = h.decode_all(stored)
    assert ws.watermark_engine().detect_frames(out[:4]).payload == parse_asset_id(asset["id"])
    creds = read_credentials(stored, trust_anchors=[(ws.settings.keys_dir / "ca.pem").read_bytes()])
    assert creds.state.value == "Trusted"
    assert asset["id"] in show_asset(ws, plate["id"])["children"]


def test_dpx_sequence_keeps_the_header_rate_and_timecode_into_the_output(production, tmp_path):
    ws = production
    dpx_sequence(tmp_path / "dpx", 6, timecode="01:00:10:00", fps=25.0)
    plate = ingest_sequence(ws, tmp_path / "dpx" / "B002_####.dpx", actor="setup")
    assert plate["details"]["fps"] == "25/1" and plate["details"]["timecode"] == "01:00:10:00"
    mask = tmp_path / "mask.png"
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(mask)
    asset = run_cleanup(ws, plate["id"], mask)
    info = media.probe(ws.store.path_for(asset["sha256"]))
    assert info.frame_count == 6 and info.fps == Fraction(25) and info.timecode == "01:00:10:00"


@pytest.mark.parametrize("damage,error,match", [
    ("gap", InputError, "1 frame\\(s\\) missing .*1003"),
    ("size", InputError, "B002_1004.dpx is 160x96"),
    ("truncated", ParseError, "truncated"),
    ("format", InputError, "not a DPX"),
])
def test_bad_sequences_are_refused_and_nothing_is_stored(sqlite_workspace, tmp_path, damage, error, match):
    ws = sqlite_workspace
    paths = dpx_sequence(tmp_path / "dpx", 6)
    if damage == "gap":
        paths[2].unlink()
    elif damage == "size":
        h.write_dpx(paths[3], np.zeros((96, 160, 3), int))
    elif damage == "truncated":
        paths[4].write_bytes(paths[4].read_bytes()[:-5000])
    else:
        Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(paths[1], format="PNG")
    before_assets, before_blobs = list_assets(ws), blobs(ws)
    with pytest.raises(error, match=match):
        ingest_sequence(ws, tmp_path / "dpx" / "B002_####.dpx", actor="setup")
    assert list_assets(ws) == before_assets and blobs(ws) == before_blobs


def test_a_frame_changed_during_ingest_leaves_nothing_behind(sqlite_workspace, tmp_path, monkeypatch):
    ws = sqlite_workspace
    paths = dpx_sequence(tmp_path / "dpx", 4)
    from soundstage.vfx import sequences

    real_scan = sequences.scan_sequence

    def scan_then_edit(*args, **kwargs):
        result = real_scan(*args, **kwargs)
        h.write_dpx(paths[3], np.full((H, W, 3), 512))  # another department re-renders frame 1004 meanwhile
        return result

    monkeypatch.setattr(sequences, "scan_sequence", scan_then_edit)
    before = blobs(ws)
    with pytest.raises(Exception, match="changed while it was being ingested"):
        ingest_sequence(ws, tmp_path / "dpx" / "B002_####.dpx", actor="setup")
    assert list_assets(ws) == []
    # the frames stored before the changed one stay, named by nothing, until gc takes them (DR010):
    # a concurrent ingest of the same frames may have found and named them meanwhile
    left = blobs(ws) - before
    assert {p.parent.name + p.name for p in left} == set(ws.store.left_for_gc) and len(left) == 3
    then = time.time() - 48 * 3600
    for p in left:
        os.utime(p, (then, then))
    assert {e.path for e in gc_content(ws, delete=True)} == left
    assert blobs(ws) == before


def test_sequence_exports_as_its_frames_and_index(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    paths = dpx_sequence(tmp_path / "dpx", 4, timecode="01:00:00:00", fps=24.0)
    plate = ingest_sequence(ws, tmp_path / "dpx" / "B002_####.dpx", actor="setup")
    written = export_asset(ws, plate["id"], tmp_path / "out", actor="setup")
    assert [p.name for p in written] == [p.name for p in paths] + ["B002.sequence.json"]
    assert all((tmp_path / "out" / p.name).read_bytes() == p.read_bytes() for p in paths)
    index = json.loads((tmp_path / "out" / "B002.sequence.json").read_text())
    assert index["fps"] == "24/1" and [f["number"] for f in index["frames"]] == [1001, 1002, 1003, 1004]
    with pytest.raises(AlreadyExistsError):
        export_asset(ws, plate["id"], tmp_path / "out", actor="setup")


def test_sequence_export_checks_every_frame_and_leaves_nothing_when_one_was_altered(sqlite_workspace, tmp_path):
    from soundstage.errors import IntegrityError
    from soundstage.vfx.sequences import SequenceIndex

    ws = sqlite_workspace
    dpx_sequence(tmp_path / "dpx", 4)
    plate = ingest_sequence(ws, tmp_path / "dpx" / "B002_####.dpx", actor="setup")
    index = SequenceIndex.from_bytes(ws.store.path_for(plate["sha256"]).read_bytes(), source="index")
    third = ws.store.path_for(index.frames[2].sha256)
    os.chmod(third, 0o644)
    data = bytearray(third.read_bytes())
    data[-1] ^= 0xFF
    third.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="does not match its hash"):
        export_asset(ws, plate["id"], tmp_path / "out", actor="setup")
    assert not (tmp_path / "out").exists()  # the frames already written and the folder are gone
    (tmp_path / "kept").mkdir()
    with pytest.raises(IntegrityError):
        export_asset(ws, plate["id"], tmp_path / "kept", actor="setup")
    assert list((tmp_path / "kept").iterdir()) == []
    with pytest.raises(InputError, match="does not exist"):
        export_asset(ws, plate["id"], tmp_path / "missing" / "out", actor="setup")


def test_cli_adds_a_printf_style_sequence_with_a_rate(tmp_path):
    dpx_sequence(tmp_path / "dpx", 3)
    env = dict(os.environ)
    env.pop("SOUNDSTAGE_WORKSPACE", None)

    def sh(*args: str, workspace: bool = True) -> subprocess.CompletedProcess:
        where = ["-w", str(tmp_path / "prod"), "--token-file", str(tmp_path / "owner.token")] if workspace else []
        return subprocess.run([sys.executable, "-m", "soundstage", *where, *args], env=env, capture_output=True,
                              text=True, timeout=120)

    assert sh("init", str(tmp_path / "prod"), "--title", "The Last Take", "--owner", "Priya Shah", "--token-out",
              str(tmp_path / "owner.token"), workspace=False).returncode == 0
    done = sh("asset", "add", str(tmp_path / "dpx" / "B002_%04d.dpx"), "--fps", "24000/1001", "--json")
    assert done.returncode == 0, done.stderr
    details = json.loads(done.stdout)["details"]
    assert details["frames"] == 3 and details["fps"] == "24000/1001" and details["format"] == "dpx"
    missing = sh("asset", "add", str(tmp_path / "dpx" / "C003_####.dpx"))
    assert missing.returncode != 0 and missing.stderr.strip().splitlines()[-1].startswith("error: no frames match")
    bad_rate = sh("asset", "add", str(tmp_path / "dpx" / "B002_####.dpx"), "--fps", "fast")
    assert bad_rate.returncode == 2 and "not a frame rate" in bad_rate.stderr
    zero_rate = sh("asset", "add", str(tmp_path / "dpx" / "B002_####.dpx"), "--fps", "0")
    assert zero_rate.returncode == 2 and "frame rate 0 is not plausible" in zero_rate.stderr
