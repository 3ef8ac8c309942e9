"""Test material for the durable job queue: a production with a chunked VFX model whose chunks can
be slowed down (so a test can act while a job runs), and helpers to watch real processes.

``make_slow_grade_op`` is the VFX tests' ``TemporalGrade`` (a real temporal operation) sleeping
``SOUNDSTAGE_TEST_CHUNK_DELAY`` seconds per chunk - read in whichever process computes the chunk,
so a worker started with the variable is slow and the fingerprint of its chunks (which names the
factory and the operation's parameters, not the delay) is the same as a fast run's. Loaded by path
(tests are not a package): ``load()``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

HELPERS_PATH = Path(__file__).resolve()
VFX_HELPERS = HELPERS_PATH.parents[1] / "vfx" / "vfx_helpers.py"
FACTORY = f"{HELPERS_PATH}:make_slow_grade_op"
MODEL = "soundstage.vfx-test-queue"
DELAY_ENV = "SOUNDSTAGE_TEST_CHUNK_DELAY"


def load():
    name = "soundstage_test_queue_helpers"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HELPERS_PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def vfx_helpers():
    name = "soundstage_test_vfx_helpers"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, VFX_HELPERS)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


FAIL_ENV = "SOUNDSTAGE_TEST_FAIL_FROM_FRAME"


class SlowGrade:
    """The temporal grade, sleeping ``SOUNDSTAGE_TEST_CHUNK_DELAY`` s per chunk and failing on any
    chunk at or after frame ``SOUNDSTAGE_TEST_FAIL_FROM_FRAME`` (both read when the chunk runs)."""

    def __init__(self, ctx) -> None:
        self._grade = vfx_helpers().make_grade_op(ctx)
        self.name = "slow-temporal-grade"
        self.warmup_frames = self._grade.warmup_frames

    def process_chunk(self, frames, first_index, warmup):
        fail_from = os.environ.get(FAIL_ENV)
        if fail_from and first_index + len(frames) - warmup > int(fail_from):
            raise RuntimeError(f"test failure at frame {fail_from}")
        out = self._grade.process_chunk(frames, first_index, warmup)
        time.sleep(float(os.environ.get(DELAY_ENV, "0") or 0))
        return out


#: a file each building of the operation appends a line to (the process's id): proof that a backend
#: ran, in whichever process computed its chunks
RAN_ENV = "SOUNDSTAGE_TEST_OP_RAN_FILE"


def make_slow_grade_op(ctx):
    marker = os.environ.get(RAN_ENV)
    if marker:
        with open(marker, "a", encoding="utf-8") as out:
            out.write(f"{os.getpid()}\n")
    return SlowGrade(ctx)


def set_config(ws, **sections) -> None:
    """Merge ``sections`` ({"queue": {...}, "compute": {...}}) into the workspace's soundstage.toml."""
    import tomllib

    import tomli_w

    path = Path(ws.settings.root) / "soundstage.toml"
    config = tomllib.loads(path.read_text())
    for name, values in sections.items():
        config[name] = {**config.get(name, {}), **values}
    path.write_text(tomli_w.dumps(config))


def build(ws, tmp_path: Path, *, frames: int = 48, chunk_frames: int = 8, width: int = 512, height: int = 288):
    """Crew, a plate (a pan over a real photograph), an empty mask, and the queue test model.

    512x288, as the VFX backend's tests: at 320x240 the guard's check of the clip's watermark
    refused 2 of 10 sixteen-frame H.264 outputs (measured), a limit of the mark at that size."""
    import numpy as np
    from PIL import Image

    from soundstage.domain.safeguards import ModelCard
    from soundstage.services import models, people_service
    from soundstage.services.ledger import ingest_media

    h = vfx_helpers()
    for name, roles in [("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor"]),
                        ("Tom Reed", ["rights_clearance", "legal"])]:
        people_service.add_crew(ws, name, roles, actor="setup")
    plate = ingest_media(ws, h.make_clip(tmp_path / "A001_C007.mp4", h.astronaut_frames(frames, width, height)),
                         kind="plate", actor="setup", scene="5", shot="5A")
    mask_path = tmp_path / "mask.png"
    Image.fromarray(np.zeros((height, width, 3), np.uint8)).save(mask_path)
    mask = ingest_media(ws, mask_path, kind="plate", actor="setup")
    card = ModelCard(id=MODEL, name="temporal grade, slowed (queue test op)", version="1", licence="Apache-2.0",
                     weights_sha256="", training_data="owned", evidence="classical", trained_model=False,
                     runs_in_production_env=True, stores_inputs=False, trains_on_inputs=False)
    models.register_model(ws, card, actor="setup", backend="vfx",
                      config={"factory": FACTORY, "chunk_frames": chunk_frames})
    return {"ws": ws, "plate": plate, "mask": mask, "frames": frames, "chunk_frames": chunk_frames}


