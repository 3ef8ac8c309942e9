"""keys - Content Credentials signing keys and the watermark key."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from soundstage.errors import InputError
from soundstage.interfaces.cli import common

keys = typer.Typer(no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(keys, name="keys", help="Content Credentials signing keys and the watermark key.")


PASSPHRASE_ENV_HELP = ("Environment variable holding the passphrase that encrypts the key; it is recorded, and "
                       "signing reads the same variable. Default: SOUNDSTAGE_KEY_PASSPHRASE if set, else the key "
                       "is not encrypted.")


def _key_passphrase(passphrase_env: str | None) -> tuple[str | None, str]:
    """(passphrase, variable name): a variable named on the command line must be set."""
    from soundstage.safeguards.keys import DEFAULT_PASSPHRASE_ENV

    name = passphrase_env or DEFAULT_PASSPHRASE_ENV
    passphrase = os.environ.get(name) or None
    if passphrase_env and passphrase is None:
        raise InputError(f"--passphrase-env {passphrase_env}: ${passphrase_env} is not set",
                         hint=f"export {passphrase_env} with the passphrase, or leave the option out")
    return passphrase, name


@keys.command("init")
def keys_init(passphrase_env: str = typer.Option(None, "--passphrase-env", help=PASSPHRASE_ENV_HELP)) -> None:
    """Create the production CA and an ES256 claim-signing certificate (refuses to overwrite),
    recorded in the audit log with their fingerprints: the production signs with these keys and no
    others. Without a time-stamp authority ([provenance] tsa_url) it warns: signatures outlive the
    two-year certificate only when they carry an RFC 3161 time-stamp."""
    from soundstage.safeguards.keys import no_timestamp_warning, signing_certificate_expiry
    from soundstage.services.keys_service import create_signing_keys

    passphrase, name = _key_passphrase(passphrase_env)
    with common.open_ws() as ws:
        made = create_signing_keys(ws, passphrase, passphrase_env=name, actor=common.actor())
        tsa_url = ws.settings.tsa_url
    paths, previous = made["paths"], made["previous"]
    common.console.print(f"signing chain: {paths.chain}" + (f" (key encrypted; passphrase read from ${name})"
                                                            if passphrase else ""))
    common.console.print(f"production CA sha256 {made['recorded']['anchor_sha256']} (recorded in the audit log; "
                         "keep a copy outside the workspace)", markup=False, soft_wrap=True)
    if previous is not None and previous.fingerprints.anchor_sha256 != made["recorded"]["anchor_sha256"]:
        common.err_console.print(f"note: this is a new CA; files signed under the one recorded at event #{previous.seq} "
                                 "read Trusted only where that CA's certificate is a trust anchor (soundstage keys "
                                 "renew keeps the CA)", markup=False, soft_wrap=True)
    if tsa_url is None:
        common.err_console.print("warning: " + no_timestamp_warning(signing_certificate_expiry(paths.directory)),
                                 style="bold red", markup=False, soft_wrap=True)
    else:
        common.console.print(f"every signature is time-stamped by {tsa_url}")


@keys.command("watermark")
def keys_watermark() -> None:
    """Create the production's secret watermark key (workspaces made before keys existed used the
    public default key; their old marks are still found by verify). Refuses to replace a key."""
    from soundstage.services.keys_service import create_watermark_key

    with common.open_ws() as ws:
        path = create_watermark_key(ws, actor=common.actor())
    common.console.print(f"watermark key: {path} (owner-only; back it up with the signing keys)")


@keys.command("import")
def keys_import(chain: Path = typer.Option(..., "--chain"), key: Path = typer.Option(..., "--key"),
                passphrase_env: str = typer.Option(None, "--passphrase-env", help=PASSPHRASE_ENV_HELP)) -> None:
    """Use a real signing chain (leaf first) and key instead of the production CA (recorded in the
    audit log with their fingerprints)."""
    from soundstage.services.keys_service import import_signing_keys

    passphrase, name = _key_passphrase(passphrase_env)
    with common.open_ws() as ws:
        made = import_signing_keys(ws, chain.read_bytes(), key.read_bytes(), passphrase, passphrase_env=name,
                                   actor=common.actor())
    common.console.print(f"signing credentials imported (CA sha256 {made['recorded']['ca_sha256']}, recorded in the "
                         "audit log)", markup=False, soft_wrap=True)


@keys.command("renew")
def keys_renew(days: int = typer.Option(730, "--days", min=1, help="Validity of the new signing certificate "
                                                                     "(never past the CA's).")) -> None:
    """Issue a new claim-signing key and certificate from the SAME production CA (keys/ca.key),
    replacing chain.pem and signer.key: files signed before still chain to the production CA, so
    they stay trusted. Recorded in the audit log. An imported chain is renewed by its issuer."""
    from soundstage.services.keys_service import renew_signing_certificate

    with common.open_ws() as ws:
        made = renew_signing_certificate(ws, actor=common.actor(), validity_days=days)
    common.console.print(f"new signing certificate, valid until {made['expires']:%Y-%m-%d}, issued by the same "
                         f"production CA (sha256 {made['recorded']['ca_sha256']}): files signed before stay trusted",
                         markup=False, soft_wrap=True)
