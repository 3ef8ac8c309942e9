"""Loopback load test of `soundstage serve`: reads and policy checks (req/s, p50, p99, and the CPU
the server, the load generator and everything else on the machine used meanwhile), then 20
concurrent job submissions re-sent with the same Idempotency-Key (nothing lost, nothing doubled).

    python bench/api.py [--workers 2] [--seconds 10] [--connections 16] [--generator wrk|httpx]

The load generator is wrk (Debian's, a C event loop) when installed, else httpx in this process.
Client and server share the machine's cores, so the generator's own CPU is reported: it is CPU the
server did not get. So is the CPU of *other* processes (the machine is shared), which decides
tail latency more than anything in the server when the cores are oversubscribed. wrk is a closed
loop (each connection sends its next request when the last answer arrives); latencies are from
send to full response. Each endpoint gets a warm-up run that is not counted.
Prints markdown tables. Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx

SERVE = ("import sys; from soundstage.interfaces.cli.app import app, main; "
         "from soundstage.interfaces.cli import cmd_serve; "
         "'serve' in {c.name for c in app.registered_commands} or cmd_serve.register(app); "
         "sys.exit(main(sys.argv[1:]))")
IDEATION = {"operation": "ideation", "model_id": "soundstage.procedural-card", "prompt": "rainy street"}
ENDPOINTS = (("GET", "/api/production", None), ("GET", "/api/models", None),
             ("POST", "/api/policy/check", IDEATION))
CLK_TCK = os.sysconf("SC_CLK_TCK")
GOAL_RPS, GOAL_P99_MS = 500, 50.0

WRK_SCRIPT = """
wrk.method = "%(method)s"
%(body)s
%(pacing)s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH_JSON {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"p50_us\\": %%d, "
    .. "\\"p99_us\\": %%d, \\"max_us\\": %%d, \\"non2xx\\": %%d, \\"socket_errors\\": %%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def make_workspace(root: Path) -> tuple[Path, str]:
    from soundstage.services import people_service
    from soundstage.testing.identity import new_token
    from soundstage.services.workspace import init_workspace

    ws = init_workspace(root / "production", "Bench Production")
    people_service.add_crew(ws, "Ken Ito", ["vfx_supervisor"], actor="bench")
    token = new_token(ws, "Ken Ito", expires_in=timedelta(hours=2))["token"]
    path = ws.settings.root
    ws.close()
    return path, token


# ---------------------------------------------------------------- CPU accounting (Linux /proc)

def _proc_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parents.items() if ppid in frontier]
        found.extend(frontier)
    return found


def tree_cpu_seconds(root: int) -> float:
    return sum(_proc_cpu_seconds(pid) for pid in _descendants(root))


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle, since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLK_TCK


@dataclass
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    server_cpu: float
    generator_cpu: float
    other_cpu: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def server_ms_per_request(self) -> float:
        return 1000 * self.server_cpu / max(1, self.requests)


def measure(server_pid: int, run) -> Result:
    """Run one load phase, charging the CPU it used to the server, the generator, or others."""
    server0, machine0 = tree_cpu_seconds(server_pid), machine_busy_seconds()
    out = run()
    server = tree_cpu_seconds(server_pid) - server0
    machine = machine_busy_seconds() - machine0
    return Result(out["requests"], out["seconds"], out["p50_ms"], out["p99_ms"], out["max_ms"], out["errors"],
                  server, out["generator_cpu"], max(0.0, machine - server - out["generator_cpu"]))


# ---------------------------------------------------------------- generators

def wrk_run(base: str, token: str, method: str, path: str, body: dict | None, seconds: float,
            connections: int, workdir: Path, rate: float = 0) -> dict:
    """``rate`` > 0 paces each connection with wrk's delay() hook (a think time of
    connections/rate between an answer and the next request), so the offered load is at most
    ``rate``; latency is still send-to-answer, so a server stall is under-counted (coordinated
    omission), which is why the closed-loop runs are the headline."""
    script = workdir / f"{method.lower()}{path.replace('/', '_')}-{int(rate)}.lua"
    body_lua = ""
    if body is not None:
        body_lua = (f"wrk.body = {json.dumps(json.dumps(body))}\n"
                    'wrk.headers["Content-Type"] = "application/json"')
    pacing = f"delay = function() return {1000 * connections / rate:.3f} end" if rate > 0 else ""
    script.write_text(WRK_SCRIPT % {"method": method, "body": body_lua, "pacing": pacing})
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
                             "-s", str(script), "-H", f"Authorization: Bearer {token}", base + path],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stdout, _ = proc.communicate()  # reaps wrk, so its CPU is now in RUSAGE_CHILDREN
    usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    generator_cpu = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    match = re.search(r"BENCH_JSON (\{.*\})", stdout)
    if proc.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed:\n{stdout}")
    data = json.loads(match.group(1))
    return {"requests": data["requests"], "seconds": data["duration_us"] / 1e6, "p50_ms": data["p50_us"] / 1000,
            "p99_ms": data["p99_us"] / 1000, "max_ms": data["max_us"] / 1000,
            "errors": data["non2xx"] + data["socket_errors"], "generator_cpu": generator_cpu}



