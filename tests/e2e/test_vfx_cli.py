"""`soundstage vfx` as a subprocess on a 360p astronaut plate: consent refusal, approvals by role,
verification of the output, frame accuracy with audio, and bad input that registers nothing.

The production (crew, performers, consent, plates) is set up through the services, which is not
what is under test here; every step a user takes on the VFX path goes through the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from soundstage.testing.identity import signer_for

VFX_TESTS = Path(__file__).resolve().parents[1] / "vfx"
HOLDERS = {"producer": "Priya Shah", "vfx_supervisor": "Ken Ito", "rights_clearance": "Tom Reed",
           "legal": "Tom Reed", "performer_rep": "Lena Ortiz"}


def sh(root: Path, *args: str, user: str = "Ken Ito") -> subprocess.CompletedProcess:
    """The real CLI, run with ``user``'s credential."""
    from soundstage.services.workspace import open_workspace
    from soundstage.testing.identity import token_for

    ws = open_workspace(root)
    try:
        env = {**os.environ, "SOUNDSTAGE_TOKEN": token_for(ws, user)}
    finally:
        ws.close()
    env.pop("SOUNDSTAGE_WORKSPACE", None)
    return subprocess.run([sys.executable, "-m", "soundstage", "-w", str(root), *args], env=env,
                          capture_output=True, text=True, timeout=240)


def error_line(stderr: str) -> str:
    """The CLI's error line (worker processes may log mediapipe/absl noise on stderr before it)."""
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr, stderr
    return lines[0]


def _helpers():
    sys.path.insert(0, str(VFX_TESTS))
    import vfx_helpers  # noqa: PLC0415

    return vfx_helpers


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    """Crew with roles; Maya (consent + enrolled reference), Noel (consent, no reference), Ivo (nothing)."""
    from soundstage.services import consent_service, people_service, talent_service
    from soundstage.services.ledger import ingest_media
    from soundstage.services.workspace import init_workspace

    h = _helpers()
    tmp = tmp_path_factory.mktemp("vfx_cli")
    plate_path = h.make_clip(tmp / "A001_C003.mp4", h.astronaut_frames(12, 640, 360, step=2))
    ws = init_workspace(tmp / "prod", "The Last Take")
    try:
        for name, roles in [("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor"]),
                            ("Tom Reed", ["rights_clearance", "legal"]), ("Lena Ortiz", ["performer_rep"])]:
            people_service.add_crew(ws, name, roles, actor="setup")
        people = {}
        for name in ("Maya Castell", "Noel Park", "Ivo Marsh"):
            people[name] = talent_service.add_performer(ws, name, union_status="sag-aftra", representatives=["Lena Ortiz"],
                                            actor="setup")["id"]
        document = tmp / "signed_consent.pdf"
        document.write_bytes(b"%PDF-1.4 signed digital alteration consent, scene 5")
        for name in ("Maya Castell", "Noel Park"):
            consent_service.grant_consent(ws, people[name], document=document, kind="digital_alteration",
                             operations=["likeness_deage"], scenes=["5"], max_alteration=0.5,
                             description=f"De-ageing of {name} by about 30 years in the 1994 flashback, scene 5 only",
                             signed_separately=True, representation="union", signer=signer_for(ws, "Lena Ortiz"))
        import skimage.data

        reference = tmp / "maya_reference.png"
        Image.fromarray(skimage.data.astronaut()[20:300, 110:360]).save(reference)
        talent_service.enroll_reference(ws, people["Maya Castell"], reference, actor="Lena Ortiz")
        plate = ingest_media(ws, plate_path, kind="plate", actor="setup", scene="5", shot="5A")
    finally:
        ws.close()
    return {"root": tmp / "prod", "tmp": tmp, "plate": plate, "plate_path": plate_path, "people": people}


