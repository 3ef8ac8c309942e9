"""Settings: built once at the edge (CLI, server) and passed down; nothing reads config at import time."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from soundstage.errors import SpecError, WorkspaceError

CONFIG_NAME = "soundstage.toml"
DATABASE_URL_ENV = "SOUNDSTAGE_DATABASE_URL"
WORKSPACE_ENV = "SOUNDSTAGE_WORKSPACE"


@dataclass(frozen=True)
class Settings:
    """Everything a workspace needs to run, resolved from its TOML config and the environment."""

    root: Path
    production_id: str
    title: str
    database_url: str
    max_script_bytes: int = 16 * 1024 * 1024
    policy_packs: tuple[Path, ...] = ()
    trust_anchors: tuple[Path, ...] = ()
    trust_list: Path | None = None  # e.g. the C2PA trust list file, when the production has it
    extra: dict = field(default_factory=dict)

    @property
    def assets_dir(self) -> Path:
        return self.root / "assets"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"


def sqlite_url(root: Path) -> str:
    return f"sqlite:///{(root / 'ledger.sqlite').resolve()}"


def load_settings(root: Path, env: dict[str, str] | None = None) -> Settings:
    """Read ``soundstage.toml`` under *root*; ``SOUNDSTAGE_DATABASE_URL`` overrides the database."""
    env = dict(os.environ) if env is None else env
    cfg_path = root / CONFIG_NAME
    if not cfg_path.is_file():
        raise WorkspaceError(f"{root} is not a soundstage workspace (no {CONFIG_NAME})",
                             hint="create one with: soundstage init DIR --title \"...\"")
    try:
        cfg = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read workspace config: {exc}", source=str(cfg_path)) from exc
    prod = cfg.get("production", {})
    db = cfg.get("database", {})
    for key in ("id", "title"):
        if not isinstance(prod.get(key), str):
            raise SpecError("missing or not a string", field=f"production.{key}", source=str(cfg_path))
    url = env.get(DATABASE_URL_ENV) or db.get("url") or sqlite_url(root)
    policy = cfg.get("policy", {})
    trust = cfg.get("trust", {})
    return Settings(
        root=root.resolve(),
        production_id=prod["id"],
        title=prod["title"],
        database_url=url,
        max_script_bytes=int(cfg.get("limits", {}).get("max_script_bytes", 16 * 1024 * 1024)),
        policy_packs=tuple((root / p) for p in policy.get("packs", [])),
        trust_anchors=tuple((root / p) for p in trust.get("anchors", [])),
        trust_list=(root / trust["list"]) if trust.get("list") else None,
        extra={k: v for k, v in cfg.items() if k not in {"production", "database", "policy", "trust", "limits"}},
    )
