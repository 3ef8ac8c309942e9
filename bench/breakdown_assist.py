"""The breakdown assist's ceiling on the tagged corpus (DR022): what the rules plus a model reach when
the model is perfect, through soundstage's checks.

No model runs here (none may be downloaded). The "oracle" answers each request with the first AD's
own tags (tests/data/breakdown_corpus) for that scene, quoting every tag it can find in one of the
lines it was sent; a tag it cannot ground in a sent line (a thing named only in dialogue, or implied)
is not suggested - soundstage would drop it. ``--noise N`` adds N invented suggestions per request
(a thing not in the line, another scene's line, a character as a prop, cast) to show that the checks
drop them all. The answers go through ``script.assist.check_answer`` and ``merge`` exactly as the
chat backend's and the service's do, and the result is scored by bench/script_breakdown.py.

    .venv/bin/python bench/breakdown_assist.py [--split heldout|dev|all] [--noise 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import re
from collections import Counter
from pathlib import Path

from soundstage.script.assist import ASSIST_CATEGORIES, check_answer, merge, scene_texts, script_names
from soundstage.script.breakdown import break_down
from soundstage.script.fountain import parse_fountain


def _bench():
    path = Path(__file__).resolve().parent / "script_breakdown.py"
    spec = importlib.util.spec_from_file_location("script_breakdown_for_assist", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def oracle_answer(lines: dict[int, str], gold: dict) -> list[dict]:
    """Every gold tag of the scene that one of ``lines`` names (any alias), quoted from that line."""
    out = []
    for category in ASSIST_CATEGORIES:
        for item in gold.get(category) or []:
            for alias in str(item).split("|"):
                hit = next(((n, m) for n, text in lines.items()
                            if (m := re.search(rf"(?<!\w){re.escape(alias)}(?!\w)", text, re.IGNORECASE))), None)
                if hit is not None:
                    out.append({"category": category, "name": alias, "line": hit[0], "quote": hit[1].group(0)})
                    break
    return out


def noise(lines: dict[int, str], count: int, cast: frozenset[str]) -> list[dict]:
    first = min(lines)
    kinds = [
        {"category": "props", "name": "chainsaw", "line": first, "quote": "a chainsaw"},
        {"category": "props", "name": "lamp", "line": 999_999, "quote": "lamp"},
        {"category": "props", "name": next(iter(cast), "maya"), "line": first, "quote": lines[first][:5]},
        {"category": "cast", "name": "stranger", "line": first, "quote": lines[first][:5]},
    ]
    return [kinds[i % len(kinds)] for i in range(count)]


def run(split: str, noise_per_request: int) -> dict:
    bench = _bench()
    tags_by_name = {name: tags for name, _, tags in bench.load_corpus(split)}
    stats: Counter = Counter()

    def assisted(text: str, name: str):
        sp = parse_fountain(text, name)
        bd = break_down(sp)
        cast = script_names(sp) | {c for scene in bd.scenes for c in scene.cast}  # as the chat backend does
        gold_scenes = tags_by_name[name]["scenes"]
        kept = []
        all_lines: dict[int, str] = {}
        for part in scene_texts(sp):
            lines = dict(part.lines)
            all_lines.update(lines)
            gold = gold_scenes[part.index] if part.index < len(gold_scenes) else {}
            answer = {"elements": oracle_answer(lines, gold) + noise(lines, noise_per_request, cast)}
            found, dropped = check_answer(answer, part, cast)
            kept += found
            stats["requests"] += 1
            stats["suggested"] += len(answer["elements"])
            stats["kept"] += len(found)
            stats.update({f"dropped:{k}": v for k, v in dropped.items()})
        return merge(bd, kept, model_id="oracle", lines=all_lines)

    rules = bench.score(split)
    ceiling = bench.score(split, assisted)
    return {"split": split, "rules": rules, "assisted": ceiling, "stats": dict(stats)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="heldout", choices=("heldout", "dev", "all"))
    parser.add_argument("--noise", type=int, default=0, help="invented suggestions per request")
    args = parser.parse_args(argv)
    result = run(args.split, args.noise)
    for label in ("rules", "assisted"):
        r = result[label]
        print(f"{label:9} {r['scripts']} scripts, {r['scenes']} scenes: non-cast precision "
              f"{r['elements_precision']:.1%} recall {r['elements_recall']:.1%}; cast {r['cast_precision']:.1%} / "
              f"{r['cast_recall']:.1%}")
    print("requests and checks:", ", ".join(f"{k} {v}" for k, v in sorted(result["stats"].items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
