"""Previz throughput: panels per second through the guarded path (render + watermark + C2PA +
ledger) with the production's default renderer, and the time to board the whole sample script.

    .venv/bin/python bench/previz.py [--renderer MODEL] [--no-animatic]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from soundstage.services import boards_service, shotlist_service
from soundstage.services.script_service import import_script
from soundstage.services.workspace import init_workspace

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "soundstage" / "samples" / "the_last_take.fountain"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--renderer", default=None)
    parser.add_argument("--no-animatic", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws = init_workspace(Path(tmp) / "bench", "The Last Take")
        try:
            import_script(ws, SAMPLE, actor="bench")
            shots = shotlist_service.build_shot_list(ws, actor="bench")["shot_list"]
            renderer = args.renderer or boards_service.default_renderer(ws)
            first = shots.scenes[0].number
            start = time.perf_counter()
            scene = boards_service.board(ws, scenes=[first], renderer_model_id=renderer, actor="bench", animatic=False)
            scene_s = time.perf_counter() - start
            start = time.perf_counter()
            full = boards_service.board(ws, renderer_model_id=renderer, actor="bench", animatic=not args.no_animatic)
            full_s = time.perf_counter() - start
            fresh = len(full.shots) - full.reused
            print(f"| measure ({renderer}, 960x540) | value |\n|---|---|")
            print(f"| panels/s, scene {first} ({len(scene.shots)} panels, incl. PDF/OTIO) | "
                  f"{len(scene.shots) / scene_s:.2f} |")
            print(f"| whole script: {len(full.shots)} shots ({fresh} new, {full.reused} reused), "
                  f"{shots.est_seconds:g}s animatic | {full_s:.1f} s |")
            print(f"| animatic | {'yes' if full.animatic else 'no: ' + '; '.join(full.warnings)} |")
            if renderer == "soundstage.blender-blocking":
                number, panels, guarded_s = guarded_scene_seconds(ws, renderer)
                raw = raw_blender_panels_per_second(ws, number)
                guarded = panels / guarded_s
                print(f"| guarded panels/s, scene {number} (render + depth + .blend + watermark + C2PA + ledger, "
                      f"warm worker) | {guarded:.2f} |")
                print(f"| peer: the same panels rendered by Blender alone (no depth, no mark, no C2PA, no ledger) | "
                      f"{raw:.2f} panels/s |")
                print(f"| ratio guarded / bare Blender | {guarded / raw:.2f} |")
        finally:
            ws.close()


def guarded_scene_seconds(ws, renderer: str) -> tuple[str, int, float]:
    """One guarded scene job (a fresh key so nothing is reused), timed on its own: no PDF, no OTIO."""
    from soundstage.services.script_service import draft_screenplay, get_breakdown

    shot_list = shotlist_service.current_shot_list(ws, actor="bench")
    scene = max(shot_list.scenes, key=lambda sc: len(sc.shots))
    bd, info = get_breakdown(ws)
    characters = boards_service.character_table(bd, draft_screenplay(ws, info["draft"]))
    spec, key = boards_service._scene_job(ws, scene, boards_service._scene_dict(bd, scene.number), characters, renderer, "bench")
    start = time.perf_counter()
    boards_service._submit(ws, spec, key + ":bench", actor="bench")
    return scene.number, len(scene.shots), time.perf_counter() - start


def raw_blender_panels_per_second(ws, scene_number: str) -> float:
    """The peer: the Blender backend on the same shots, called directly (what safeguards add is the gap)."""
    from soundstage.domain.safeguards import JobSpec, OperationKind
    from soundstage.previz.renderer import BlenderRenderer
    from soundstage.generate.protocol import GenerationRequest

    shot_list = shotlist_service.current_shot_list(ws, actor="bench")
    scene = next(sc for sc in shot_list.scenes if sc.number == scene_number)
    from soundstage.services.script_service import draft_screenplay, get_breakdown

    bd, info = get_breakdown(ws)
    scene_bd = bd.scene(scene_number).to_dict()
    characters = boards_service.character_table(bd, draft_screenplay(ws, info["draft"]))
    shots = [sh.to_dict() for sh in scene.shots]
    job = JobSpec(id="bench", production_id=ws.production_id, operation=OperationKind.STORYBOARD, requested_by="bench",
                  model_id="soundstage.blender-blocking")
    renderer = BlenderRenderer()
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        renderer.generate(GenerationRequest(job=job, params={"shots": shots, "scene": scene_bd, "characters": characters, "width": 960,
                                                             "height": 540, "depth": False, "save_blend": False},
                                            scratch_dir=Path(scratch), reserved_asset_ids=tuple(range(1, 200))))
        return len(shots) / (time.perf_counter() - start)


if __name__ == "__main__":
    main()
