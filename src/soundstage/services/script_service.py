"""Screenplay use cases: import a draft, read the breakdown, edit it, report on it, export it."""

from __future__ import annotations

import mimetypes
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select

from soundstage.domain.breakdown import Breakdown, BreakdownEdit
from soundstage.domain.screenplay import Screenplay, plain_title
from soundstage.errors import InputError, NotFoundError
from soundstage.files import atomic_write_bytes, atomic_write_text
from soundstage.safeguards import audit
from soundstage.safeguards.guard import IngestRequest, format_asset_id, ingest
from soundstage.script import reports
from soundstage.script.breakdown import apply_edits, break_down
from soundstage.script.fdx import write_fdx
from soundstage.script.fountain import write_fountain
from soundstage.script.loader import MAX_SCREENPLAY_BYTES, parse_screenplay_bytes, refuse_oversized, require_scenes
from soundstage.script.pagination import paginate
from soundstage.script.revisions import carry_edits, lock_numbers, mark_omitted, numbered_screenplay
from soundstage.services.documents import publish_pdf
from soundstage.services.workspace import Workspace
from soundstage.store.models import Asset, ScreenplayDraft
from soundstage.store.models import BreakdownEdit as EditRow

SCRIPT_MEDIA_TYPES = {".fdx": "application/x-final-draft+xml", ".fountain": "text/x-fountain"}


def _media_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return SCRIPT_MEDIA_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "text/plain"


def parse_draft(data: bytes, name: str) -> Screenplay:
    sp = parse_screenplay_bytes(data, name, Path(name).suffix)
    require_scenes(sp, name)  # refuses with a hint naming the line that looks like a heading
    return sp


def compute_breakdown(sp: Screenplay) -> Breakdown:
    return mark_omitted(break_down(sp, paginate(sp)))  # a locked script's "5 OMITTED" stays a cut scene


def import_script(ws: Workspace, path: Path, *, actor: str) -> dict:
    """Store a new draft, break it down, lock scene numbers against the previous draft, carry edits.

    One transaction: on any error nothing of the draft is left in the ledger or the store.
    """
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"screenplay not found: {path}")
    refuse_oversized(path.name, path.stat().st_size, min(ws.settings.max_script_bytes, MAX_SCREENPLAY_BYTES))
    data = path.read_bytes()
    sp = parse_draft(data, path.name)
    bd = compute_breakdown(sp)
    with ws.unit_of_work() as s:
        previous = _latest_draft(s, ws)
        revision: dict = {}
        dropped: list[BreakdownEdit] = []
        if previous is not None:
            old_bd = Breakdown.from_dict(previous.breakdown)
            bd, report = lock_numbers(old_bd, bd)
            revision = report.to_dict()
            edits = _active_edits(s, ws)
            kept, dropped = carry_edits([e for _, e in edits], report)
            dropped_keys = {(d.scene, d.action, d.key) for d in dropped}
            for row, edit in edits:
                if (edit.scene, edit.action, edit.key) in dropped_keys:
                    row.active = False
        asset = ingest(s, ws.store, IngestRequest(
            production_id=ws.production_id, actor=actor, kind="screenplay", media_type=_media_type(path.name),
            name=path.name, data=data,
            parents=[previous.asset_id] if previous is not None else [],
            details={"title": sp.title, "scenes": len(bd.live_scenes()), "pages": bd.page_count},
        ))
        version = (previous.version + 1) if previous is not None else 1
        draft = ScreenplayDraft(production_id=ws.production_id, version=version, asset_id=asset.id,
                                title=plain_title(sp.title) or path.stem, page_count=bd.page_count, breakdown=bd.to_dict(),
                                revision=revision, imported_at=datetime.now(timezone.utc))
        s.add(draft)
        s.flush()
        audit.append(s, production_id=ws.production_id, actor=actor, action="script.imported",
                     subject=f"draft {version}",
                     payload={"asset": format_asset_id(asset.id), "scenes": len(bd.live_scenes()),
                              "pages": bd.page_count, "revision": _revision_counts(revision),
                              "edits_dropped": [d.to_dict() for d in dropped]})
    return {
        "draft": version, "asset": format_asset_id(asset.id), "title": draft.title,
        "scenes": len(bd.live_scenes()), "pages": bd.page_count, "eighths": bd.total_eighths(),
        "revision": revision, "edits_dropped": [d.to_dict() for d in dropped],
    }


