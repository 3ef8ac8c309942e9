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

from sqlalchemy import select

from soundstage.domain.breakdown import Breakdown
from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.domain.screenplay import plain_title
from soundstage.domain.shots import Shot, ShotList
from soundstage.errors import InputError, NotFoundError, SpecError, WorkspaceError
from soundstage.files import atomic_write_bytes
from soundstage.previz.boards import BoardPanel, write_storyboard_pdf
from soundstage.previz.cast import cast_looks
from soundstage.previz.lookbook import MAX_FRAMES, Frame, plan_looks, write_lookbook_pdf
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
from soundstage.previz.timeline import TimelineClip, build_timeline, write_edl, write_otio
from soundstage.safeguards import audit
from soundstage.safeguards.policy.loader import load_pack_file
from soundstage.safeguards.resolve import backend_of
from soundstage.services import jobs_service
from soundstage.services.documents import DocumentFrame, publish_pdf
from soundstage.services.models import list_models, register_builtin_models
from soundstage.services.people_service import list_people
from soundstage.services.script_service import draft_screenplay, get_breakdown
from soundstage.services.workspace import Workspace
from soundstage.store.models import Asset, ScreenplayDraft

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
    digital_source_type: str | None = None  # the frame's own, from its manifest at signing


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
    return {m["id"] for m in list_models(ws)}


def default_renderer(ws: Workspace) -> str:
    """Blender blocking when the production registered it, else the always-present card."""
    return BLENDER_MODEL if BLENDER_MODEL in _registered(ws) else CARD_MODEL


def character_table(bd: Breakdown, screenplay=None) -> dict[str, dict]:
    """Every character with a fixed index, a colour-blind-safe colour and a height read from the
    script (children are smaller), so a renderer draws them alike in every shot."""
    names: dict[str, None] = {}
    for scene in bd.live_scenes():
        for name in scene.cast:
            names.setdefault(name, None)
    return {name: look.to_dict() for name, look in cast_looks(names, screenplay).items()}


def _shot_prompt(shot: Shot) -> str:
    return f"{shot.number} {shot.size} {shot.lens_mm:g}mm {shot.movement}: {shot.description}"


def _submit(ws: Workspace, spec: JobSpec, key: str, *, actor: str) -> tuple[dict, bool]:
    result = jobs_service.submit_job(ws, spec, actor=actor, idempotency_key=key)
    reused = bool(result.get("replayed"))
    if reused:
        result = jobs_service.run_job(ws, result["id"], actor=actor)
    jobs_service.raise_for_outcome(result)
    return result, reused


def _declared(ws: Workspace, renderer: str, operation: OperationKind, hints: dict) -> dict:
    """The hints this renderer's backend declares (a card renderer takes no shot record)."""
    return jobs_service.declared_params(ws, renderer, operation.value, hints)


def _panel_job(ws: Workspace, shot: Shot, scene: dict, characters: dict, renderer: str, actor: str
               ) -> tuple[JobSpec, str]:
    params = {"shot": shot.to_dict(), "scene": scene, "characters": {c: characters[c] for c in shot.characters
                                                                      if c in characters},
              "width": PANEL_SIZE[0], "height": PANEL_SIZE[1]}
    digest = hashlib.sha256(json.dumps({"params": params, "model": renderer, "production": ws.production_id},
                                       sort_keys=True).encode()).hexdigest()[:32]
    params["seed"] = int(digest[:8], 16)
    params = _declared(ws, renderer, OperationKind.STORYBOARD, params)
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.STORYBOARD, requested_by=actor,
                   model_id=renderer, prompt=_shot_prompt(shot), scene=shot.scene, shot=shot.number,
                   deliverable="temporary", medium="previz", params=params)
    return spec, f"previz:{digest}"


def _scene_dict(bd, number: str) -> dict:
    sb = bd.scene(number)
    return {k: v for k, v in sb.to_dict().items() if k != "text_sketch"} if sb else {"number": number}


def _boarded(ws: Workspace, shot: Shot, asset: dict, job_id: str, reused: bool) -> BoardedShot:
    c2pa = asset["details"].get("c2pa") or {}
    return BoardedShot(shot, asset["id"], asset["sha256"], c2pa.get("manifest_label", ""),
                       ws.store.path_for(asset["sha256"]), job_id, reused, c2pa.get("digital_source_type"))


def _frames(boarded: list[BoardedShot]) -> list[DocumentFrame]:
    """The signed panels a sheet shows, for its Content Credentials."""
    return [DocumentFrame(b.asset_id, b.path, b.shot.number, b.digital_source_type, signed=bool(b.manifest_label))
            for b in boarded]


