"""What `info` says about the signing keys (red-team finding k3), run in-process through the real
entry point."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from soundstage.interfaces.cli import common
from soundstage.interfaces.cli.app import main


@pytest.fixture
def cli(sqlite_workspace, monkeypatch, capsys):
    """Run `soundstage -w WORKSPACE ...` as Tom Reed, producer (keys.manage); (exit code, stdout, stderr)."""
    from soundstage.services.people_service import add_crew
    from soundstage.testing.identity import token_for

    add_crew(sqlite_workspace, "Tom Reed", ["producer", "legal"], actor="setup")
    for name in ("SOUNDSTAGE_TOKEN_FILE", "SOUNDSTAGE_SINGLE_USER", "SOUNDSTAGE_WORKSPACE", "SOUNDSTAGE_KEY_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SOUNDSTAGE_TOKEN", token_for(sqlite_workspace, "Tom Reed"))
    monkeypatch.setattr(common, "console", Console(width=400, highlight=False))
    root = str(sqlite_workspace.settings.root)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["-w", root, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_info_shows_private_keys_others_can_read(cli, sqlite_workspace):
    code, out, err = cli("info", "--json")
    data = json.loads(out)
    assert data["private_key_files"] == "owner-only"
    directory = sqlite_workspace.settings.keys_dir
    for name in ("signer.key", "ca.key", "watermark.key"):
        (directory / name).chmod(0o644)
    code, out, err = cli("info")
    assert code == 0
    warning = [line for line in err.splitlines() if line.startswith("warning: the private key")]
    assert len(warning) == 1
    for name in ("signer.key", "ca.key", "watermark.key"):
        assert f"chmod 600 {directory / name}" in warning[0]
    assert json.loads(cli("info", "--json")[1])["private_key_files"].count("can be read or written by other") == 3
