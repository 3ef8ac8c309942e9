"""[compute] Dask settings: parsed strictly, TLS for real (certificates made here), no worker is a
clear timeout, and a worker that cannot reach the store is named before anything is scheduled."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

from soundstage.compute.executors import ClusterOptions, DaskChunkExecutor, parse_cluster_options
from soundstage.errors import BackendError, InputError, SpecError

sys.path.insert(0, str(Path(__file__).parent))


def _tls_files(folder: Path) -> dict[str, str]:
    """A throw-away CA and one certificate for 127.0.0.1 (client and server auth), PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    import ipaddress

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "render-node test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "node")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    files = {"tls_ca_file": folder / "ca.pem", "tls_cert_file": folder / "node.pem", "tls_key_file": folder / "node.key"}
    files["tls_ca_file"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["tls_cert_file"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files["tls_key_file"].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
    return {k: str(v) for k, v in files.items()}


def test_parse_cluster_options_is_strict(tmp_path):
    assert parse_cluster_options(None, tmp_path) == ClusterOptions()
    assert parse_cluster_options({"worker_timeout": 5, "chunk_attempts": 2, "workers": 4}, tmp_path) == \
        ClusterOptions(5.0, 2)
    for table, field in [({"worker_timeout": 0}, "compute.worker_timeout"),
                         ({"worker_timeout": "60"}, "compute.worker_timeout"),
                         ({"chunk_attempts": 11}, "compute.chunk_attempts"),
                         ({"tls_ca_file": "missing.pem"}, "compute.tls_ca_file")]:
        with pytest.raises(SpecError) as err:
            parse_cluster_options(table, tmp_path)
        assert err.value.field == field
    (tmp_path / "ca.pem").write_text("x")
    with pytest.raises(SpecError, match="TLS needs the CA"):  # one of three files is not TLS
        parse_cluster_options({"tls_ca_file": "ca.pem"}, tmp_path)


def test_tls_cluster_runs_chunks_and_refuses_plain_tcp(tmp_path):
    distributed = pytest.importorskip("distributed")
    from test_executor import by_hash, make_job, plate as _plate  # noqa: F401

    from soundstage.compute import SerialExecutor, run_frame_job
    import vfx_helpers as h

    files = _tls_files(tmp_path)
    options = parse_cluster_options({"tls_ca_file": "ca.pem", "tls_cert_file": "node.pem",
                                     "tls_key_file": "node.key", "worker_timeout": 20}, tmp_path)
    assert options.security().require_encryption and files
    clip = h.make_clip(tmp_path / "plate.mp4", h.astronaut_frames(10, 256, 144))
    serial = run_frame_job(make_job(clip, tmp_path / "s", tmp_path / "s.mp4", chunk=4), SerialExecutor())
    from distributed.security import Security

    ca, cert, key = files["tls_ca_file"], files["tls_cert_file"], files["tls_key_file"]
    cluster_side = Security(tls_ca_file=ca, tls_scheduler_cert=cert, tls_scheduler_key=key, tls_worker_cert=cert,
                            tls_worker_key=key, tls_client_cert=cert, tls_client_key=key, require_encryption=True)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tls://",
                                  host="127.0.0.1", security=cluster_side, dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tls://")
        with pytest.raises(InputError, match="must start with tls://"):
            DaskChunkExecutor(cluster.scheduler_address.replace("tls://", "tcp://"), options)
        with pytest.raises(InputError, match="no TLS files are configured"):
            DaskChunkExecutor(cluster.scheduler_address, ClusterOptions())
        executor = DaskChunkExecutor(cluster.scheduler_address, options)
        try:
            job = by_hash(make_job(clip, tmp_path / "d", tmp_path / "d.mp4", chunk=4), tmp_path / "store")
            result = run_frame_job(job, executor)
        finally:
            executor.close()
    assert result.executor == "dask" and result.frame_sha256 == serial.frame_sha256


def test_no_worker_is_a_timeout_and_an_unreachable_store_names_the_worker(tmp_path):
    distributed = pytest.importorskip("distributed")
    from test_executor import by_hash, make_job

    from soundstage.compute import run_frame_job
    import vfx_helpers as h

    clip = h.make_clip(tmp_path / "plate.mp4", h.astronaut_frames(6, 256, 144))
    with distributed.LocalCluster(n_workers=0, processes=False, protocol="tcp://", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        executor = DaskChunkExecutor(cluster.scheduler_address, ClusterOptions(worker_timeout=1))
        try:
            job = by_hash(make_job(clip, tmp_path / "w", tmp_path / "o.mp4", chunk=4), tmp_path / "store")
            with pytest.raises(BackendError, match="no Dask worker joined the scheduler .* within 1 s"):
                run_frame_job(job, executor)
            cluster.scale(1)
            # the store folder is not where the worker looks: as on a node that does not mount it
            from dataclasses import replace

            moved = replace(job, store=replace(job.store, root=str(tmp_path / "elsewhere")))
            with pytest.raises(BackendError, match=r"render node \S+ cannot reach the store .*not on this machine"):
                run_frame_job(moved, executor)
        finally:
            executor.close()


def test_every_node_leaving_mid_job_is_an_error_after_the_timeout_not_a_hang(tmp_path):
    distributed = pytest.importorskip("distributed")
    import time

    from test_executor import by_hash, make_job

    from soundstage.compute import run_frame_job
    import vfx_helpers as h

    clip = h.make_clip(tmp_path / "plate.mp4", h.astronaut_frames(12, 256, 144))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        executor = DaskChunkExecutor(cluster.scheduler_address, ClusterOptions(worker_timeout=2))
        job = by_hash(make_job(clip, tmp_path / "w", tmp_path / "o.mp4", chunk=4,
                               params={"window": 3, "delay": 0.5}), tmp_path / "store")
        seen = []

        def progress(done, total):
            seen.append(done)
            if done and len(seen) == 2:  # the first chunk is in: the only node goes away
                cluster.scale(0)

        began = time.monotonic()
        try:
            with pytest.raises(BackendError, match="every Dask worker left the scheduler .* for 2 s"):
                run_frame_job(job, executor, progress=progress)
        finally:
            executor.close()
        assert time.monotonic() - began < 60 and seen[-1] < 12
