"""script import | breakdown | assist | edit | edits | drafts | report | export"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from soundstage.domain.breakdown import BreakdownEdit
from soundstage.errors import NotFoundError
from soundstage.interfaces.cli import common
from soundstage.script.reports import format_eighths

app = typer.Typer(no_args_is_help=True)


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="Screenplay (.fountain or .fdx)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Import a draft; a later draft is compared with the previous one and keeps its scene numbers."""
    from soundstage.services.script_service import import_script

    with common.open_ws() as ws:
        with common.progress() as bar:
            task = bar.add_task(f"importing {file.name}", total=1)
            result = import_script(ws, file, actor=common.actor())
            bar.advance(task)
    if json_out:
        common.emit_json(result)
        return
    common.console.print(f"Imported draft {result['draft']} of [bold]{result['title']}[/]: "
                         f"{result['scenes']} scenes, {result['pages']} pages (asset {result['asset']})")
    changes = result["revision"].get("changes", [])
    if changes:
        table = Table("status", "old #", "new #", "heading", title="Changes from the previous draft")
        for c in changes:
            if c.get("status") != "unchanged":
                table.add_row(c.get("status", ""), str(c.get("old_number") or ""), str(c.get("new_number") or ""),
                              c.get("heading", ""))
        common.console.print(table)
    for d in result["edits_dropped"]:
        common.console.print(f"[yellow]edit no longer applies[/]: scene {d['scene']} {d['action']} "
                             f"{d['category']} {d['name']!r}")
    carried = result.get("assist") or {}
    if carried.get("refused"):
        common.console.print(f"assist: 0 carried ({carried['refused']})", markup=False, style="yellow")
    elif carried:
        common.console.print(f"assist: {carried['carried']} carried, {carried['dropped']} dropped: {carried['added']} "
                             f"elements added, {carried['rejected']} rejected, {carried['recategorised']} moved (job "
                             f"{carried['job']} of {carried['model']}, which read draft {carried['job_draft']}; "
                             f"only scenes whose words did not change carry)", markup=False)


