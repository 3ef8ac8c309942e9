"""The real `soundstage` command, run as a subprocess: exit codes, one-line errors, --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE_SCRIPT = Path(__file__).resolve().parents[2] / "src" / "soundstage" / "samples" / "the_last_take.fountain"


def sh(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("SOUNDSTAGE_WORKSPACE", None)
    return subprocess.run([sys.executable, "-m", "soundstage", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Path:
    """A production made by `soundstage init`; its owner's credential (printed once) is the one the
    commands below run with."""
    for name in ("SOUNDSTAGE_TOKEN", "SOUNDSTAGE_TOKEN_FILE", "SOUNDSTAGE_SINGLE_USER"):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "prod"
    r = sh("init", str(root), "--title", "The Last Take", "--owner", "maya.producer")
    assert r.returncode == 0, r.stderr
    monkeypatch.setenv("SOUNDSTAGE_TOKEN", r.stdout.strip().splitlines()[-1])
    return root


def test_import_breakdown_and_audit_end_to_end(ws):
    r = sh("-w", str(ws), "script", "import", str(SAMPLE_SCRIPT), "--json")
    assert r.returncode == 0, r.stderr
    imported = json.loads(r.stdout)
    assert imported["draft"] == 1 and imported["scenes"] >= 6

    r = sh("-w", str(ws), "script", "breakdown", "--json")
    assert r.returncode == 0, r.stderr
    bd = json.loads(r.stdout)
    numbers = [s["number"] for s in bd["scenes"]]
    assert numbers[:3] == ["1", "2", "3"]
    cast = {c for s in bd["scenes"] for c in s["speaking_cast"]}
    assert "MAYA" in cast

    r = sh("-w", str(ws), "audit", "verify", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True
    r = sh("-w", str(ws), "audit", "log", "--json")
    actions = [e["action"] for e in json.loads(r.stdout)]
    assert actions[0] == "production.created" and actions[-2:] == ["asset.ingested", "script.imported"]
    assert all(e["actor"] == "maya.producer" for e in json.loads(r.stdout))


def test_workspace_from_the_current_directory(ws):
    r = sh("info", "--json", cwd=ws)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["title"] == "The Last Take"


def test_bad_input_is_one_line_and_exit_2(ws, tmp_path):
    before = json.loads(sh("-w", str(ws), "info", "--json").stdout)
    binary = tmp_path / "photo.fountain"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    r = sh("-w", str(ws), "script", "import", str(binary))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error:") and "Traceback" not in r.stderr

    empty = tmp_path / "empty.fountain"
    empty.write_text("")
    r = sh("-w", str(ws), "script", "import", str(empty))
    assert r.returncode == 2 and "no screenplay content" in r.stderr

    r = sh("-w", str(ws), "script", "import", str(tmp_path / "missing.fountain"))
    assert r.returncode == 2 and "not found" in r.stderr

    # nothing half-written: the failed imports left no asset, no draft, no audit event
    info = json.loads(sh("-w", str(ws), "info", "--json").stdout)
    assert info["assets"] == 0 and info["audit_events"] == before["audit_events"]


def test_hostile_fdx_is_refused_cleanly(ws, tmp_path):
    bomb = tmp_path / "bomb.fdx"
    bomb.write_text('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
                    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>\n'
                    '<FinalDraft><Content><Paragraph Type="Action"><Text>&lol2;</Text></Paragraph>'
                    '</Content></FinalDraft>')
    r = sh("-w", str(ws), "script", "import", str(bomb))
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1


def test_init_refuses_an_existing_workspace(ws):
    r = sh("init", str(ws), "--title", "Again")
    assert r.returncode == 2 and "already exists" in r.stderr


def test_debug_shows_the_traceback(tmp_path):
    r = sh("--debug", "-w", str(tmp_path / "nowhere"), "info")
    assert r.returncode == 1 and "Traceback" in r.stderr
    r = sh("-w", str(tmp_path / "nowhere"), "info")
    assert r.returncode == 1 and "Traceback" not in r.stderr and "no workspace" in r.stderr


def test_usage_error_exits_2(ws):
    r = sh("-w", str(ws), "script", "breakdown", "--no-such-option")
    assert r.returncode == 2


def test_tampered_audit_log_fails_verify(ws):
    import sqlite3

    sh("-w", str(ws), "script", "import", str(SAMPLE_SCRIPT))
    con = sqlite3.connect(ws / "ledger.sqlite")
    con.execute("UPDATE audit_event SET actor='mallory' WHERE seq=2")
    con.commit()
    con.close()
    r = sh("-w", str(ws), "audit", "verify")
    assert r.returncode == 1 and "event #2" in r.stderr
    r = sh("-w", str(ws), "audit", "verify", "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["first_bad_seq"] == 2


def test_edit_survives_a_new_draft_and_numbers_stay_locked(ws, tmp_path):
    from soundstage.testing.demo import revised_draft

    assert sh("-w", str(ws), "script", "import", str(SAMPLE_SCRIPT)).returncode == 0
    r = sh("-w", str(ws), "script", "edit", "add", "--scene", "2", "--category", "props", "--name", "thermos")
    assert r.returncode == 0, r.stderr
    draft2 = tmp_path / "draft2.fountain"
    draft2.write_text(revised_draft(SAMPLE_SCRIPT.read_text()))
    r = sh("-w", str(ws), "script", "import", str(draft2), "--json")
    assert r.returncode == 0, r.stderr
    statuses = {c["status"] for c in json.loads(r.stdout)["revision"]["changes"]}
    assert {"added", "omitted"} <= statuses
    bd = json.loads(sh("-w", str(ws), "script", "breakdown", "--json").stdout)
    numbers = [s["number"] for s in bd["scenes"]]
    assert "2A" in numbers
    assert any(s["omitted"] for s in bd["scenes"])
    scene2 = next(s for s in bd["scenes"] if s["number"] == "2")
    assert any(e["name"] == "thermos" and e["origin"] == "user" for e in scene2["elements"])


def test_reports_and_export(ws, tmp_path):
    sh("-w", str(ws), "script", "import", str(SAMPLE_SCRIPT))
    out = tmp_path / "reports"
    r = sh("-w", str(ws), "script", "report", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert (out / "breakdown_sheets.pdf").read_bytes().startswith(b"%PDF")
    cast = json.loads((out / "cast.json").read_text())
    assert any(row.get("character", row.get("name")) == "MAYA" for row in cast)
    assert (out / "scenes.csv").read_text().count("\n") >= 7
    fdx = tmp_path / "x.fdx"
    r = sh("-w", str(ws), "script", "export", "--format", "fdx", "--out", str(fdx))
    assert r.returncode == 0 and b"<FinalDraft" in fdx.read_bytes()


def _imported_asset(ws) -> dict:
    assert sh("-w", str(ws), "script", "import", str(SAMPLE_SCRIPT)).returncode == 0
    return json.loads(sh("-w", str(ws), "asset", "list", "--json").stdout)[0]


def test_asset_export_into_a_missing_folder_is_bad_input(ws, tmp_path):
    asset = _imported_asset(ws)
    r = sh("-w", str(ws), "asset", "export", asset["id"], "--out", str(tmp_path / "nowhere" / "draft.fountain"))
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error:") and "Traceback" not in r.stderr
    assert "does not exist" in r.stderr and "mkdir" in r.stderr
    assert not (tmp_path / "nowhere").exists()
    r = sh("-w", str(ws), "asset", "export", asset["id"], "--out", str(tmp_path / "draft.fountain"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "draft.fountain").read_bytes() == SAMPLE_SCRIPT.read_bytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


@pytest.mark.parametrize("points_at", ["missing", "existing"])
def test_asset_export_never_writes_through_a_symlink(ws, tmp_path, points_at):
    asset = _imported_asset(ws)
    victim = tmp_path / "victim.txt"
    if points_at == "existing":
        victim.write_text("keep me")
    link = tmp_path / "out.fountain"
    link.symlink_to(victim)
    r = sh("-w", str(ws), "asset", "export", asset["id"], "--out", str(link))
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "symlink" in r.stderr and "Traceback" not in r.stderr
    assert link.is_symlink() and os.readlink(link) == str(victim)
    assert victim.read_text() == "keep me" if points_at == "existing" else not victim.exists()
    # a symlink at the name inside an --out folder is refused the same way
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / asset["name"]).symlink_to(victim)
    r = sh("-w", str(ws), "asset", "export", asset["id"], "--out", str(tmp_path / "folder"))
    assert r.returncode == 2 and "symlink" in r.stderr, r.stderr
    assert victim.read_text() == "keep me" if points_at == "existing" else not victim.exists()
    assert sorted(p.name for p in (tmp_path / "folder").iterdir()) == [asset["name"]]


def test_asset_export_of_an_altered_stored_file_writes_nothing(ws, tmp_path):
    asset = _imported_asset(ws)
    stored = ws / "assets" / asset["sha256"][:2] / asset["sha256"][2:]
    os.chmod(stored, 0o644)
    stored.write_bytes(b"INT. SOMEWHERE ELSE - NIGHT\n")
    out = tmp_path / "out"
    out.mkdir()
    r = sh("-w", str(ws), "asset", "export", asset["id"], "--out", str(out))
    assert r.returncode == 1 and "does not match its hash" in r.stderr, r.stderr
    assert list(out.iterdir()) == []


def test_a_script_without_recognised_headings_gets_the_hint_to_force_one(ws, tmp_path):
    script = tmp_path / "kuchnia.fountain"
    script.write_text("WNĘTRZE. KUCHNIA - NOC\n\nAnna stawia czajnik.\n", encoding="utf-8")
    r = sh("-w", str(ws), "script", "import", str(script))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "no scene headings found" in r.stderr and "'.'" in r.stderr, r.stderr
