"""Loopback load test of `soundstage serve`: policy checks and reads (requests/s, p99), and 20
concurrent job submissions re-sent with the same Idempotency-Key (nothing lost, nothing doubled).

    python bench/api.py [--workers 2] [--seconds 10] [--concurrency 32]

Prints a markdown table. Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx

SERVE = ("import sys; from soundstage.interfaces.cli.app import app, main; "
         "from soundstage.interfaces.cli import cmd_serve; "
         "'serve' in {c.name for c in app.registered_commands} or cmd_serve.register(app); "
         "sys.exit(main(sys.argv[1:]))")
IDEATION = {"operation": "ideation", "model_id": "soundstage.procedural-card", "prompt": "rainy street"}


def make_workspace(root: Path) -> tuple[Path, str]:
    from soundstage.services import auth_service
    from soundstage.services import safeguards_service as sg
    from soundstage.services.workspace import init_workspace

    ws = init_workspace(root / "production", "Bench Production")
    sg.add_crew(ws, "Ken Ito", ["vfx_supervisor"], actor="bench")
    token = auth_service.create_token(ws, "Ken Ito", expires_in=timedelta(hours=2), actor="bench")["token"]
    path = ws.settings.root
    ws.close()
    return path, token


async def load(base: str, token: str, seconds: float, concurrency: int, make_request) -> dict:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                 timeout=10) as client:
        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                response = await make_request(client)
                latencies.append(time.perf_counter() - start)
                if response.status_code >= 300:
                    errors += 1
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "p50": p(0.50), "p99": p(0.99),
            "errors": errors}


async def submissions(base: str, token: str, jobs: int = 20, retries: int = 3) -> dict:
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        async def submit(i: int) -> set[str]:
            ids = set()
            for attempt in range(retries):
                response = await client.post("/api/jobs", json={**IDEATION, "prompt": f"shot {i}"},
                                             headers={"Idempotency-Key": f"bench-{i}"})
                if response.status_code == 200:
                    body = response.json()
                    ids.add(body.get("job") or body.get("id"))
            return ids

        results = await asyncio.gather(*(submit(i) for i in range(jobs)))
        listed = (await client.get("/api/jobs")).json()
        assets = (await client.get("/api/assets")).json()
    per_key = [len(r) for r in results]
    return {"submitted": jobs, "retries_each": retries, "keys_with_one_job": sum(1 for n in per_key if n == 1),
            "jobs_in_ledger": len(listed), "generated_assets": len([a for a in assets if a["job_id"]])}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws_dir, token = make_workspace(Path(tmp))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen([sys.executable, "-c", SERVE, "-w", str(ws_dir), "serve", "--host", "127.0.0.1",
                                 "--port", str(port), "--workers", str(args.workers)], env=dict(os.environ))
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    httpx.get(base + "/openapi.json", timeout=0.5)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            time.sleep(1.0)  # let every worker come up
            rows = []
            for name, make in (
                ("GET /api/production", lambda c: c.get("/api/production")),
                ("GET /api/models (read)", lambda c: c.get("/api/models")),
                ("POST /api/policy/check", lambda c: c.post("/api/policy/check", json=IDEATION)),
            ):
                rows.append((name, asyncio.run(load(base, token, args.seconds, args.concurrency, make))))
            sub = asyncio.run(submissions(base, token))
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"\n### API on loopback ({args.workers} uvicorn workers, {args.concurrency} concurrent clients, "
          f"{os.cpu_count()} CPUs)\n")
    print("| endpoint | requests | req/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['requests']} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['errors']} |")
    print("\n| concurrent submissions | retries each | keys with exactly one job | jobs in ledger | generated assets |")
    print("|---|---|---|---|---|")
    print(f"| {sub['submitted']} | {sub['retries_each']} | {sub['keys_with_one_job']} | {sub['jobs_in_ledger']} "
          f"| {sub['generated_assets']} |")
    ok = sub["keys_with_one_job"] == sub["jobs_in_ledger"] == sub["generated_assets"] == sub["submitted"]
    print(f"\nidempotency: {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