def httpx_run(base: str, token: str, method: str, path: str, body: dict | None, seconds: float,
              connections: int, workdir: Path, rate: float = 0) -> dict:
    """Fallback when wrk is missing: an asyncio httpx closed loop in this process (no pacing)."""
    if rate > 0:
        raise SystemExit("--rate needs wrk (apt-get install wrk)")
    usage0 = resource.getrusage(resource.RUSAGE_SELF)

    async def go() -> dict:
        latencies: list[float] = []
        errors = 0
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                     timeout=10) as client:
            deadline = time.perf_counter() + seconds

            async def worker() -> None:
                nonlocal errors
                while time.perf_counter() < deadline:
                    start = time.perf_counter()
                    response = await client.request(method, path, json=body)
                    latencies.append(time.perf_counter() - start)
                    errors += response.status_code >= 300

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(connections)))
            return {"latencies": sorted(latencies), "errors": errors, "seconds": time.perf_counter() - started}

    out = asyncio.run(go())
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    lat = out["latencies"]
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000  # noqa: E731
    return {"requests": len(lat), "seconds": out["seconds"], "p50_ms": pick(0.5), "p99_ms": pick(0.99),
            "max_ms": lat[-1] * 1000, "errors": out["errors"],
            "generator_cpu": (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)}


# ---------------------------------------------------------------- idempotent submissions

