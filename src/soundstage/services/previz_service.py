"""Previz use cases: plan the shot list, let a person edit it, board it through the guarded path.

The working shot list lives in the workspace as ``previz/shotlist.json`` (written atomically)
next to the rules' baseline it was planned from; the baseline is how a re-run tells a person's
edits from the rules' own output. Every change is an audit event. Panels, the animatic and
nothing else enter the asset store - and only through ``jobs_service.submit_job``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from soundstage.domain.breakdown import Breakdown
from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.domain.shots import Shot, ShotList
from soundstage.errors import InputError, NotFoundError, SpecError, WorkspaceError
from soundstage.safeguards import audit
from soundstage.services.workspace import Workspace

BLENDER_MODEL = "soundstage.blender-blocking"
CARD_MODEL = "soundstage.procedural-card"
ANIMATIC_MODEL = "soundstage.animatic"
STATE_SCHEMA = "PrevizState.1"
PANEL_SIZE = (960, 540)
EXPORT_FORMATS = ("yaml", "csv")

Progress = Callable[[int, int, str], None]


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
    from soundstage.services.script_service import atomic_write

    data = {"schema": STATE_SCHEMA, "current": current.to_dict(), "baseline": baseline.to_dict()}
    encoded = json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8")
    with ws.unit_of_work() as s:  # the audit event commits only if the file was written
        atomic_write(state_path(ws), encoded)
        audit.append(s, production_id=ws.production_id, actor=actor, action=action, subject="shot list",
                     payload={"sha256": hashlib.sha256(encoded).hexdigest(), "shots": len(current),
                              "draft": current.draft, **payload})


def _rules(ws: Workspace) -> tuple[ShotList, Breakdown]:
    from soundstage.previz.shotlist import make_shot_list
    from soundstage.services.script_service import draft_screenplay, get_breakdown

    bd, info = get_breakdown(ws)
    return make_shot_list(bd, draft_screenplay(ws, info["draft"]), draft=info["draft"]), bd


def build_shot_list(ws: Workspace, *, actor: str) -> dict:
    """Run the coverage rules on the current draft and merge with the person's edits."""
    from soundstage.previz.shotlist import merge_shot_lists

    rules, _ = _rules(ws)
    current, baseline = _load_state(ws)
    merged, report = merge_shot_lists(rules, current, baseline)
    _save_state(ws, merged, rules, actor=actor, action="previz.shotlist.built", payload={"merge": report.to_dict()})
    return {"shot_list": merged, "merge": report.to_dict()}


def current_shot_list(ws: Workspace, *, actor: str) -> ShotList:
    """The stored list, re-planned first when a new draft has been imported since."""
    from soundstage.services.script_service import get_breakdown

    current, _ = _load_state(ws)
    _, info = get_breakdown(ws)
    if current is None or current.draft != info["draft"]:
        return build_shot_list(ws, actor=actor)["shot_list"]
    return current


def export_shot_list(ws: Workspace, fmt: str, out: Path, *, actor: str) -> Path:
    from soundstage.previz.shotlist import write_shot_list_csv, write_shot_list_yaml
    from soundstage.services.script_service import atomic_write

    if fmt not in EXPORT_FORMATS:
        raise InputError(f"unknown shot list format {fmt!r} (yaml or csv)")
    shots = current_shot_list(ws, actor=actor)
    text = write_shot_list_yaml(shots) if fmt == "yaml" else write_shot_list_csv(shots)
    atomic_write(Path(out), text.encode("utf-8"))
    with ws.unit_of_work() as s:
        audit.append(s, production_id=ws.production_id, actor=actor, action="previz.shotlist.exported",
                     subject=Path(out).name, payload={"format": fmt, "shots": len(shots)})
    return Path(out)


def import_shot_list(ws: Workspace, path: Path, *, actor: str) -> dict:
    """Read a person's edited YAML/CSV; refuse nonsense with its line and field; store it."""
    from soundstage.previz.shotlist import (
        check_against_breakdown,
        edited_rule_shots,
        mark_user_shots,
        read_shot_list_csv,
        read_shot_list_yaml,
    )

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
    from soundstage.services.script_service import get_breakdown

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


# ----------------------------------------------------------------------------- boarding

@dataclass
class BoardedShot:
    shot: Shot
    asset_id: str
    sha256: str
    manifest_label: str
    path: Path
    job: str
    reused: bool


