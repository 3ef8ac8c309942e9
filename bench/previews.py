"""Queued review previews (DR023): what the queue adds to a preview, against rendering the same
preview directly in this process.

One production in a temp dir (SQLite, the local content folder): a union performer with a
representative, a signed de-age consent for scene 5, an enrolled reference face, and two de-age jobs
waiting for approval per case - identical specs, one for each path, so each path's previews count
against its own job's limit (20 previews). Cases:

- ``still``: a 320x180 still plate, the built-in retouch model (the case DR023 first measured);
- ``clip``: the sample push-in (8 frames, 512x288, H.264), the classical VFX model - what the
  Chromium test renders.

Paths, alternated round by round (the order flips each round) so background load falls on both:

- **direct** (the peer): ``previews.preview`` - the guarded render the web and API requests ran
  before DR023, and what every queued render runs inside;
- **queued, warm worker**: ``preview_service.request_preview`` (what the request does now) ->
  one long-lived ``Worker``'s ``preview_step`` (claim under a lease, heartbeat, render, finish by
  compare-and-set in the registering transaction) -> ``preview_status`` reads ``done``; the
  ratio queued / direct is the queue's own overhead, with no polling wait;
- **queued, worker process** (``--process``): a real ``soundstage worker`` process started once
  (its default 1 s poll), the bench asks and polls ``preview_status`` every 50 ms until ``done`` -
  what an approver waits for, polling interval included.

    .venv/bin/python bench/previews.py [--rounds 7] [--cases still,clip] [--process]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)  # bench/queue.py would shadow the standard library's queue module (multiprocessing needs it)

MAYA_CONSENT = ("De-ageing of Maya Castell by about 30 years in the 1994 flashback, scene 5 only")


def build(root: Path):
    """The production, and its plates: {case: (model id, plate id, params)}."""
    import numpy as np
    from PIL import Image

    from soundstage.services import consent_service, people_service, talent_service
    from soundstage.services.ledger import ingest_media
    from soundstage.services.workspace import init_workspace
    from soundstage.testing import sample_media
    from soundstage.testing.identity import signer_for, token_for

    ws = init_workspace(root / "production", "Preview bench")
    for name, roles in (("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor"]), ("Leo Hart", ["legal"]),
                        ("Lena Ortiz", ["performer_rep"])):
        people_service.add_crew(ws, name, roles, actor="setup")
    token_for(ws, "Priya Shah")  # the production's first credential: its identity root
    maya = talent_service.add_performer(ws, "Maya Castell", union_status="sag-aftra", representatives=["Lena Ortiz"],
                                        actor="setup")
    document = root / "signed_consent.pdf"
    document.write_bytes(b"%PDF-1.4 signed digital alteration consent, Maya Castell, scene 5")
    consent_service.grant_consent(
        ws, maya["id"], document=document, kind="digital_alteration", operations=["likeness_deage"],
        description=MAYA_CONSENT, scenes=["5"], max_alteration=0.5, signed_separately=True, representation="union",
        signer=signer_for(ws, "Lena Ortiz"))
    Image.fromarray(sample_media.reference_face()).save(root / "maya_ref.png")
    talent_service.enroll_reference(ws, maya["id"], root / "maya_ref.png", actor="Lena Ortiz")
    rng = np.random.default_rng(3)
    pixels = (rng.random((180, 320, 3)) * 60 + np.linspace(60, 180, 320)[None, :, None]).astype(np.uint8)
    Image.fromarray(pixels).save(root / "plate_A001.png")
    still = ingest_media(ws, root / "plate_A001.png", kind="plate", actor="setup", scene="5", shot="5A")
    clip_path = sample_media.write_plate(root / "A005_C002.mp4",
                                         sample_media.astronaut_push_in(count=8, width=512, height=288))
    clip = ingest_media(ws, clip_path, kind="plate", actor="setup", scene="5", shot="5A")
    cases = {"still": ("soundstage.retouch", still["id"], {}),
             "clip": ("soundstage.vfx-classical", clip["id"], {"codec": "h264"})}
    return ws, maya, cases


def submit(ws, maya: dict, model: str, plate: str, params: dict) -> str:
    """A de-age of Maya in shot 5A waiting for approval; its job id."""
    from soundstage.domain.safeguards import JobSpec
    from soundstage.services import jobs_service

    spec = JobSpec.from_dict({"id": "x", "production_id": ws.production_id, "requested_by": "Ken Ito",
                              "operation": "likeness_deage", "model_id": model, "inputs": [plate],
                              "performers": [maya["id"]], "scene": "5", "shot": "5A", "alteration_amount": 0.3,
                              "deliverable": "final", "medium": "final", "params": params})
    result = jobs_service.submit_job(ws, spec, actor="Ken Ito", wait=False)
    if result["status"] != "escalated":
        raise SystemExit(f"the de-age job is {result['status']}, not waiting for approval: {result}")
    return result["job"]


def direct(ws, job: str) -> float:
    from soundstage.safeguards import previews

    began = time.perf_counter()
    previews.preview(ws, job, actor="Leo Hart")
    return time.perf_counter() - began


def queued(ws, worker, job: str) -> tuple[float, float]:
    """(seconds from asking to ``done``, seconds the request itself took)."""
    from soundstage.services import preview_service

    began = time.perf_counter()
    asked = preview_service.request_preview(ws, job, actor="Leo Hart")
    request_s = time.perf_counter() - began
    if not asked["new"] or not worker.preview_step():
        raise SystemExit(f"no new request was rendered: {asked}")
    status = preview_service.preview_status(ws, job)
    took = time.perf_counter() - began
    if status["status"] != "done":
        raise SystemExit(f"the queued preview is {status['status']}: {status['request']}")
    return took, request_s


def through_process(ws, job: str, timeout: float = 300.0) -> float:
    from soundstage.services import preview_service

    began = time.perf_counter()
    preview_service.request_preview(ws, job, actor="Leo Hart")
    while time.perf_counter() - began < timeout:
        status = preview_service.preview_status(ws, job)
        if status["status"] == "done":
            return time.perf_counter() - began
        if status["status"] == "failed":
            raise SystemExit(f"the worker's preview failed: {status['request']}")
        time.sleep(0.05)
    raise SystemExit(f"no preview after {timeout:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="measured rounds per path (1-18: 20 previews a job)")
    parser.add_argument("--cases", default="still,clip")
    parser.add_argument("--process", action="store_true", help="also through a real `soundstage worker` process")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 18:
        parser.error("--rounds must be 1-18 (a job takes at most 20 previews; one is the warm-up)")
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    from soundstage.services.worker_service import Worker

    loads = [os.getloadavg()[0]]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ws, maya, plates = build(Path(tmp))
        worker = Worker(ws, poll=0.05, reap=False)
        try:
            for case in cases:
                if case not in plates:
                    parser.error(f"unknown case {case!r} (still, clip)")
                model, plate, params = plates[case]
                job_direct, job_queued = (submit(ws, maya, model, plate, params) for _ in range(2))
                direct(ws, job_direct)  # warm-up: models, codecs and the guard's caches loaded once
                queued(ws, worker, job_queued)
                times: dict[str, list[float]] = {"direct": [], "queued": [], "request": []}
                for round_ in range(args.rounds):
                    order = ("direct", "queued") if round_ % 2 == 0 else ("queued", "direct")
                    for path in order:
                        if path == "direct":
                            times["direct"].append(direct(ws, job_direct))
                        else:
                            took, request_s = queued(ws, worker, job_queued)
                            times["queued"].append(took)
                            times["request"].append(request_s)
                loads.append(os.getloadavg()[0])
                row = {"case": case, **{k: statistics.median(v) for k, v in times.items()},
                       "ratios": [q / d for q, d in zip(times["queued"], times["direct"])], "times": times}
                if args.process:
                    row["process"] = process_times(ws, maya, model, plate, params, args.rounds)
                    loads.append(os.getloadavg()[0])
                rows.append(row)
                print(f"{case}: direct {row['direct'] * 1000:.0f} ms, queued {row['queued'] * 1000:.0f} ms "
                      f"(request {row['request'] * 1000:.1f} ms)", flush=True)
        finally:
            worker.close()
            ws.close()
    print(f"\n{args.rounds} rounds per path, medians; {os.cpu_count()} cores, 1-min load average "
          f"{min(loads):.2f}-{max(loads):.2f}\n")
    head = "| case | peer: direct render | queued, warm worker | of which the request | ratio queued / direct |"
    line = "|---|---|---|---|---|"
    if args.process:
        head += " `soundstage worker` process, asked -> polled done |"
        line += "---|"
    print(head + "\n" + line)
    for r in rows:
        text = (f"| {r['case']} | {r['direct'] * 1000:.0f} ms | {r['queued'] * 1000:.0f} ms | "
                f"{r['request'] * 1000:.1f} ms | **{r['queued'] / r['direct']:.2f}x** "
                f"(per round {min(r['ratios']):.2f}-{max(r['ratios']):.2f}) |")
        if "process" in r:
            text += f" {statistics.median(r['process']) * 1000:.0f} ms |"
        print(text)
    return 0


def process_times(ws, maya: dict, model: str, plate: str, params: dict, rounds: int) -> list[float]:
    """A real ``soundstage worker`` (default poll, 1 s) started once and warmed by one preview; then
    ``rounds`` previews asked for one after another, each polled until done."""
    job = submit(ws, maya, model, plate, params)
    proc = subprocess.Popen([sys.executable, "-m", "soundstage", "-w", str(ws.settings.root), "worker"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        through_process(ws, job)  # warm-up: the process's imports and models
        return [through_process(ws, job) for _ in range(rounds)]
    finally:
        proc.terminate()
        proc.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
