"""Storage benchmark: ingest and export of a 1 GB plate through the S3 backend vs the local folder.

    .venv/bin/python bench/storage.py [--size-mb 1024] [--repeat 3] [--part-mib 64] [--threads 2] [--json]

Same run, same plate, same machine. The S3 server is a real SeaweedFS on loopback
(``soundstage.testing.s3server``), so "S3" here is the store's whole path plus a real server on the
same two cores - not a network. For each repeat, with fresh content so nothing is deduplicated:

- ingest: ``put_file`` with the guard's grant (local: hash + copy + fsync + link; S3: one reading pass
  hashing the whole and each part, then the parts sent with their SHA-256, checked by the server);
- export, cold: ``export_to`` with an empty cache (S3: download + hash into the cache, then the
  hash-checked copy to the target; local: the hash-checked copy);
- S3 fetch: ``path_for`` with an empty cache (download + hash into the read-through cache: what a
  render node pays before OpenCV/PyAV can open the plate);
- export, warm: ``export_to`` again (S3: from the verified cache; local: the same as cold).

Peers in the same run: a plain ``shutil.copyfile`` of the plate (the disk), and botocore's own
upload (same parts, same number in flight) and download of the same bytes with no checksum and no
hashing of ours (what the S3 server and client cost without our checks). Ratios are S3 / local for each step; the best of the repeats is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from soundstage.safeguards import guard
from soundstage.store.assets import AssetStore
from soundstage.store.s3 import S3Config, S3Store
from soundstage.testing.s3server import start_seaweedfs

MIB = 1024 * 1024


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _write_plate(path: Path, size: int, seed: int) -> None:
    rng = random.Random(seed)
    with open(path, "wb") as out:
        left = size
        while left:
            chunk = rng.randbytes(min(left, 8 * MIB))
            out.write(chunk)
            left -= len(chunk)


def _drop(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _delete_prefix(client, bucket: str, prefix: str) -> None:
    for item in client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        client.delete_object(Bucket=bucket, Key=item["Key"])


def run(size: int, repeat: int, part_mib: int, threads: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-storage-"))
    rows: dict[str, list[float]] = {k: [] for k in (
        "local_ingest", "local_export", "s3_ingest", "s3_export_cold", "s3_fetch", "s3_export_warm",
        "peer_copyfile", "peer_boto_upload", "peer_boto_download")}
    try:
        server = start_seaweedfs(work / "seaweedfs")
        bucket = server.create_bucket("bench")
        raw = server.client()
        try:
            for round_ in range(repeat):
                plate = work / f"plate-{round_}.mov"
                _write_plate(plate, size, seed=round_)
                out = work / f"out-{round_}"
                out.mkdir()

                rows["peer_copyfile"].append(_timed(lambda: shutil.copyfile(plate, out / "copy.mov")))
                (out / "copy.mov").unlink()

                local = guard.adopt_store(AssetStore(work / f"assets-{round_}"))
                (work / f"assets-{round_}").mkdir()
                blob = None

                def local_ingest():
                    nonlocal blob
                    blob = local.put_file(plate, guard._grant(local, "bench"))

                rows["local_ingest"].append(_timed(local_ingest))
                rows["local_export"].append(_timed(lambda: local.export_to(blob.sha256, out / "local.mov")))
                (out / "local.mov").unlink()
                _drop(work / f"assets-{round_}")

                s3 = guard.adopt_store(S3Store(S3Config(
                    bucket=bucket, cache_dir=work / f"cache-{round_}", access_key=server.access_key,
                    secret_key=server.secret_key, endpoint=server.endpoint, region=server.region,
                    prefix=f"r{round_}-{uuid.uuid4().hex[:8]}/", part_size=part_mib * MIB, upload_threads=threads)))
                s3_blob = None

                def s3_ingest():
                    nonlocal s3_blob
                    s3_blob = s3.put_file(plate, guard._grant(s3, "bench"))

                rows["s3_ingest"].append(_timed(s3_ingest))
                assert s3_blob.sha256 == blob.sha256 and s3_blob.created
                rows["s3_export_cold"].append(_timed(lambda: s3.export_to(s3_blob.sha256, out / "cold.mov")))
                assert not s3._cache_path(s3_blob.sha256).exists()
                rows["s3_fetch"].append(_timed(lambda: s3.path_for(s3_blob.sha256)))
                rows["s3_export_warm"].append(_timed(lambda: s3.export_to(s3_blob.sha256, out / "warm.mov")))
                s3.close()
                _drop(out)
                _drop(work / f"cache-{round_}")
                _delete_prefix(raw, bucket, s3.prefix)

                key = f"peer-{round_}"
                rows["peer_boto_upload"].append(_timed(lambda: _boto_upload(raw, bucket, key, plate, part_mib * MIB,
                                                                            threads)))
                rows["peer_boto_download"].append(_timed(lambda: _boto_download(raw, bucket, key)))
                raw.delete_object(Bucket=bucket, Key=key)
                plate.unlink()
        finally:
            raw.close()
            server.stop()
    finally:
        _drop(work)
    best = {k: min(v) for k, v in rows.items()}
    mb = size / 1e6
    return {
        "size_mb": round(mb), "repeat": repeat, "part_mib": part_mib, "upload_threads": threads,
        "seconds_best": {k: round(v, 2) for k, v in best.items()},
        "seconds_all": {k: [round(x, 2) for x in v] for k, v in rows.items()},
        "mb_per_s": {k: round(mb / v) for k, v in best.items()},
        "ratio_ingest_s3_vs_local": round(best["s3_ingest"] / best["local_ingest"], 2),
        "ratio_export_cold_s3_vs_local": round(best["s3_export_cold"] / best["local_export"], 2),
        "ratio_export_warm_s3_vs_local": round(best["s3_export_warm"] / best["local_export"], 2),
        "ratio_ingest_vs_botocore_upload": round(best["s3_ingest"] / best["peer_boto_upload"], 2),
        "ratio_export_cold_vs_botocore_download": round(best["s3_export_cold"] / best["peer_boto_download"], 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _boto_upload(client, bucket: str, key: str, path: Path, part: int, threads: int) -> None:
    """botocore alone: a multipart upload of the same parts, as many in flight, no checksum, no
    hashing of ours."""
    upload = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    size = path.stat().st_size
    with open(path, "rb") as fh:
        def send(number: int) -> dict:
            offset = (number - 1) * part
            data = os.pread(fh.fileno(), min(part, size - offset), offset)
            answer = client.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=data)
            return {"PartNumber": number, "ETag": answer["ETag"]}

        with ThreadPoolExecutor(max_workers=threads) as pool:
            parts = list(pool.map(send, range(1, -(-size // part) + 1)))
    client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})


def _boto_download(client, bucket: str, key: str) -> None:
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    while body.read(8 * MIB):
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="plate size in MiB (default 1024)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--part-mib", type=int, default=64)
    parser.add_argument("--threads", type=int, default=S3Config.upload_threads, help="parts in flight")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.size_mb * MIB, args.repeat, args.part_mib, args.threads)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    s, r = result["seconds_best"], result["mb_per_s"]
    print(f"plate {result['size_mb']} MB, best of {result['repeat']}, parts {result['part_mib']} MiB x "
          f"{result['upload_threads']} in flight; load average {os.getloadavg()[0]:.1f}")
    print(f"{'step':<28}{'local s':>9}{'S3 s':>9}{'S3/local':>10}")
    print(f"{'ingest (put_file)':<28}{s['local_ingest']:>9.2f}{s['s3_ingest']:>9.2f}"
          f"{result['ratio_ingest_s3_vs_local']:>10.2f}")
    print(f"{'export, empty cache':<28}{s['local_export']:>9.2f}{s['s3_export_cold']:>9.2f}"
          f"{result['ratio_export_cold_s3_vs_local']:>10.2f}")
    print(f"{'fetch into cache (path_for)':<28}{'-':>9}{s['s3_fetch']:>9.2f}{'':>10}")
    print(f"{'export, cached':<28}{s['local_export']:>9.2f}{s['s3_export_warm']:>9.2f}"
          f"{result['ratio_export_warm_s3_vs_local']:>10.2f}")
    print(f"peers: copyfile {s['peer_copyfile']:.2f} s ({r['peer_copyfile']} MB/s); botocore upload "
          f"{s['peer_boto_upload']:.2f} s, download {s['peer_boto_download']:.2f} s; ours / botocore: ingest "
          f"{result['ratio_ingest_vs_botocore_upload']}, cold export {result['ratio_export_cold_vs_botocore_download']}")
    print(f"all runs (s): {json.dumps(result['seconds_all'])}; peak RSS {result['peak_rss_mb']} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
