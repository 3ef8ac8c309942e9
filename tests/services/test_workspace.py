import tomllib

import pytest

from soundstage.errors import AlreadyExistsError, InputError, WorkspaceError
from soundstage.services.workspace import init_workspace, open_workspace, production_summary


def test_init_creates_config_store_and_ledger(workspace):
    root = workspace.settings.root
    cfg = tomllib.loads((root / "soundstage.toml").read_text())
    assert cfg["production"]["title"] == "The Last Take"
    assert (root / "assets").is_dir() and (root / "exports").is_dir()
    summary = production_summary(workspace)
    assert summary["title"] == "The Last Take"
    from soundstage.services.ledger import audit_log

    actions = [e["action"] for e in audit_log(workspace)]
    assert actions[:2] == ["production.created", "keys.created"]
    from soundstage.generate.registry import BUILTIN_MODELS

    # built-in backends are registered like any other model
    assert actions.count("model.registered") == len(BUILTIN_MODELS)
    assert (root / "keys" / "chain.pem").is_file()


def test_existing_non_empty_directory_is_refused(tmp_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "precious.txt").write_text("do not touch")
    with pytest.raises(AlreadyExistsError):
        init_workspace(target, "X")
    assert [p.name for p in target.iterdir()] == ["precious.txt"]


def test_blank_title_is_bad_input(tmp_path):
    with pytest.raises(InputError):
        init_workspace(tmp_path / "w", "   ")
    assert not (tmp_path / "w").exists()


def test_failed_init_leaves_nothing_behind(tmp_path):
    target = tmp_path / "w"
    with pytest.raises(WorkspaceError):
        init_workspace(target, "X", database_url="postgresql+psycopg://nobody:x@127.0.0.1:1/none")
    assert not target.exists()


def test_open_something_that_is_not_a_workspace(tmp_path):
    with pytest.raises(WorkspaceError, match="not a soundstage workspace"):
        open_workspace(tmp_path)
    with pytest.raises(WorkspaceError, match="no workspace"):
        open_workspace(tmp_path / "missing")


def test_trust_settings_studio_root_and_trust_list(tmp_path):
    """A studio's root CA and a trust list file are configured in soundstage.toml [trust]."""
    from soundstage.settings import load_settings

    ws = init_workspace(tmp_path / "w", "Trust")
    ws.close()
    cfg = tmp_path / "w" / "soundstage.toml"
    cfg.write_text(cfg.read_text().replace("[trust]\nanchors = []",
                                           '[trust]\nanchors = ["studio_root.pem"]\nlist = "c2pa_trust_list.pem"'))
    settings = load_settings(tmp_path / "w")
    assert settings.trust_anchors == (settings.root / "studio_root.pem",)
    assert settings.trust_list == settings.root / "c2pa_trust_list.pem"
