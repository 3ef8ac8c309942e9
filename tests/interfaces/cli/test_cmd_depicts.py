"""`policy check` and `job submit` read the depiction fields from the job YAML (issue 12)."""

from __future__ import annotations

import json

import yaml
from rich.console import Console

from soundstage.interfaces.cli import common
from soundstage.interfaces.cli.app import main


def _cli(ws, monkeypatch, capsys):
    monkeypatch.setenv("SOUNDSTAGE_SINGLE_USER", "1")  # laptop mode: no credential needed
    monkeypatch.delenv("SOUNDSTAGE_TOKEN", raising=False)
    monkeypatch.setattr(common, "console", Console(width=200, highlight=False))
    monkeypatch.delenv("SOUNDSTAGE_WORKSPACE", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["-w", str(ws.settings.root), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_policy_check_and_job_submit_take_the_depiction_fields(sqlite_workspace, tmp_path, monkeypatch, capsys):
    cli = _cli(sqlite_workspace, monkeypatch, capsys)
    base = {"operation": "background_element", "model_id": "soundstage.procedural-card",
            "prompt": "studio desk at night, Dana Whitfield reading the evening bulletin"}
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump(base), encoding="utf-8")
    stated = tmp_path / "stated.yaml"
    stated.write_text(yaml.safe_dump({**base, "depicts_real_person": True, "news_format": True}), encoding="utf-8")

    code, out, err = cli("policy", "check", str(plain), "--json")
    assert code == 0, err
    assert json.loads(out)["decision"]["outcome"] == "proceed"

    code, out, err = cli("policy", "check", str(stated))
    assert code == 0, err
    assert "ESCALATE" in out and "DEPICT-REAL-PERSON" in out and "DEPICT-NEWS-FORMAT" in out
    assert "on-screen disclosure" in out

    code, out, err = cli("job", "submit", str(stated), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "escalated"
    code, out, err = cli("job", "show", result["job"], "--json")
    assert code == 0, err
    spec = json.loads(out)["spec"]
    assert spec["depicts_real_person"] is True and spec["news_format"] is True

    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml.safe_dump({**base, "depicts_real_event": "yes"}), encoding="utf-8")
    code, _, err = cli("policy", "check", str(wrong))
    assert code == 2 and "wrong.yaml:1, field 'depicts_real_event'" in err  # keys sorted: it is line 1
