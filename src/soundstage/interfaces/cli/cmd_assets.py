"""asset list | show | add | export"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import typer
from rich.table import Table

from soundstage.errors import InputError
from soundstage.interfaces.cli import access, common

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_(kind: str = typer.Option(None, "--kind"), json_out: bool = typer.Option(False, "--json")) -> None:
    """List the production's assets."""
    from soundstage.services.ledger import list_assets

    with common.open_ws() as ws:
        rows = access.visible(list_assets(ws, kind), lambda a: access.asset_performers(ws, a))
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
        access.check_scope(access.asset_performers(ws, data), f"asset {data['id']}")
    if json_out:
        common.emit_json(data)
        return
    common.print_kv(data)


@app.command("add")
def add(file: Path = typer.Argument(..., help="A file, or an image sequence as a pattern: A001_C005_####.exr "
                                                "(also %04d)."),
        kind: str = typer.Option("plate", "--kind", help="plate, reference, document, element, audio (WAV, MP3, M4A, FLAC as plate or audio)"),
        scene: str = typer.Option(None, "--scene"), shot: str = typer.Option(None, "--shot"),
        fps: str = typer.Option(None, "--fps", help="Frame rate of a sequence (24, 25, 24000/1001); default: "
                                                    "the first frame's header, else 24."),
        json_out: bool = typer.Option(False, "--json")) -> None:
    """Ingest source material (a camera plate, a reference, a document, an EXR/DPX/PNG sequence)."""
    from soundstage.services.ledger import ingest_media, ingest_sequence

    # printf-style frame numbers (shot_%04d.exr) mean the same as shot_####.exr
    pattern = re.sub(r"%0?(\d+)d", lambda m: "#" * int(m.group(1)), file.name)
    with common.open_ws() as ws:
        if "#" in pattern:
            try:
                rate = Fraction(fps) if fps is not None else None
            except (ValueError, ZeroDivisionError):
                raise InputError(f"--fps {fps!r} is not a frame rate", hint="e.g. 24, 25 or 24000/1001") from None
            with common.progress() as bar:
                task = bar.add_task("checking frames", total=None)
                data = ingest_sequence(ws, file.with_name(pattern), kind=kind, actor=common.actor(), fps=rate,
                                       scene=scene, shot=shot,
                                       progress=lambda done, total: bar.update(task, completed=done, total=total))
        else:
            if fps:
                raise InputError("--fps applies to image sequences (a pattern such as shot_####.exr)")
            data = ingest_media(ws, file, kind=kind, actor=common.actor(), scene=scene, shot=shot)
    if json_out:
        common.emit_json(data)
    elif "#" in pattern:
        d = data["details"]
        common.console.print(f"asset {data['id']}: {data['name']} ({kind}, {d['frames']} {d['format'].upper()} frames "
                             f"{d['first_frame']}-{d['last_frame']}, {d['size'][0]}x{d['size'][1]} at {d['fps']} fps)")
    else:
        common.console.print(f"asset {data['id']}: {data['name']} ({kind})")


@app.command("export")
def export(asset_id: str, out: Path = typer.Option(..., "--out", "-o", help="File or directory.")) -> None:
    """Copy an asset (and its .c2pa sidecar) out of the store; quarantined assets are refused."""
    from soundstage.services.ledger import export_asset, show_asset

    with common.open_ws() as ws:
        if access.is_scoped_rep(common.principal()):
            data = show_asset(ws, asset_id)
            access.check_scope(access.asset_performers(ws, data), f"asset {data['id']}")
        for path in export_asset(ws, asset_id, out, actor=common.actor()):
            common.console.print(str(path))
