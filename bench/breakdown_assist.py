"""The breakdown assist's ceiling on the tagged corpus (DR022): what the rules plus a model reach when
the model is perfect, through soundstage's checks.

No model runs here (none may be downloaded). The "oracle" answers each request with the first AD's
own tags (tests/data/breakdown_corpus) for that scene, quoting every tag it can find in one of the
lines it was sent; a tag it cannot ground in a sent line (a thing named only in dialogue, or implied)
is not suggested - soundstage would drop it. It also reviews the rule elements each request sends
(assist.2): one the first AD did not tag is "not_an_element", one the AD tagged under another
category is "other_category", each quoting its own line. ``--noise N`` adds N invented suggestions
per request (a thing not in the line, another scene's line, a character as a prop, cast) and, for a
request that sends elements, two bogus reviews (of an element not sent, and one quoting another line)
to show that the checks drop them all. The answers go through ``script.assist.check_answer``,
``check_reviews`` and ``merge`` exactly as the chat backend's and the service's do, and the result -
less the elements the assist rejected, as the sheets and exports show it - is scored by
bench/script_breakdown.py.

    .venv/bin/python bench/breakdown_assist.py [--split heldout|dev|all] [--noise 3] [--no-review]
"""

from __future__ import annotations

import argparse
import importlib.util
import re
from collections import Counter
from pathlib import Path

from soundstage.script.assist import (
    ASSIST_CATEGORIES, SceneText, check_answer, check_reviews, merge, scene_texts, script_names,
)
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


def oracle(part: SceneText, sent: dict[int, str], gold: dict, bench, review: bool = True) -> tuple[list, list]:
    """What a perfect model answers for one request: its reviews of the rule elements sent, and the
    first AD's tags the kept (or moved) rule elements do not already cover, as suggestions.

    A rule element the AD did not tag in its category (matched as bench/script_breakdown.py scores)
    is moved to a category where it matches an AD tag no other element covers, or else rejected;
    each review quotes the element's own line."""
    remaining = {c: [str(item).split("|") for item in gold.get(c) or []] for c in ASSIST_CATEGORIES}
    wrong = []
    for category in ASSIST_CATEGORIES:
        mine = [e for e in part.elements if e.category == category]
        if not mine:
            continue
        _, unmatched, free = bench._match([e.name for e in mine], remaining[category], loose=True)
        remaining[category] = [g.split("|") for g in free]
        pending = list(unmatched)
        for e in mine:
            if e.name in pending:
                pending.remove(e.name)
                wrong.append(e)
    reviews = []
    for e in wrong if review else []:
        other = ""
        for c in ASSIST_CATEGORIES:
            if c != e.category and remaining[c]:
                tp, _, free = bench._match([e.name], remaining[c], loose=True)
                if tp:
                    other, remaining[c] = c, [g.split("|") for g in free]
                    break
        reviews.append({"id": e.ref, "verdict": "other_category" if other else "not_an_element", "category": other,
                        "reason": "the first AD's tags", "quote": sent.get(e.line, "")[:40]})
    if not review:  # assist.1: every tag the scene's lines name, whatever the rules have
        return oracle_answer(dict(part.lines), gold), []
    left = {c: ["|".join(g) for g in remaining[c]] for c in ASSIST_CATEGORIES}
    return oracle_answer(dict(part.lines), left), reviews


def review_noise(part: SceneText, lines: dict[int, str]) -> list[dict]:
    """Two bogus reviews: of an element the request did not send, and one quoting another line."""
    if not part.elements:
        return []
    first = part.elements[0]
    elsewhere = next((t for n, t in sorted(lines.items()) if n != first.line and t not in lines.get(first.line, "")),
                     "a line that is not there")
    return [{"id": f"E{len(part.elements) + 1}", "verdict": "not_an_element", "category": "", "reason": "bogus",
             "quote": lines.get(first.line, "x")[:10]},
            {"id": first.ref, "verdict": "not_an_element", "category": "", "reason": "bogus", "quote": elsewhere}]


def noise(lines: dict[int, str], count: int, cast: frozenset[str]) -> list[dict]:
    first = min(lines)
    kinds = [
        {"category": "props", "name": "chainsaw", "line": first, "quote": "a chainsaw"},
        {"category": "props", "name": "lamp", "line": 999_999, "quote": "lamp"},
        {"category": "props", "name": next(iter(cast), "maya"), "line": first, "quote": lines[first][:5]},
        {"category": "cast", "name": "stranger", "line": first, "quote": lines[first][:5]},
    ]
    return [kinds[i % len(kinds)] for i in range(count)]


def run(split: str, noise_per_request: int, review: bool = True) -> dict:
    bench = _bench()
    tags_by_name = {name: tags for name, _, tags in bench.load_corpus(split)}
    stats: Counter = Counter()

    def assisted(text: str, name: str):
        sp = parse_fountain(text, name)
        bd = break_down(sp)
        cast = script_names(sp) | {c for scene in bd.scenes for c in scene.cast}  # as the chat backend does
        gold_scenes = tags_by_name[name]["scenes"]
        kept, reviews = [], []
        all_lines: dict[int, str] = {}
        for part in scene_texts(sp, breakdown=bd):
            lines = dict(part.lines)
            all_lines.update(lines)
            gold = gold_scenes[part.index] if part.index < len(gold_scenes) else {}
            sent = {**dict(part.element_lines), **lines}
            suggested, reviewed = oracle(part, sent, gold, bench, review)
            answer = {"elements": suggested + (noise(lines, noise_per_request, cast) if lines else []),
                      "reviews": reviewed + (review_noise(part, sent) if noise_per_request else [])}
            found, dropped = check_answer(answer, part, cast)
            judged, lost = check_reviews(answer, part)
            kept += found
            reviews += judged
            stats["requests"] += 1
            stats["suggested"] += len(answer["elements"])
            stats["kept"] += len(found)
            stats["sent for review"] += len(part.elements)
            stats["reviews"] += len(answer["reviews"])
            stats["reviews kept"] += len(judged)
            stats.update({f"dropped:{k}": v for k, v in (dropped + lost).items()})
        merged = merge(bd, kept, model_id="oracle", lines=all_lines, reviews=reviews)
        stats["rejected"] += merged.assist["rejected"]
        stats["recategorised"] += merged.assist["recategorised"]
        for scene in merged.scenes:  # what the sheets and exports show: the rejected ones are left out
            scene.elements = scene.live_elements()
        return merged

    rules = bench.score(split)
    ceiling = bench.score(split, assisted)
    return {"split": split, "rules": rules, "assisted": ceiling, "stats": dict(stats)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="heldout", choices=("heldout", "dev", "all"))
    parser.add_argument("--noise", type=int, default=0, help="invented suggestions per request (and two bogus "
                                                                 "reviews per request that sends elements)")
    parser.add_argument("--no-review", action="store_true", help="suggestions only, as assist.1")
    args = parser.parse_args(argv)
    if not 0 <= args.noise <= 100:
        parser.error("--noise is 0 to 100")
    result = run(args.split, args.noise, review=not args.no_review)
    for label in ("rules", "assisted"):
        r = result[label]
        print(f"{label:9} {r['scripts']} scripts, {r['scenes']} scenes: non-cast precision "
              f"{r['elements_precision']:.1%} recall {r['elements_recall']:.1%}; cast {r['cast_precision']:.1%} / "
              f"{r['cast_recall']:.1%}")
    print("requests and checks:", ", ".join(f"{k} {v}" for k, v in sorted(result["stats"].items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
