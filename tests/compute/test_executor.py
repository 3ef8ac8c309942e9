"""Chunked executor: chunked == single-chunk, resume after kill -9, cancel, pool and Dask."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from soundstage.compute import FrameJob, FrameSource, JobCancelledError, SerialExecutor, make_executor, run_frame_job
from soundstage.compute.chunks import plan_chunks
from soundstage.errors import InputError, SpecError
from soundstage.safeguards.watermark import default_engine
from soundstage.vfx import media
from soundstage.vfx.contract import OpContext

HELPERS = Path(__file__).resolve().parents[1] / "vfx" / "vfx_helpers.py"
sys.path.insert(0, str(HELPERS.parent))
import vfx_helpers as h  # noqa: E402

PAYLOAD = 0x1234_5678_9ABC


@pytest.fixture(scope="module")
def plate(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("plate") / "plate.mp4"
    return h.make_clip(path, h.astronaut_frames(30, 512, 288))


def make_job(plate: Path, work: Path, out: Path, *, chunk: int = 8, params: dict | None = None,
             job_id: str = "j-test") -> FrameJob:
    info = media.probe(plate)
    source = FrameSource("video", path=str(plate), frame_count=info.frame_count, fps=info.fps, width=info.width,
                         height=info.height, video_info=info)
    ctx = OpContext("grade", params or {"window": 3}, fps=float(info.fps), width=info.width, height=info.height)
    return FrameJob(job_id, work, source, "sha-of-plate", ctx, PAYLOAD, out, codec="h264", chunk_frames=chunk,
                    factory=h.FACTORY, audio_from=plate, timecode=info.timecode, colour=info.colour)


def test_plan_chunks_covers_every_frame_once():
    chunks = plan_chunks(100, 48, 5)
    assert [(c.start, c.stop, c.warmup_start) for c in chunks] == [(0, 48, 0), (48, 96, 43), (96, 100, 91)]
    with pytest.raises(SpecError):
        plan_chunks(0, 48)


def test_chunked_run_equals_single_chunk_run_and_is_marked(plate, tmp_path):
    single = run_frame_job(make_job(plate, tmp_path / "w", tmp_path / "one.mp4", chunk=1000, job_id="a"),
                           SerialExecutor())
    seen = []
    chunked = run_frame_job(make_job(plate, tmp_path / "w", tmp_path / "many.mp4", chunk=7, job_id="b"),
                            SerialExecutor(), progress=lambda d, t: seen.append((d, t)))
    assert chunked.chunks == 5 and single.chunks == 1
    assert chunked.frame_sha256 == single.frame_sha256  # warm-up frames make chunking invisible
    assert seen[-1] == (30, 30)
    # each chunk is its own encoded segment (a keyframe at every chunk start): the joined clip decodes
    # to the same pictures as the single encode, to within the codec's loss
    one, many = h.decode_all(tmp_path / "one.mp4"), h.decode_all(tmp_path / "many.mp4")
    assert len(one) == len(many) == 30
    def diff(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a.astype(np.int16) - b).mean())

    same = [diff(a, b) for a, b in zip(one, many)]
    shifted = [diff(a, b) for a, b in zip(one[1:], many)]
    print(f"mean abs difference, same frame: max {max(same):.2f}; next frame: min {min(shifted):.2f}")
    assert max(same) < 3.0 and max(same) < min(shifted)  # in order, none lost or repeated
    out_info = media.probe(tmp_path / "many.mp4")
    assert out_info.frame_count == 30 and out_info.fps == media.probe(plate).fps
    assert out_info.timecode == "01:00:10:00"
    frames = h.decode_all(tmp_path / "many.mp4")
    assert default_engine().detect_frames(frames[::6]).payload == PAYLOAD
    # the operation really ran: output differs from the plate
    assert np.abs(frames[10].astype(int) - h.decode_all(plate)[10]).mean() > 2


def test_rerun_reuses_chunks_and_stale_work_is_redone(plate, tmp_path):
    job = make_job(plate, tmp_path / "w", tmp_path / "out.mp4")
    first = run_frame_job(job, SerialExecutor())
    again = run_frame_job(job, SerialExecutor())
    assert first.computed_chunks == 4 and again.reused_chunks == 4 and again.computed_chunks == 0
    # a damaged chunk file is detected by its hash and recomputed
    chunk_file = job.work_dir / "chunk_00001.mp4"
    chunk_file.write_bytes(chunk_file.read_bytes()[:-100])
    repaired = run_frame_job(job, SerialExecutor())
    assert repaired.computed_chunks == 1 and repaired.frame_sha256 == first.frame_sha256
    changed = make_job(plate, tmp_path / "w", tmp_path / "out2.mp4", params={"window": 5})
    assert run_frame_job(changed, SerialExecutor()).computed_chunks == 4  # other params: nothing reused


def test_cancel_between_chunks_leaves_no_output(plate, tmp_path):
    job = make_job(plate, tmp_path / "w", tmp_path / "out.mp4")
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(JobCancelledError):
        run_frame_job(job, SerialExecutor(), cancelled=cancelled)
    assert not (tmp_path / "out.mp4").exists()
    (job.work_dir / "CANCEL").write_text("")
    with pytest.raises(JobCancelledError):
        run_frame_job(job, SerialExecutor())


KILL_SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
sys.path.insert(0, {here!r})
import test_executor as t
from soundstage.compute import run_frame_job, make_executor
if __name__ == "__main__":
    job = t.make_job(Path({plate!r}), Path({work!r}), Path({out!r}), chunk=4, params={{"window": 3, "delay": 0.4}})
    run_frame_job(job, make_executor(workers=2))
"""


