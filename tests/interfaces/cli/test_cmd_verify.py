"""`soundstage verify` on the command line: a file with its sidecar, a sidecar alone, a sequence pattern;
the exit code says whether anything failed, and bad sidecars are one line on stderr (issue 13 item 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.console import Console

from soundstage.interfaces.cli import common
from soundstage.interfaces.cli.app import main
from soundstage.safeguards.keys import create_production_ca, load_signer
from soundstage.safeguards.provenance import (
    SIDECAR_MAX_BYTES, ManifestSpec, Operation, SoftwareAgent, SoundstageRecord, sign_sequence, sign_sidecar,
)

SPEC = ManifestSpec(Operation.PROCEDURAL, "scene1_shot1_depth.png", SoftwareAgent("blender", "5.0.1"),
                    record=SoundstageRecord("prod-x", "job-x", "00000000000000d1", ()))


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """`main()` run outside any workspace (verify needs none), with a wide console."""
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.chdir(outside)
    monkeypatch.delenv("SOUNDSTAGE_WORKSPACE", raising=False)
    monkeypatch.delenv("SOUNDSTAGE_TOKEN", raising=False)
    monkeypatch.setattr(common, "console", Console(width=400, highlight=False))

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["verify", *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def signer(tmp_path):
    return load_signer(create_production_ca(tmp_path / "keys", "CLI Test", None).directory, None)


def _depth(path: Path, seed: int) -> Path:
    Image.fromarray(np.random.default_rng(seed).integers(0, 65535, (16, 24), dtype=np.uint16)).save(path)
    return path


def test_a_file_with_its_sidecar_and_the_sidecar_alone(cli, tmp_path, signer):
    depth = _depth(tmp_path / "depth.png", 1)
    sign_sidecar(depth, tmp_path / "depth.png.c2pa", SPEC, signer)
    code, out, err = cli(str(depth), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["c2pa"]["state"] == "Valid" and result["sidecar"] == str(tmp_path / "depth.png.c2pa")

    code, out, err = cli(str(tmp_path / "depth.png.c2pa"), "--json")
    assert code == 0, err
    alone = json.loads(out)
    assert alone["binding"]["checked"] is False and alone["c2pa"]["soundstage"]["asset_id"] == "00000000000000d1"

    code, out, _ = cli(str(depth))
    assert code == 0 and "(sidecar depth.png.c2pa): Valid" in out


def test_the_wrong_sidecar_exits_1(cli, tmp_path, signer):
    a, b = _depth(tmp_path / "a.png", 1), _depth(tmp_path / "b.png", 2)
    sign_sidecar(a, tmp_path / "a.png.c2pa", SPEC, signer)
    code, out, _ = cli(str(b), "--sidecar", str(tmp_path / "a.png.c2pa"))
    assert code == 1 and "Invalid" in out and "assertion.dataHash.mismatch" in out


def test_a_sequence_pattern_names_the_frames(cli, tmp_path, signer):
    shot = tmp_path / "shot"
    shot.mkdir()
    frames = []
    for index in range(4):
        frame = shot / f"plate.{index + 1:04d}.exr"
        frame.write_bytes(b"\x76\x2f\x31\x01" + bytes([index]) * 64)
        frames.append(frame)
    sign_sequence(frames, shot / "plate.c2pa", SPEC, signer)
    code, out, err = cli(str(shot / "plate.%04d.exr"))
    assert code == 0, err
    assert "all 4 signed frames present and unchanged" in out
    frames[2].write_bytes(b"\x76\x2f\x31\x01 replaced")
    code, out, _ = cli(str(shot / "plate.*.exr"), "--json")
    assert code == 1 and json.loads(out)["sequence"]["changed"] == ["plate.0003.exr"]


@pytest.mark.parametrize("content", [b"definitely not JUMBF", None])
def test_a_garbage_or_oversized_sidecar_is_one_line_on_stderr(cli, tmp_path, content):
    sidecar = tmp_path / "bad.c2pa"
    if content is None:
        with open(sidecar, "wb") as out:
            out.truncate(SIDECAR_MAX_BYTES + 1)
    else:
        sidecar.write_bytes(content)
    code, out, err = cli(str(sidecar))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert ("larger than any sidecar" if content is None else "not a readable C2PA sidecar") in err


def test_sidecar_option_takes_one_target(cli, tmp_path, signer):
    a = _depth(tmp_path / "a.png", 1)
    shutil.copyfile(a, tmp_path / "b.png")
    code, _, err = cli(str(a), str(tmp_path / "b.png"), "--sidecar", str(tmp_path / "a.png.c2pa"))
    assert code == 2 and "--sidecar goes with exactly one" in err


@pytest.mark.slow
def test_a_mark_found_past_the_head_of_a_clip_says_where(cli, tmp_path):
    """A marked 2 s shot cut into 10 s of unmarked H.264 at 6 s, no credentials: the verdict names
    the watermark and a line says where in the clip it was read (the fourth 48-frame span)."""
    from soundstage.testing.sample_media import write_spliced_clip

    clip = write_spliced_clip(tmp_path / "film.mp4", 0x5EC0DE0F1A7E)
    code, out, err = cli(str(clip))
    assert code == 0, err
    assert "soundstage watermark is present (payload 00005ec0de0f1a7e" in out
    assert ("  watermark found at 6.00-8.00 s with the public default key (payload 00005ec0de0f1a7e, 4 reads, "
            "false-positive rate") in out


def test_a_file_no_decoder_reads_says_why_the_watermark_was_not_read(cli, tmp_path):
    """A .wav that is not sound: no credentials, the verdict says the file could not be decoded
    (not "no watermark found", which would read as if it had been looked at and was clean), the
    watermark line says why, and nothing about it was verified: exit 1."""
    bad = tmp_path / "take.wav"
    bad.write_bytes(b"not a sound file at all")
    code, out, _ = cli(str(bad))
    assert code == 1
    assert "No Content Credentials, and the file could not be decoded to look for a watermark" in out
    assert "no soundstage watermark found" not in out
    assert "watermark not read: take.wav: not an image, video or sound file this reader knows" in out


def test_a_missing_target_among_several_loses_none_of_the_others(cli, tmp_path, signer):
    """Red team: one bad target aborted the whole command, printing nothing for the good files."""
    a = _depth(tmp_path / "a.png", 1)
    sign_sidecar(a, tmp_path / "a.png.c2pa", SPEC, signer)
    code, out, err = cli(str(a), str(tmp_path / "gone.png"), str(a))
    assert code == 2 and out.count("a.png (sidecar a.png.c2pa): Valid") == 2
    assert "gone.png: error: file not found: gone.png" in out
    code, out, _ = cli("--json", str(a), str(tmp_path / "gone.png"))
    parsed = json.loads(out)
    assert code == 2 and parsed[0]["c2pa"]["state"] == "Valid" and parsed[1]["error"].startswith("file not found")


@pytest.mark.slow
def test_a_long_clip_says_how_much_was_read_and_whole_reads_it_all(cli, tmp_path, monkeypatch):
    from soundstage.services import verify_service
    from soundstage.testing.sample_media import write_spliced_clip

    monkeypatch.setattr(verify_service, "MAX_VIDEO_SPANS", 2)
    clip = write_spliced_clip(tmp_path / "reel.mp4", 1, seconds=9.0, marked_seconds=0.0, width=96, height=64, crf=30)
    code, out, err = cli(str(clip))
    assert code == 0, err
    assert ("watermark not found (2 reads: 2 of the file's 5 spans, spread over it; soundstage verify --whole "
            "reads them all)") in out
    code, out, err = cli(str(clip), "--whole")
    assert code == 0, err
    assert "watermark not found (5 reads)" in out


def test_a_sequence_signed_in_parts_exits_1_when_a_part_is_gone(cli, tmp_path, signer):
    shot = tmp_path / "shot"
    shot.mkdir()
    frames = []
    for index in range(5):
        frame = shot / f"plate.{index + 1:04d}.exr"
        frame.write_bytes(b"\x76\x2f\x31\x01" + bytes([index]) * 64)
        frames.append(frame)
    sign_sequence(frames, shot / "plate.c2pa", SPEC, signer, part_frames=2)
    code, out, err = cli(str(shot / "plate.%04d.exr"))
    assert code == 0, err
    assert "(3 part sidecars: plate.part0001.c2pa to plate.part0003.c2pa): Valid" in out
    assert "signed in 3 parts, 3 read; all 5 signed frames present and unchanged" in out
    (shot / "plate.part0003.c2pa").unlink()
    code, out, _ = cli(str(shot / "plate.####.exr"), "--json")
    result = json.loads(out)
    assert code == 1 and result["sequence"]["parts_missing"] == [3] and result["sequence"]["unexpected"] == \
        ["plate.0005.exr"]
