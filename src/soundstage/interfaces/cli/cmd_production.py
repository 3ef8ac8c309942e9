"""Top-level production commands: init, info."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

import typer

from soundstage.errors import AlreadyExistsError
from soundstage.interfaces.cli import common


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init(
        directory: Path = typer.Argument(..., help="New workspace directory (must not exist or be empty)."),
        title: str = typer.Option(..., "--title", "-t", help="Production title."),
        database_url: str = typer.Option(None, "--database-url", envvar="SOUNDSTAGE_DATABASE_URL",
                                         help="SQLAlchemy URL (default: SQLite inside the workspace)."),
        owner: str = typer.Option(None, "--owner", help="The producer creating the production (default: your "
                                                        "login name). They are its first crew member and get its "
                                                        "first credential."),
        token_out: Path = typer.Option(None, "--token-out", help="Write that credential to this new file "
                                                                 "(owner-only) instead of printing it."),
        expires: str = typer.Option("90d", "--expires", help="Lifetime of that credential (max 366d)."),
    ) -> None:
        """Create a production workspace: config, content-addressed asset store, ledger database, and
        its first person - the producer who ran it - with the credential whose key is the
        production's identity root (printed once, or written to --token-out)."""
        from soundstage.safeguards.keys import no_timestamp_warning, signing_certificate_expiry
        from soundstage.services.auth_service import create_token, parse_duration
        from soundstage.services.people_service import add_crew
        from soundstage.services.workspace import init_workspace

        lifetime = parse_duration(expires)
        if token_out is not None and (token_out.exists() or token_out.is_symlink()):
            raise AlreadyExistsError(f"{token_out} already exists", hint="name a new file for the credential")
        name = (owner or getpass.getuser()).strip()
        ws = init_workspace(directory, title, database_url=database_url, actor=name,
                            key_passphrase=os.environ.get("SOUNDSTAGE_KEY_PASSPHRASE") or None)
        try:
            person = add_crew(ws, name, ["producer"], actor=name)
            made = create_token(ws, person["id"], expires_in=lifetime, actor=name,
                                label="first credential (soundstage init)")
            common.console.print(f"Created production [bold]{ws.settings.title}[/] "
                                 f"({ws.production_id}) in {ws.settings.root}")
            # init made the signing keys, and a new soundstage.toml names no time-stamp authority yet
            common.err_console.print("warning: " + no_timestamp_warning(signing_certificate_expiry(ws.settings.keys_dir)),
                                     style="bold red", markup=False, soft_wrap=True)
            common.err_console.print(f"{name} (producer) holds its first credential {made['id']}, expiring "
                                     f"{made['expires_at'][:10]}; its key {made['key_id']} is the production's "
                                     "identity root: keep that id somewhere outside the workspace.")
            if token_out is not None:
                common.write_secret(token_out, made["token"] + "\n")
                common.err_console.print(f"credential written to {token_out} (owner-only); use it with "
                                         f"--token-file {token_out}")
            else:
                common.err_console.print("It is shown once; export it as SOUNDSTAGE_TOKEN:")
                print(made["token"])
        finally:
            ws.close()

    @app.command("info")
    def info(json_out: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
        """Show the production: title, database, counts, its signing keys (the CA's fingerprint, whether
        keys/ holds the keys the audit log records, whether its private keys are owner-only) and
        whether its signatures are time-stamped."""
        from soundstage.safeguards.keys import no_timestamp_warning, signing_certificate_expiry
        from soundstage.services.keys_service import signing_status
        from soundstage.services.workspace import production_summary

        with common.open_ws() as ws:
            data = production_summary(ws)
            expires = signing_certificate_expiry(ws.settings.keys_dir)
            data["signing_certificate_expires"] = expires.isoformat() if expires is not None else None
            data.update(signing_status(ws))
            data["tsa_url"] = ws.settings.tsa_url
            anchor = ws.settings.tsa_trust_anchor
            data["tsa_trust_anchor"] = str(anchor) if anchor is not None else None
        if json_out:
            common.emit_json(data)
            return
        for key, value in data.items():
            common.console.print(f"[bold]{key.replace('_', ' ')}:[/] {value}")
        if data["private_key_files"] != "owner-only":
            common.err_console.print("warning: " + data["private_key_files"], style="bold red", markup=False,
                                     soft_wrap=True)
        if data["signing_keys"].startswith("DIFFER"):
            common.err_console.print("warning: the signing keys " + data["signing_keys"], style="bold red",
                                     markup=False, soft_wrap=True)
        if data["tsa_url"] is None:
            common.err_console.print("warning: " + no_timestamp_warning(expires), style="bold red", markup=False,
                                     soft_wrap=True)
        elif anchor is None:
            common.err_console.print("note: no [provenance] tsa_trust_anchor: readers here check the time-stamps "
                                     "only if the TSA chains to another trust anchor", markup=False, soft_wrap=True)
