"""Screenplay use cases: import a draft, read the breakdown, edit it, report on it, export it."""

from __future__ import annotations

import hashlib
import json
import mimetypes
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as DBIntegrityError

from soundstage.domain.breakdown import ASSIST_ORIGIN_PREFIX, Breakdown, BreakdownEdit, normalise_name
from soundstage.domain.jobs import JobStatus
from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.domain.screenplay import Screenplay, plain_title
from soundstage.errors import (
    BackendError, InputError, IntegrityError, NotFoundError, PendingApprovalError, SpecError, StateConflictError,
)
from soundstage.files import atomic_write_bytes, atomic_write_text
from soundstage.safeguards import audit
from soundstage.domain.ids import parse_asset_id
from soundstage.safeguards.guard import IngestRequest, format_asset_id, ingest
from soundstage.safeguards.ledger_state import prove_assets, prove_event, prove_rows
from soundstage.script import reports
from soundstage.script.assist import (
    ASSIST_VERSION, SUGGESTIONS_KIND, MalformedAnswer, Review, Suggestion, carry, check_answer, merge, recheck_review,
    reset_reviews, scene_anchors, scene_texts, script_names,
)
from soundstage.script.breakdown import apply_edits, break_down
from soundstage.script.fdx import write_fdx
from soundstage.script.fountain import write_fountain
from soundstage.script.loader import MAX_SCREENPLAY_BYTES, parse_screenplay_bytes, refuse_oversized, require_scenes
from soundstage.script.pagination import paginate
from soundstage.script.revisions import carry_edits, lock_numbers, mark_omitted, numbered_screenplay
from soundstage.services import jobs_service
from soundstage.services.documents import publish_pdf
from soundstage.services.workspace import Workspace
from soundstage.store.models import Asset, AuditEvent, Job, ModelRecord, ScreenplayDraft
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
    """Store a new draft, break it down, lock scene numbers against the previous draft, carry edits,
    and carry the previous draft's assist to the scenes whose words did not change (``_carry_assist``).

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
        assist_carry: dict = {}
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
            bd, assist_carry = _carry_assist(s, ws, old_bd, sp, bd, kept, previous.version)
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
        try:
            s.flush()
        except DBIntegrityError:  # another import took this version number since we read the latest draft
            raise StateConflictError(f"draft {version} was imported by another request just now; nothing of "
                                     f"{path.name} was kept", hint="see: soundstage script drafts; then import again"
                                     ) from None
        audit.append(s, production_id=ws.production_id, actor=actor, action="script.imported",
                     subject=f"draft {version}",
                     payload={"asset": format_asset_id(asset.id), "scenes": len(bd.live_scenes()),
                              "pages": bd.page_count, "revision": _revision_counts(revision),
                              "edits_dropped": [d.to_dict() for d in dropped],
                              **({"assist": assist_carry} if assist_carry else {})})
    return {
        "draft": version, "asset": format_asset_id(asset.id), "title": draft.title,
        "scenes": len(bd.live_scenes()), "pages": bd.page_count, "eighths": bd.total_eighths(),
        "revision": revision, "edits_dropped": [d.to_dict() for d in dropped], "assist": assist_carry,
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
    with ws.reading() as s:
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
    with ws.reading() as s:
        rows = s.scalars(select(EditRow).where(EditRow.production_id == ws.production_id).order_by(EditRow.id))
        return [{"id": r.id, "scene": r.scene, "action": r.action, "category": r.category, "name": r.name,
                 "new_category": r.new_category, "note": r.note, "active": r.active, "by": r.created_by,
                 "at": r.created_at.isoformat()} for r in rows]


def draft_history(ws: Workspace) -> list[dict]:
    with ws.reading() as s:
        rows = s.scalars(select(ScreenplayDraft).where(ScreenplayDraft.production_id == ws.production_id)
                         .order_by(ScreenplayDraft.version))
        return [{"draft": d.version, "title": plain_title(d.title), "pages": d.page_count,
                 "asset": format_asset_id(d.asset_id), "imported_at": d.imported_at.isoformat(),
                 "changes": _revision_counts(d.revision)} for d in rows]


def draft_screenplay(ws: Workspace, version: int | None = None) -> Screenplay:
    return _draft_source(ws, version)[0]


def _draft_source(ws: Workspace, version: int | None) -> tuple[Screenplay, Breakdown]:
    """A stored draft's screenplay as parsed from its bytes, and its locked breakdown."""
    with ws.reading() as s:
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