def _revision_counts(revision: dict) -> dict:
    counts: dict[str, int] = {}
    for change in revision.get("changes", []):
        counts[change.get("status", "?")] = counts.get(change.get("status", "?"), 0) + 1
    return counts


def _latest_draft(session, ws: Workspace) -> ScreenplayDraft | None:
    return session.scalars(select(ScreenplayDraft).where(ScreenplayDraft.production_id == ws.production_id)
                           .order_by(ScreenplayDraft.version.desc()).limit(1)).first()


def _draft(session, ws: Workspace, version: int | None) -> ScreenplayDraft:
    if version is None:
        draft = _latest_draft(session, ws)
    else:
        draft = session.scalars(select(ScreenplayDraft).where(
            ScreenplayDraft.production_id == ws.production_id, ScreenplayDraft.version == version)).first()
    if draft is None:
        raise NotFoundError("no screenplay imported yet" if version is None else f"no draft {version}",
                            hint="import one with: soundstage script import FILE")
    return draft


def _active_edits(session, ws: Workspace) -> list[tuple[EditRow, BreakdownEdit]]:
    rows = session.scalars(select(EditRow).where(EditRow.production_id == ws.production_id,
                                                 EditRow.active.is_(True)).order_by(EditRow.id))
    return [(r, BreakdownEdit(scene=r.scene, action=r.action, category=r.category, name=r.name,
                              new_category=r.new_category, note=r.note)) for r in rows]


def get_breakdown(ws: Workspace, version: int | None = None) -> tuple[Breakdown, dict]:
    """The draft's breakdown with every active user edit applied, and draft info."""
    with ws.unit_of_work() as s:
        draft = _draft(s, ws, version)
        bd = Breakdown.from_dict(draft.breakdown)
        edits = [e for _, e in _active_edits(s, ws)]
        info = {"draft": draft.version, "asset": format_asset_id(draft.asset_id), "title": plain_title(draft.title),
                "imported_at": draft.imported_at.isoformat(), "revision": draft.revision}
    applied, unapplied = apply_edits(bd, edits)
    applied.title = plain_title(applied.title)  # older drafts stored the title page's markup
    info["unapplied_edits"] = [e.to_dict() for e in unapplied]
    return applied, info


def add_edit(ws: Workspace, edit: BreakdownEdit, *, actor: str) -> dict:
    """Record a person's change to the breakdown; it survives re-runs and new drafts."""
    bd, _ = get_breakdown(ws)
    scene = bd.scene(edit.scene)
    if scene is None or scene.omitted:
        raise NotFoundError(f"no scene {edit.scene} in the current draft",
                            hint="scene numbers: " + ", ".join(bd.numbers()[:20]))
    if edit.action in ("remove", "retag") and scene.find(edit.category, edit.name) is None:
        raise NotFoundError(f"scene {edit.scene} has no {edit.category} element {edit.name!r}")
    with ws.unit_of_work() as s:
        row = EditRow(production_id=ws.production_id, scene=edit.scene, action=edit.action,
                      category=edit.category, name=edit.name, new_category=edit.new_category, note=edit.note,
                      active=True, created_by=actor, created_at=datetime.now(timezone.utc))
        s.add(row)
        s.flush()
        audit.append(s, production_id=ws.production_id, actor=actor, action="breakdown.edited",
                     subject=f"scene {edit.scene}", payload=edit.to_dict())
        return {"id": row.id, **edit.to_dict()}


def list_edits(ws: Workspace) -> list[dict]:
    with ws.unit_of_work() as s:
        rows = s.scalars(select(EditRow).where(EditRow.production_id == ws.production_id).order_by(EditRow.id))
        return [{"id": r.id, "scene": r.scene, "action": r.action, "category": r.category, "name": r.name,
                 "new_category": r.new_category, "note": r.note, "active": r.active, "by": r.created_by,
                 "at": r.created_at.isoformat()} for r in rows]


