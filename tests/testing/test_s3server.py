"""The local SeaweedFS server used by the S3 tests, the demo and the bench: loopback only, signed
requests only, and nothing left behind when it stops."""

from __future__ import annotations

import os
import socket
import urllib.error
import urllib.request

import pytest

from soundstage.testing import s3server


def _listeners(ports) -> dict[int, set[str]]:
    """port -> the addresses listening on it, from the kernel's socket tables (IPv4 and IPv6)."""
    found: dict[int, set[str]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as fh:
            next(fh)
            for line in fh:
                fields = line.split()
                address, port_hex = fields[1].rsplit(":", 1)
                port = int(port_hex, 16)
                if fields[3] == "0A" and port in ports:  # LISTEN
                    found.setdefault(port, set()).add(address)
    return found


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.slow
def test_the_server_listens_on_loopback_only_and_leaves_nothing_behind(tmp_path):
    reason = s3server.unavailable_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    server = s3server.start_seaweedfs(tmp_path / "s3")
    try:
        assert all(_answers("127.0.0.1", port) for port in server.ports.values())
        listening = _listeners(set(server.ports.values()))
        assert set(listening) == set(server.ports.values())
        assert all(addresses == {"0100007F"} for addresses in listening.values()), listening  # 127.0.0.1 only
        with pytest.raises(urllib.error.HTTPError) as refused:  # an unsigned request
            urllib.request.urlopen(server.endpoint + "/soundstage-ready/probe", timeout=5)
        assert refused.value.code == 403
        assert oct((tmp_path / "s3" / "s3-identities.json").stat().st_mode & 0o777) == oct(0o600)
    finally:
        server.stop()
    assert server.process.poll() is not None
    assert not any(_answers("127.0.0.1", port) for port in server.ports.values())
    assert not [name for name in os.listdir("/tmp") if name.startswith("seaweedfs-")
                and any(str(port) in name for port in server.ports.values())]
    server.stop()  # twice is harmless


@pytest.mark.slow
def test_many_buckets_take_writes_however_full_the_disk_is(seaweedfs):
    """Each new bucket is a SeaweedFS collection that grows 7 volumes; with the volume count left
    to SeaweedFS (free disk / volume size limit) a CI machine with 11 GB free refused every write
    after the 10th bucket with InternalError. The count is fixed, so this holds on any disk."""
    client = seaweedfs.client()
    try:
        for i in range(40):
            bucket = seaweedfs.create_bucket(f"many-buckets-{i:02d}")
            client.put_object(Bucket=bucket, Key="k", Body=b"x" * 100)
            assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x" * 100
    finally:
        client.close()
