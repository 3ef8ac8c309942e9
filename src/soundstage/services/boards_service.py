"""Storyboards: every shot of the shot list boarded through the guarded path (one job per panel or
per scene), the storyboard PDF, the animatic and its timeline. Panels and the animatic enter the
asset store only through ``jobs_service.submit_job``."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from soundstage.domain.breakdown import Breakdown
from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.domain.screenplay import plain_title
from soundstage.domain.shots import Shot
from soundstage.errors import InputError, NotFoundError, WorkspaceError
from soundstage.previz.boards import BoardPanel, write_storyboard_pdf
from soundstage.previz.cast import cast_looks
from soundstage.previz.timeline import TimelineClip, build_timeline, write_edl, write_otio
from soundstage.safeguards import audit
from soundstage.safeguards.resolve import backend_of
from soundstage.services import jobs_service
from soundstage.services.documents import DocumentFrame, publish_pdf
from soundstage.services.models import list_models, register_builtin_models
from soundstage.services.script_service import draft_screenplay, get_breakdown
from soundstage.services.shotlist_service import current_shot_list, export_dir
from soundstage.services.workspace import Workspace

BLENDER_MODEL = "soundstage.blender-blocking"
CARD_MODEL = "soundstage.procedural-card"
ANIMATIC_MODEL = "soundstage.animatic"
PANEL_SIZE = (960, 540)

Progress = Callable[[int, int, str], None]

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
    """The scene as a board job's params carry it: what the scene needs, less the elements the
    breakdown assist rejected (DR022: kept for a person, not drawn)."""
    sb = bd.scene(number)
    if sb is None:
        return {"number": number}
    out = {k: v for k, v in sb.to_dict().items() if k != "text_sketch"}
    out["elements"] = [e.to_dict() for e in sb.live_elements()]
    return out


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
    with ws.reading() as s:
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