def draft_history(ws: Workspace) -> list[dict]:
    with ws.unit_of_work() as s:
        rows = s.scalars(select(ScreenplayDraft).where(ScreenplayDraft.production_id == ws.production_id)
                         .order_by(ScreenplayDraft.version))
        return [{"draft": d.version, "title": plain_title(d.title), "pages": d.page_count,
                 "asset": format_asset_id(d.asset_id), "imported_at": d.imported_at.isoformat(),
                 "changes": _revision_counts(d.revision)} for d in rows]


def draft_screenplay(ws: Workspace, version: int | None = None) -> Screenplay:
    return _draft_source(ws, version)[0]


def _draft_source(ws: Workspace, version: int | None) -> tuple[Screenplay, Breakdown]:
    """A stored draft's screenplay as parsed from its bytes, and its locked breakdown."""
    with ws.unit_of_work() as s:
        draft = _draft(s, ws, version)
        asset = s.get(Asset, draft.asset_id)
        data = ws.store.read_bytes(asset.sha256)
        name = asset.name
        bd = Breakdown.from_dict(draft.breakdown)
    return parse_draft(data, name), bd


def locked_screenplay(ws: Workspace, version: int | None = None) -> Screenplay:
    """The draft as the production office prints it: locked scene numbers (2A, A1) on every
    heading and an ``OMITTED`` heading for each cut scene, from the stored breakdown."""
    sp, bd = _draft_source(ws, version)
    return numbered_screenplay(sp, bd)


def export_script(ws: Workspace, fmt: str, out: Path, version: int | None = None, *, actor: str) -> Path:
    """Write the locked, numbered draft as FDX or Fountain (never a re-numbered re-parse)."""
    if fmt not in ("fdx", "fountain"):
        raise InputError(f"unknown export format {fmt!r} (fdx or fountain)")
    sp = locked_screenplay(ws, version)
    data = write_fdx(sp) if fmt == "fdx" else write_fountain(sp).encode("utf-8")
    atomic_write_bytes(out, data)
    _audit_export(ws, actor, "script.exported", out, {"format": fmt})
    return out


def _audit_export(ws: Workspace, actor: str, action: str, path: Path, payload: dict) -> None:
    with ws.unit_of_work() as s:
        audit.append(s, production_id=ws.production_id, actor=actor, action=action, subject=path.name,
                     payload={"path": str(path), **payload})


REPORT_KINDS = ("cast", "locations", "scenes", "elements", "sheets")


def write_reports(ws: Workspace, out_dir: Path, kinds: list[str], formats: list[str], *, actor: str) -> list[Path]:
    """Cast / location / scene lists as CSV and JSON, and the per-scene PDF breakdown sheets."""
    bd, _ = get_breakdown(ws)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    tables = {
        "cast": reports.cast_rows,
        "locations": reports.location_rows,
        "scenes": reports.scene_rows,
        "elements": element_rows,
    }
    for kind in kinds:
        if kind not in REPORT_KINDS:
            raise InputError(f"unknown report {kind!r} (one of: {', '.join(REPORT_KINDS)})")
        if kind == "sheets":
            if "pdf" in formats:
                target = out_dir / "breakdown_sheets.pdf"
                publish_pdf(ws, target, lambda tmp: reports.breakdown_sheets_pdf(bd, tmp, title=ws.settings.title),
                            title=f"{ws.settings.title} - breakdown sheets", document="breakdown_sheets")
                written.append(target)
            continue
        rows = tables[kind](bd)
        for fmt in formats:
            if fmt == "csv":
                target = out_dir / f"{kind}.csv"
                atomic_write_text(target, reports.rows_to_csv(rows))
                written.append(target)
            elif fmt == "json":
                target = out_dir / f"{kind}.json"
                atomic_write_text(target, reports.rows_to_json(rows))
                written.append(target)
            elif fmt != "pdf":
                raise InputError(f"unknown report format {fmt!r} (csv, json or pdf)")
    _audit_export(ws, actor, "script.reported", out_dir, {"files": [p.name for p in written]})
    return written


def element_rows(bd: Breakdown) -> list[dict]:
    """Every breakdown element with the script line it came from (one row each)."""
    return [{"scene": scene.number, "category": el.category, "name": el.name, "source_line": el.source_line,
             "origin": el.origin, "note": el.note} for scene, el in bd.elements()]