async def submissions(base: str, token: str, jobs: int = 20, duplicates: int = 3, max_attempts: int = 8) -> dict:
    """Every job is sent ``duplicates`` times at once with one Idempotency-Key (a client that gave up
    waiting and re-sent, twice), and each copy is retried until it gets a 2xx. Afterwards the
    ledger must hold exactly one job per key, each run once."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:
        async def one_copy(i: int) -> tuple[str | None, int]:
            for attempt in range(1, max_attempts + 1):
                await asyncio.sleep(random.uniform(0, 0.02))
                try:
                    response = await client.post("/api/jobs", json={**IDEATION, "prompt": f"shot {i}"},
                                                 headers={"Idempotency-Key": f"bench-{i}"})
                except httpx.TransportError:
                    continue
                if response.status_code == 200:
                    answer = response.json()  # a first run answers {"job": id}, a replay the job itself
                    return answer.get("job") or answer.get("id"), attempt
                # a copy racing the first one is refused (the key is in use): retry, as a client would
                await asyncio.sleep(0.05 * attempt)
            return None, max_attempts

        results = await asyncio.gather(*(one_copy(i) for i in range(jobs) for _ in range(duplicates)))
        listed = (await client.get("/api/jobs")).json()
        assets = (await client.get("/api/assets")).json()
    per_key: dict[int, set[str]] = {}
    for index, (job_id, _) in enumerate(results):
        if job_id:
            per_key.setdefault(index // duplicates, set()).add(job_id)
    bench_jobs = [j for j in listed if (j.get("spec") or {}).get("prompt", "").startswith("shot ")]
    return {"submitted": jobs, "copies_each": duplicates, "requests": len(results),
            "retries": sum(attempt - 1 for _, attempt in results),
            "unanswered": sum(1 for job_id, _ in results if job_id is None),
            "keys_with_one_job": sum(1 for ids in per_key.values() if len(ids) == 1),
            "jobs_in_ledger": len(bench_jobs),
            "jobs_done": sum(1 for j in bench_jobs if j["status"] == "done"),
            "generated_assets": len([a for a in assets if a["job_id"] in {j["id"] for j in bench_jobs}])}


# ---------------------------------------------------------------- main

def wait_until_up(base: str, workers: int) -> None:
    for _ in range(300):
        try:
            httpx.get(base + "/openapi.json", timeout=0.5)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        raise RuntimeError("the server did not come up")
    time.sleep(0.5 * workers)  # let every worker finish starting


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--connections", "--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=600,
                        help="also run each endpoint paced to offer at most this many req/s (wrk only; 0 to "
                             "skip). The think time does not subtract latency, so the achieved rate is lower: "
                             "600 offered gives a little over the 500 goal")
    parser.add_argument("--generator", choices=("wrk", "httpx"), default="wrk" if shutil.which("wrk") else "httpx")
    args = parser.parse_args()
    run = wrk_run if args.generator == "wrk" else httpx_run
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        ws_dir, token = make_workspace(Path(tmp))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen([sys.executable, "-c", SERVE, "-w", str(ws_dir), "serve", "--host", "127.0.0.1",
                                 "--port", str(port), "--http-workers", str(args.workers), "--workers", "0"],
                                env=dict(os.environ))
        base = f"http://127.0.0.1:{port}"
        rows = []
        try:
            wait_until_up(base, args.workers)
            for method, path, body in ENDPOINTS:
                run(base, token, method, path, body, args.warmup, args.connections, Path(tmp))
                result = measure(proc.pid, lambda: run(base, token, method, path, body, args.seconds,
                                                       args.connections, Path(tmp)))
                rows.append((f"{method} {path}", result))
            if args.rate > 0 and args.generator == "wrk":
                for method, path, body in ENDPOINTS:
                    result = measure(proc.pid, lambda: run(base, token, method, path, body, args.seconds,
                                                           args.connections, Path(tmp), rate=args.rate))
                    rows.append((f"{method} {path}, paced (offered {args.rate:g}/s)", result))
            sub = asyncio.run(submissions(base, token))
        finally:
            proc.terminate()
            proc.wait(15)
    import uvicorn

    extras = []
    for module in ("uvloop", "httptools", "orjson"):
        try:
            extras.append(f"{module} {__import__(module).__version__}")
        except ImportError:
            extras.append(f"no {module}")
    if args.generator == "wrk":
        banner = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
        generator = " ".join((banner.stdout + banner.stderr).split()[:2]) + " (1 thread)"
    else:
        generator = f"httpx {httpx.__version__} (asyncio, in the bench process)"
    print(f"\n### API on loopback: {args.workers} uvicorn workers (uvicorn {uvicorn.__version__}, "
          f"{', '.join(extras)}), {args.connections} connections from {generator}, {os.cpu_count()} CPUs, "
          f"{args.seconds:g} s per endpoint after a {args.warmup:g} s warm-up; load average before "
          f"{load_before[0]:.1f}\n")
    print("| endpoint | requests | req/s | p50 ms | p99 ms | max ms | errors | server CPU ms/req "
          "| CPU s: server / generator / other processes | goal |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    verdicts: dict[str, bool] = {}
    for name, r in rows:
        met = r.rps >= GOAL_RPS and r.p99_ms < GOAL_P99_MS and r.errors == 0
        mode = "paced" if "paced" in name else "closed loop"
        verdicts[mode] = verdicts.get(mode, True) and met
        print(f"| {name} | {r.requests} | {r.rps:.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.max_ms:.0f} "
              f"| {r.errors} | {r.server_ms_per_request:.2f} | {r.server_cpu:.1f} / {r.generator_cpu:.1f} / "
              f"{r.other_cpu:.1f} of {os.cpu_count() * r.seconds:.0f} | {'met' if met else 'missed'} |")
    print("\n| jobs | copies each (same key, sent at once) | requests | retries | unanswered "
          "| keys with exactly one job | jobs in ledger | jobs done | generated assets |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {sub['submitted']} | {sub['copies_each']} | {sub['requests']} | {sub['retries']} | {sub['unanswered']} "
          f"| {sub['keys_with_one_job']} | {sub['jobs_in_ledger']} | {sub['jobs_done']} | {sub['generated_assets']} |")
    ok = (sub["unanswered"] == 0 and sub["keys_with_one_job"] == sub["jobs_in_ledger"] == sub["jobs_done"]
          == sub["generated_assets"] == sub["submitted"])
    goal = "; ".join(f"{mode}: {'met' if met else 'missed'}" for mode, met in verdicts.items())
    print(f"\nidempotency: {'OK' if ok else 'FAILED'}; goal >= {GOAL_RPS} req/s with p99 < {GOAL_P99_MS:g} ms "
          f"on every endpoint ({goal})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