@app.command("breakdown")
def breakdown(
    scene: str = typer.Option(None, "--scene", "-s", help="Only this scene number."),
    draft: int = typer.Option(None, "--draft", help="Draft version (default: latest)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Show the production breakdown: per scene, cast and elements by category."""
    from soundstage.services.script_service import get_breakdown

    with common.open_ws() as ws:
        bd, info = get_breakdown(ws, draft)
    scenes = bd.scenes if scene is None else [s for s in bd.scenes if s.number == scene]
    if scene is not None and not scenes:
        raise NotFoundError(f"no scene {scene} in draft {info['draft']}")
    if json_out:
        data = bd.to_dict()
        data["scenes"] = [s.to_dict() for s in scenes]
        data["draft"] = info
        common.emit_json(data)
        return
    common.console.print(f"[bold]{bd.title}[/] - draft {info['draft']}, {bd.page_count} pages, "
                         f"{len(bd.live_scenes())} scenes")
    for s in scenes:
        if s.omitted:
            common.console.print(f"\n[dim]{s.number}  OMITTED[/]")
            continue
        common.console.print(f"\n[bold]{s.number}  {s.heading}[/]  ({format_eighths(s.eighths)} pg, "
                             f"~{int(s.est_seconds)} s, line {s.source_line})")
        if s.speaking_cast:
            common.console.print(f"  cast (speaking): {', '.join(s.speaking_cast)}")
        if s.nonspeaking_cast:
            common.console.print(f"  cast (non-speaking): {', '.join(s.nonspeaking_cast)}")
        by_cat: dict[str, list[str]] = {}
        rejected: list[str] = []
        for e in s.elements:
            if e.category == "cast":
                continue
            if e.rejected:  # kept so a person sees it; restore with: script edit add
                rejected.append(f"-{e.category}: {e.name} (l.{e.source_line}) {e.review_text()}")
                continue
            mark = ("*" if e.origin == "user" else "+" if e.origin.startswith("assist:")
                    else "~" if e.review else "")
            by_cat.setdefault(e.category, []).append(f"{e.name}{mark} (l.{e.source_line})")
        for cat, names in by_cat.items():
            common.console.print(f"  {cat.replace('_', ' ')}: {', '.join(names)}", markup=False)
        for line in rejected:
            common.console.print(f"  {line}", markup=False, style="dim")
    if bd.assist:
        common.console.print(f"\n[dim]* a person's edit; + suggested by {bd.assist.get('model')}, ~ moved by it, "
                             f"- rejected by it (restore: script edit add) "
                             f"({bd.assist.get('version')}, job {bd.assist.get('job')})[/]")
    for e in info["unapplied_edits"]:
        common.console.print(f"[yellow]edit not applied[/]: scene {e['scene']} {e['action']} {e['name']!r}")


@app.command("assist")
def assist(
    model: str = typer.Option(None, "--model", "-m",
                              help="The registered chat model (backend openai-chat); default: the only one."),
    job: str = typer.Option(None, "--job", help="Finish an assist job that was waiting for approval."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Ask a registered language model for breakdown elements of the latest draft (a guarded job).

    Script pages go only to a model whose card says it neither stores nor trains on inputs; every
    suggestion must quote its script line; your edits still win. See docs/guides/breakdown-assist.md."""
    from soundstage.services.script_service import assist_breakdown

    with common.open_ws() as ws:
        result = assist_breakdown(ws, model, actor=common.actor(), job_id=job)
    if json_out:
        common.emit_json(result)
        return
    lost = {**result["dropped"], **{k: v for k, v in (result.get("review_dropped") or {}).items()}}
    dropped = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in lost.items()) or "none"
    common.console.print(f"Draft {result['draft']}: {result['added']} elements added, "
                         f"{result.get('rejected', 0)} rejected and {result.get('recategorised', 0)} moved by "
                         f"{result['model']} (job {result['job']}; {result['kept']} suggestions held, dropped: "
                         f"{dropped})", markup=False)


@app.command("edit")
def edit(
    action: str = typer.Argument(..., help="add | remove | retag"),
    scene: str = typer.Option(..., "--scene", "-s"),
    category: str = typer.Option(..., "--category", "-c"),
    name: str = typer.Option(..., "--name", "-n"),
    to: str = typer.Option(None, "--to", help="New category (retag)."),
    note: str = typer.Option("", "--note"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Add, remove or re-tag a breakdown element; the edit is kept across re-runs and drafts."""
    from soundstage.services.script_service import add_edit

    e = BreakdownEdit(scene=scene, action=action, category=category, name=name, new_category=to, note=note)
    with common.open_ws() as ws:
        result = add_edit(ws, e, actor=common.actor())
    if json_out:
        common.emit_json(result)
    else:
        common.console.print(f"edit #{result['id']} recorded: scene {scene} {action} {category} {name!r}")


@app.command("edits")
def edits(json_out: bool = typer.Option(False, "--json")) -> None:
    """List user edits to the breakdown (inactive ones no longer apply to the current draft)."""
    from soundstage.services.script_service import list_edits

    with common.open_ws() as ws:
        rows = list_edits(ws)
    if json_out:
        common.emit_json(rows)
        return
    table = Table("#", "scene", "action", "category", "name", "to", "active", "by")
    for r in rows:
        table.add_row(str(r["id"]), r["scene"], r["action"], r["category"], r["name"], r["new_category"] or "",
                      "yes" if r["active"] else "no", r["by"])
    common.console.print(table)


@app.command("drafts")
def drafts(json_out: bool = typer.Option(False, "--json")) -> None:
    """List imported drafts and what changed in each."""
    from soundstage.services.script_service import draft_history

    with common.open_ws() as ws:
        rows = draft_history(ws)
    if json_out:
        common.emit_json(rows)
        return
    table = Table("draft", "title", "pages", "asset", "imported", "changes")
    for r in rows:
        table.add_row(str(r["draft"]), r["title"], str(r["pages"]), r["asset"], r["imported_at"][:19],
                      ", ".join(f"{k} {v}" for k, v in r["changes"].items()))
    common.console.print(table)


@app.command("report")
def report(
    out: Path = typer.Option(None, "--out", "-o", help="Directory (default: WORKSPACE/exports/reports)."),
    kind: list[str] = typer.Option(None, "--kind", "-k", help="cast, locations, scenes, elements, sheets."),
    fmt: list[str] = typer.Option(None, "--format", "-f", help="csv, json, pdf."),
) -> None:
    """Write cast, location and scene lists (CSV/JSON) and PDF breakdown sheets."""
    from soundstage.services.script_service import REPORT_KINDS, write_reports

    with common.open_ws() as ws:
        target = out or ws.settings.exports_dir / "reports"
        paths = write_reports(ws, target, list(kind or REPORT_KINDS), list(fmt or ["csv", "json", "pdf"]),
                              actor=common.actor())
    for p in paths:
        common.console.print(str(p))


@app.command("export")
def export(
    fmt: str = typer.Option("fdx", "--format", "-f", help="fdx or fountain."),
    out: Path = typer.Option(..., "--out", "-o"),
    draft: int = typer.Option(None, "--draft"),
) -> None:
    """Write the draft as Final Draft FDX or Fountain."""
    from soundstage.services.script_service import export_script

    with common.open_ws() as ws:
        path = export_script(ws, fmt, out, draft, actor=common.actor())
    common.console.print(str(path))
