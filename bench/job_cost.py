"""What a still job costs down the whole guarded path: one procedural ideation card, submitted,
decided, rendered, marked, signed, read back and registered, in a fresh SQLite workspace.

    .venv/bin/python bench/job_cost.py [--jobs 15]

Prints the mean wall time a job after one warm-up job. To compare two trees (the peer: main before
a change), run it with each tree's src on PYTHONPATH in alternating processes (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=15)
    args = parser.parse_args()
    from soundstage.domain.safeguards import JobSpec, OperationKind
    from soundstage.services import jobs_service as jobs
    from soundstage.services.people_service import add_crew
    from soundstage.services.workspace import init_workspace

    ws = init_workspace(Path(tempfile.mkdtemp()) / "production", "Bench")
    add_crew(ws, "Priya Shah", ["producer"], actor="setup")

    def one(i: int) -> None:
        spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION,
                       requested_by="Priya Shah", model_id="soundstage.procedural-card", prompt=f"rainy street {i}")
        assert jobs.submit_job(ws, spec, actor="Priya Shah")["status"] == "done"

    one(0)
    start = time.perf_counter()
    for i in range(args.jobs):
        one(i + 1)
    print(f"{(time.perf_counter() - start) / args.jobs * 1000:.1f} ms a job ({args.jobs} jobs after one warm-up)")


if __name__ == "__main__":
    main()
