"""Top-level production commands: init, info."""

from __future__ import annotations

from pathlib import Path

import typer

from soundstage.interfaces.cli import common


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init(
        directory: Path = typer.Argument(..., help="New workspace directory (must not exist or be empty)."),
        title: str = typer.Option(..., "--title", "-t", help="Production title."),
        database_url: str = typer.Option(None, "--database-url", envvar="SOUNDSTAGE_DATABASE_URL",
                                         help="SQLAlchemy URL (default: SQLite inside the workspace)."),
    ) -> None:
        """Create a production workspace: config, content-addressed asset store, ledger database."""
        from soundstage.services.workspace import init_workspace

        import os

        from soundstage.interfaces.cli.cmd_script import actor_name

        ws = init_workspace(directory, title, database_url=database_url, actor=actor_name(),
                            key_passphrase=os.environ.get("SOUNDSTAGE_KEY_PASSPHRASE") or None)
        try:
            common.console.print(f"Created production [bold]{ws.settings.title}[/] "
                                 f"({ws.production_id}) in {ws.settings.root}")
        finally:
            ws.close()

    @app.command("info")
    def info(json_out: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
        """Show the production: title, database, counts."""
        from soundstage.services.workspace import production_summary

        with common.open_ws() as ws:
            data = production_summary(ws)
        if json_out:
            common.emit_json(data)
            return
        for key, value in data.items():
            common.console.print(f"[bold]{key.replace('_', ' ')}:[/] {value}")