# --------------------------------------------------------------------------- language-model assist (DR022)

#: the backend of the models that can assist the breakdown (generate.registry.BACKENDS)
ASSIST_BACKEND = "openai-chat"
#: a suggestion set larger than this is not one the chat backend wrote
MAX_SUGGESTIONS_BYTES = 8 * 1024 * 1024


def assist_models(ws: Workspace) -> list[str]:
    """The registered models that can assist the breakdown (backend ``openai-chat``)."""
    with ws.reading() as s:
        rows = s.scalars(select(ModelRecord).where(ModelRecord.production_id == ws.production_id)
                         .order_by(ModelRecord.id))
        return [r.id for r in rows if (r.data or {}).get("backend") == ASSIST_BACKEND]


def _assist_model(ws: Workspace, model_id: str | None) -> str:
    if model_id:
        return model_id  # a model that is not registered (or not a chat model) is refused by the guard
    found = assist_models(ws)
    if not found:
        raise NotFoundError("no breakdown assist model is registered",
                            hint="register your OpenAI-compatible chat model (backend openai-chat, a card that "
                                 "says it stores and trains on nothing): docs/guides/breakdown-assist.md")
    if len(found) > 1:
        raise InputError(f"{len(found)} breakdown assist models are registered ({', '.join(found)}); name one "
                         "with --model")
    return found[0]


def assist_breakdown(ws: Workspace, model_id: str | None = None, *, actor: str, job_id: str | None = None,
                     wait: bool = True) -> dict:
    """Ask a registered chat model for breakdown elements of the latest draft, through the guard.

    The request is a guarded job (operation ``script_breakdown``, the draft's screenplay its one
    input, so the job's digest binds the script's sha256 and the model card id): the policy refuses
    an unregistered model and one whose card says it stores or trains on inputs before a byte is
    sent, and escalates production-owned material to its approvers. ``job_id``: finish a job that
    was escalated and is approved now. The job's output, a signed suggestion set, is checked again
    against the script and merged into the draft's breakdown (``script.assist.merge``); a person's
    edits are re-applied on top when the breakdown is read.

    ``wait`` False (the API): a job cleared to run is queued for a worker instead of run here, and
    the answer is ``{"job", "status"}`` until it is done; ask again with ``job_id`` to merge it."""
    if job_id is None:
        model_id = _assist_model(ws, model_id)
        with ws.unit_of_work() as s:
            draft = _draft(s, ws, None)
            asset_ref, version = format_asset_id(draft.asset_id), draft.version
        spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.SCRIPT_BREAKDOWN,
                       requested_by=actor, model_id=model_id, inputs=(asset_ref,), uses_proprietary_material=True,
                       prompt=f"breakdown assist of screenplay draft {version}")
        result = jobs_service.submit_job(ws, spec, actor=actor, wait=wait)
    else:
        with ws.unit_of_work() as s:
            job = s.get(Job, job_id)
            if job is None or job.production_id != ws.production_id or job.kind != OperationKind.SCRIPT_BREAKDOWN:
                raise NotFoundError(f"no breakdown assist job {job_id} in this production",
                                    hint="start one with: soundstage script assist")
        if wait:
            result = jobs_service.run_job(ws, job_id, actor=actor)
        else:
            view = jobs_service.show_job(ws, job_id)
            result = {"job": job_id, "status": view["status"], "decision": view["decision"],
                      "missing_roles": view.get("missing_roles") or [], "waiting_for": view.get("waiting_for")}
    if not wait and result["status"] in (JobStatus.QUEUED.value, JobStatus.RUNNING.value):
        return {"job": result["job"], "status": result["status"]}
    if result["status"] == JobStatus.ESCALATED.value:
        raise PendingApprovalError(
            f"breakdown assist job {result['job']} is waiting for approval by: "
            + ", ".join(result.get("waiting_for") or result["missing_roles"]),
            hint=f"approvers run: soundstage job approve {result['job']} --role ROLE; then: "
                 f"soundstage script assist --job {result['job']}")
    if result["status"] != JobStatus.DONE.value:
        jobs_service.raise_for_outcome(result)  # denied / rejected: one line naming the rule
        raise BackendError(f"breakdown assist job {result['job']} is {result['status']}",
                           hint=f"see: soundstage job show {result['job']}")
    return _merge_assist(ws, result["job"], actor=actor)


