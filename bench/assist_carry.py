"""What a new draft keeps of the breakdown assist (DR022, "New drafts"), and what the carry costs.

Draft 1 is The Last Take (``--copies N``: its scenes N times, each heading made unique), assisted
through the guard by a scripted model on soundstage's local OpenAI-compatible server (it suggests
every "a/the <word>" of a sent line and rejects every third rule element it is sent; not a
language model). Draft 2 is ``testing.demo.revised_draft``: one scene inserted, one cut, one
rewritten. The import of draft 2 is timed with and without an assisted draft 1.

    .venv/bin/python bench/assist_carry.py [--copies 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

from soundstage.errors import PendingApprovalError
from soundstage.services import people_service, script_service
from soundstage.services.workspace import init_workspace
from soundstage.testing.approvals import approve
from soundstage.testing.demo import revised_draft, sample_script_path
from soundstage.testing.fake_chat_server import FakeOpenAIChat, numbered_lines, register_chat_model, tagger_elements
from soundstage.testing.identity import signer_for

KEY = "bench-carry-key"
_HEADING = re.compile(r"^((?:INT|EXT)\.? .*)$")


def scripted_model(body: dict) -> dict:
    elements = [{"category": "props", "name": m.group(1), "line": n, "quote": m.group(0)}
                for n, text in numbered_lines(body).items()
                for m in re.finditer(r"\b(?:a|an|the|his|her) ([a-z]{4,})\b", text)]
    reviews = [{"id": ref, "verdict": "not_an_element", "category": "", "reason": "scripted",
                "quote": name.split()[-1]}
               for k, (ref, (_, name, _)) in enumerate(tagger_elements(body).items()) if k % 3 == 0]
    return {"elements": elements, "reviews": reviews}


def copies(text: str, n: int) -> str:
    if n == 1:
        return text
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if _HEADING.match(line))
    out = lines[:start]
    for k in range(n):
        out += [_HEADING.sub(lambda m, k=k: f"{m.group(1)} {k}", line) for line in lines[start:]]
    return "\n".join(out) + "\n"


def one_run(text: str, assist: bool) -> tuple[float, dict, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        ws = init_workspace(Path(tmp) / "p", "The Last Take")
        try:
            for name in ("Priya Shah", "Ken Ito"):
                people_service.add_crew(ws, name, ["producer"], actor="setup")
            first = Path(tmp) / "draft1.fountain"
            first.write_text(text)
            script_service.import_script(ws, first, actor="Priya Shah")
            merged: dict = {}
            if assist:
                with FakeOpenAIChat(scripted_model, api_key=KEY) as server:
                    register_chat_model(ws, server, completion_budget=16000)
                    try:
                        script_service.assist_breakdown(ws, actor="Priya Shah")
                        raise SystemExit("the assist job was not escalated")
                    except PendingApprovalError as waiting:
                        job = re.search(r"job (j-\w+)", str(waiting)).group(1)
                    approve(ws, job, signer=signer_for(ws, "Ken Ito"), role="producer", actor="Ken Ito", wait=False)
                    merged = script_service.assist_breakdown(ws, actor="Priya Shah", job_id=job)
                    sent = len(server.completions())
            second = Path(tmp) / "draft2.fountain"
            second.write_text(revised_draft(text))
            started = time.perf_counter()
            result = script_service.import_script(ws, second, actor="Priya Shah")
            took = time.perf_counter() - started
            if assist and len(server.completions()) != sent:
                raise SystemExit("the import sent a request to the model")
            return took, merged, result
        finally:
            ws.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=1, help="the sample's scenes this many times (1-200)")
    parser.add_argument("--repeat", type=int, default=3, help="imports timed per case, median shown (1-20)")
    args = parser.parse_args()
    if not 1 <= args.copies <= 200 or not 1 <= args.repeat <= 20:
        parser.error("--copies is 1-200 and --repeat 1-20")
    os.environ["STUDIO_LLM_KEY"] = KEY
    text = copies(sample_script_path().read_text(encoding="utf-8"), args.copies)
    plain = [one_run(text, False)[0] for _ in range(args.repeat)]
    runs = [one_run(text, True) for _ in range(args.repeat)]
    _, merged, result = runs[-1]
    revision = result["revision"]
    carried = result["assist"]
    print(f"draft 2: {result['scenes']} scenes; changed {len(revision['changed'])}, added {len(revision['added'])}, "
          f"omitted {len(revision['omitted'])}")
    print(f"draft 1 assist: kept {merged['kept']}, added {merged['added']}, rejected {merged['rejected']}")
    print(f"carried {carried['carried']} ({carried['suggestions']} suggestions + {carried['reviews']} reviews), "
          f"dropped {carried['dropped']} {carried['reasons']}; draft 2 added {carried['added']}, "
          f"rejected {carried['rejected']}")
    print(f"import of draft 2, median of {args.repeat}: {statistics.median(plain):.3f} s without an assisted "
          f"draft 1, {statistics.median(t for t, _, _ in runs):.3f} s with the carry")


if __name__ == "__main__":
    main()
