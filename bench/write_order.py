"""What the ledger's write order costs writers that run at once (DR025): two processes each run 8
procedural still jobs down the whole guarded path (submit, decide, render, mark, sign, read back,
register) on one SQLite workspace, released together; the wall time until both are done.

    .venv/bin/python bench/write_order.py [--jobs 8] [--rounds 3]

To compare two trees (the peer: main before DR025), run it with each tree's src on PYTHONPATH in
alternating processes (docs/benchmarks.md). Each process has imported soundstage and opened the
workspace before the clock starts (it says "ready" and waits for "go").
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def runner(root: Path, tag: str, jobs_each: int) -> None:
    """One process: open the workspace, say ready, wait for go, run the jobs."""
    from soundstage.domain.safeguards import job_spec_from_request
    from soundstage.services import jobs_service as jobs
    from soundstage.services.workspace import open_workspace

    ws = open_workspace(root)
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(jobs_each):
        spec = job_spec_from_request({"operation": "ideation", "model_id": "soundstage.procedural-card",
                                      "prompt": f"{tag} {i}"}, production_id=ws.production_id,
                                     requested_by="Priya Shah")
        outcome = jobs.submit_job(ws, spec, actor="Priya Shah", wait=True)
        if outcome["status"] != "done":
            raise SystemExit(f"job {outcome.get('job')}: {outcome['status']}")


def one_round(jobs_each: int) -> float:
    from soundstage.services.people_service import add_crew
    from soundstage.services.workspace import init_workspace

    root = Path(tempfile.mkdtemp()) / "production"
    ws = init_workspace(root, "Bench")
    add_crew(ws, "Priya Shah", ["producer"], actor="setup")
    ws.close()
    procs = [subprocess.Popen([sys.executable, "-P", __file__, "--runner", str(root), f"p{k}", str(jobs_each)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for k in range(2)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    codes = [p.wait() for p in procs]
    wall = time.perf_counter() - start
    if codes != [0, 0]:
        raise SystemExit(f"a runner failed: {codes}")
    return wall


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--runner":
        runner(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    walls = [one_round(args.jobs) for _ in range(args.rounds)]
    print(f"2 processes x {args.jobs} still jobs: median {statistics.median(walls):.2f} s wall "
          f"({', '.join(f'{w:.2f}' for w in walls)})")


if __name__ == "__main__":
    main()
