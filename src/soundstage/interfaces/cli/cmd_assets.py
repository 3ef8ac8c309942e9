"""asset list | show"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from soundstage.interfaces.cli import common

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_(kind: str = typer.Option(None, "--kind"), json_out: bool = typer.Option(False, "--json")) -> None:
    """List the production's assets."""
    from soundstage.services.ledger import list_assets

    with common.open_ws() as ws:
        rows = list_assets(ws, kind)
    if json_out:
        common.emit_json(rows)
        return
    table = Table("id", "kind", "name", "size", "status", "sha256")
    for r in rows:
        table.add_row(r["id"], r["kind"], r["name"], str(r["size"]), r["status"], r["sha256"][:12] + "…")
    common.console.print(table)


@app.command("show")
def show(asset_id: str, json_out: bool = typer.Option(False, "--json")) -> None:
    """Show one asset with its lineage."""
    from soundstage.services.ledger import show_asset

    with common.open_ws() as ws:
        data = show_asset(ws, asset_id)
    if json_out:
        common.emit_json(data)
        return
    for key, value in data.items():
        common.console.print(f"[bold]{key}:[/] {value}")


@app.command("add")
def add(file: Path = typer.Argument(...), kind: str = typer.Option("plate", "--kind",
                                                                    help="plate, reference, document, element"),
        scene: str = typer.Option(None, "--scene"), shot: str = typer.Option(None, "--shot"),
        json_out: bool = typer.Option(False, "--json")) -> None:
    """Ingest source material (a camera plate, a reference, a document) into the ledger."""
    from soundstage.interfaces.cli.cmd_script import actor_name
    from soundstage.services.ledger import ingest_media

    with common.open_ws() as ws:
        data = ingest_media(ws, file, kind=kind, actor=actor_name(), scene=scene, shot=shot)
    common.emit_json(data) if json_out else common.console.print(f"asset {data['id']}: {data['name']} ({kind})")


@app.command("export")
def export(asset_id: str, out: Path = typer.Option(..., "--out", "-o", help="File or directory.")) -> None:
    """Copy an asset (and its .c2pa sidecar) out of the store; quarantined assets are refused."""
    from soundstage.interfaces.cli.cmd_script import actor_name
    from soundstage.services.ledger import export_asset

    with common.open_ws() as ws:
        for path in export_asset(ws, asset_id, out, actor=actor_name()):
            common.console.print(str(path))
