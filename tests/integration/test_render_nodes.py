"""Render nodes that share no disk (issue 14's "Show"): the ledger on PostgreSQL (SQLite when no
server is configured), the content on a real S3 server (SeaweedFS), a Dask scheduler and two
``dask worker`` processes, each in its own mount namespace with a tmpfs over the test's folder, so
neither can see the workspace. A guarded VFX job runs end to end on them; its decoded frames are
identical to a local run of the same job; a node that fails its chunks has them retried on the
other, and so does a node killed (-9) while it holds a chunk; a node without the store's credentials is named by the preflight before anything runs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vfx"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import render_node_ops  # noqa: E402
import vfx_helpers as h  # noqa: E402

pytestmark = pytest.mark.slow

BUCKET = "render-nodes"
MODEL = "soundstage.vfx-test-masked-grade"
DASK = Path(sys.executable).parent / "dask"


def _can_unshare() -> str | None:
    if shutil.which("unshare") is None or not DASK.is_file():
        return "needs unshare(1) and the dask command"
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True)
    return None if done.returncode == 0 else "cannot create a mount namespace here (needs root)"


@pytest.fixture(scope="module")
def s3(request):
    """The session's SeaweedFS server (tests/conftest.py) with this test's bucket; asked for only where
    the render nodes can run."""
    reason = _can_unshare()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the render-node test: {reason}")
        pytest.skip(reason)
    server = request.getfixturevalue("seaweedfs")
    server.create_bucket(BUCKET)
    return server


class Cluster:
    """A scheduler (plain process) and workers started in private mount namespaces."""

    def __init__(self, hide: Path, log_dir: Path) -> None:
        self.hide, self.log_dir = hide, log_dir
        self.procs: list[subprocess.Popen] = []
        scheduler_file = log_dir / "scheduler.json"
        self.procs.append(subprocess.Popen(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(scheduler_file)], stdout=open(log_dir / "scheduler.log", "wb"),
            stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.time() + 30
        while not scheduler_file.exists() and time.time() < deadline:
            time.sleep(0.1)
        import json

        self.address = json.loads(scheduler_file.read_text())["address"]

    def add_worker(self, name: str, env: dict[str, str]) -> None:
        """``dask worker`` in its own mount namespace: a tmpfs over ``hide`` (the test's folder, which
        holds the workspace); its node folder lives inside that tmpfs, invisible to everyone else."""
        script = ('mount -t tmpfs -o size=256m,mode=700 tmpfs "$HIDE" && mkdir -p "$SOUNDSTAGE_NODE_DIR" && '
                  'exec "$DASK" worker "$ADDR" --name "$NODE" --nthreads 1 --no-nanny --host 127.0.0.1 '
                  '--no-dashboard --death-timeout 60')
        full = {k: v for k, v in os.environ.items() if not k.startswith(("SOUNDSTAGE_", "AWS_", "STUDIO_"))}
        full.update(env, HIDE=str(self.hide), DASK=str(DASK), ADDR=self.address, NODE=name,
                    SOUNDSTAGE_NODE_DIR=str(self.hide / "node"))
        self.procs.append(subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                                           env=full, stdout=open(self.log_dir / f"{name}.log", "wb"),
                                           stderr=subprocess.STDOUT, start_new_session=True))

    def wait_for(self, n: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            client.wait_for_workers(n, timeout=60)

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@pytest.fixture
def studio(s3, tmp_path, database_url):
    """A production on S3 (+ PostgreSQL when configured), with a plate, a mask and the test model."""
    from soundstage.domain.safeguards import ModelCard
    from soundstage.services import models, people_service
    from soundstage.services.ledger import ingest_media
    from soundstage.services.workspace import init_workspace, open_workspace

    env = {"STUDIO_S3_KEY": s3.access_key, "STUDIO_S3_SECRET": s3.secret_key}
    os.environ.update(env)
    root = tmp_path / "production"
    init_workspace(root, "Render Nodes", database_url=database_url).close()
    prefix = f"rn-{tmp_path.name}/"
    with open(root / "soundstage.toml", "a", encoding="utf-8") as cfg:
        cfg.write(f'\n[store]\nbackend = "s3"\nendpoint = "{s3.endpoint}"\nbucket = "{BUCKET}"\n'
                  f'region = "{s3.region}"\nprefix = "{prefix}"\naccess_key_env = "STUDIO_S3_KEY"\n'
                  'secret_key_env = "STUDIO_S3_SECRET"\n')
    ws = open_workspace(root)
    for name, roles in [("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor"]),
                        ("Tom Reed", ["rights_clearance", "legal"])]:
        people_service.add_crew(ws, name, roles, actor="setup")
    plate = ingest_media(ws, h.make_clip(tmp_path / "A001_C003.mp4", h.astronaut_frames(20, 512, 288)),
                         kind="plate", actor="setup", scene="5", shot="5A")
    mask = np.zeros((288, 512, 3), np.uint8)
    mask[100:200, 150:350] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    mask_asset = ingest_media(ws, tmp_path / "mask.png", kind="plate", actor="setup")
    card = ModelCard(id=MODEL, name="masked grade (test op)", version="1", licence="Apache-2.0",
                     weights_sha256="", training_data="owned", evidence="classical", trained_model=False,
                     runs_in_production_env=True, stores_inputs=False, trains_on_inputs=False)
    models.register_model(ws, card, actor="setup", backend="vfx",
                      config={"factory": render_node_ops.FACTORY, "chunk_frames": 8})
    ws.close()
    try:
        yield root, env, prefix, plate, mask_asset
    finally:
        for name in env:
            os.environ.pop(name, None)


def _use_cluster(root: Path, address: str, timeout: float = 30) -> None:
    with open(root / "soundstage.toml", "a", encoding="utf-8") as cfg:
        cfg.write(f'\n[compute]\ncluster = "{address}"\nworker_timeout = {timeout}\n')


def _submit(root: Path, plate: dict, mask: dict) -> tuple[dict, object]:
    from soundstage.services import vfx_service
    from soundstage.services.workspace import open_workspace

    ws = open_workspace(root)
    spec = vfx_service.build_vfx_job(ws, "cleanup", plate["id"], requested_by="Ken Ito",
                                     extra_inputs=[mask["id"]], model_id=MODEL, scene="5", shot="5A")
    return h.submit_approved(ws, spec), ws


def _frame_hashes(path: Path) -> list[str]:
    return [hashlib.sha256(np.ascontiguousarray(f).tobytes()).hexdigest() for f in h.decode_all(path)]


def _local_run(ws, job_id: str, tmp: Path) -> list[str]:
    """The same job (same reserved id, key, inputs, parameters) through the same backend on this
    machine's files with the serial executor: the reference the render nodes must match."""
    from soundstage.generate.protocol import GenerationRequest
    from soundstage.safeguards import guard
    from soundstage.vfx.backend import VfxOperationBackend

    from soundstage.domain.safeguards import JobSpec
    from soundstage.store.models import Job

    with ws.unit_of_work() as s:
        spec = JobSpec.from_dict(s.get(Job, job_id).spec)
        inputs = [gi for _, gi in guard.resolve_inputs(s, ws, spec)]
        params = guard.validated_params(s, spec)
        _, config = guard.backend_of(s, MODEL)
    (tmp / "scratch").mkdir(parents=True)
    clip = VfxOperationBackend(MODEL, config).generate(GenerationRequest(
        job=replace(spec, id=job_id), inputs=tuple(inputs), params=params, seed=int(params.get("seed", 0)),
        scratch_dir=tmp / "scratch", reserved_asset_ids=guard.reserved_ids(ws.production_id, job_id),
        watermark_key=ws.watermark_key, work_root=tmp / "work", cluster="serial"))[0]
    return _frame_hashes(clip.path)


