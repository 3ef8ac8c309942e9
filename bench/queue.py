"""Queue benchmark: 8 queued short VFX jobs run by 1 and by 2 ``soundstage worker`` processes.

One workspace in a temp dir; a short plate (scikit-image's astronaut with a slow push-in and a boom
microphone dipping into the frame, 640x360, 1 s, H.264 with an AAC track) and the matte a roto
artist would draw for it. Each round queues 8 cleanup jobs (the boom painted out by the built-in
classical model: decode -> face guard -> inpaint -> watermark -> encode -> watermark check -> C2PA
sign -> register), exactly as the API queues them, then starts N worker processes
(``soundstage worker --once``: each claims jobs until the queue is empty, then exits) and measures
the wall time until the last one exits and every job is done. Runs alternate 1, 2, 1, 2 ... so the
machine's background load falls on both; the ratio is the median wall time with 1 worker over the
median with 2. Each worker starts cold (its own chunk pool, models loaded on its first job), as a
worker started on a render machine would.

    .venv/bin/python bench/queue.py                 # 8 jobs, 3 rounds
    .venv/bin/python bench/queue.py --pool 1        # each worker's chunk pool: 1 process ([compute] workers)
    .venv/bin/python bench/queue.py --store s3      # the production's content on a real S3 server (SeaweedFS)
    .venv/bin/python bench/queue.py --store s3 --nodes 2   # chunks on 2 Dask render nodes (DR016)

``--store s3`` puts the workspace's content on SeaweedFS on loopback (``soundstage.testing.s3server``):
every chunk fetches its inputs by hash through the verified cache and publishes its segment to the
job's work area in the bucket, as on render nodes. ``--nodes N`` starts a Dask scheduler and N
``dask worker`` processes (one thread each) and points ``[compute] cluster`` at it: the queue workers
then send every chunk to those nodes (preflight, probe and all).
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
    sys.path.pop(0)  # this file's name would shadow the standard library's queue module (urllib3 needs it)


def build(root: Path, frames: int, width: int, height: int, *, store: str = "local", stack=None):
    from PIL import Image

    from soundstage.services import people_service
    from soundstage.services.ledger import ingest_media
    from soundstage.services.workspace import init_workspace, open_workspace
    from soundstage.testing import sample_media

    ws = init_workspace(root / "production", "Queue bench")
    if store == "s3":
        from soundstage.testing.s3server import start_seaweedfs

        server = stack.enter_context(start_seaweedfs(root / "seaweedfs"))
        server.create_bucket("queue-bench")
        os.environ.update(BENCH_S3_KEY=server.access_key, BENCH_S3_SECRET=server.secret_key)
        set_config(ws.settings.root, "store", {"backend": "s3", "endpoint": server.endpoint, "bucket": "queue-bench",
                                               "region": server.region, "access_key_env": "BENCH_S3_KEY",
                                               "secret_key_env": "BENCH_S3_SECRET"})
        ws.close()
        ws = open_workspace(root / "production")
    people_service.add_crew(ws, "Priya Shah", ["producer"], actor="setup")
    people_service.add_crew(ws, "Ken Ito", ["vfx_supervisor"], actor="setup")
    shot, matte = sample_media.with_boom_mic(sample_media.astronaut_push_in(frames, width, height))
    plate = ingest_media(ws, sample_media.write_plate(root / "A005_C004.mp4", shot), kind="plate", actor="setup",
                         scene="5", shot="5B")
    Image.fromarray(matte).save(root / "boom_matte.png")
    mask = ingest_media(ws, root / "boom_matte.png", kind="plate", actor="setup")
    return ws, plate, mask


def set_config(root: Path, table: str, values: dict) -> None:
    import tomllib

    import tomli_w

    path = Path(root) / "soundstage.toml"
    config = tomllib.loads(path.read_text())
    config[table] = {**config.get(table, {}), **values}
    path.write_text(tomli_w.dumps(config))


def set_pool(ws, size: int) -> None:
    set_config(ws.settings.root, "compute", {"workers": size})


def start_nodes(count: int, log_dir: Path) -> tuple[str, list[subprocess.Popen]]:
    """A Dask scheduler and ``count`` workers (one thread each) on loopback; (address, processes)."""
    import json

    dask = str(Path(sys.executable).parent / "dask")
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(log_dir / "scheduler.json")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    deadline = time.time() + 30
    while not (log_dir / "scheduler.json").exists() and time.time() < deadline:
        time.sleep(0.1)
    address = json.loads((log_dir / "scheduler.json").read_text())["address"]
    for i in range(count):
        env = {**os.environ, "SOUNDSTAGE_NODE_DIR": str(log_dir / f"node-{i}")}
        procs.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1",
                                       "--no-dashboard", "--name", f"node-{i}"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    from distributed import Client

    with Client(address, timeout=30) as client:
        client.wait_for_workers(count, timeout=120)
    return address, procs


def queue_jobs(ws, plate, mask, count: int) -> list[str]:
    from soundstage.services import vfx_service

    out = []
    for _ in range(count):
        spec = vfx_service.build_vfx_job(ws, "cleanup", plate["id"], requested_by="Ken Ito",
                                         extra_inputs=[mask["id"]], scene="5", shot="5B")
        result = vfx_service.submit_vfx_job(ws, spec, actor="Ken Ito", wait=False)
        if result["status"] != "queued":
            raise SystemExit(f"job not queued: {result['status']}")
        out.append(result["job"])
    return out


def job_seconds(ws, jobs: list[str]) -> tuple[float, float]:
    """(median seconds from a job's claim to its completion, seconds from the workers' start to the
    first claim) from the audit log's timestamps."""
    from datetime import datetime

    from soundstage.services.ledger import audit_log

    events = [e for e in audit_log(ws, limit=100000) if e["subject"] in set(jobs)]
    at = {}
    for e in events:
        at.setdefault((e["subject"], e["action"]), datetime.fromisoformat(e["at"]))
    runs = [(at[(j, "job.completed")] - at[(j, "job.started")]).total_seconds() for j in jobs]
    return statistics.median(runs), min(at[(j, "job.started")] for j in jobs).timestamp()


