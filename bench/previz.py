"""Previz throughput: panels per second through the guarded path (render + watermark + C2PA +
ledger) with the production's default renderer, and the time to board the whole sample script.

    .venv/bin/python bench/previz.py [--renderer MODEL] [--no-animatic]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from soundstage.services import previz_service as previz
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
            shots = previz.build_shot_list(ws, actor="bench")["shot_list"]
            renderer = args.renderer or previz.default_renderer(ws)
            first = shots.scenes[0].number
            start = time.perf_counter()
            scene = previz.board(ws, scenes=[first], renderer_model_id=renderer, actor="bench", animatic=False)
            scene_s = time.perf_counter() - start
            start = time.perf_counter()
            full = previz.board(ws, renderer_model_id=renderer, actor="bench", animatic=not args.no_animatic)
            full_s = time.perf_counter() - start
            fresh = len(full.shots) - full.reused
            print(f"| measure ({renderer}, 960x540) | value |\n|---|---|")
            print(f"| panels/s, scene {first} ({len(scene.shots)} panels, incl. PDF/OTIO) | "
                  f"{len(scene.shots) / scene_s:.2f} |")
            print(f"| whole script: {len(full.shots)} shots ({fresh} new, {full.reused} reused), "
                  f"{shots.est_seconds:g}s animatic | {full_s:.1f} s |")
            print(f"| animatic | {'yes' if full.animatic else 'no: ' + '; '.join(full.warnings)} |")
        finally:
            ws.close()


if __name__ == "__main__":
    main()
