"""`make demo` runs the whole pipeline on the bundled sample production: prove it here."""

import json
import re
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path):
    out = tmp_path / "demo"
    r = subprocess.run([sys.executable, "-m", "soundstage.testing.demo", str(out)], capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert (out / "reports" / "breakdown_sheets.pdf").read_bytes().startswith(b"%PDF")
    assert (out / "the_last_take.fdx").is_file()
    assert "audit log intact" in r.stdout
    # the third draft keeps the assist on its unchanged scenes and drops the rewritten one's, with no model request
    flat = " ".join(r.stdout.split())
    assert re.search(r"assist: [1-9]\d* carried, [1-9]\d* dropped: ", flat) and "(the third draft sent none)" in flat
    disclosure = json.loads((out / "disclosure" / "disclosure.json").read_text())
    operations = {u["operation"] for u in disclosure["uses"]}
    assert {"ideation", "likeness_deage"} <= operations
    assert disclosure["quarantined"], "the revoked consent's frame must be listed as quarantined"
    # at picture lock the de-age is a final deliverable (its consent is for the final cut) and is disclosed
    lock = json.loads((out / "disclosure_picture_lock" / "disclosure.json").read_text())
    assert [u["deliverable"] for u in lock["uses"] if u["operation"] == "likeness_deage"] == ["final"]
    assert lock["prepared_by"]["person"] == "Tom Reed" and lock["sign_off"] == {"role": "legal", "person": "Tom Reed"}
    notice = (out / "disclosure_picture_lock" / "credits_notice.txt").read_text()
    assert "digitally altered (including de-ageing)" in notice and "with their consent" in notice
    # the re-posted shot, credentials gone: credited only because its mark is the production's secret key's
    assert "its watermark, made with the production's secret key, identifies asset" in " ".join(r.stdout.split())
    assert {"ideation", "likeness_deage", "cleanup"} <= operations
    # the DPX scan: one asset of 24 frames, and a cleaned clip with the scan's rate and timecode
    assert "24 DPX frames 1001-1024" in " ".join(r.stdout.split())
    from soundstage.vfx.media import probe

    cleaned = probe(out / "shot_5B_boom_removed.mp4")
    assert cleaned.frame_count == 24 and cleaned.timecode == "01:00:00:00"
    assert (out / "shot_5B_before_after.png").read_bytes().startswith(b"\x89PNG")
    # a second run replaces its own output directory
    r2 = subprocess.run([sys.executable, "-m", "soundstage.testing.demo", str(out)], capture_output=True,
                        text=True, timeout=900)
    assert r2.returncode == 0


def test_demo_refuses_to_replace_a_directory_it_did_not_make(tmp_path):
    (tmp_path / "precious.txt").write_text("keep")
    r = subprocess.run([sys.executable, "-m", "soundstage.testing.demo", str(tmp_path)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and (tmp_path / "precious.txt").read_text() == "keep"
