"""An independent reader agrees with `soundstage verify` on one file of every kind soundstage writes.

The files come out of the real pipeline (a workspace, its production CA, guarded jobs): a Blender
storyboard panel (PNG), its depth pass (a non-media output bound by a per-file sidecar, exported
with it), the storyboard PDF, a VFX cleanup delivered as H.264 MP4 and as ProRes MOV, the
disclosure report PDF; a JPEG and a frame sequence are signed by the provenance library with the
same production signer (the guard writes stills as PNG, and no pipeline step writes sequences).

For each, c2pa-wasm 0.13.3 under Node (an independent build of c2pa-rs) must report the same
validation state and the same status codes as ``soundstage verify --json`` run as a subprocess,
both trusting the production CA; ExifTool 13 (a separate JUMBF parser) must find the C2PA block
with the same active manifest and assertion labels in every embedded file. One tampered file per
kind: both readers must call it Invalid.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from soundstage.testing.independent_reader import (
    NODE_MODULES, SidecarItem, WasmReading, exiftool_jumbf, exiftool_version, missing, read_with_c2pa_wasm,
)

pytestmark = pytest.mark.slow

if not NODE_MODULES.is_dir() and not os.environ.get("CI"):  # in CI a missing reader fails (see `made`)
    pytest.skip(f"the independent readers are not installed ({NODE_MODULES} is absent): run `make install`",
                allow_module_level=True)

EMBEDDED = ("png", "jpeg", "mp4", "mov", "storyboard_pdf", "report_pdf")
KINDS = (*EMBEDDED, "file_sidecar", "sequence")


@dataclass
class Item:
    """One output: what to hand `soundstage verify` and what to hand c2pa-wasm."""

    kind: str
    path: Path  # the file (for a sequence: its first frame)
    cli: list[str]
    wasm: Path | SidecarItem
    tampered_cli: list[str] = field(default_factory=list)
    tampered_wasm: Path | SidecarItem | None = None


@dataclass
class Made:
    root: Path
    anchors: list[bytes]
    items: dict[str, Item]
    token: str
    cache: dict = field(default_factory=dict)

    def verify(self, *args: str) -> list[dict]:
        """The real CLI, in the workspace (so it trusts the production CA), as the producer."""
        key = ("verify", args)
        if key not in self.cache:
            env = {**os.environ, "SOUNDSTAGE_TOKEN": self.token}
            env.pop("SOUNDSTAGE_WORKSPACE", None)
            done = subprocess.run([sys.executable, "-m", "soundstage", "-w", str(self.root), "verify", "--json", *args],
                                  env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr
            out = json.loads(done.stdout)
            self.cache[key] = out if isinstance(out, list) else [out]
        return self.cache[key]

    def read(self, item: Path | SidecarItem) -> WasmReading:
        key = ("wasm", item)
        if key not in self.cache:
            self.cache[key] = read_with_c2pa_wasm([item], trust_anchors=self.anchors)[0]
        return self.cache[key]


def _flip(data: bytearray, at: int) -> None:
    data[at] ^= 0x01


def tamper_png(src: Path, dst: Path) -> None:
    data = bytearray(src.read_bytes())
    at = data.index(b"IDAT") + 4 + 16
    _flip(data, at)
    dst.write_bytes(bytes(data))


def tamper_jpeg(src: Path, dst: Path) -> None:
    data = bytearray(src.read_bytes())
    at = len(data) - 64
    while data[at] == 0xFF or data[at - 1] == 0xFF or data[at] == 0xFE:
        at -= 1
    _flip(data, at)
    dst.write_bytes(bytes(data))


def tamper_bmff(src: Path, dst: Path) -> None:
    data = bytearray(src.read_bytes())
    mdat = data.index(b"mdat")
    _flip(data, mdat + 4 + (len(data) - mdat) // 3 // 2)
    dst.write_bytes(bytes(data))


def tamper_pdf(src: Path, dst: Path) -> None:
    data = src.read_bytes()
    assert data.count(b"ReportLab PDF Library") == 1
    dst.write_bytes(data.replace(b"ReportLab PDF Library", b"ReportLab PDF Libraty"))


TAMPER = {"png": tamper_png, "jpeg": tamper_jpeg, "mp4": tamper_bmff, "mov": tamper_bmff,
          "storyboard_pdf": tamper_pdf, "report_pdf": tamper_pdf, "file_sidecar": tamper_png}


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Made:
    assert missing() is None, missing()  # in CI a missing reader is a failure, not a skip
    from PIL import Image

    from soundstage.safeguards.keys import load_production_signer
    from soundstage.safeguards.provenance import ManifestSpec, Operation, SoftwareAgent, SoundstageRecord, sign_file
    from soundstage.safeguards.provenance.signing import sign_sequence
    from soundstage.services import boards_service
    from soundstage.services import disclosure_service, people_service
    from soundstage.services import vfx_service
    from soundstage.services.ledger import export_asset, ingest_media, list_assets
    from soundstage.services.script_service import import_script
    from soundstage.services.workspace import init_workspace
    from soundstage.testing import sample_media
    from soundstage.testing.identity import signer_for, token_for

    tmp = tmp_path_factory.mktemp("interop")
    out, bad = tmp / "out", tmp / "tampered"
    out.mkdir()
    bad.mkdir()
    root = tmp / "production"
    ws = init_workspace(root, "The Last Take")
    items: dict[str, Item] = {}
    try:
        for name, roles in [("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor"]),
                            ("Tom Reed", ["rights_clearance", "legal"])]:
            people_service.add_crew(ws, name, roles, actor="setup")
        import_script(ws, Path(boards_service.__file__).parents[1] / "samples" / "the_last_take.fountain", actor="setup")

        # previz: Blender panels (PNG), their depth passes (sidecar-bound files), the storyboard PDF
        board = boards_service.board(ws, scenes=["1"], renderer_model_id=boards_service.BLENDER_MODEL, actor="Priya Shah",
                             animatic=False)
        panel = board.shots[0]
        items["png"] = Item("png", shutil.copy(panel.path, out / f"{panel.shot.number}.png"), [], None)
        items["storyboard_pdf"] = Item("storyboard_pdf", board.script_pdf, [], None)
        depth = next(a for a in list_assets(ws, kind="depth") if a["job_id"] == panel.job)
        exported = export_asset(ws, depth["id"], out, actor="Priya Shah")
        depth_path = next(p for p in exported if p.suffix != ".c2pa")
        depth_sidecar = next(p for p in exported if p.suffix == ".c2pa")
        items["file_sidecar"] = Item("file_sidecar", depth_path, [], SidecarItem(depth_sidecar, depth_path))

        # VFX: a boom mic painted out of a plate, delivered as H.264 MP4 and as ProRes MOV
        frames, matte = sample_media.with_boom_mic(sample_media.astronaut_push_in(8, 640, 360))
        plate = ingest_media(ws, sample_media.write_plate(tmp / "A005_C004.mp4", frames), kind="plate",
                             actor="setup", scene="5", shot="5B")
        Image.fromarray(matte).save(tmp / "boom_matte.png")
        mask = ingest_media(ws, tmp / "boom_matte.png", kind="plate", actor="setup")
        for codec, kind in (("h264", "mp4"), ("prores", "mov")):
            spec = vfx_service.build_vfx_job(ws, "cleanup", plate["id"], requested_by="Ken Ito", codec=codec,
                                             extra_inputs=[mask["id"]], scene="5", shot="5B")
            result = _approved(ws, spec, signer_for)
            assert result["status"] == "done", result
            clip = ws.store.path_for(result["assets"][0]["sha256"])
            items[kind] = Item(kind, shutil.copy(clip, out / f"shot_5B_cleanup.{kind}"), [], None)

        # reports: the disclosure report
        [report] = [p for p in disclosure_service.write_disclosure(ws, tmp / "disclosure", ["pdf"], actor="Tom Reed")
                    if p.suffix == ".pdf"]
        items["report_pdf"] = Item("report_pdf", report, [], None)

        # the provenance library with the production signer: a JPEG, and a frame sequence
        credentials = load_production_signer(ws.settings.keys_dir, tsa_url=ws.settings.tsa_url)
        record = SoundstageRecord(ws.production_id, "", "", extra={"document": "interop test"})
        Image.fromarray(frames[0]).save(tmp / "still.jpg", quality=90)
        jpeg = out / "still_signed.jpg"
        sign_file(tmp / "still.jpg", jpeg, ManifestSpec(Operation.PROCEDURAL, "still", SoftwareAgent("soundstage", "0"),
                                                         record=record), credentials)
        items["jpeg"] = Item("jpeg", jpeg, [], None)
        seq = out / "seq"
        seq.mkdir()
        seq_frames = []
        for i, frame in enumerate(frames[:4]):
            seq_frames.append(seq / f"plate.{1001 + i:04d}.png")
            Image.fromarray(frame).save(seq_frames[-1])
        signed_seq = sign_sequence(seq_frames, seq / "plate.c2pa",
                                   ManifestSpec(Operation.PROCEDURAL, "plate", SoftwareAgent("soundstage", "0"),
                                                record=record), credentials)
        listing = signed_seq.document or (seq / "plate.sha256")
        items["sequence"] = Item("sequence", seq_frames[0],
                                 [str(seq / "plate.%04d.png"), "--sidecar", str(seq / "plate.c2pa")],
                                 SidecarItem(seq / "plate.c2pa", listing, tuple(seq_frames)))
        token = token_for(ws, "Priya Shah")
    finally:
        ws.close()

    for kind, item in items.items():
        item.cli = item.cli or [str(item.path)]
        item.wasm = item.wasm or item.path
        if kind == "sequence":
            tampered = bad / "seq"
            shutil.copytree(seq, tampered)
            tamper_png(seq_frames[2], tampered / seq_frames[2].name)
            item.tampered_cli = [str(tampered / "plate.%04d.png"), "--sidecar", str(tampered / "plate.c2pa")]
            item.tampered_wasm = SidecarItem(tampered / "plate.c2pa", tampered / listing.name,
                                             tuple(tampered / f.name for f in seq_frames))
            continue
        target = bad / item.path.name
        TAMPER[kind](item.path, target)
        item.tampered_cli = [str(target)]
        if isinstance(item.wasm, SidecarItem):
            side = bad / item.wasm.sidecar.name
            shutil.copy(item.wasm.sidecar, side)
            item.tampered_wasm = SidecarItem(side, target)
        else:
            item.tampered_wasm = target
    return Made(root, [(root / "keys" / "ca.pem").read_bytes()], items, token)


def _approved(ws, spec, signer_for) -> dict:
    from soundstage.services import jobs_service as jobs

    holders = {"producer": "Priya Shah", "rights_clearance": "Tom Reed", "legal": "Tom Reed"}
    result = jobs.submit_job(ws, spec, actor="Ken Ito")
    for role in (result["decision"]["approver_roles"] if result["status"] == "escalated" else []):
        result = jobs.decide_on_job(ws, result["job"], signer=signer_for(ws, holders[role]), role=role,
                                    verdict="approve", actor=holders[role])
    return result


def _agree(ours: dict, theirs: WasmReading) -> None:
    c2pa = ours["c2pa"]
    assert theirs.state == c2pa["state"], (theirs.state, c2pa["state"], c2pa["status_codes"], theirs.status_codes)
    assert sorted(theirs.status_codes) == sorted(c2pa["status_codes"])
    assert sorted(theirs.failure_codes) == sorted(c2pa["failure_codes"])
    assert theirs.active_manifest == c2pa["active_manifest"]


def test_the_readers_are_the_pinned_ones():
    assert missing() is None
    assert exiftool_version() >= (13, 0)


@pytest.mark.parametrize("kind", KINDS)
def test_c2pa_wasm_agrees_with_soundstage_verify(made, kind):
    item = made.items[kind]
    [ours] = made.verify(*item.cli)
    theirs = made.read(item.wasm)
    assert ours["c2pa"]["state"] == "Trusted", ours["c2pa"]
    _agree(ours, theirs)
    if isinstance(item.wasm, SidecarItem):
        assert theirs.binding is not None and theirs.binding.ok, theirs.binding


@pytest.mark.parametrize("kind", KINDS)
def test_both_readers_call_the_tampered_file_invalid(made, kind):
    item = made.items[kind]
    [ours] = made.verify(*item.tampered_cli)
    theirs = made.read(item.tampered_wasm)
    assert ours["c2pa"]["state"] == "Invalid", ours["c2pa"]
    _agree(ours, theirs)
    if isinstance(item.wasm, SidecarItem):
        assert theirs.binding is not None and not theirs.binding.ok
    if "sequence" in ours:  # both name the same frame
        assert list(theirs.binding.changed) == ours["sequence"]["changed"] == [item.tampered_wasm.members[2].name]


def test_stripped_credentials_read_absent_in_both(made, tmp_path):
    """A panel re-saved without its manifest, and a sidecar-bound file handed over without its sidecar."""
    from PIL import Image

    png = tmp_path / "stripped.png"
    with Image.open(made.items["png"].path) as image:
        image.save(png)
    alone = tmp_path / made.items["file_sidecar"].path.name
    shutil.copy(made.items["file_sidecar"].path, alone)
    ours = made.verify(str(png), str(alone))
    theirs = read_with_c2pa_wasm([png, alone], trust_anchors=made.anchors)
    assert [r["c2pa"]["state"] for r in ours] == [t.state for t in theirs] == ["Absent", "Absent"]


@pytest.mark.parametrize("kind", EMBEDDED)
def test_exiftool_finds_the_manifest_store_and_its_labels(made, kind):
    item = made.items[kind]
    listing = exiftool_jumbf(item.path)
    theirs = made.read(item.wasm)
    assert listing.store_found and listing.active is not None, listing
    assert listing.active.label == theirs.active_manifest
    assert listing.active.has_claim and listing.active.has_signature
    assert sorted(listing.active.assertions) == sorted(theirs.assertion_labels)
    labels = set(listing.active.assertions)
    assert "io.soundstage.production" in labels and {"c2pa.actions", "c2pa.actions.v2"} & labels
    assert any(label.startswith(("c2pa.hash.data", "c2pa.hash.bmff")) for label in labels), labels


def test_exiftool_finds_nothing_in_an_unsigned_file(made, tmp_path):
    from PIL import Image

    plain = tmp_path / "plain.png"
    Image.new("RGB", (16, 16)).save(plain)
    assert not exiftool_jumbf(plain).store_found
    assert not exiftool_jumbf(made.items["file_sidecar"].path).store_found  # its manifest is beside it


def test_the_reader_clock_moves_past_the_signing_certificate(made):
    """`now` moves c2pa-wasm's clock (for expiry tests): in 2031 the 2-year leaf has expired, and a
    signature without a trusted time-stamp no longer validates; today the same file is Trusted."""
    from datetime import datetime, timezone

    jpeg = made.items["jpeg"].path
    [later] = read_with_c2pa_wasm([jpeg], trust_anchors=made.anchors, now=datetime(2031, 1, 1, tzinfo=timezone.utc))
    assert made.read(jpeg).state == "Trusted"
    assert later.state == "Invalid" and "signingCredential.expired" in later.status_codes