def run_workers(ws_root: Path, count: int) -> float:
    began = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "soundstage", "-w", str(ws_root), "worker", "--once"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(count)]
    for proc in procs:
        _, err = proc.communicate(timeout=1800)
        if proc.returncode != 0:
            raise SystemExit(f"worker failed: {err[-2000:]}")
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pool", type=int, default=None,
                        help="[compute] workers: chunk processes per worker (default: the production default, 2)")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--store", choices=("local", "s3"), default="local")
    parser.add_argument("--nodes", type=int, default=0, help="Dask render nodes to send the chunks to (0: none)")
    args = parser.parse_args()

    from contextlib import ExitStack

    from soundstage.services.jobs_service import show_job
    from soundstage.services.workspace import open_workspace

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        ws, plate, mask = build(Path(tmp), args.frames, args.width, args.height, store=args.store, stack=stack)
        if args.pool:
            set_pool(ws, args.pool)
        if args.nodes:
            address, nodes = start_nodes(args.nodes, Path(tmp))
            stack.callback(lambda: [p.terminate() for p in nodes])
            set_config(ws.settings.root, "compute", {"cluster": address})
            ws.close()
            ws = open_workspace(Path(tmp) / "production")
        times: dict[int, list[float]] = {1: [], 2: []}
        loads = []
        for round_ in range(args.rounds):
            for workers in (1, 2):
                jobs = queue_jobs(ws, plate, mask, args.jobs)
                load = os.getloadavg()[0]
                started = time.time()
                wall = run_workers(ws.settings.root, workers)
                per_job, first_claim = job_seconds(ws, jobs)
                statuses = {show_job(ws, j)["status"] for j in jobs}
                if statuses != {"done"}:
                    raise SystemExit(f"not every job is done: {statuses}")
                times[workers].append(wall)
                loads.append(load)
                print(f"round {round_ + 1}: {args.jobs} jobs, {workers} worker process(es): {wall:.1f} s "
                      f"({args.jobs / wall * 60:.1f} jobs/min; a job {per_job:.2f} s from claim to done, first claim "
                      f"{first_claim - started:.1f} s after start; 1-min load before {load:.2f})", flush=True)
        ws.close()
    one, two = statistics.median(times[1]), statistics.median(times[2])
    where = f"content on {args.store}" + (f", chunks on {args.nodes} Dask render nodes" if args.nodes else
                                          f", chunk pool of {args.pool or 2} per worker")
    print(f"\n### {args.jobs} queued cleanup jobs ({args.frames} frames {args.width}x{args.height} each), "
          f"{where}, {os.cpu_count()} cores")
    print("| worker processes | wall time (median of %d) | range | jobs per minute |" % args.rounds)
    print("|---|---|---|---|")
    for n, median in ((1, one), (2, two)):
        print(f"| {n} | {median:.1f} s | {min(times[n]):.1f}-{max(times[n]):.1f} s | {args.jobs / median * 60:.1f} |")
    pairs = [a / b for a, b in zip(times[1], times[2])]
    print(f"\nper-round ratios: {', '.join(f'{r:.2f}' for r in pairs)}")
    print(f"\nratio (1 worker / 2 workers): **{one / two:.2f}x**; 1-min load average before the runs "
          f"{min(loads):.2f}-{max(loads):.2f}")


if __name__ == "__main__":
    main()
