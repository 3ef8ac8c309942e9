"""Benchmark: breakdown quality on a tagged corpus, and our parse + paginate + breakdown speed.

Quality (--quality): precision and recall of the breakdown against a first AD's tags
(tests/data/breakdown_corpus/, README there), per category and for cast per scene, on the
development part and on the held-out part written after the rules were frozen. Goal: non-cast
elements >= 85% precision and >= 80% recall, cast per scene >= 95% both.

Speed: generates a ~120-page screenplay deterministically, times both sides in the same run
(best of N; wall clock, or CPU time with --cpu, steadier when other work loads the machine), and
prints a table and the ratio (or JSON with --json). Goal: ratio <= 3x
and our total under 1 s.

With --revision it also imports generated 1 MB and 10 MB scripts into a fresh workspace, then
imports each one's next draft (about a tenth of its scenes edited, cut, added or moved) as a
revision, which locks scene numbers against the first. Goal: near-linear, i.e. the 10 MB
script imported twice within 12x the time of the 1 MB one (each step's ratio is printed too).

    .venv/bin/python bench/script_breakdown.py [--pages 120] [--repeats 5] [--seed 7] [--cpu] [--json]
                                               [--revision [--sizes 1 10] [--revision-repeats 1]]
    .venv/bin/python bench/script_breakdown.py --quality [--split dev|heldout|all] [--errors] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

LOCATIONS = ["KITCHEN", "POLICE STATION", "CITY STREET", "MAYA'S APARTMENT", "WAREHOUSE", "ROOFTOP",
             "DINER", "HOSPITAL CORRIDOR", "PARKING GARAGE", "BEACH", "FOREST ROAD", "COURTROOM"]
TIMES = ["DAY", "NIGHT", "DAWN", "DUSK", "CONTINUOUS", "LATER"]
CHARACTERS = ["MAYA", "JONAH", "DETECTIVE REYES", "OLD MAN", "LENA", "VIKTOR", "NURSE", "BARTENDER"]
ACTION_BITS = [
    "{a} crosses to the window and pulls back the curtains.",
    "Rain hammers the glass. We hear a siren in the distance.",
    "{a} slides a gun across the table, next to a half-empty bottle of whiskey.",
    "A crowd of passers-by stops to stare as the police car screeches past.",
    "{a} lights a cigarette with a shaking hand, blood on the cuff of the jacket.",
    "A dog barks (O.S.). {a} freezes.",
    "Smoke curls from the engine of the truck. Sparks fly.",
    "{a} and {b} fight, crash through the door and fall down the stairs.",
    "The old radio plays a song nobody remembers.",
    "The building collapses in a CGI cloud of dust and debris.",
    "{a} opens the briefcase: cash, a passport, a photograph of {b}.",
    "Patrons at the bar turn to look. A horse whinnies somewhere outside.",
    "{a} adjusts the wig in the mirror, wiping off lipstick.",
    "Nothing moves in the empty room except the ticking clock.",
]
SPEECH = [
    "You said you'd be here an hour ago.", "I don't have time for this.",
    "Whatever happens tonight, you stay behind me.", "It's not what it looks like. It never is.",
    "Give me the keys.", "Do you even remember her name?", "We should go. Now.",
    "If this goes wrong, we both go down with it, and I won't be the one explaining it to the captain.",
]
EXTENSIONS = ["", "", "", " (V.O.)", " (O.S.)", " (CONT'D)"]
PARENS = ["(quietly)", "(beat)", "(lighting a cigarette)", "(singing)", "(into phone)"]


def generate_screenplay(pages: int = 120, seed: int = 7) -> str:
    """Deterministic Fountain text of roughly ``pages`` pages (about 55 lines a page)."""
    rng = random.Random(seed)
    out = ["Title: Benchmark Nights", "Credit: written by", "Author: Bench Generator", "", ""]
    line_budget = pages * 55
    used = 0
    number = 0
    while used < line_budget:
        number += 1
        out.append(f"{rng.choice(['INT.', 'EXT.'])} {rng.choice(LOCATIONS)} - {rng.choice(TIMES)}")
        out.append("")
        used += 2
        for _ in range(rng.randint(4, 14)):
            a, b = rng.sample(CHARACTERS, 2)
            if rng.random() < 0.45:
                text = " ".join(rng.choice(ACTION_BITS).format(a=a, b=b) for _ in range(rng.randint(1, 3)))
                out += [text, ""]
                used += 2 + len(text) // 60
            else:
                out.append(a + rng.choice(EXTENSIONS))
                if rng.random() < 0.3:
                    out.append(rng.choice(PARENS))
                speech = " ".join(rng.choice(SPEECH) for _ in range(rng.randint(1, 3)))
                out += [speech, ""]
                used += 3 + len(speech) // 35
        if rng.random() < 0.1:
            out += ["CUT TO:", ""]
    return "\n".join(out) + "\n"


def screenplay_of_size(size_bytes: int, seed: int = 7) -> str:
    """Deterministic Fountain text of about ``size_bytes`` (generated page by page, as above)."""
    per_page = len(generate_screenplay(100, seed).encode("utf-8")) / 100
    return generate_screenplay(max(1, round(size_bytes / per_page)), seed)


_HEADING_LINE = re.compile(r"^(?:INT|EXT)\. ", re.MULTILINE)


def revise_screenplay(text: str, seed: int = 8) -> str:
    """A deterministic next draft of ``text`` with about one scene in ten touched.

    Per scene: 5% gain an action line, 1% move to another time of day, 2% are cut, 1% move 3-30
    scenes later (half of those also gain a line), and 2% are followed by a new scene.
    """
    rng = random.Random(seed)
    starts = [m.start() for m in _HEADING_LINE.finditer(text)]
    scenes = [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]
    out = [text[:starts[0]]]
    moving: list[list] = []  # [scenes still to pass, scene text]

    def add_line(scene: str) -> str:
        a, b = rng.sample(CHARACTERS, 2)
        return scene.rstrip("\n") + "\n\n" + rng.choice(ACTION_BITS).format(a=a, b=b) + "\n\n"

    for number, scene in enumerate(scenes):
        r = rng.random()
        if r < 0.02:
            continue
        if r < 0.07:
            scene = add_line(scene)
        elif r < 0.08:
            heading, rest = scene.split("\n", 1)
            scene = heading.rsplit(" - ", 1)[0] + " - " + rng.choice(TIMES) + " (REVISED)\n" + rest
        elif r < 0.09:
            moving.append([rng.randint(3, 30), add_line(scene) if r < 0.085 else scene])
            continue
        out.append(scene)
        if rng.random() < 0.02:
            a, b = rng.sample(CHARACTERS, 2)
            out.append(f"INT. {rng.choice(LOCATIONS)} - {rng.choice(TIMES)}\n\n"
                       f"New scene {number}: {a} tells {b} everything.\n\n")
        for m in moving:
            m[0] -= 1
        out += [m[1] for m in moving if m[0] <= 0]
        moving = [m for m in moving if m[0] > 0]
    out += [m[1] for m in moving]
    return "".join(out)


def import_and_revise(size_mb: float, seed: int, repeats: int) -> dict:
    """Best-of times to import a generated script into a new workspace and then its next draft."""
    from soundstage.script.revisions import MatchStats, lock_numbers
    from soundstage.services.script_service import compute_breakdown, import_script, parse_draft
    from soundstage.services.workspace import init_workspace

    text = screenplay_of_size(int(size_mb * 1e6), seed)
    revision = revise_screenplay(text, seed + 1)
    first_s = second_s = float("inf")
    with tempfile.TemporaryDirectory(prefix="ss-bench-") as tmp:
        draft1, draft2 = Path(tmp) / "draft1.fountain", Path(tmp) / "draft2.fountain"
        draft1.write_text(text, encoding="utf-8")
        draft2.write_text(revision, encoding="utf-8")
        for attempt in range(repeats):
            ws = init_workspace(Path(tmp) / f"production{attempt}", "Benchmark Nights")
            try:
                start = time.perf_counter()
                first = import_script(ws, draft1, actor="bench")
                middle = time.perf_counter()
                second = import_script(ws, draft2, actor="bench")
                end = time.perf_counter()
            finally:
                ws.close()
            first_s, second_s = min(first_s, middle - start), min(second_s, end - middle)
    old_bd = compute_breakdown(parse_draft(text.encode("utf-8"), "draft1.fountain"))
    new_bd = compute_breakdown(parse_draft(revision.encode("utf-8"), "draft2.fountain"))
    stats = MatchStats()
    start = time.perf_counter()
    _, report = lock_numbers(old_bd, new_bd, stats=stats)
    lock_s = time.perf_counter() - start
    return {
        "mb": round(len(text.encode("utf-8")) / 1e6, 2), "revision_mb": round(len(revision.encode("utf-8")) / 1e6, 2),
        "scenes": first["scenes"], "revision_scenes": second["scenes"], "pages": first["pages"],
        "import_s": round(first_s, 3), "reimport_s": round(second_s, 3), "lock_numbers_s": round(lock_s, 3),
        "comparisons": stats.comparisons, "all_pairs_scored": stats.exhaustive,
        "revision": {k: len(v) for k, v in report.summary().items()},
    }


# --------------------------------------------------------------------------- quality

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "breakdown_corpus"
SPLITS = ("dev", "heldout")
GOAL = {"elements_precision": 0.85, "elements_recall": 0.80, "cast_precision": 0.95, "cast_recall": 0.95}
_STOP = {"a", "an", "the", "of", "with", "in", "on", "into", "to", "from", "his", "her", "their", "its", "and",
         "at", "off", "over", "up", "down", "out", "back", "by", "for", "him", "them", "it", "is", "s"}
_TOKEN = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")


def _norm(name: str) -> str:
    words = [w for w in _TOKEN.findall(name.lower().replace("\u2019", "'"))]
    while words and words[0] in ("a", "an", "the"):
        words = words[1:]
    return " ".join(words)


def _stem(word: str) -> str:
    w = word.lower().removesuffix("'s")
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("shes", "sh"), ("ches", "ch"), ("xes", "x"),
                         ("ing", ""), ("ed", ""), ("es", "e"), ("s", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3 and not (suffix == "s" and w.endswith("ss")):
            w = w[: len(w) - len(suffix)] + repl
            break
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeiouls":
        w = w[:-1]  # "slamm" -> "slam"
    return w.rstrip("e") if len(w) > 4 else w


def _stems(name: str) -> set[str]:
    return {_stem(w) for w in _norm(name).replace("-", " ").split() if w not in _STOP}


def _match(predicted: list[str], gold: list[list[str]], *, loose: bool) -> tuple[int, list[str], list[str]]:
    """One-to-one matching: exact names (any alias) first, then a shared word stem (``loose``, for
    elements) or, for cast, one name's words inside the other's."""
    free = list(range(len(gold)))
    unmatched: list[str] = []
    pending: list[str] = []
    for name in predicted:
        key = _norm(name)
        hit = next((g for g in free if key in {_norm(a) for a in gold[g]}), None)
        if hit is None:
            pending.append(name)
        else:
            free.remove(hit)
    for name in pending:
        stems = _stems(name)
        words = set(_norm(name).split())
        if loose:  # elements: a shared word stem ("slammed against the wall" / "slam")
            hit = next((g for g in free if any(stems & _stems(a) for a in gold[g])), None)
        else:  # cast: one name inside the other ("DANNY" / "DANNY REYNA"), never "MR. HALE" / "MRS. HALE"
            hit = next((g for g in free if any(words <= set(_norm(a).split()) or set(_norm(a).split()) <= words
                                               for a in gold[g])), None)
        if hit is None:
            unmatched.append(name)
        else:
            free.remove(hit)
    tp = len(predicted) - len(unmatched)
    return tp, unmatched, ["|".join(gold[g]) for g in free]


def load_corpus(split: str = "all") -> list[tuple[str, str, dict]]:
    """[(script name, Fountain text, tags)] of one split ("dev", "heldout") or both."""
    import yaml

    out = []
    for part in (SPLITS if split == "all" else (split,)):
        for tags_path in sorted((CORPUS / part).glob("*.tags.yaml")):
            tags = yaml.safe_load(tags_path.read_text(encoding="utf-8"))
            text = (tags_path.parent / tags["script"]).read_text(encoding="utf-8")
            out.append((f"{part}/{tags['script']}", text, tags))
    return out


def score(split: str = "all", breakdown: Callable[[str, str], object] | None = None) -> dict:
    """Precision and recall per category and for cast per scene over one split of the corpus.

    ``breakdown(text, name)`` makes the Breakdown to score (default: parse_fountain + break_down).
    """
    from soundstage.domain.breakdown import Category
    from soundstage.script.breakdown import break_down
    from soundstage.script.fountain import parse_fountain

    def default(text: str, name: str):
        return break_down(parse_fountain(text, name))

    make = breakdown or default
    counts: dict[str, list[int]] = {c.value: [0, 0, 0] for c in Category}  # tp, fp, fn
    errors: list[dict] = []
    scenes = 0
    for name, text, tags in load_corpus(split):
        bd = make(text, name)
        live = [s for s in bd.scenes if not s.omitted]  # type: ignore[attr-defined]
        if len(live) != len(tags["scenes"]):
            raise SystemExit(f"{name}: breakdown has {len(live)} scenes, the tags {len(tags['scenes'])}")
        for scene, gold in zip(live, tags["scenes"]):
            scenes += 1
            for category in Category:
                wanted = [str(item).split("|") for item in gold.get(category.value) or []]
                if category is Category.CAST:
                    got = list(scene.cast)
                else:
                    got = [e.name for e in scene.elements if e.category is category]
                tp, fp, fn = _match(got, wanted, loose=category is not Category.CAST)
                c = counts[category.value]
                c[0] += tp
                c[1] += len(fp)
                c[2] += len(fn)
                if fp or fn:
                    errors.append({"script": name, "scene": gold["scene"], "category": category.value,
                                   "false": fp, "missed": fn})
    rows = {}
    for category, (tp, fp, fn) in counts.items():
        rows[category] = {"tp": tp, "fp": fp, "fn": fn, "precision": _ratio(tp, tp + fp),
                          "recall": _ratio(tp, tp + fn)}
    el = [sum(v[i] for k, v in counts.items() if k != Category.CAST.value) for i in range(3)]
    cast = counts[Category.CAST.value]
    summary = {
        "elements_precision": _ratio(el[0], el[0] + el[1]), "elements_recall": _ratio(el[0], el[0] + el[2]),
        "cast_precision": _ratio(cast[0], cast[0] + cast[1]), "cast_recall": _ratio(cast[0], cast[0] + cast[2]),
    }
    summary["ok"] = scenes > 0 and all(summary[k] >= v for k, v in GOAL.items())  # an empty part shows nothing
    return {"split": split, "scripts": len(load_corpus(split)), "scenes": scenes, "categories": rows,
            "elements": {"tp": el[0], "fp": el[1], "fn": el[2]}, **summary, "goal": GOAL, "errors": errors}


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 1.0


def print_quality(result: dict, errors: bool = False) -> None:
    print(f"breakdown quality, {result['split']}: {result['scripts']} scripts, {result['scenes']} scenes")
    if not result["scenes"]:
        print("  no scripts in this part (between rounds: README of tests/data/breakdown_corpus)")
        return
    print(f"  {'category':<16} {'tagged':>6} {'found':>6} {'right':>6} {'precision':>9} {'recall':>7}")
    for category, row in result["categories"].items():
        print(f"  {category:<16} {row['tp'] + row['fn']:>6} {row['tp'] + row['fp']:>6} {row['tp']:>6} "
              f"{row['precision']:>9.1%} {row['recall']:>7.1%}")
    el = result["elements"]
    print(f"  {'non-cast total':<16} {el['tp'] + el['fn']:>6} {el['tp'] + el['fp']:>6} {el['tp']:>6} "
          f"{result['elements_precision']:>9.1%} {result['elements_recall']:>7.1%}"
          f"   goal >= {GOAL['elements_precision']:.0%} / {GOAL['elements_recall']:.0%}")
    print(f"  {'cast per scene':<16} {'':>6} {'':>6} {'':>6} {result['cast_precision']:>9.1%} "
          f"{result['cast_recall']:>7.1%}   goal >= {GOAL['cast_precision']:.0%} / {GOAL['cast_recall']:.0%}")
    print(f"  {'OK' if result['ok'] else 'BELOW GOAL'}")
    if errors:
        for e in result["errors"]:
            print(f"    {e['script']} scene {e['scene']} {e['category']}: false {e['false']} missed {e['missed']}")


def best_of(fn: Callable[[], object], repeats: int, clock: Callable[[], float] = time.perf_counter) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--cpu", action="store_true",
                        help="time the speed table in CPU time (time.process_time), steadier on a shared machine")
    parser.add_argument("--revision", action="store_true",
                        help="also time importing generated scripts of --sizes MB and then their next drafts")
    parser.add_argument("--sizes", type=float, nargs="+", default=[1.0, 10.0], metavar="MB")
    parser.add_argument("--revision-repeats", type=int, default=1)
    parser.add_argument("--quality", action="store_true",
                        help="precision and recall on the tagged corpus instead of speed")
    parser.add_argument("--split", choices=[*SPLITS, "all"], default=None,
                        help="with --quality: one part of the corpus (default: each part, then all)")
    parser.add_argument("--errors", action="store_true", help="with --quality: list every false and missed element")
    args = parser.parse_args(argv)
    if args.quality:
        splits = [args.split] if args.split else [*SPLITS, "all"]
        results = [score(split) for split in splits]
        if args.json:
            print(json.dumps(results if len(results) > 1 else results[0], indent=2, ensure_ascii=False))
        else:
            for result in results:
                print_quality(result, args.errors)
                print()
        return 0

    from screenplain.parsers.fountain import parse as screenplain_parse

    from soundstage.script.breakdown import break_down
    from soundstage.script.fountain import parse_fountain
    from soundstage.script.lexicon import compiled
    from soundstage.script.pagination import paginate

    text = generate_screenplay(args.pages, args.seed)
    lines = text.splitlines()
    compiled()  # one-off regex build, paid once per process
    ours_result: dict[str, object] = {}

    def ours() -> None:
        sp = parse_fountain(text, "bench.fountain")
        pag = paginate(sp)
        ours_result["bd"] = break_down(sp, pag)
        ours_result["pages"] = pag.page_count

    clock = time.process_time if args.cpu else time.perf_counter
    screenplain_s = best_of(lambda: screenplain_parse(io.StringIO(text)), args.repeats, clock)
    parse_s = best_of(lambda: parse_fountain(text, "bench.fountain"), args.repeats, clock)
    sp = parse_fountain(text, "bench.fountain")
    paginate_s = best_of(lambda: paginate(sp), args.repeats, clock)
    pag = paginate(sp)
    breakdown_s = best_of(lambda: break_down(sp, pag), args.repeats, clock)
    total_s = best_of(ours, args.repeats, clock)
    bd = ours_result["bd"]
    result = {
        "pages": ours_result["pages"], "scenes": len(bd.scenes),  # type: ignore[attr-defined]
        "elements": sum(len(s.elements) for s in bd.scenes),  # type: ignore[attr-defined]
        "lines": len(lines), "repeats": args.repeats, "clock": "cpu" if args.cpu else "wall",
        "screenplain_parse_s": round(screenplain_s, 4), "parse_fountain_s": round(parse_s, 4),
        "paginate_s": round(paginate_s, 4), "break_down_s": round(breakdown_s, 4),
        "ours_total_s": round(total_s, 4), "ratio": round(total_s / screenplain_s, 2),
        "goal_ratio_max": 3.0, "goal_total_max_s": 1.0,
    }
    result["ok"] = result["ratio"] <= 3.0 and total_s < 1.0
    if args.revision:
        runs = [import_and_revise(mb, args.seed, args.revision_repeats) for mb in sorted(args.sizes)]
        small, large = runs[0], runs[-1]
        for run in runs:
            run["both_s"] = round(run["import_s"] + run["reimport_s"], 3)
        growth = {key: round(large[key] / small[key], 2) for key in ("both_s", "import_s", "reimport_s")}
        result["revision"] = {
            "runs": runs, "size_ratio": round(large["mb"] / small["mb"], 2), "time_ratio": growth,
            "goal_time_ratio_max": 12.0, "repeats": args.revision_repeats,
            "ok": len(runs) > 1 and growth["both_s"] <= 12.0,
        }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"script: {result['pages']} pages, {result['scenes']} scenes, {result['lines']} lines, "
          f"{result['elements']} breakdown elements (best of {args.repeats}, {'CPU' if args.cpu else 'wall'} time)")
    for label, key in [("screenplain parse", "screenplain_parse_s"), ("parse_fountain", "parse_fountain_s"),
                       ("paginate", "paginate_s"), ("break_down", "break_down_s"),
                       ("ours total", "ours_total_s")]:
        print(f"  {label:<18} {result[key] * 1000:9.1f} ms")
    print(f"  ratio ours/screenplain: {result['ratio']:.2f}x (goal <= 3x, total < 1 s): "
          f"{'OK' if result['ok'] else 'OVER'}")
    if args.revision:
        rev = result["revision"]
        print(f"\nimport, then the next draft as a revision (fresh workspace, best of {args.revision_repeats}):")
        print(f"  {'size':>8} {'scenes':>7} {'import':>9} {'revision':>9} {'locking':>9} {'compared':>9}  changes")
        for run in rev["runs"]:
            changes = ", ".join(f"{n} {k}" for k, n in run["revision"].items() if k != "unchanged")
            print(f"  {run['mb']:>5.2f} MB {run['scenes']:>7,} {run['import_s']:>7.2f} s {run['reimport_s']:>7.2f} s "
                  f"{run['lock_numbers_s']:>7.2f} s {run['comparisons']:>9,}  {changes}")
        if len(rev["runs"]) > 1:
            growth = rev["time_ratio"]
            print(f"  {rev['size_ratio']:.1f}x the size: both imports {growth['both_s']:.1f}x the time (goal <= 12x): "
                  f"{'OK' if rev['ok'] else 'OVER'} (import {growth['import_s']:.1f}x, revision "
                  f"{growth['reimport_s']:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
