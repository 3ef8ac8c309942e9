"""Benchmark: our parse + paginate + breakdown against screenplain's bare parse on one script.

Generates a ~120-page screenplay deterministically, times both sides in the same run
(best of N), and prints a table and the ratio (or JSON with --json). Goal: ratio <= 3x
and our total under 1 s.

    .venv/bin/python bench/script_breakdown.py [--pages 120] [--repeats 5] [--seed 7] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import time
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


def best_of(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

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

    screenplain_s = best_of(lambda: screenplain_parse(io.StringIO(text)), args.repeats)
    parse_s = best_of(lambda: parse_fountain(text, "bench.fountain"), args.repeats)
    sp = parse_fountain(text, "bench.fountain")
    paginate_s = best_of(lambda: paginate(sp), args.repeats)
    pag = paginate(sp)
    breakdown_s = best_of(lambda: break_down(sp, pag), args.repeats)
    total_s = best_of(ours, args.repeats)
    bd = ours_result["bd"]
    result = {
        "pages": ours_result["pages"], "scenes": len(bd.scenes),  # type: ignore[attr-defined]
        "elements": sum(len(s.elements) for s in bd.scenes),  # type: ignore[attr-defined]
        "lines": len(lines), "repeats": args.repeats,
        "screenplain_parse_s": round(screenplain_s, 4), "parse_fountain_s": round(parse_s, 4),
        "paginate_s": round(paginate_s, 4), "break_down_s": round(breakdown_s, 4),
        "ours_total_s": round(total_s, 4), "ratio": round(total_s / screenplain_s, 2),
        "goal_ratio_max": 3.0, "goal_total_max_s": 1.0,
    }
    result["ok"] = result["ratio"] <= 3.0 and total_s < 1.0
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"script: {result['pages']} pages, {result['scenes']} scenes, {result['lines']} lines, "
              f"{result['elements']} breakdown elements (best of {args.repeats})")
        for label, key in [("screenplain parse", "screenplain_parse_s"), ("parse_fountain", "parse_fountain_s"),
                           ("paginate", "paginate_s"), ("break_down", "break_down_s"),
                           ("ours total", "ours_total_s")]:
            print(f"  {label:<18} {result[key] * 1000:9.1f} ms")
        print(f"  ratio ours/screenplain: {result['ratio']:.2f}x (goal <= 3x, total < 1 s): "
              f"{'OK' if result['ok'] else 'OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
