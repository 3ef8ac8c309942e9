"""previz shots [export|import|build] | previz board"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from soundstage.interfaces.cli import common

app = typer.Typer(no_args_is_help=True)
shots = typer.Typer()


def register(root: typer.Typer) -> None:
    app.add_typer(shots, name="shots", help="The shot list: show, export for editing, import edits.")
    root.add_typer(app, name="previz", help="Shot list, storyboards, animatic and OTIO timeline.")


@shots.callback(invoke_without_command=True)
def shots_show(ctx: typer.Context, scene: str = typer.Option(None, "--scene", "-s"),
               json_out: bool = typer.Option(False, "--json")) -> None:
    """Show the shot list (planned from the current draft; your edits kept)."""
    if ctx.invoked_subcommand is not None:
        return
    from soundstage.services.shotlist_service import current_shot_list

    with common.open_ws() as ws:
        shot_list = current_shot_list(ws, actor=common.actor())
    scenes = [s for s in shot_list.scenes if scene is None or s.number == scene]
    if json_out:
        data = shot_list.to_dict()
        data["scenes"] = [s.to_dict() for s in scenes]
        common.emit_json(data)
        return
    for sc in scenes:
        table = Table("shot", "size", "lens", "move", "angle", "in frame", "s", "description",
                      title=f"{sc.number}  {sc.heading}  ({sc.est_seconds:g}s)", title_justify="left")
        for s in sc.shots:
            table.add_row(s.number + ("*" if s.origin == "user" else ""), s.size, f"{s.lens_mm:g}", s.movement,
                          s.angle, ", ".join(s.characters[:4]) + ("..." if len(s.characters) > 4 else ""),
                          f"{s.est_seconds:g}", s.description)
        common.console.print(table)
    common.console.print(f"{len(shot_list)} shots, {shot_list.est_seconds:g}s (* = added by a person)")


@shots.command("build")
def shots_build(json_out: bool = typer.Option(False, "--json")) -> None:
    """Re-run the coverage rules on the current draft; edits on unchanged scenes survive."""
    from soundstage.services.shotlist_service import build_shot_list

    with common.open_ws() as ws:
        result = build_shot_list(ws, actor=common.actor())
    if json_out:
        common.emit_json({"merge": result["merge"], "shots": len(result["shot_list"])})
        return
    merge = result["merge"]
    common.console.print(f"{len(result['shot_list'])} shots; kept {len(merge['kept'])} scenes as edited, "
                         f"replanned {len(merge['replanned'])}, new {len(merge['new'])}")
    for number in merge["dropped_edits"]:
        common.console.print(f"[yellow]edit no longer applies (scene rewritten)[/]: shot {number}")


@shots.command("export")
def shots_export(fmt: str = typer.Option("yaml", "--format", "-f", help="yaml or csv"),
                 out: Path = typer.Option(..., "-o", "--output")) -> None:
    """Write the shot list for editing."""
    from soundstage.services.shotlist_service import export_shot_list

    with common.open_ws() as ws:
        path = export_shot_list(ws, fmt, out, actor=common.actor())
    common.console.print(f"wrote {path}")


@shots.command("import")
def shots_import(file: Path = typer.Argument(...), json_out: bool = typer.Option(False, "--json")) -> None:
    """Read an edited YAML/CSV shot list; a bad field is reported with its line."""
    from soundstage.services.shotlist_service import import_shot_list

    with common.open_ws() as ws:
        result = import_shot_list(ws, file, actor=common.actor())
    summary = {"shots": len(result["shot_list"]), "user_shots": result["user_shots"],
               "edited_rule_shots": result["edited_rule_shots"]}
    if json_out:
        common.emit_json(summary)
        return
    common.console.print(f"imported {summary['shots']} shots ({len(summary['user_shots'])} yours, "
                         f"{len(summary['edited_rule_shots'])} rule shots edited)")


@app.command("board")
def board_cmd(scene: list[str] = typer.Option(None, "--scene", "-s", help="Scene number (repeatable)."),
              renderer: str = typer.Option(None, "--renderer", help="Model id (default: Blender if registered)."),
              no_animatic: bool = typer.Option(False, "--no-animatic"),
              json_out: bool = typer.Option(False, "--json")) -> None:
    """Render a panel per shot through the guarded path; write sheets, animatic, OTIO and EDL."""
    from soundstage.services.boards_service import board

    with common.open_ws() as ws:
        with common.progress() as bar:
            task = bar.add_task("boarding", total=None)

            def report(done: int, total: int, label: str) -> None:
                bar.update(task, completed=done, total=total, description=label)

            result = board(ws, scenes=scene or None, renderer_model_id=renderer, actor=common.actor(),
                           progress=report, animatic=not no_animatic)
    if json_out:
        common.emit_json(result.to_dict())
        return
    common.console.print(f"boarded {len(result.shots)} shots with {result.renderer} "
                         f"({result.reused} reused)")
    common.console.print(f"storyboard: {result.script_pdf}")
    for p in result.scene_pdfs:
        common.console.print(f"  scene sheet: {p}")
    if result.animatic:
        common.console.print(f"animatic:   {result.animatic} (asset {result.animatic_asset})")
    common.console.print(f"timeline:   {result.otio}\nEDL:        {result.edl}")
    for w in result.warnings:
        common.console.print(f"[yellow]warning[/]: {w}")


@app.command("lookbook")
def lookbook_cmd(renderer: str = typer.Option(None, "--renderer", help="Model id (default: the procedural card)."),
                 character: list[str] = typer.Option(None, "--character", "-c", help="Character (repeatable)."),
                 location: list[str] = typer.Option(None, "--location", "-l", help="Location (repeatable)."),
                 story_central: list[str] = typer.Option(None, "--story-central",
                                                         help="A location central to the story (repeatable)."),
                 frames: int = typer.Option(2, "--frames", help="Concept frames asked per look (1-4)."),
                 json_out: bool = typer.Option(False, "--json")) -> None:
    """Wardrobe and set concept frames per character and location, guarded, in a look-book PDF."""
    from soundstage.services.lookbook_service import lookbook

    with common.open_ws() as ws:
        with common.progress() as bar:
            task = bar.add_task("look-book", total=None)

            def report(done: int, total: int, label: str) -> None:
                bar.update(task, completed=done, total=total, description=label)

            result = lookbook(ws, renderer_model_id=renderer, characters=character or None,
                              locations=location or None, story_central=story_central or None, frames=frames,
                              actor=common.actor(), progress=report)
    if json_out:
        common.emit_json(result.to_dict())
        return
    common.console.print(f"look-book: {result.pdf} ({len(result.assets)} frames with {result.renderer}, "
                         f"{result.reused} jobs reused)")
    for d in result.decisions:
        if d["status"] != "done":
            common.console.print(f"[yellow]{d['status']}[/]: {d['kind']} {d['name']} (job {d['job']}, "
                                 f"rules {', '.join(d['rules']) or '-'})")
