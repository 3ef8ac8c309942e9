"""`[provenance] tsa_url` with credentials in it (src/soundstage/settings.py). The red team's finding:
``http://user:password@tsa/…`` was accepted, and the password then reached errors, `soundstage info`
and the append-only audit log. Such a URL is now refused where it is read, in one line that never
repeats the secret; the tests look for the secret everywhere it used to go."""

from __future__ import annotations

import json
import socket
import tomllib

import pytest
import tomli_w
from rich.console import Console
from sqlalchemy import select

from soundstage.errors import SpecError
from soundstage.interfaces.cli import common
from soundstage.interfaces.cli.app import main
from soundstage.services.workspace import open_workspace
from soundstage.settings import CONFIG_NAME, load_settings
from soundstage.store.models import AuditEvent

SECRET = "Sup3rS3cret"


def _write(root, tsa_url: str) -> None:
    (root / CONFIG_NAME).write_text(tomli_w.dumps({"production": {"id": "p1", "title": "T"},
                                                   "provenance": {"tsa_url": tsa_url}}), encoding="utf-8")


@pytest.mark.parametrize("url", [
    f"http://studio:{SECRET}@tsa.example/tsr",
    f"https://studio:{SECRET}@tsa.example:8443/tsr",
    f"http://{SECRET}@tsa.example/tsr",  # an API key as the user name
    f"http://:{SECRET}@tsa.example/tsr",
    f"http://studio%3A{SECRET}@tsa.example/tsr",  # percent-encoded colon
    f"HTTP://studio:{SECRET}@tsa.example/tsr",
    f"  http://studio:{SECRET}@tsa.example/tsr  ",
    f"http://studio:{SECRET}@tsa.example?x=1",
    f"studio:{SECRET}@tsa.example/tsr",  # no scheme: otherwise echoed as "not an http(s) URL"
    f"http:studio:{SECRET}@tsa.example/tsr",
    f"ftp://studio:{SECRET}@tsa.example/tsr",  # also a bad scheme: the secret is still not shown
    f"http://studio:{SECRET}@tsa.example/a b",  # also has a space
    f"http://studio:{SECRET}@[::1/tsr",  # an unclosed IPv6 address urlsplit raises on
    f"http://tsa.example\\@studio:{SECRET}@tsa.example/",
])
def test_a_tsa_url_with_credentials_is_refused_without_repeating_them(tmp_path, url):
    _write(tmp_path, url)
    with pytest.raises(SpecError) as caught:
        load_settings(tmp_path)
    line = caught.value.one_line()
    assert "field 'provenance.tsa_url'" in line and "user name or password" in line and "\n" not in line
    assert "without them" in line  # the hint says what to do instead
    assert SECRET not in line and SECRET not in str(caught.value) and SECRET not in repr(caught.value.args)


@pytest.mark.parametrize("url", ["http://tsa.example/tsr?ref=a@b", "http://tsa.example/v2@2024/tsr",
                                 "https://tsa.example:8443/tsr#x@y"])
def test_an_at_sign_outside_the_authority_is_not_a_credential(tmp_path, url):
    _write(tmp_path, url)
    assert load_settings(tmp_path).tsa_url == url


def test_an_unparsable_tsa_url_is_a_spec_error_not_a_crash(tmp_path):
    _write(tmp_path, "http://[::1/tsr")
    with pytest.raises(SpecError, match="not an http\\(s\\) URL"):
        load_settings(tmp_path)


def _audit_text(ws) -> str:
    with ws.unit_of_work() as s:
        return "\n".join(f"{e.actor} {e.action} {e.subject} {e.payload}" for e in s.scalars(select(AuditEvent)))


def test_the_secret_reaches_no_output_and_no_audit_event(sqlite_workspace, monkeypatch, capsys):
    """The red team's t3: a TSA URL with a password, then `info`, a checkpoint and a signing attempt."""
    ws = sqlite_workspace
    root = ws.settings.root
    config = root / CONFIG_NAME
    original = config.read_text(encoding="utf-8")
    events_before = _audit_text(ws)
    with socket.socket() as probe:  # a TSA that is down: its error used to carry the URL into the log
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cfg = tomllib.loads(original)
    cfg["provenance"] = {"tsa_url": f"http://studio:{SECRET}@127.0.0.1:{port}/tsr"}
    config.write_text(tomli_w.dumps(cfg), encoding="utf-8")

    with pytest.raises(SpecError) as caught:
        open_workspace(root)
    assert SECRET not in caught.value.one_line()

    monkeypatch.setenv("SOUNDSTAGE_SINGLE_USER", "1")
    monkeypatch.delenv("SOUNDSTAGE_TOKEN", raising=False)
    monkeypatch.setattr(common, "console", Console(width=300, highlight=False))
    for args in (["info"], ["info", "--json"], ["audit", "checkpoint", "--json"], ["keys", "init"],
                 ["audit", "verify"]):
        capsys.readouterr()
        code = main(["-w", str(root), *args])
        out, err = capsys.readouterr()
        assert code == 2, (args, out, err)
        assert SECRET not in out and SECRET not in err, args
        assert [line for line in err.splitlines() if line.startswith("error:")], (args, err)

    config.write_text(original, encoding="utf-8")
    reopened = open_workspace(root)
    try:
        text = _audit_text(reopened)
        assert SECRET not in text and text == events_before
        assert main(["-w", str(root), "info", "--json"]) == 0  # fixed in the file: the workspace opens again
        assert json.loads(capsys.readouterr().out)["tsa_url"] is None
    finally:
        reopened.close()