def _renders_whole_scenes(ws: Workspace, renderer: str) -> bool:
    """Backends that take a list of shots (Blender) get one job per scene."""
    with ws.unit_of_work() as s:
        backend, _ = backend_of(s, renderer)
    return backend == "blender"


def _scene_job(ws: Workspace, sc, scene: dict, characters: dict, renderer: str, actor: str) -> tuple[JobSpec, str]:
    names = sorted({c for shot in sc.shots for c in shot.characters})
    params = {"shots": [shot.to_dict() for shot in sc.shots], "scene": scene,
              "characters": {c: characters[c] for c in names if c in characters},
              "width": PANEL_SIZE[0], "height": PANEL_SIZE[1], "depth": True, "save_blend": True}
    digest = hashlib.sha256(json.dumps({"params": params, "model": renderer, "production": ws.production_id},
                                       sort_keys=True).encode()).hexdigest()[:32]
    params["seed"] = int(digest[:8], 16)
    params = _declared(ws, renderer, OperationKind.STORYBOARD, params)
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.STORYBOARD, requested_by=actor,
                   model_id=renderer, prompt=f"blocking for scene {sc.number}: {sc.heading}", scene=sc.number,
                   deliverable="temporary", medium="previz", params=params)
    return spec, f"previz-scene:{digest}"