@dataclass
class BoardResult:
    renderer: str
    shots: list[BoardedShot]
    scene_pdfs: list[Path]
    script_pdf: Path
    animatic: Path | None
    animatic_asset: str | None
    otio: Path
    edl: Path
    warnings: list[str] = field(default_factory=list)

    @property
    def reused(self) -> int:
        return sum(1 for s in self.shots if s.reused)

    def to_dict(self) -> dict:
        return {"renderer": self.renderer, "shots": len(self.shots), "reused": self.reused,
                "panels": [{"shot": b.shot.number, "asset": b.asset_id, "c2pa": b.manifest_label, "job": b.job}
                           for b in self.shots],
                "scene_pdfs": [str(p) for p in self.scene_pdfs], "script_pdf": str(self.script_pdf),
                "animatic": str(self.animatic) if self.animatic else None, "animatic_asset": self.animatic_asset,
                "otio": str(self.otio), "edl": str(self.edl), "warnings": list(self.warnings)}


def _registered(ws: Workspace) -> set[str]:
    from soundstage.services.safeguards_service import list_models

    return {m["id"] for m in list_models(ws)}


def default_renderer(ws: Workspace) -> str:
    """Blender blocking when the production registered it, else the always-present card."""
    return BLENDER_MODEL if BLENDER_MODEL in _registered(ws) else CARD_MODEL


def character_table(bd: Breakdown) -> dict[str, dict]:
    """Every character with a fixed index and colour, so a renderer draws them alike in every shot."""
    names: dict[str, None] = {}
    for scene in bd.live_scenes():
        for name in scene.cast:
            names.setdefault(name, None)
    table = {}
    for i, name in enumerate(names):
        hue = (i * 0.61803398875) % 1.0
        import colorsys

        r, g, b = colorsys.hsv_to_rgb(hue, 0.55, 0.85)
        table[name] = {"index": i, "colour": [round(r * 255), round(g * 255), round(b * 255)]}
    return table


def _shot_prompt(shot: Shot) -> str:
    return f"{shot.number} {shot.size} {shot.lens_mm:g}mm {shot.movement}: {shot.description}"


def _submit(ws: Workspace, spec: JobSpec, key: str, *, actor: str) -> tuple[dict, bool]:
    from soundstage.services import jobs_service

    result = jobs_service.submit_job(ws, spec, actor=actor, idempotency_key=key)
    reused = bool(result.get("replayed"))
    if reused:
        result = jobs_service.run_job(ws, result["id"], actor=actor)
    jobs_service.raise_for_outcome(result)
    return result, reused


def _panel_job(ws: Workspace, shot: Shot, scene: dict, characters: dict, renderer: str, actor: str
               ) -> tuple[JobSpec, str]:
    params = {"shot": shot.to_dict(), "scene": scene, "characters": {c: characters[c] for c in shot.characters
                                                                      if c in characters},
              "width": PANEL_SIZE[0], "height": PANEL_SIZE[1]}
    digest = hashlib.sha256(json.dumps({"params": params, "model": renderer, "production": ws.production_id},
                                       sort_keys=True).encode()).hexdigest()[:32]
    params["seed"] = int(digest[:8], 16)
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.STORYBOARD, requested_by=actor,
                   model_id=renderer, prompt=_shot_prompt(shot), scene=shot.scene, shot=shot.number,
                   deliverable="temporary", medium="previz", params=params)
    return spec, f"previz:{digest}"