def asset_count(root: Path) -> int:
    r = sh(root, "info", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["assets"]


def test_deage_without_consent_is_refused_with_the_rule(prod):
    root, before = prod["root"], asset_count(prod["root"])
    r = sh(root, "vfx", "deage", prod["plate"]["id"], "--performer", "Ivo Marsh", "--scene", "5", "--shot", "5A")
    assert r.returncode == 1
    line = error_line(r.stderr)
    assert "SAG-CONSENT-MISSING" in line and "denied" in line
    assert asset_count(root) == before


def _approve_all(root: Path, submitted: dict) -> subprocess.CompletedProcess:
    assert submitted["status"] == "escalated", submitted
    roles = submitted["decision"]["approver_roles"]
    assert "performer_rep" in roles
    # the default pack asks approvers of a de-age to look at its preview first and approve naming it
    shown = sh(root, "job", "preview", submitted["job"], "--out", str(root.parent / "review"), "--json",
               user=HOLDERS["producer"])
    assert shown.returncode == 0, shown.stderr
    digest = json.loads(shown.stdout)["preview_digest"]
    r = None
    for role in roles:
        r = sh(root, "job", "approve", submitted["job"], "--role", role, "--preview", digest, "--json",
               user=HOLDERS[role])
    assert r is not None
    return r


@pytest.mark.slow
def test_consented_deage_is_approved_by_role_verified_and_frame_accurate(prod):
    from soundstage.vfx.media import audio_packets, probe

    root = prod["root"]
    r = sh(root, "vfx", "deage", prod["plate"]["id"], "--performer", "Maya Castell", "--amount", "0.3",
           "--scene", "5", "--shot", "5A", "--json")
    assert r.returncode == 1, r.stderr  # waiting for approval is not success
    assert "waiting for approval" in error_line(r.stderr)
    submitted = json.loads(r.stdout)
    assert sh(root, "job", "approve", submitted["job"], "--role", "producer", user="Lena Ortiz").returncode == 1
    r = _approve_all(root, submitted)
    assert r.returncode == 0, r.stderr
    done = json.loads(r.stdout)
    assert done["status"] == "done" and len(done["assets"]) == 1
    asset = done["assets"][0]
    exported = prod["tmp"] / "exports" / asset["name"]
    exported.parent.mkdir(exist_ok=True)
    stored = root / "assets" / asset["sha256"][:2] / asset["sha256"][2:]  # the content-addressed store
    shutil.copyfile(stored, exported)

    r = sh(root, "verify", str(exported))
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    # trained face networks altered a real person's likeness: disclosed as an AI edit (DR009)
    assert "AI-edited" in text and "credentials intact" in text and "Lena Ortiz (performer_rep)" in text
    report = json.loads(sh(root, "verify", str(exported), "--json").stdout)
    report = report[0] if isinstance(report, list) else report
    assert report["c2pa"]["state"] == "Trusted" and "c2pa.edited" in report["c2pa"]["actions"]
    assert report["c2pa"]["soundstage"]["job_operation"] == "likeness_deage"
    assert report["watermark"]["found"] and report["watermark"]["payload"] == asset["id"]

    source, output = probe(prod["plate_path"]), probe(exported)
    assert output.frame_count == source.frame_count == 12 and output.fps == source.fps
    assert output.timecode == source.timecode and len(output.audio) == 1
    assert [bytes(p) for p in audio_packets(exported)] == [bytes(p) for p in audio_packets(prod["plate_path"])]


def test_truncated_plate_is_refused_at_the_door(prod):
    root, before = prod["root"], asset_count(prod["root"])
    data = prod["plate_path"].read_bytes()
    cut = prod["tmp"] / "B001_C001.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    r = sh(root, "asset", "add", str(cut), "--kind", "plate")
    assert r.returncode == 2
    assert "not a readable video" in error_line(r.stderr)
    assert asset_count(root) == before


def test_plate_whose_tail_is_missing_is_not_processed(prod):
    """A faststart MP4 cut short still opens (header first) but is missing frames: refused, nothing registered."""
    import av

    full = prod["tmp"] / "C001_full.mp4"
    with av.open(str(full), "w", options={"movflags": "+faststart"}) as out:  # header (moov) first
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "12"}
        for i, frame in enumerate(_helpers().astronaut_frames(24, 320, 180)):
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            video_frame.pts = i
            out.mux(stream.encode(video_frame))
        out.mux(stream.encode())
    data = full.read_bytes()
    cut = prod["tmp"] / "C001_C002.mp4"
    cut.write_bytes(data[: len(data) // 2])
    root = prod["root"]
    r = sh(root, "asset", "add", str(cut), "--kind", "plate", "--json")
    assert r.returncode == 0, r.stderr  # ingest keeps what a person may want to inspect
    cut_id = json.loads(r.stdout)["id"]
    mask = prod["tmp"] / "mask_320.png"
    Image.fromarray(np.zeros((180, 320, 3), np.uint8)).save(mask)
    mask_id = json.loads(sh(root, "asset", "add", str(mask), "--kind", "plate", "--json").stdout)["id"]
    before = asset_count(root)
    r = sh(root, "vfx", "cleanup", cut_id, "--mask", mask_id)
    assert r.returncode == 2
    assert "truncated" in error_line(r.stderr)
    assert asset_count(root) == before


def test_mask_of_the_wrong_size_is_refused(prod):
    root = prod["root"]
    mask = prod["tmp"] / "mask_small.png"
    Image.fromarray(np.full((100, 100, 3), 255, np.uint8)).save(mask)
    r = sh(root, "asset", "add", str(mask), "--kind", "plate", "--json")
    assert r.returncode == 0, r.stderr
    before = asset_count(root)
    r = sh(root, "vfx", "cleanup", prod["plate"]["id"], "--mask", json.loads(r.stdout)["id"])
    assert r.returncode == 2
    assert "the mask is 100x100; the plate is 640x360" in error_line(r.stderr)
    assert asset_count(root) == before


@pytest.mark.slow
def test_performer_without_enrolled_reference_is_refused_at_submit(prod):
    """Covered by consent but never enrolled: refused before approvers spend time on it."""
    root, before = prod["root"], asset_count(prod["root"])
    r = sh(root, "vfx", "deage", prod["plate"]["id"], "--performer", "Noel Park", "--scene", "5", "--json")
    assert r.returncode == 2
    assert "no enrolled reference face" in error_line(r.stderr)
    assert asset_count(root) == before
