"""Which content store a workspace uses: ``[store]`` in soundstage.toml, read by a pure function.

    [store]                       # leave the table out for the local folder (the default)
    backend = "s3"
    endpoint = "https://s3.studio.example"   # leave out for AWS S3 in `region`
    bucket = "the-last-take"
    region = "us-east-1"
    prefix = "plates/"            # default: "<production id>/"
    access_key_env = "AWS_ACCESS_KEY_ID"      # the default names
    secret_key_env = "AWS_SECRET_ACCESS_KEY"
    session_token_env = "AWS_SESSION_TOKEN"   # optional (temporary credentials)
    cache_dir = "cache/s3"        # relative to the workspace; the default
    part_size_mib = 64            # multipart part size, 5..5120
    upload_threads = 4            # parts in flight, 1..16 (memory: this many parts)
    addressing_style = "path"     # or "virtual"
    ca_bundle = "keys/s3-ca.pem"  # optional, for a private CA

Credentials never go in the file: it names the environment variables that hold them, and a key
that looks like a credential is refused. ``parse_store_config`` takes the table and the
environment as arguments and touches nothing else; ``open_store`` builds the store from its result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from soundstage.errors import SpecError, WorkspaceError
from soundstage.store.assets import AssetStore
from soundstage.store.blobs import ContentStore
from soundstage.store.s3 import DEFAULT_PART_SIZE, MAX_PART_SIZE, MIB, MIN_PART_SIZE, S3Config, S3Store

_KNOWN = {"backend", "endpoint", "bucket", "region", "prefix", "access_key_env", "secret_key_env",
          "session_token_env", "cache_dir", "part_size_mib", "upload_threads", "addressing_style", "ca_bundle"}
_SECRET_LOOKING = re.compile(r"secret|passw|token|access_?key|credential", re.I)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REGION = re.compile(r"[a-z0-9-]{1,32}")


@dataclass(frozen=True)
class LocalStoreConfig:
    root: Path


StoreConfig = LocalStoreConfig | S3Config


def parse_store_config(table: object, *, root: Path, production_id: str, env: Mapping[str, str],
                       source: str = "soundstage.toml") -> StoreConfig:
    """The ``[store]`` table (None when absent) → where the production's content lives.
    SpecError names the bad field; WorkspaceError when a named credential variable is unset."""
    root = Path(root)
    if table is None:
        return LocalStoreConfig(root / "assets")
    if not isinstance(table, dict):
        raise SpecError("must be a table", field="store", source=source)
    for key in table:
        if key not in _KNOWN and _SECRET_LOOKING.search(str(key)):
            raise SpecError("credentials never go in soundstage.toml", field=f"store.{key}", source=source,
                            hint="remove it; name the environment variables instead: access_key_env = \"…\", "
                                 "secret_key_env = \"…\"")
    unknown = sorted(set(table) - _KNOWN)
    if unknown:
        raise SpecError(f"unknown setting {unknown[0]!r}", field="store", source=source,
                        hint="known: " + ", ".join(sorted(_KNOWN)))
    backend = table.get("backend", "local")
    if backend == "local":
        extra = sorted(set(table) - {"backend"})
        if extra:
            raise SpecError(f"{extra[0]!r} is a setting of the s3 backend", field=f"store.{extra[0]}",
                            source=source, hint='set backend = "s3", or remove it')
        return LocalStoreConfig(root / "assets")
    if backend != "s3":
        raise SpecError(f"unknown backend {backend!r}", field="store.backend", source=source,
                        hint='"local" (the default) or "s3"')

    def text(name: str, default: str | None = None) -> str | None:
        value = table.get(name, default)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise SpecError("must be a non-empty string", field=f"store.{name}", source=source)
        return value.strip() if isinstance(value, str) else None

    def number(name: str, default: int, low: int, high: int) -> int:
        value = table.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise SpecError(f"must be a whole number from {low} to {high}", field=f"store.{name}", source=source)
        return value

    endpoint = text("endpoint")
    if endpoint is not None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") \
                or parts.query or parts.fragment or parts.username or parts.password \
                or any(ch.isspace() or ord(ch) < 32 for ch in endpoint):
            raise SpecError(f"not an http(s) URL of an S3 endpoint: {endpoint[:80]!r}", field="store.endpoint",
                            source=source, hint='e.g. endpoint = "https://s3.studio.example" (no path, no credentials)')
        endpoint = endpoint.rstrip("/")
    bucket = text("bucket")
    if bucket is None:
        raise SpecError("the s3 backend needs a bucket", field="store.bucket", source=source)
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise SpecError(f"not an S3 bucket name: {bucket!r}", field="store.bucket", source=source,
                        hint="3-63 characters: lowercase letters, digits, dots and hyphens")
    region = text("region", "us-east-1")
    if not _REGION.fullmatch(region or ""):
        raise SpecError(f"not a region name: {region!r}", field="store.region", source=source)
    prefix = table.get("prefix", f"{production_id}/")
    if not isinstance(prefix, str) or prefix.startswith("/") or "//" in prefix or ".." in prefix.split("/") \
            or len(prefix) > 512 or any(ord(ch) < 32 for ch in prefix):
        raise SpecError(f"not a key prefix: {prefix!r}", field="store.prefix", source=source,
                        hint='e.g. prefix = "the-last-take/" (or "" for the bucket\'s root)')
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    style = text("addressing_style", "path")
    if style not in ("path", "virtual"):
        raise SpecError(f"must be \"path\" or \"virtual\", not {style!r}", field="store.addressing_style",
                        source=source)

    def credential(name: str, default: str | None, required: bool) -> str | None:
        variable = text(name, default)
        if variable is None:
            return None
        if not _ENV_NAME.fullmatch(variable):
            raise SpecError(f"must name an environment variable, not {variable[:40]!r}", field=f"store.{name}",
                            source=source, hint="credentials never go in soundstage.toml")
        value = env.get(variable, "")
        if not value and required:
            raise WorkspaceError(f"the object store's credential is not set: environment variable {variable} is empty",
                                 hint=f"export {variable}=… before running soundstage ([store] {name} names it)")
        return value or None

    access = credential("access_key_env", "AWS_ACCESS_KEY_ID", True)
    secret = credential("secret_key_env", "AWS_SECRET_ACCESS_KEY", True)
    token = credential("session_token_env", None, False) if "session_token_env" in table else None
    cache = text("cache_dir", "cache/s3")
    ca_bundle = text("ca_bundle")
    part_mib = number("part_size_mib", DEFAULT_PART_SIZE // MIB, MIN_PART_SIZE // MIB, MAX_PART_SIZE // MIB)
    return S3Config(
        bucket=bucket, cache_dir=(root / cache) if cache else root / "cache" / "s3",
        access_key=access or "", secret_key=secret or "", session_token=token,
        endpoint=endpoint, region=region or "us-east-1", prefix=prefix,
        part_size=part_mib * MIB, upload_threads=number("upload_threads", 4, 1, 16),
        addressing_style=style or "path", ca_bundle=(root / ca_bundle) if ca_bundle else None,
        access_key_env=text("access_key_env", "AWS_ACCESS_KEY_ID") or "AWS_ACCESS_KEY_ID",
        secret_key_env=text("secret_key_env", "AWS_SECRET_ACCESS_KEY") or "AWS_SECRET_ACCESS_KEY",
        session_token_env=text("session_token_env") if "session_token_env" in table else None,
    )


def open_store(config: StoreConfig) -> ContentStore:
    """The store a parsed ``[store]`` describes (its write capability not yet handed over)."""
    if isinstance(config, LocalStoreConfig):
        return AssetStore(config.root)
    return S3Store(config)
