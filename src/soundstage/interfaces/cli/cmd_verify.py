"""verify FILE... - Content Credentials, watermark and ledger in one plain verdict."""

from __future__ import annotations

from pathlib import Path

import typer

from soundstage.interfaces.cli import common


def register(app: typer.Typer) -> None:
    @app.command("verify")
    def verify(files: list[Path] = typer.Argument(..., help="Files to check."),
               json_out: bool = typer.Option(False, "--json")) -> None:
        """Read C2PA credentials, detect the watermark (even when the manifest was stripped) and look
        the asset up in the ledger. Exit 1 when any file's credentials are invalid, or its watermark
        and manifest name different assets."""
        from soundstage.services.verify_service import verify_file
        from soundstage.settings import CONFIG_NAME

        ws_dir = common.workspace_dir()
        results = []
        if (ws_dir / CONFIG_NAME).is_file():
            with common.open_ws() as ws:
                results = [verify_file(f, ws) for f in files]
        else:
            results = [verify_file(f, None) for f in files]
        if json_out:
            common.emit_json(results if len(results) != 1 else results[0])
        else:
            for r in results:
                state = r["c2pa"]["state"]
                colour = {"Trusted": "green", "Valid": "green", "Invalid": "red"}.get(state, "yellow")
                common.console.print(f"[bold]{r['file']}[/]: [{colour}]{state}[/]")
                common.console.print(f"  {r['verdict']}")
        if any(r["c2pa"]["state"] == "Invalid" or (r.get("ledger") or {}).get("status") == "quarantined"
               or r["identity"]["agree"] is False for r in results):
            raise typer.Exit(1)
