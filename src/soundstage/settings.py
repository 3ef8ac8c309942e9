"""Settings: built once at the edge (CLI, server) and passed down; nothing reads config at import time."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

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
    # every certificate a reader of Content Credentials trusts: [trust] anchors, then the TSA's CA
    # ([provenance] tsa_trust_anchor) - c2pa-rs checks claim signers and time-stamp signers
    # against one set of anchors (docs/decisions/DR007-trusted-timestamps.md)
    trust_anchors: tuple[Path, ...] = ()
    trust_list: Path | None = None  # e.g. the C2PA trust list file, when the production has it
    # RFC 3161 time-stamp authority every signature is stamped by ([provenance] tsa_url); None:
    # signatures stop validating when the signing certificate expires
    tsa_url: str | None = None
    tsa_trust_anchor: Path | None = None  # the TSA's CA certificate (also in trust_anchors)
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
    tsa_url, tsa_anchor = _provenance(cfg.get("provenance", {}), root, cfg_path)
    anchors = tuple((root / p) for p in trust.get("anchors", []))
    return Settings(
        root=root.resolve(),
        production_id=prod["id"],
        title=prod["title"],
        database_url=url,
        max_script_bytes=int(cfg.get("limits", {}).get("max_script_bytes", 16 * 1024 * 1024)),
        policy_packs=tuple((root / p) for p in policy.get("packs", [])),
        trust_anchors=anchors + ((tsa_anchor,) if tsa_anchor is not None and tsa_anchor not in anchors else ()),
        trust_list=(root / trust["list"]) if trust.get("list") else None,
        tsa_url=tsa_url,
        tsa_trust_anchor=tsa_anchor,
        extra={k: v for k, v in cfg.items()
               if k not in {"production", "database", "policy", "trust", "limits", "provenance"}},
    )


def _provenance(section: object, root: Path, cfg_path: Path) -> tuple[str | None, Path | None]:
    """``[provenance] tsa_url`` (an http(s) URL) and ``tsa_trust_anchor`` (a path under the workspace)."""
    if not isinstance(section, dict):
        raise SpecError("must be a table", field="provenance", source=str(cfg_path))
    unknown = sorted(set(section) - {"tsa_url", "tsa_trust_anchor"})
    if unknown:
        raise SpecError(f"unknown setting {unknown[0]!r}", field="provenance", source=str(cfg_path),
                        hint="known: tsa_url, tsa_trust_anchor")
    url = section.get("tsa_url")
    if url is not None:
        if not isinstance(url, str):
            raise SpecError("must be a string", field="provenance.tsa_url", source=str(cfg_path))
        url = url.strip()
        # Refused rather than redacted: the URL is shown by `info` and `keys init`, named in every
        # TSA error (ours and c2pa-rs's own text, which we do not control) and so recorded in the
        # append-only audit log, where a password can never be removed again. One check where the
        # URL enters covers every place it goes; redacting would have to be right in each of them.
        # Checked before anything echoes the URL. RFC 3161 over HTTP has no standard login anyway.
        if "@" in _authority(url):
            raise SpecError("carries a user name or password (user:password@host); the URL is shown by "
                            "`soundstage info`, in errors and in the audit log, so it must not hold credentials",
                            field="provenance.tsa_url", source=str(cfg_path),
                            hint="give the TSA's URL without them (soundstage sends no login to a TSA); for a TSA "
                                 "that requires one, have it allow this studio's address or put a local proxy "
                                 "that adds the login in front of it")
        try:
            parts = urlsplit(url) if url else None
        except ValueError:  # e.g. an unclosed [IPv6 address
            parts = None
        if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname
                or any(ch.isspace() or ord(ch) < 32 for ch in url)):
            raise SpecError(f"not an http(s) URL of a time-stamp authority: {url[:80]!r}",
                            field="provenance.tsa_url", source=str(cfg_path),
                            hint='e.g. tsa_url = "http://tsa.example.com/tsr"; leave it out for no time-stamps')
    anchor = section.get("tsa_trust_anchor")
    if anchor is not None and (not isinstance(anchor, str) or not anchor.strip()):
        raise SpecError("must be the path of a PEM certificate", field="provenance.tsa_trust_anchor",
                        source=str(cfg_path))
    return url, (root / anchor.strip()) if anchor is not None else None


def _authority(url: str) -> str:
    """The part of `url` where user:password@ would be (after "scheme://", before the path, query
    or fragment), or, with no "://", everything up to those: read as broadly as any client would."""
    rest = url.split("://", 1)[1] if "://" in url else url
    return re.split(r"[/?#]", rest, maxsplit=1)[0]
