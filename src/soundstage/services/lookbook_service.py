"""The look-book: one guarded concept frame per character look and location, laid out as a signed PDF."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.domain.screenplay import plain_title
from soundstage.errors import InputError, NotFoundError, WorkspaceError
from soundstage.previz.lookbook import MAX_FRAMES, Frame, plan_looks, write_lookbook_pdf
from soundstage.safeguards import audit
from soundstage.safeguards.policy.loader import load_pack_file
from soundstage.services import jobs_service
from soundstage.services.boards_service import CARD_MODEL, Progress
from soundstage.services.documents import DocumentFrame, publish_pdf
from soundstage.services.models import list_models, register_builtin_models
from soundstage.services.people_service import list_people
from soundstage.services.script_service import get_breakdown
from soundstage.services.shotlist_service import export_dir
from soundstage.services.workspace import Workspace
from soundstage.store.models import Asset, ScreenplayDraft

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
    with ws.reading() as s:
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
    params = jobs_service.declared_params(ws, renderer, OperationKind.CONCEPT_ART.value, params)
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