@pytest.mark.slow
def test_resume_after_kill_9_equals_uninterrupted_run(plate, tmp_path):
    reference = run_frame_job(make_job(plate, tmp_path / "ref", tmp_path / "ref.mp4", chunk=4,
                                       params={"window": 3, "delay": 0.4}), SerialExecutor())
    work = tmp_path / "w"
    script = tmp_path / "run_job.py"
    script.write_text(KILL_SCRIPT.format(tests=str(HELPERS.parent), here=str(Path(__file__).parent), plate=str(plate),
                                         work=str(work), out=str(tmp_path / "out.mp4")))
    proc = subprocess.Popen([sys.executable, str(script)], start_new_session=True)
    job_dir = work / "job-j-test"  # FrameJob.work_dir: always job-<id> under the work root
    deadline = time.time() + 60
    while time.time() < deadline and len(list(job_dir.glob("chunk_*.json"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the job's own process group: the parent and its pool workers
    proc.wait()
    finished = sorted(job_dir.glob("chunk_*.json"))
    assert 2 <= len(finished) < 8, "the kill must land mid-job"
    stamps = {p.name: p.stat().st_mtime_ns for p in finished}
    resumed = run_frame_job(make_job(plate, work, tmp_path / "out.mp4", chunk=4,
                                     params={"window": 3, "delay": 0.4}), SerialExecutor())
    assert resumed.reused_chunks == len(finished) and resumed.computed_chunks == 8 - len(finished)
    assert all(job_dir.joinpath(n).stat().st_mtime_ns == s for n, s in stamps.items())  # not redone
    assert resumed.frame_sha256 == reference.frame_sha256
    assert hashlib.sha256((tmp_path / "out.mp4").read_bytes()).digest() == \
        hashlib.sha256((tmp_path / "ref.mp4").read_bytes()).digest()


@pytest.mark.slow
def test_process_pool_matches_serial(plate, tmp_path):
    serial = run_frame_job(make_job(plate, tmp_path / "s", tmp_path / "s.mp4"), SerialExecutor())
    pooled = run_frame_job(make_job(plate, tmp_path / "p", tmp_path / "p.mp4"), make_executor(workers=2))
    assert pooled.executor == "process-pool" and pooled.frame_sha256 == serial.frame_sha256


def by_hash(job: FrameJob, store_root: Path) -> FrameJob:
    """The job as the guard hands it to render nodes: the plate by its hash in a content folder."""
    from dataclasses import replace

    from soundstage.store.assets import AssetStore
    from soundstage.store.remote import LocalFolderStore

    store = AssetStore(store_root)
    blob = store.put_file(Path(job.source.path), store.hand_over_write_capability().grant("t"))
    source = replace(job.source, path="", sha256=blob.sha256, video_info=replace(job.source.video_info, path=""))
    return replace(job, source=source, source_sha256=blob.sha256,
                   store=LocalFolderStore(str(store_root), str(job.work_root)))


@pytest.mark.slow
def test_dask_local_cluster_matches_serial(plate, tmp_path):
    distributed = pytest.importorskip("distributed")
    serial = run_frame_job(make_job(plate, tmp_path / "s", tmp_path / "s.mp4"), SerialExecutor())
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        executor = make_executor(cluster.scheduler_address)
        try:
            with pytest.raises(InputError, match="names local files"):  # a path never reaches a render node
                run_frame_job(make_job(plate, tmp_path / "x", tmp_path / "x.mp4"), executor)
            result = run_frame_job(by_hash(make_job(plate, tmp_path / "d", tmp_path / "d.mp4"), tmp_path / "store"),
                                   executor)
            assert sorted(executor.probed) == sorted(cluster.scheduler_info["workers"])  # every node probed
        finally:
            executor.close()
    assert result.executor == "dask" and result.frame_sha256 == serial.frame_sha256


@pytest.mark.slow
def test_the_local_pool_stays_warm_between_jobs_and_is_replaced_when_a_worker_dies(plate, tmp_path):
    serial = run_frame_job(make_job(plate, tmp_path / "s", tmp_path / "s.mp4"), SerialExecutor())
    first = make_executor(workers=2)
    one = run_frame_job(make_job(plate, tmp_path / "a", tmp_path / "a.mp4", job_id="a"), first)
    first.close()  # a shared pool stays up
    pids = {p.pid for p in first._pool._processes.values()}
    second = make_executor(workers=2)
    assert second is first and len(pids) == 2
    two = run_frame_job(make_job(plate, tmp_path / "b", tmp_path / "b.mp4", job_id="b"), second)
    assert {p.pid for p in second._pool._processes.values()} == pids  # the same warm workers
    assert one.frame_sha256 == two.frame_sha256 == serial.frame_sha256
    for pid in pids:  # workers killed between jobs (the OOM killer, an operator)
        os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 10
    while time.time() < deadline and not getattr(second._pool, "_broken", False):
        time.sleep(0.05)
    third = make_executor(workers=2)
    assert third is not second  # the broken pool was replaced, the job runs
    assert run_frame_job(make_job(plate, tmp_path / "c", tmp_path / "c.mp4", job_id="c"), third).frame_sha256 == \
        serial.frame_sha256