def spec(prod: dict, **over):
    from soundstage.services import vfx_service

    return vfx_service.build_vfx_job(prod["ws"], "cleanup", prod["plate"]["id"], requested_by="Ken Ito",
                                     extra_inputs=[prod["mask"]["id"]], model_id=MODEL, scene="5", shot="5A", **over)


def queue_job(prod: dict, **over) -> str:
    """Submit (queue only, as the API does) the cleanup job; returns its id, queued."""
    from soundstage.services import jobs_service

    result = jobs_service.submit_job(prod["ws"], spec(prod, **over), actor="Ken Ito", wait=False)
    assert result["status"] == "queued", result
    return result["job"]


def job_row(ws, job_id: str) -> dict:
    from soundstage.services.jobs_service import show_job

    return show_job(ws, job_id)


def wait_until(condition, timeout: float = 60.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def finished_chunks(ws, job_id: str) -> list[Path]:
    from soundstage.services.queue_service import work_dir_of

    folder = work_dir_of(ws, job_id)
    return sorted(folder.glob("chunk_*.json")) if folder.is_dir() else []


def actions(ws, job_id: str) -> list[str]:
    from soundstage.services.ledger import audit_log

    return [e["action"] for e in audit_log(ws, limit=10000) if e["subject"] == job_id]


# ---------------------------------------------------------------- processes

def children(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - out
        out |= frontier
    return out


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent's wait() is not running)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def soundstage(ws_root: Path, *args: str, env: dict | None = None, **popen) -> subprocess.Popen:
    """``python -m soundstage -w WS ARGS`` as its own process (PYTHONPATH inherited: the worktree's
    sources, as the tests' own)."""
    return subprocess.Popen([sys.executable, "-m", "soundstage", "-w", str(ws_root), *args],
                            env={**os.environ, **(env or {})}, **popen)


# ---------------------------------------------------------------- what an uninterrupted run makes

def uninterrupted_clip(ws, job_id: str, work_root: Path) -> Path:
    """The clip the same job makes in one uninterrupted run: its spec, inputs, parameters, reserved
    asset id and watermark key, through the same backend, on a local process pool as a worker runs
    it, in a fresh work area. (Not signed: compare what the encoders produced, the video packets.)
    Not the serial executor: x264's output was measured to change with OpenCV's thread count in the
    encoding process, and pool workers run OpenCV on one thread (``compute.chunks.prepare_worker``)."""
    from soundstage.domain.safeguards import JobSpec
    from soundstage.generate.protocol import GenerationRequest
    from soundstage.safeguards import guard
    from soundstage.store.models import Job

    with ws.unit_of_work() as s:
        job_spec = JobSpec.from_dict(s.get(Job, job_id).spec)
        inputs = [i for _, i in guard.resolve_inputs(s, ws, job_spec)]
        _model, generator, params = guard.registered_backend(s, job_spec)
    work_root.mkdir(parents=True, exist_ok=True)
    outputs = generator.generate(GenerationRequest(
        job=job_spec, inputs=tuple(inputs), params=params, seed=int(params.get("seed", 0)), scratch_dir=work_root,
        reserved_asset_ids=guard.reserved_ids(ws.production_id, job_id), watermark_key=ws.watermark_key,
        work_root=work_root, cluster=None, workers=2))
    return outputs[0].path


def video_packets(path: Path) -> list[tuple[int, bytes]]:
    import av

    with av.open(str(path)) as container:
        return [(packet.pts, bytes(packet)) for packet in container.demux(video=0) if packet.size]