def board(ws: Workspace, scenes: list[str] | None = None, renderer_model_id: str | None = None, *, actor: str,
          progress: Progress | None = None, compress_pdf: bool = True, animatic: bool = True) -> BoardResult:
    """Guarded render jobs (one per scene for Blender, else one per shot), then the sheets, the
    animatic (guarded too), OTIO and EDL."""
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
    characters = character_table(bd, draft_screenplay(ws, info["draft"]))
    total = len(todo) + 2
    boarded: list[BoardedShot] = []
    done = 0
    if _renders_whole_scenes(ws, renderer):
        # one job per scene: one Blender set, a camera per shot, a depth pass per shot, one .blend
        for sc in wanted:
            if progress:
                progress(done, total, f"scene {sc.number}")
            spec, key = _scene_job(ws, sc, _scene_dict(bd, sc.number), characters, renderer, actor)
            result, reused = _submit(ws, spec, key, actor=actor)
            stills = {a["details"].get("shot_number") or a["details"].get("shot"): a for a in result["assets"]
                      if a["media_type"].startswith("image/") and a["details"].get("asset_kind") != "depth"}
            for shot in sc.shots:
                asset = stills.get(shot.number)
                if asset is None:
                    raise WorkspaceError(f"renderer {renderer} returned no image for shot {shot.number}")
                boarded.append(_boarded(ws, shot, asset, result["job"], reused))
            done += len(sc.shots)
    else:
        for sc, shot in todo:
            if progress:
                progress(done, total, f"panel {shot.number}")
            spec, key = _panel_job(ws, shot, _scene_dict(bd, sc.number), characters, renderer, actor)
            result, reused = _submit(ws, spec, key, actor=actor)
            stills = [a for a in result["assets"] if a["media_type"].startswith("image/")]
            if not stills:
                raise WorkspaceError(f"renderer {renderer} returned no image for shot {shot.number}")
            boarded.append(_boarded(ws, shot, stills[0], result["job"], reused))
            done += 1
    out = export_dir(ws)
    if progress:
        progress(len(todo), total, "storyboard sheets")
    panels = {b.shot.number: BoardPanel(b.shot, b.path, b.asset_id, b.manifest_label) for b in boarded}
    by_shot = {b.shot.number: b for b in boarded}
    scene_pdfs = []
    for sc in wanted:
        target = out / f"storyboard_scene_{_safe(sc.number)}.pdf"
        title = f"{plain_title(shot_list.title)} - scene {sc.number}"
        subtitle = f"{sc.heading}  |  draft {info['draft']}  |  {len(sc.shots)} shots, {sc.est_seconds:g}s"
        publish_pdf(ws, target, lambda tmp, sc=sc, title=title, subtitle=subtitle: write_storyboard_pdf(
            tmp, [panels[s.number] for s in sc.shots], title=title, subtitle=subtitle, compress=compress_pdf),
            title=f"{title} - storyboard", document="storyboard",
            frames=_frames([by_shot[s.number] for s in sc.shots]))
        scene_pdfs.append(target)
    script_pdf = out / "storyboard.pdf"
    publish_pdf(ws, script_pdf, lambda tmp: write_storyboard_pdf(
        tmp, [panels[s.number] for _, s in todo], title=f"{plain_title(shot_list.title)} - storyboard",
        subtitle=f"draft {info['draft']}  |  {len(todo)} shots  |  renderer {renderer}", compress=compress_pdf),
        title=f"{plain_title(shot_list.title)} - storyboard", document="storyboard", frames=_frames(boarded))
    warnings: list[str] = []
    animatic_path, animatic_asset = None, None
    if progress:
        progress(len(todo) + 1, total, "animatic")
    if animatic and ANIMATIC_MODEL in registered:
        animatic_asset, animatic_path = _animatic(ws, boarded, out, actor=actor)
    elif animatic:
        warnings.append(f"no animatic: model {ANIMATIC_MODEL!r} is not registered in this production")
    timeline = build_timeline(f"{plain_title(shot_list.title)} - previz", [
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
    timing = [{"asset": b.asset_id, "title": b.shot.title, "subtitle": b.shot.description[:300],
               "seconds": b.shot.est_seconds, "movement": b.shot.movement,
               "dialogue": b.shot.dialogue_excerpt} for b in boarded]
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


# ----------------------------------------------------------------------------- look-book

LOOKBOOK_FRAME_SIZE = (768, 512)
LOOKBOOK_HELD_STATUSES = ("escalated", "denied", "rejected", "cancelled")


@dataclass
class LookbookResult:
    pdf: Path
    assets: list[str]
    decisions: list[dict]
    renderer: str = ""
    reused: int = 0

    def to_dict(self) -> dict:
        return {"pdf": str(self.pdf), "renderer": self.renderer, "assets": list(self.assets),
                "reused_jobs": self.reused, "decisions": list(self.decisions)}


def _draft_lines(ws: Workspace) -> list[str]:
    """The current draft's text lines (breakdown line numbers point into them); [] for FDX."""
    with ws.unit_of_work() as s:
        draft = s.scalars(select(ScreenplayDraft).where(ScreenplayDraft.production_id == ws.production_id)
                          .order_by(ScreenplayDraft.version.desc()).limit(1)).first()
        if draft is None:
            return []
        asset = s.get(Asset, draft.asset_id)
        if asset is None or asset.name.lower().endswith(".fdx"):
            return []
        return ws.store.read_bytes(asset.sha256).decode("utf-8", errors="replace").splitlines()


def _real_names(ws: Workspace) -> list[str]:
    """Every real person a prompt must not name: the production's people and the packs' lists."""
    names = [p["name"] for p in list_people(ws)]
    for pack_path in ws.settings.policy_packs:
        pack = load_pack_file(pack_path)
        for list_name in ("public_figures", "deceased_people"):
            names.extend(pack.lists.get(list_name, ()))
    return names


def _look_job(ws: Workspace, look, renderer: str, backend: str | None, *, size: tuple[int, int], frames: int,
              steps: int | None, actor: str) -> tuple[JobSpec, str]:
    params: dict = {"width": size[0], "height": size[1], "count": frames}
    if backend == "diffusers":
        params["mode"] = "text2img"
    if steps is not None:
        params["steps"] = steps
    digest = hashlib.sha256(json.dumps({"prompt": look.prompt, "model": renderer, "params": params,
                                        "production": ws.production_id, "central": look.story_central},
                                       sort_keys=True).encode()).hexdigest()[:32]
    params["seed"] = int(digest[:8], 16)
    params = _declared(ws, renderer, OperationKind.CONCEPT_ART, params)
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.CONCEPT_ART, requested_by=actor,
                   model_id=renderer, prompt=look.prompt, scene=look.scenes[0] if len(look.scenes) == 1 else None,
                   deliverable="temporary", medium="previz", story_relevant=look.story_central, params=params)
    return spec, f"lookbook:{digest}"


def _run_look(ws: Workspace, spec: JobSpec, key: str, *, actor: str) -> tuple[dict, bool]:
    """Submit (or replay) one concept job; a held-back job is a result here, not an error."""
    result = jobs_service.submit_job(ws, spec, actor=actor, idempotency_key=key)
    reused = bool(result.get("replayed"))
    if reused:
        if result["status"] in ("rejected", "cancelled"):
            return {"job": result["id"], "status": result["status"], "decision": result.get("decision") or {},
                    "assets": [], "missing_roles": []}, True
        result = jobs_service.run_job(ws, result["id"], actor=actor)  # done: its assets; approved: runs now
    return result, reused


def lookbook(ws: Workspace, *, renderer_model_id: str | None = None, characters: list[str] | None = None,
             locations: list[str] | None = None, actor: str, progress: Progress | None = None,
             story_central: list[str] | None = None, frames: int = 2,
             size: tuple[int, int] = LOOKBOOK_FRAME_SIZE, steps: int | None = None,
             compress_pdf: bool = True) -> LookbookResult:
    """A wardrobe concept job per character and a set concept job per location, all guarded and
    idempotent, collected into exports/previz/lookbook.pdf. A job the policy holds back
    (escalated, denied) is reported in the book with its rule ids instead of failing the run."""
    if not 1 <= frames <= MAX_FRAMES:
        raise InputError(f"frames per look must be 1 to {MAX_FRAMES}, not {frames}")
    if not all(128 <= v <= 2048 for v in size):  # below one watermark tile (128 px) the mark cannot be read
        raise InputError(f"frame size {size[0]}x{size[1]} is outside 128..2048 pixels")
    register_builtin_models(ws, actor=actor)
    models = {m["id"]: m for m in list_models(ws)}
    renderer = renderer_model_id or CARD_MODEL
    if renderer not in models:
        raise NotFoundError(f"renderer {renderer!r} is not in the model registry",
                            hint="registered: " + ", ".join(sorted(models)))
    backend = models[renderer].get("backend")
    bd, info = get_breakdown(ws)
    char_looks, loc_looks = plan_looks(bd, _draft_lines(ws), characters=characters, locations=locations,
                                       story_central=story_central or (), real_names=_real_names(ws))
    looks = char_looks + loc_looks
    if not looks:
        raise InputError("nothing to put in a look-book: the breakdown has no characters or locations")
    total = len(looks) + 1
    assets: list[str] = []
    decisions: list[dict] = []
    source_types: dict[str, str | None] = {}
    for done, look in enumerate(looks):
        if progress:
            progress(done, total, f"{look.kind} {look.name}")
        spec, key = _look_job(ws, look, renderer, backend, size=size, frames=frames, steps=steps, actor=actor)
        result, look.reused = _run_look(ws, spec, key, actor=actor)
        decision = result.get("decision") or {}
        look.job, look.status = result["job"], result["status"]
        held = [r for r in decision.get("reasons", []) if r.get("outcome") in ("escalate", "deny")]
        look.rule_ids = [r["rule_id"] for r in held]
        look.missing_roles = list(result.get("missing_roles") or [])
        stills = [a for a in result.get("assets", []) if a["media_type"].startswith("image/")][:MAX_FRAMES]
        look.frames = [Frame(a["id"], (a["details"].get("c2pa") or {}).get("manifest_label", ""),
                             ws.store.path_for(a["sha256"])) for a in stills]
        source_types.update({a["id"]: (a["details"].get("c2pa") or {}).get("digital_source_type") for a in stills})
        if look.status == "done" and not stills:
            raise WorkspaceError(f"renderer {renderer} returned no image for {look.kind} {look.name}")
        assets.extend(f.asset_id for f in look.frames)
        decisions.append({"kind": look.kind, "name": look.name, "job": look.job, "status": look.status,
                          "outcome": decision.get("outcome", ""), "rules": look.rule_ids,
                          "missing_roles": look.missing_roles, "prompt": look.prompt,
                          "assets": [f.asset_id for f in look.frames], "reused": look.reused})
    if progress:
        progress(len(looks), total, "look-book PDF")
    pdf = export_dir(ws) / "lookbook.pdf"
    title = plain_title(bd.title or info.get("title") or ws.settings.title)
    frames = [DocumentFrame(f.asset_id, f.path, f"{look.kind} {look.name}", source_types.get(f.asset_id),
                            signed=bool(f.manifest_label)) for look in looks for f in look.frames]
    publish_pdf(ws, pdf, lambda tmp: write_lookbook_pdf(
        tmp, looks, title=title, compress=compress_pdf,
        subtitle=f"draft {info['draft']}  |  renderer {renderer}  |  "
                 f"{len(char_looks)} characters, {len(loc_looks)} locations"),
        title=f"{title} - look-book", document="lookbook", frames=frames)
    if progress:
        progress(total, total, "done")
    reused = sum(1 for x in looks if x.reused)
    with ws.unit_of_work() as s:
        audit.append(s, production_id=ws.production_id, actor=actor, action="previz.lookbook",
                     subject=pdf.name, payload={"renderer": renderer, "assets": assets, "reused": reused,
                                                "held": [d["job"] for d in decisions
                                                         if d["status"] in LOOKBOOK_HELD_STATUSES]})
    return LookbookResult(pdf, assets, decisions, renderer, reused)