def board(ws: Workspace, scenes: list[str] | None = None, renderer_model_id: str | None = None, *, actor: str,
          progress: Progress | None = None, compress_pdf: bool = True, animatic: bool = True) -> BoardResult:
    """One guarded job per shot, then the sheets, the animatic (guarded too), OTIO and EDL."""
    from soundstage.previz.boards import BoardPanel, write_storyboard_pdf
    from soundstage.previz.timeline import TimelineClip, build_timeline, write_edl, write_otio
    from soundstage.services.safeguards_service import register_builtin_models
    from soundstage.services.script_service import get_breakdown

    register_builtin_models(ws, actor=actor)  # a workspace made before a built-in existed gets it now
    registered = _registered(ws)
    renderer = renderer_model_id or default_renderer(ws)
    if renderer not in registered:
        raise NotFoundError(f"renderer {renderer!r} is not in the model registry",
                            hint="registered: " + ", ".join(sorted(registered)))
    shot_list = current_shot_list(ws, actor=actor)
    bd, info = get_breakdown(ws)
    wanted = [s for s in shot_list.scenes if scenes is None or s.number in scenes]
    if scenes is not None:
        unknown = sorted(set(scenes) - {s.number for s in shot_list.scenes})
        if unknown:
            raise NotFoundError(f"no scene {unknown[0]} in the shot list",
                                hint="scenes: " + ", ".join(s.number for s in shot_list.scenes))
    todo = [(sc, shot) for sc in wanted for shot in sc.shots]
    if not todo:
        raise InputError("nothing to board: the chosen scenes have no shots")
    characters = character_table(bd)
    total = len(todo) + 2
    boarded: list[BoardedShot] = []
    for done, (sc, shot) in enumerate(todo):
        if progress:
            progress(done, total, f"panel {shot.number}")
        sb = bd.scene(sc.number)
        scene_dict = {k: v for k, v in sb.to_dict().items() if k != "text_sketch"} if sb else {"number": sc.number}
        spec, key = _panel_job(ws, shot, scene_dict, characters, renderer, actor)
        result, reused = _submit(ws, spec, key, actor=actor)
        stills = [a for a in result["assets"] if a["media_type"].startswith("image/")]
        if not stills:
            raise WorkspaceError(f"renderer {renderer} returned no image for shot {shot.number}")
        asset = stills[0]
        boarded.append(BoardedShot(shot, asset["id"], asset["sha256"],
                                   (asset["details"].get("c2pa") or {}).get("manifest_label", ""),
                                   ws.store.path_for(asset["sha256"]), result["job"], reused))
    out = export_dir(ws)
    if progress:
        progress(len(todo), total, "storyboard sheets")
    panels = {b.shot.number: BoardPanel(b.shot, b.path, b.asset_id, b.manifest_label) for b in boarded}
    scene_pdfs = []
    for sc in wanted:
        target = out / f"storyboard_scene_{_safe(sc.number)}.pdf"
        write_storyboard_pdf(target, [panels[s.number] for s in sc.shots], title=f"{shot_list.title} - scene {sc.number}",
                             subtitle=f"{sc.heading}  |  draft {info['draft']}  |  {len(sc.shots)} shots, "
                                      f"{sc.est_seconds:g}s", compress=compress_pdf)
        scene_pdfs.append(target)
    script_pdf = out / "storyboard.pdf"
    write_storyboard_pdf(script_pdf, [panels[s.number] for _, s in todo], title=f"{shot_list.title} - storyboard",
                         subtitle=f"draft {info['draft']}  |  {len(todo)} shots  |  renderer {renderer}",
                         compress=compress_pdf)
    warnings: list[str] = []
    animatic_path, animatic_asset = None, None
    if progress:
        progress(len(todo) + 1, total, "animatic")
    if animatic and ANIMATIC_MODEL in registered:
        animatic_asset, animatic_path = _animatic(ws, boarded, out, actor=actor)
    elif animatic:
        warnings.append(f"no animatic: model {ANIMATIC_MODEL!r} is not registered in this production")
    timeline = build_timeline(f"{shot_list.title} - previz", [
        TimelineClip(b.shot.number, b.shot.scene, b.shot.est_seconds, b.path, b.asset_id, b.manifest_label,
                     b.asset_id, b.shot.title) for b in boarded])
    otio_path = write_otio(timeline, out / "previz.otio")
    edl_path = write_edl(timeline, out / "previz.edl")
    if progress:
        progress(total, total, "done")
    result = BoardResult(renderer, boarded, scene_pdfs, script_pdf, animatic_path, animatic_asset, otio_path,
                         edl_path, warnings)
    with ws.unit_of_work() as s:
        audit.append(s, production_id=ws.production_id, actor=actor, action="previz.boarded",
                     subject=f"{len(boarded)} shots",
                     payload={"renderer": renderer, "reused": result.reused, "animatic": animatic_asset,
                              "scenes": [sc.number for sc in wanted], "files": [p.name for p in scene_pdfs]
                              + [script_pdf.name, otio_path.name, edl_path.name]})
    return result


def _safe(number: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in number)


def _animatic(ws: Workspace, boarded: list[BoardedShot], out: Path, *, actor: str) -> tuple[str, Path]:
    timing = [{"asset": b.asset_id, "title": b.shot.title, "subtitle": b.shot.description[:110],
               "seconds": b.shot.est_seconds} for b in boarded]
    params = {"timing": timing, "width": PANEL_SIZE[0], "height": PANEL_SIZE[1], "fps": 24,
              "crossfade_seconds": 0.0}
    inputs = tuple(dict.fromkeys(b.asset_id for b in boarded))
    digest = hashlib.sha256(json.dumps({"params": params, "production": ws.production_id},
                                       sort_keys=True).encode()).hexdigest()[:32]
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.STORYBOARD, requested_by=actor,
                   model_id=ANIMATIC_MODEL, prompt=f"animatic of {len(boarded)} storyboard panels",
                   inputs=inputs, scene=boarded[0].shot.scene if len({b.shot.scene for b in boarded}) == 1 else None,
                   deliverable="temporary", medium="previz", params=params)
    result, _ = _submit(ws, spec, f"previz-animatic:{digest}", actor=actor)
    clip = next(a for a in result["assets"] if a["media_type"].startswith("video/"))
    target = out / "animatic.mp4"
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".animatic.mp4.tmp"
    shutil.copyfile(ws.store.path_for(clip["sha256"]), tmp)  # the signed asset, byte for byte
    tmp.replace(target)
    return clip["id"], target