def assist_status(ws: Workspace) -> dict | None:
    """Where the latest breakdown assist job stands, for a page: its id, status, whom it waits for,
    the draft it read, whether that is older than the latest draft (``stale``: its merge would go to
    that old draft, so a page offers a new assist instead), and whether the latest draft's breakdown
    holds its merge. None when none was started."""
    with ws.reading() as s:
        job = s.scalars(select(Job).where(Job.production_id == ws.production_id,
                                          Job.kind == OperationKind.SCRIPT_BREAKDOWN.value)
                        .order_by(Job.created_at.desc(), Job.id.desc()).limit(1)).first()
        if job is None:
            return None
        draft = _latest_draft(s, ws)
        merged = draft is not None and (draft.breakdown or {}).get("assist", {}).get("job") == job.id
        read = s.scalars(select(ScreenplayDraft.version).where(
            ScreenplayDraft.production_id == ws.production_id,
            ScreenplayDraft.asset_id == parse_input(JobSpec.from_dict(job.spec)))).first()
        job_id, status, by = job.id, job.status, job.requested_by
        latest = draft.version if draft is not None else None
    view = jobs_service.show_job(ws, job_id)
    return {"job": job_id, "status": status, "requested_by": by, "merged": merged,
            "draft": read, "stale": read != latest,  # it read an earlier draft than the latest
            "waiting_for": view.get("waiting_for") or view.get("missing_roles") or []}


def _suggestion_set(s, ws: Workspace, job_id: str) -> tuple[JobSpec, Asset, dict, ScreenplayDraft, bytes]:
    """A done assist job's spec, its one signed suggestion set (asset and parsed body, read
    hash-checked), the draft it read and that draft's script bytes; IntegrityError or NotFoundError
    when the ledger does not hold them as the chat backend wrote them."""
    job = s.get(Job, job_id)
    spec = JobSpec.from_dict(job.spec)
    outputs = list(s.scalars(select(Asset).where(Asset.job_id == job_id, Asset.kind == SUGGESTIONS_KIND,
                                                 Asset.status == "active")))
    if len(outputs) != 1:
        raise IntegrityError(f"breakdown assist job {job_id} has {len(outputs)} suggestion sets, not one")
    output = outputs[0]
    if output.size > MAX_SUGGESTIONS_BYTES:
        raise IntegrityError(f"the suggestion set of job {job_id} is {output.size} bytes, over the limit")
    body_bytes = ws.store.read_bytes(output.sha256)  # hash-checked
    draft = s.scalars(select(ScreenplayDraft).where(
        ScreenplayDraft.production_id == ws.production_id,
        ScreenplayDraft.asset_id == parse_input(spec))).first()
    if draft is None:
        raise NotFoundError(f"the draft job {job_id} read is not in this production")
    script_bytes = ws.store.read_bytes(s.get(Asset, draft.asset_id).sha256)
    try:
        body = json.loads(body_bytes)
        if not isinstance(body, dict):
            raise TypeError
        body["kept"] = [Suggestion.from_dict(d) for d in body["kept"]]
        body["reviews"] = [Review.from_dict(d) for d in body.get("reviews") or []]
    except (ValueError, KeyError, TypeError):
        raise IntegrityError(f"the suggestion set of job {job_id} is not one the chat backend writes") from None
    if body.get("script_sha256") != hashlib.sha256(script_bytes).hexdigest():
        raise IntegrityError(f"the suggestion set of job {job_id} is for another script")
    return spec, output, body, draft, script_bytes


def _recheck(sp: Screenplay, rules: Breakdown, suggestions: list[Suggestion], reviews: list[Review],
             dropped: Counter) -> tuple[list[Suggestion], list[Review], dict[int, str]]:
    """The suggestions and reviews that pass the checks against ``sp`` (whose rules' breakdown is
    ``rules``) now, and the script lines by number; the others counted in ``dropped``."""
    cast = {c for scene in rules.scenes for c in scene.cast} | script_names(sp)  # never an object
    parts: dict[int, list] = {}
    lines: dict[int, str] = {}
    assisted = any(e.review or e.origin != "rule" for scene in rules.scenes for e in scene.elements)
    review_parts = scene_texts(sp, breakdown=reset_reviews(rules) if assisted else rules)  # as the rules left them
    for part in review_parts:
        parts.setdefault(part.index, []).append(part)
        lines.update(part.lines)
    merged: list[Suggestion] = []
    for suggestion in suggestions:
        for part in parts.get(suggestion.scene_index, []):
            try:
                found, _ = check_answer({"elements": [{"category": suggestion.category, "name": suggestion.name,
                                                       "line": suggestion.line, "quote": suggestion.quote}]},
                                         part, cast)
            except MalformedAnswer:
                found = []
            if found:
                merged.append(found[0])
                break
        else:
            dropped["not_in_script"] += 1
    held_reviews: list[Review] = []
    for review in reviews:
        again = recheck_review(review, parts.get(review.scene_index, []))  # only its scene's parts hold it
        if again is None:
            dropped["review_not_in_script"] += 1
        else:
            held_reviews.append(again)
    return merged, held_reviews, lines


