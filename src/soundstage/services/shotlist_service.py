"""The shot list: planned by the rules, edited by a person, exported and imported.

The working shot list lives in the workspace as ``previz/shotlist.json`` (written atomically)
next to the rules' baseline it was planned from; the baseline is how a re-run tells a person's
edits from the rules' own output. Every change is an audit event. Panels, the animatic and
nothing else enter the asset store - and only through ``jobs_service.submit_job``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from soundstage.domain.breakdown import Breakdown
from soundstage.domain.shots import ShotList
from soundstage.errors import InputError, NotFoundError, SpecError, WorkspaceError
from soundstage.files import atomic_write_bytes
from soundstage.previz.shotlist import (
    check_against_breakdown,
    edited_rule_shots,
    make_shot_list,
    mark_user_shots,
    merge_shot_lists,
    read_shot_list_csv,
    read_shot_list_yaml,
    write_shot_list_csv,
    write_shot_list_yaml,
)
from soundstage.safeguards import audit
from soundstage.services.script_service import draft_screenplay, get_breakdown
from soundstage.services.workspace import Workspace

STATE_SCHEMA = "PrevizState.1"
EXPORT_FORMATS = ("yaml", "csv")


def state_path(ws: Workspace) -> Path:
    return ws.settings.root / "previz" / "shotlist.json"


def export_dir(ws: Workspace) -> Path:
    return ws.settings.exports_dir / "previz"


def _load_state(ws: Workspace) -> tuple[ShotList | None, ShotList | None]:
    path = state_path(ws)
    if not path.is_file():
        return None, None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("schema") != STATE_SCHEMA:
            raise ValueError(f"schema {data.get('schema')!r}")
        return ShotList.from_dict(data["current"]), ShotList.from_dict(data["baseline"])
    except (ValueError, KeyError, TypeError, SpecError) as exc:
        raise WorkspaceError(f"the stored shot list {path} is damaged ({exc})",
                             hint="move it aside and run: soundstage previz shots build") from None


def _save_state(ws: Workspace, current: ShotList, baseline: ShotList, *, actor: str, action: str,
                payload: dict) -> None:
    data = {"schema": STATE_SCHEMA, "current": current.to_dict(), "baseline": baseline.to_dict()}
    encoded = json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8")
    with ws.unit_of_work() as s:  # the audit event commits only if the file was written
        atomic_write_bytes(state_path(ws), encoded)
        audit.append(s, production_id=ws.production_id, actor=actor, action=action, subject="shot list",
                     payload={"sha256": hashlib.sha256(encoded).hexdigest(), "shots": len(current),
                              "draft": current.draft, **payload})


def _rules(ws: Workspace) -> tuple[ShotList, Breakdown]:
    bd, info = get_breakdown(ws)
    return make_shot_list(bd, draft_screenplay(ws, info["draft"]), draft=info["draft"]), bd


def build_shot_list(ws: Workspace, *, actor: str) -> dict:
    """Run the coverage rules on the current draft and merge with the person's edits."""
    rules, _ = _rules(ws)
    current, baseline = _load_state(ws)
    merged, report = merge_shot_lists(rules, current, baseline)
    _save_state(ws, merged, rules, actor=actor, action="previz.shotlist.built", payload={"merge": report.to_dict()})
    return {"shot_list": merged, "merge": report.to_dict()}


def current_shot_list(ws: Workspace, *, actor: str) -> ShotList:
    """The stored list, re-planned first when a new draft has been imported since."""
    current, _ = _load_state(ws)
    _, info = get_breakdown(ws)
    if current is None or current.draft != info["draft"]:
        return build_shot_list(ws, actor=actor)["shot_list"]
    return current


def export_shot_list(ws: Workspace, fmt: str, out: Path, *, actor: str) -> Path:
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"unknown shot list format {fmt!r} (yaml or csv)")
    shots = current_shot_list(ws, actor=actor)
    text = write_shot_list_yaml(shots) if fmt == "yaml" else write_shot_list_csv(shots)
    atomic_write_bytes(Path(out), text.encode("utf-8"))
    with ws.unit_of_work() as s:
        audit.append(s, production_id=ws.production_id, actor=actor, action="previz.shotlist.exported",
                     subject=Path(out).name, payload={"format": fmt, "shots": len(shots)})
    return Path(out)


def import_shot_list(ws: Workspace, path: Path, *, actor: str) -> dict:
    """Read a person's edited YAML/CSV; refuse nonsense with its line and field; store it."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"shot list not found: {path}")
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        read = read_shot_list_yaml(data, source=path.name)
    elif suffix == ".csv":
        read = read_shot_list_csv(data, source=path.name)
    else:
        raise InputError(f"{path.name}: a shot list is .yaml, .yml or .csv")
    current = current_shot_list(ws, actor=actor)
    _, baseline = _load_state(ws)

    bd, info = get_breakdown(ws)
    edited = check_against_breakdown(read.shots, bd, source=path.name, lines=read.lines)
    edited.title, edited.draft = current.title, info["draft"]
    # scenes the file leaves out keep their current shots; order follows the script
    given = {s.number: s for s in edited.scenes}
    edited.scenes = [given.get(s.number, s) for s in current.scenes]
    mark_user_shots(edited, baseline)
    changed = {s.number: edited_rule_shots(s, baseline.scene(s.number) if baseline else None) for s in edited.scenes}
    user = [sh.number for sh in edited.shots() if sh.origin == "user"]
    _save_state(ws, edited, baseline or edited, actor=actor, action="previz.shotlist.imported",
                payload={"file": path.name, "user_shots": user,
                         "edited_rule_shots": sorted(n for v in changed.values() for n in v)})
    return {"shot_list": edited, "user_shots": user, "edited_rule_shots": sorted(n for v in changed.values() for n in v)}
