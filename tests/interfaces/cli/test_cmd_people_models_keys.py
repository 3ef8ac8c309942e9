"""talent / model / keys on the command line, run in-process through the real entry point."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from soundstage.interfaces.cli import common
from soundstage.interfaces.cli.app import main
from soundstage.services.ledger import audit_log


@pytest.fixture
def cli(sqlite_workspace, monkeypatch, capsys):
    """Run `soundstage -w WORKSPACE ...` as Tom Reed (with his credential); returns (exit code, stdout, stderr)."""
    from soundstage.services.people_service import add_crew
    from soundstage.testing.identity import token_for

    add_crew(sqlite_workspace, "Tom Reed", ["producer", "vfx_supervisor", "rights_clearance", "legal"], actor="setup")
    monkeypatch.setenv("SOUNDSTAGE_TOKEN", token_for(sqlite_workspace, "Tom Reed"))
    monkeypatch.setattr(common, "console", Console(width=200, highlight=False))  # tables unwrapped
    monkeypatch.delenv("SOUNDSTAGE_WORKSPACE", raising=False)
    root = str(sqlite_workspace.settings.root)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["-w", root, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


# ------------------------------------------------------------------ talent represent

def test_talent_represent_puts_a_representative_on_file(cli, sqlite_workspace):
    assert cli("crew", "add", "Ada Marsh", "--role", "performer_rep")[0] == 0
    assert cli("crew", "add", "Ken Ito", "--role", "vfx_supervisor")[0] == 0
    code, out, err = cli("talent", "add", "Late Legend", "--deceased", "--died", "2019-03-01", "--json")
    assert code == 0, err
    legend = json.loads(out)
    assert legend["representatives"] == []

    code, out, err = cli("talent", "represent", "Late Legend", "--by", "Ada Marsh")
    assert code == 0, err
    assert "represented by Ada Marsh" in out
    code, out, _ = cli("talent", "show", legend["id"], "--json")
    shown = json.loads(out)
    assert shown["representative_names"] == ["Ada Marsh"] and len(shown["representatives"]) == 1
    event = audit_log(sqlite_workspace, action="talent.representative_added")[-1]
    assert event["actor"] == "Tom Reed"
    assert event["payload"]["performer"] == legend["id"]
    assert event["payload"]["representative"] == shown["representatives"][0]

    code, _, err = cli("talent", "represent", "Late Legend", "--by", "Ken Ito")
    assert code == 2 and "not a performer's representative" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("talent", "represent", "Late Legend", "--by", "Ada Marsh")
    assert code == 2 and "already represents" in err


# ------------------------------------------------------------------ model cards

def test_model_add_without_data_handling_fields_is_recorded_and_shown_as_unsafe(cli, tmp_path):
    card = _write_yaml(tmp_path / "vendor.yaml", {
        "id": "vendor.upscaler", "name": "Vendor upscaler", "version": "2", "licence": "commercial",
        "training_data": "licensed", "evidence": "contract 2026-11", "runs_in_production_env": True,
        "trained_model": False, "backend": "procedural-card"})
    code, _, err = cli("model", "add", str(card))
    assert code == 0, err
    code, out, _ = cli("model", "list", "--json")
    row = next(r for r in json.loads(out) if r["id"] == "vendor.upscaler")
    assert (row["stores_inputs"], row["trains_on_inputs"]) == (True, True)
    builtin = next(r for r in json.loads(out) if r["id"] == "soundstage.procedural-card")
    assert (builtin["stores_inputs"], builtin["trains_on_inputs"]) == (False, False)
    code, out, _ = cli("model", "list")
    assert "stores inputs" in out and "trains on inputs" in out
    header = next(x for x in out.splitlines() if "stores inputs" in x)
    line = next(x for x in out.splitlines() if "vendor.upscaler" in x)
    cells = dict(zip((c.strip() for c in re.split("[│┃|]", header)), (c.strip() for c in re.split("[│┃|]", line))))
    assert (cells["stores inputs"], cells["trains on inputs"]) == ("True", "True")

    job = _write_yaml(tmp_path / "job.yaml", {"operation": "ideation", "model_id": "vendor.upscaler",
                                              "prompt": "rainy street at dusk"})
    code, out, err = cli("policy", "check", str(job), "--json")
    assert code == 0, err
    assert "NFX-P2" in [r["rule_id"] for r in json.loads(out)["decision"]["reasons"]]


# ------------------------------------------------------------------ keys

def _remove_signing_keys(ws) -> None:
    for name in ("ca.pem", "ca.key", "chain.pem", "signer.key"):
        (ws.settings.keys_dir / name).unlink()


def test_keys_init_passphrase_env_is_the_one_signing_reads(cli, sqlite_workspace, tmp_path, monkeypatch):
    ws = sqlite_workspace
    _remove_signing_keys(ws)
    monkeypatch.delenv("SOUNDSTAGE_KEY_PASSPHRASE", raising=False)
    monkeypatch.setenv("STUDIO_KEY_PASS", "correct horse battery staple")
    code, out, err = cli("keys", "init", "--passphrase-env", "STUDIO_KEY_PASS")
    assert code == 0, err
    assert b"ENCRYPTED" in (ws.settings.keys_dir / "signer.key").read_bytes()

    job = _write_yaml(tmp_path / "job.yaml", {"operation": "ideation", "model_id": "soundstage.procedural-card",
                                              "prompt": "rainy street at dusk"})
    code, out, err = cli("job", "submit", str(job), "--json")
    assert code == 0, err
    assert json.loads(out)["status"] == "done"

    monkeypatch.delenv("STUDIO_KEY_PASS")
    other = _write_yaml(tmp_path / "other.yaml", {"operation": "ideation", "model_id": "soundstage.procedural-card",
                                                  "prompt": "sunny beach at noon"})
    code, out, err = cli("job", "submit", str(other), "--json")
    assert code == 2
    assert "$STUDIO_KEY_PASS is not set" in err and len(err.strip().splitlines()) == 1


def test_keys_init_refuses_a_named_variable_that_is_not_set(cli, sqlite_workspace, monkeypatch):
    ws = sqlite_workspace
    _remove_signing_keys(ws)
    monkeypatch.delenv("NO_SUCH_PASSPHRASE_VAR", raising=False)
    code, _, err = cli("keys", "init", "--passphrase-env", "NO_SUCH_PASSPHRASE_VAR")
    assert code == 2 and "$NO_SUCH_PASSPHRASE_VAR is not set" in err
    assert not (ws.settings.keys_dir / "signer.key").exists()
    monkeypatch.delenv("SOUNDSTAGE_KEY_PASSPHRASE", raising=False)
    code, _, err = cli("keys", "init")  # no variable named, none set: an unencrypted key, as before
    assert code == 0, err
    assert b"ENCRYPTED" not in (ws.settings.keys_dir / "signer.key").read_bytes()
