"""serve / token: run the API and web app, and issue or revoke the tokens that open it."""

from __future__ import annotations

import ipaddress
import os

import typer

from soundstage.interfaces.cli import common

WORKSPACE_FOR_WORKERS = "SOUNDSTAGE_SERVE_WORKSPACE"
MAX_UPLOAD_FOR_WORKERS = "SOUNDSTAGE_SERVE_MAX_UPLOAD"

token_app = typer.Typer(no_args_is_help=True, help="Access tokens for the API and the web app.")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(token_app, name="token", help="Create, list and revoke API / web access tokens.")


def serve(host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (loopback by default)."),
          port: int = typer.Option(8000, "--port", min=0, max=65535),
          workers: int = typer.Option(1, "--workers", min=1, max=32, help="uvicorn worker processes."),
          max_upload_mb: int = typer.Option(200, "--max-upload-mb", min=1, max=100_000),
          allow_remote: bool = typer.Option(False, "--allow-remote",
                                            help="Permit a non-loopback --host (put TLS in front of it).")) -> None:
    """Serve the REST API (OpenAPI at /docs) and the web review app for this workspace."""
    import uvicorn

    from soundstage.errors import InputError
    from soundstage.services.workspace import open_workspace

    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not allow_remote:
        raise InputError(f"refusing to listen on {host}: tokens and session cookies would cross the network "
                         "in clear", hint="use a loopback address, or --allow-remote behind a TLS proxy")
    ws_dir = common.workspace_dir().resolve()
    open_workspace(ws_dir).close()  # fail now, with the workspace error, not inside a worker
    os.environ[WORKSPACE_FOR_WORKERS] = str(ws_dir)
    os.environ[MAX_UPLOAD_FOR_WORKERS] = str(max_upload_mb * 1024 * 1024)
    common.err_console.print(f"soundstage serving {ws_dir} on http://{host}:{port} ({workers} worker(s))")
    uvicorn.run("soundstage.interfaces.cli.cmd_serve:app_from_environment", factory=True, host=host, port=port,
                workers=workers, log_level="warning", access_log=False)


def app_from_environment():
    """uvicorn worker entry point: the settings the ``serve`` command resolved, passed by environment
    because worker processes are started by import string."""
    from pathlib import Path

    from soundstage.interfaces.api import create_app

    return create_app(Path(os.environ[WORKSPACE_FOR_WORKERS]),
                      max_upload_bytes=int(os.environ.get(MAX_UPLOAD_FOR_WORKERS, 200 * 1024 * 1024)))


@token_app.command("create")
def token_create(person: str = typer.Option(..., "--person", help="Crew member (name or id)."),
                 expires: str = typer.Option("30d", "--expires", help="Lifetime: 90m, 12h, 30d, 2w (max 366d)."),
                 label: str = typer.Option("", "--label"),
                 json_out: bool = typer.Option(False, "--json")) -> None:
    """Issue a token. It is printed once and stored only as a hash: copy it now."""
    from soundstage.interfaces.cli.cmd_script import actor_name
    from soundstage.services.auth_service import create_token, parse_duration

    with common.open_ws() as ws:
        out = create_token(ws, person, expires_in=parse_duration(expires), actor=actor_name(), label=label)
    if json_out:
        common.emit_json(out)
        return
    common.err_console.print(f"token {out['id']} for {out['person']} ({', '.join(out['roles'])}), "
                             f"expires {out['expires_at']}; it will not be shown again:")
    print(out["token"])


@token_app.command("list")
def token_list(json_out: bool = typer.Option(False, "--json")) -> None:
    from soundstage.services.auth_service import list_tokens

    with common.open_ws() as ws:
        rows = list_tokens(ws)
    if json_out:
        common.emit_json(rows)
        return
    for r in rows:
        common.console.print(f"{r['id']}  {r['person']:<24} {r['status']:<8} expires {r['expires_at']}")


@token_app.command("revoke")
def token_revoke(token_id: str = typer.Argument(..., help="Token id (tk-...), from `token list`.")) -> None:
    from soundstage.interfaces.cli.cmd_script import actor_name
    from soundstage.services.auth_service import revoke_token

    with common.open_ws() as ws:
        out = revoke_token(ws, token_id, actor=actor_name())
    common.console.print(f"{out['id']} ({out['person']}): {out['status']}")