def _edit_guards(edits: list[BreakdownEdit]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Scene number -> names a person removed there (never brought back, in any category), and ->
    names a person added, removed or retagged there (never reviewed away)."""
    removed: dict[str, set[str]] = {}
    protected: dict[str, set[str]] = {}
    for edit in edits:
        if edit.action == "remove":
            removed.setdefault(edit.scene, set()).add(normalise_name(edit.name))
        protected.setdefault(edit.scene, set()).add(normalise_name(edit.name))
    return removed, protected


def _assist_record(spec: JobSpec, job_id: str, suggestions_sha256: str, suggestions_asset: str,
                   merged: list[Suggestion], dropped: Counter, **more: Any) -> dict:
    """What a breakdown records of the assist merged into it (``bd.assist``), before ``merge`` adds
    its counts: the job, its model and suggestion set, how many were kept and why others were dropped."""
    return {"version": ASSIST_VERSION, "model": spec.model_id, "job": job_id,
            "suggestions_sha256": suggestions_sha256, "suggestions_asset": suggestions_asset,
            "kept": len(merged), "dropped": dict(sorted(dropped.items())),
            "at": datetime.now(timezone.utc).isoformat(), **more}


def _merged(bd: Breakdown, spec: JobSpec, suggestions: list[Suggestion], reviews: list[Review],
            lines: dict[int, str], edits: list[BreakdownEdit], record: dict) -> Breakdown:
    """``bd`` with the checked suggestions and reviews merged (``script.assist.merge``), a person's
    edits winning, and the number of assist elements it now holds recorded as ``added``."""
    removed, protected = _edit_guards(edits)
    bd = merge(bd, suggestions, model_id=spec.model_id, removed=removed, record=record, lines=lines,
               reviews=reviews, protected=protected)
    bd.assist = {**bd.assist, "added": sum(1 for _, e in bd.elements() if e.origin.startswith(ASSIST_ORIGIN_PREFIX))}
    return bd


def _merge_assist(ws: Workspace, job_id: str, *, actor: str) -> dict:
    """Merge a done assist job's suggestion set into the breakdown of the draft it read."""
    with ws.unit_of_work() as s:
        spec, output, body, draft, script_bytes = _suggestion_set(s, ws, job_id)
        script_name, draft_id = s.get(Asset, draft.asset_id).name, draft.id
        stored = Breakdown.from_dict(draft.breakdown)
        edits = [e for _, e in _active_edits(s, ws)]
        output_sha256, output_ref = output.sha256, format_asset_id(output.id)
    # checked again against the script here: only what holds now is merged
    sp = parse_draft(script_bytes, script_name)
    dropped: Counter = Counter(body.get("dropped") or {})
    merged, held_reviews, lines = _recheck(sp, stored, body["kept"], body["reviews"], dropped)
    record = _assist_record(spec, job_id, output_sha256, output_ref, merged, dropped)
    with ws.unit_of_work() as s:
        draft = s.get(ScreenplayDraft, draft_id)
        bd = _merged(Breakdown.from_dict(draft.breakdown), spec, merged, held_reviews, lines, edits, record)
        draft.breakdown = bd.to_dict()
        audit.append(s, production_id=ws.production_id, actor=actor, action="breakdown.assisted",
                     subject=f"draft {draft.version}",
                     payload={**bd.assist, "script": format_asset_id(draft.asset_id),
                              "script_sha256": body["script_sha256"]})
        return {"draft": draft.version, "job": job_id, **bd.assist}


def _proven_assist_job(s, ws: Workspace, record: dict) -> tuple[str, str]:
    """The assist job a previous draft's breakdown names, once the ledger proves it: a done
    ``script_breakdown`` job of this production whose suggestion set a ``breakdown.assisted`` event
    merged (the job's id, and the digest of the suggestion set that event names). The merge event
    must be the chain's and the job's rows what their audit events say (``ledger_state``): the
    breakdown row itself is not hash-bound, so its word is not taken. Raises IntegrityError naming
    what does not hold."""
    job_id = record.get("job")
    if not isinstance(job_id, str) or not job_id or len(job_id) > 100:
        raise IntegrityError("the previous draft's assist record names no job")
    job = s.get(Job, job_id)
    if job is None or job.production_id != ws.production_id or job.kind != OperationKind.SCRIPT_BREAKDOWN.value \
            or job.status != JobStatus.DONE.value:
        raise IntegrityError(f"{job_id} is not a done breakdown assist job of this production")
    events = s.scalars(select(AuditEvent).where(AuditEvent.production_id == ws.production_id,
                                                AuditEvent.action == "breakdown.assisted")
                       .order_by(AuditEvent.seq))
    merges = [(e.seq, p) for e, p in ((e, json.loads(e.payload)) for e in events) if p.get("job") == job_id]
    if not merges:
        raise IntegrityError(f"the audit log records no merge of assist job {job_id}")
    seq, merge_payload = merges[-1]
    refused = "its assist does not carry"
    prove_event(s, seq, refused)  # the merge event is the chain's, not a row slipped into the table
    prove_rows(s, job_id, JobSpec.from_dict(job.spec), refused)  # the job, its verdicts, card and script
    return job_id, str(merge_payload.get("suggestions_sha256"))


def _carry_assist(s, ws: Workspace, old_bd: Breakdown, sp: Screenplay, bd: Breakdown,
                  edits: list[BreakdownEdit], from_draft: int) -> tuple[Breakdown, dict]:
    """``bd`` (the new draft's rules, numbers locked) with the previous draft's assist carried to
    its unchanged scenes (``script.assist.carry``), and what carried and what was dropped, for the
    import's audit event. The suggestions and reviews come from the merged job's signed suggestion
    set, never from the previous draft's breakdown row (DR022, "New drafts")."""
    if not old_bd.assist:
        return bd, {}
    try:
        job_id, merged_sha256 = _proven_assist_job(s, ws, old_bd.assist)
        spec, output, body, job_draft, script_bytes = _suggestion_set(s, ws, job_id)
        prove_assets(s, [output.id], "its assist does not carry")  # the suggestion set's row is the log's
        job_sp = parse_draft(script_bytes, s.get(Asset, job_draft.asset_id).name)
        if output.sha256 != merged_sha256:
            raise IntegrityError(f"the audit log merged another suggestion set for job {job_id}")
        # every draft since the job's, read from the store (not from their rows): a scene must be
        # unchanged through each of them, so one rewritten and restored since stays dropped
        between = [scene_anchors(parse_draft(ws.store.read_bytes(sha256), name)) for sha256, name in s.execute(
            select(Asset.sha256, Asset.name).join(ScreenplayDraft, ScreenplayDraft.asset_id == Asset.id)
            .where(ScreenplayDraft.production_id == ws.production_id, ScreenplayDraft.version > job_draft.version,
                   ScreenplayDraft.version <= from_draft).order_by(ScreenplayDraft.version))]
    except (IntegrityError, NotFoundError, SpecError, InputError) as exc:  # the import goes on; nothing carries
        return bd, {"carried": 0, "dropped": 0, "refused": str(exc)}
    suggestions, reviews, dropped = carry(body["kept"], body["reviews"], scene_anchors(job_sp), scene_anchors(sp),
                                          via=between)
    merged, held, lines = _recheck(sp, bd, suggestions, reviews, dropped)
    record = _assist_record(spec, job_id, output.sha256, format_asset_id(output.id), merged, dropped,
                            carried={"job_draft": job_draft.version, "from_draft": from_draft,
                                     "suggestions": len(merged), "reviews": len(held)})
    bd = _merged(bd, spec, merged, held, lines, edits, record)
    summary = {"job": job_id, "model": spec.model_id, "job_draft": job_draft.version,
               "carried": len(merged) + len(held), "dropped": sum(dropped.values()),
               "suggestions": len(merged), "reviews": len(held), "reasons": dict(sorted(dropped.items())),
               "added": bd.assist["added"], "rejected": bd.assist["rejected"],
               "recategorised": bd.assist["recategorised"]}
    if summary["carried"] == 0:
        bd.assist = {}  # nothing of the job is in this draft: it is not an assisted breakdown
    return bd, summary


def parse_input(spec: JobSpec) -> int:
    if len(spec.inputs) != 1:
        raise SpecError("a breakdown assist job has exactly one input", field="inputs")
    return parse_asset_id(spec.inputs[0])