def _work_objects(s3, prefix: str) -> list[str]:
    client = s3.client()
    try:
        return [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}work/").get("Contents", [])]
    finally:
        client.close()


def test_two_render_nodes_without_the_workspace_match_a_local_run(s3, studio, tmp_path):
    root, env, prefix, plate, mask = studio
    shared = tmp_path.parent / f"{tmp_path.name}-logs"  # outside the hidden folder: the nodes see it
    shared.mkdir()
    cluster = Cluster(tmp_path, shared)
    try:
        cluster.add_worker("node-a", env)
        cluster.add_worker("node-b", {**env, "SOUNDSTAGE_TEST_BROKEN_NODE": str(shared / "node-b-tried")})
        cluster.wait_for(2)
        from distributed import Client

        with Client(cluster.address, timeout=30) as client:  # the nodes really cannot see the workspace
            seen = client.run(lambda: os.path.exists(str(root / "soundstage.toml")))
        assert sorted(seen.values()) == [False, False], seen
        _use_cluster(root, cluster.address)

        result, ws = _submit(root, plate, mask)
        try:
            assert result["status"] == "done", result
            asset = result["assets"][0]
            assert asset["details"]["executor"] == "dask" and asset["details"]["chunks"] == 3
            # node-b failed what it was given; every such chunk was retried on node-a
            assert (shared / "node-b-tried").exists()
            remote = _frame_hashes(ws.store.path_for(asset["sha256"]))
            assert len(remote) == 20
            assert remote == _local_run(ws, result["job"], tmp_path / "local")
            from soundstage.safeguards.guard import parse_asset_id

            out = h.decode_all(ws.store.path_for(asset["sha256"]))
            assert ws.watermark_engine().detect_frames(out[::5]).payload == parse_asset_id(asset["id"])
            assert _work_objects(s3, prefix) == []  # the job's work area was cleared after registration
            local_assets = [p for p in (root / "assets").rglob("*") if p.is_file()]
            assert local_assets == []
        finally:
            ws.close()
    finally:
        cluster.close()


