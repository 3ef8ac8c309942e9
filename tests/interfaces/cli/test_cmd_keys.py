"""keys init / import / renew on the command line, and what `info` and `audit verify` say about
the signing keys (red-team findings k1-k3), run in-process through the real entry point."""

from __future__ import annotations

import json
import shutil

import pytest
from rich.console import Console

from soundstage.interfaces.cli import common
from soundstage.interfaces.cli.app import main
from soundstage.safeguards import keys
from soundstage.services.ledger import audit_log


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


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    return keys.create_production_ca(tmp_path_factory.mktemp("other") / "keys", "Somebody Else", None)


def test_keys_init_records_the_new_ca_and_says_it_replaced_one(cli, sqlite_workspace):
    directory = sqlite_workspace.settings.keys_dir
    first = keys.fingerprints(directory)
    for name in ("ca.pem", "ca.key", "chain.pem", "signer.key"):
        (directory / name).unlink()
    code, out, err = cli("keys", "init")
    assert code == 0, err
    now = keys.fingerprints(directory)
    assert f"production CA sha256 {now.anchor_sha256}" in out
    assert "note: this is a new CA" in err and "keys renew keeps the CA" in err
    event = audit_log(sqlite_workspace, action="keys.created")[-1]
    assert event["actor"] == "Tom Reed" and event["subject"] == "signing keys"
    assert event["payload"]["anchor_sha256"] == now.anchor_sha256 != first.anchor_sha256


def test_keys_import_is_recorded(cli, sqlite_workspace, other_ca):
    for name in ("chain.pem", "signer.key"):
        (sqlite_workspace.settings.keys_dir / name).unlink()
    code, out, err = cli("keys", "import", "--chain", str(other_ca.chain), "--key", str(other_ca.signer_key))
    assert code == 0, err
    event = audit_log(sqlite_workspace, action="keys.imported")[-1]
    assert event["actor"] == "Tom Reed" and event["payload"]["ca_sha256"] in out


def test_keys_renew_keeps_the_ca_and_is_recorded(cli, sqlite_workspace):
    directory = sqlite_workspace.settings.keys_dir
    before = keys.fingerprints(directory)
    code, out, err = cli("keys", "renew", "--days", "90")
    assert code == 0, err
    after = keys.fingerprints(directory)
    assert after.anchor_sha256 == before.anchor_sha256 and after.leaf_sha256 != before.leaf_sha256
    assert f"same production CA (sha256 {before.anchor_sha256})" in out and "files signed before stay trusted" in out
    event = audit_log(sqlite_workspace, action="keys.renewed")[-1]
    assert event["actor"] == "Tom Reed" and event["payload"]["leaf_sha256"] == after.leaf_sha256
    code, out, err = cli("info", "--json")
    assert json.loads(out)["signing_keys"].startswith("as the audit log records (keys.renewed")
    assert cli("audit", "verify")[0] == 0
    assert cli("keys", "renew", "--days", "0")[0] == 2


def test_keys_renew_of_an_imported_chain_says_who_renews_it(cli, sqlite_workspace, other_ca):
    for name in ("ca.key", "chain.pem", "signer.key"):
        (sqlite_workspace.settings.keys_dir / name).unlink()
    assert cli("keys", "import", "--chain", str(other_ca.chain), "--key", str(other_ca.signer_key))[0] == 0
    code, out, err = cli("keys", "renew")
    assert code == 2 and "ca.key is missing" in err and "soundstage keys import" in err


def test_info_shows_private_keys_others_can_read(cli, sqlite_workspace):
    code, out, err = cli("info", "--json")
    data = json.loads(out)
    assert data["private_key_files"] == "owner-only" and data["signing_keys"].startswith("as the audit log records")
    assert data["signing_ca_sha256"] == keys.fingerprints(sqlite_workspace.settings.keys_dir).anchor_sha256
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


def test_audit_verify_names_a_swapped_ca(cli, sqlite_workspace, other_ca):
    assert cli("audit", "verify")[0] == 0
    shutil.copy(other_ca.ca_cert, sqlite_workspace.settings.keys_dir / "ca.pem")
    code, out, err = cli("audit", "verify")
    assert code == 1
    ca = sqlite_workspace.settings.keys_dir / "ca.pem"
    assert f"keys {ca}: anchor_sha256 is {keys.fingerprints(other_ca.directory).anchor_sha256}" in out
    assert "differ" in err
    code, out, err = cli("audit", "verify", "--json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False and report["chain_ok"] is True
    assert [d["field"] for d in report["state"]["differences"]] == ["anchor_sha256"]
    code, out, err = cli("info")
    assert "warning: the signing keys DIFFER from the audit log" in err
