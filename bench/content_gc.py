"""Content gc benchmark: what `soundstage gc` costs on the local store and in a bucket, and what
touching (leasing) reused content costs a write.

    .venv/bin/python bench/content_gc.py [--files 20000] [--assets 5000] [--objects 1000] [--json]

- store: ``--files`` small files stored, all aged two days, half of them named; ``collect_garbage``
  list-only, then with delete (the unnamed half moved aside, the ledger read again, removed); then
  2,000 writes of content already stored (each touches the file) - per write;
- bucket (a real SeaweedFS server, ``--objects`` small objects, half named; gc run with the server's
  clock moved two days on): ``collect_garbage`` list-only, then with delete (each unnamed object
  copied into the trash and deleted, the ledger and the leases read again, removed from the
  trash); then writes of content already stored (a lease between two HEADs), against the peer
  measured in the same run: one HEAD, what such a write cost before leases;
- ledger: a SQLite workspace with ``--assets`` assets ingested in one unit of work; the ledger read
  gc makes (``named_content``) and the whole ``gc_content`` list.

Throw-away folders under the system temp folder; nothing is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from soundstage.safeguards import guard
from soundstage.safeguards.guard import IngestRequest
from soundstage.services.content_gc import gc_content, named_content
from soundstage.services.workspace import init_workspace
from soundstage.store.assets import AssetStore
from soundstage.store.s3 import S3Config, S3Store
from soundstage.testing.s3server import start_seaweedfs


def bench_store(files: int, folder: Path) -> dict:
    root = folder / "assets"
    root.mkdir()
    store = guard.adopt_store(AssetStore(root))
    shas = [store.put_bytes(f"blob {i}".encode() * 64, guard._grant(store, "bench")).sha256 for i in range(files)]
    store.commit_new()
    then = time.time() - 48 * 3600
    for sha in shas:
        os.utime(store.path_for(sha), (then, then))
    named = set(shas[::2])
    t = time.perf_counter()
    listed = store.collect_garbage(lambda: named)
    list_s = time.perf_counter() - t
    t = time.perf_counter()
    removed = store.collect_garbage(lambda: named, delete=True)
    delete_s = time.perf_counter() - t
    reuses = min(2000, len(named))
    t = time.perf_counter()
    for i in range(0, reuses * 2, 2):
        store.put_bytes(f"blob {i}".encode() * 64, guard._grant(store, "bench"))
    reuse_us = (time.perf_counter() - t) / reuses * 1e6
    return {"files": files, "listed": len(listed), "list_s": round(list_s, 3), "removed": len(removed),
            "delete_s": round(delete_s, 3), "reuse_write_us": round(reuse_us)}


def bench_bucket(objects: int, folder: Path) -> dict:
    server = start_seaweedfs(folder / "seaweedfs")
    try:
        server.create_bucket("bench")
        store = guard.adopt_store(S3Store(S3Config(
            bucket="bench", cache_dir=folder / "cache", access_key=server.access_key, secret_key=server.secret_key,
            endpoint=server.endpoint, region=server.region, prefix="gc/")))
        try:
            shas = [store.put_bytes(f"object {i}".encode() * 64, guard._grant(store, "bench")).sha256
                    for i in range(objects)]
            store.commit_new()
            now = store.server_time() + timedelta(hours=48)
            named = set(shas[::2])
            t = time.perf_counter()
            listed = store.collect_garbage(lambda: named, now=now)
            list_s = time.perf_counter() - t
            t = time.perf_counter()
            removed = store.collect_garbage(lambda: named, now=now, delete=True)
            delete_s = time.perf_counter() - t
            reuses = min(500, len(named))
            t = time.perf_counter()
            for i in range(0, reuses * 2, 2):
                store.put_bytes(f"object {i}".encode() * 64, guard._grant(store, "bench"))
            reuse_us = (time.perf_counter() - t) / reuses * 1e6
            t = time.perf_counter()
            for sha in shas[:reuses * 2:2]:
                store.stored_size(sha)
            head_us = (time.perf_counter() - t) / reuses * 1e6
        finally:
            store.close()
    finally:
        server.stop()
    return {"objects": objects, "listed": len(listed), "list_s": round(list_s, 3), "removed": len(removed),
            "delete_s": round(delete_s, 3), "reuse_write_us": round(reuse_us), "peer_head_us": round(head_us)}


def bench_ledger(assets: int, folder: Path) -> dict:
    ws = init_workspace(folder / "production", "Bench")
    try:
        with ws.unit_of_work() as s:
            for i in range(assets):
                guard.ingest(s, ws.store, IngestRequest(production_id=ws.production_id, actor="bench", kind="document",
                                                        media_type="text/plain", name=f"{i}.txt",
                                                        data=f"page {i}".encode()))
        t = time.perf_counter()
        names = named_content(ws)
        named_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        gc_content(ws)
        gc_ms = (time.perf_counter() - t) * 1000
    finally:
        ws.close()
    return {"assets": assets, "names": len(names), "named_content_ms": round(named_ms), "gc_list_ms": round(gc_ms)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--assets", type=int, default=5000)
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="soundstage-bench-gc-"))
    try:
        (folder / "store").mkdir()
        (folder / "ledger").mkdir()
        (folder / "bucket").mkdir()
        result = {"store": bench_store(args.files, folder / "store"),
                  "bucket": bench_bucket(args.objects, folder / "bucket"),
                  "ledger": bench_ledger(args.assets, folder / "ledger"),
                  "load": round(os.getloadavg()[0], 1)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(json.dumps(result))
        return
    s, led = result["store"], result["ledger"]
    print(f"load {result['load']}; {s['files']} files, half named: list {s['list_s']} s ({s['listed']}), "
          f"delete {s['delete_s']} s ({s['removed']}); a write of stored content {s['reuse_write_us']} us")
    b = result["bucket"]
    print(f"bucket: {b['objects']} objects, half named: list {b['list_s']} s ({b['listed']}), delete {b['delete_s']} s "
          f"({b['removed']}); a write of stored content {b['reuse_write_us']} us (peer, one HEAD: {b['peer_head_us']} us)")
    print(f"{led['assets']} assets (SQLite): named_content {led['named_content_ms']} ms, gc list {led['gc_list_ms']} ms")


if __name__ == "__main__":
    main()