@pytest.mark.parametrize("database_url", [None])  # the ledger plays no part: SQLite only
def test_a_node_without_the_store_credentials_is_named_before_anything_runs(s3, studio, tmp_path):
    from soundstage.errors import BackendError

    root, env, prefix, plate, mask = studio
    logs = tmp_path.parent / f"{tmp_path.name}-logs"
    logs.mkdir()
    cluster = Cluster(tmp_path, logs)
    try:
        cluster.add_worker("node-good", env)
        cluster.add_worker("node-nocreds", {"STUDIO_S3_KEY": s3.access_key, "STUDIO_S3_SECRET": "wrong"})
        cluster.wait_for(2)
        _use_cluster(root, cluster.address)
        with pytest.raises(BackendError, match=r"render node tcp://\S+ cannot reach the store .*refused the credentials"):
            _submit(root, plate, mask)
    finally:
        cluster.close()


@pytest.mark.parametrize("database_url", [None])
def test_no_worker_is_a_clear_timeout_not_a_hang(s3, studio, tmp_path):
    from soundstage.errors import BackendError

    root, env, prefix, plate, mask = studio
    logs = tmp_path.parent / f"{tmp_path.name}-logs"
    logs.mkdir()
    cluster = Cluster(tmp_path, logs)
    try:
        _use_cluster(root, cluster.address, timeout=2)
        began = time.monotonic()
        with pytest.raises(BackendError, match="no Dask worker joined the scheduler .* within 2 s"):
            _submit(root, plate, mask)
        assert time.monotonic() - began < 30
    finally:
        cluster.close()


@pytest.mark.parametrize("database_url", [None])  # the ledger plays no part: SQLite only
def test_a_render_node_killed_mid_chunk_leaves_the_job_to_the_other(s3, studio, tmp_path):
    """kill -9 of a ``dask worker`` while it holds a chunk (it sleeps in it): the scheduler sees the
    node go, the chunk runs again on the other node, and the clip's frames are a local run's."""
    import signal

    root, env, prefix, plate, mask = studio
    shared = tmp_path.parent / f"{tmp_path.name}-logs"
    shared.mkdir()
    holding = shared / "node-b-holds-a-chunk"
    cluster = Cluster(tmp_path, shared)
    try:
        cluster.add_worker("node-a", env)
        cluster.add_worker("node-b", {**env, "SOUNDSTAGE_TEST_HANG_NODE": str(holding)})
        cluster.wait_for(2)
        _use_cluster(root, cluster.address)
        node_b = cluster.procs[-1]

        def kill_when_it_holds_a_chunk() -> None:
            deadline = time.monotonic() + 120
            while not holding.exists() and time.monotonic() < deadline and node_b.poll() is None:
                time.sleep(0.05)
            pid = int(holding.read_text() or 0) if holding.exists() else 0
            if pid == node_b.pid:  # the worker this test started (unshare and sh exec into it)
                os.kill(pid, signal.SIGKILL)

        import threading

        killer = threading.Thread(target=kill_when_it_holds_a_chunk, daemon=True)
        killer.start()
        result, ws = _submit(root, plate, mask)
        killer.join(5)
        try:
            assert holding.exists(), "node-b was never given a chunk"
            assert int(holding.read_text()) == node_b.pid
            assert node_b.wait(10) == -signal.SIGKILL, "node-b should have been killed mid-chunk"
            assert result["status"] == "done", result
            asset = result["assets"][0]
            assert asset["details"]["executor"] == "dask" and asset["details"]["chunks"] == 3
            remote = _frame_hashes(ws.store.path_for(asset["sha256"]))
            assert len(remote) == 20 and remote == _local_run(ws, result["job"], tmp_path / "local")
            assert _work_objects(s3, prefix) == []
        finally:
            ws.close()
    finally:
        cluster.close()
