"""Run a chunked frame job on a serial loop, a local process pool, or a Dask cluster, then assemble.

Why three executors with one interface: tests want in-process determinism, a workstation wants
its cores busy (process pool, the default), and a facility wants its render nodes (Dask, named by
``--cluster tcp://host:port``; the workers must see the same work directory and import soundstage).
The output is byte-for-byte the same whichever executor ran the chunks: chunk work (operation,
watermark, one-thread encode) is a pure function and assembly only remuxes the segments in order.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import os
import shutil
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

from soundstage.compute.chunks import (
    DEFAULT_CHUNK_FRAMES,
    DEFAULT_FACTORY,
    ChunkResult,
    ChunkTask,
    FrameSource,
    _operation_for,
    chunk_is_done,
    intact_segment,
    job_fingerprint,
    plan_chunks,
    prepare_local_worker,
    prepare_worker,
    run_chunk,
)
from soundstage.errors import BackendError, InputError, SoundstageError
from soundstage.vfx.contract import OpContext, resolve_factory

__all__ = ["JobCancelledError", "FrameJob", "FrameJobResult", "ChunkExecutor", "SerialExecutor",
           "ProcessPoolChunkExecutor", "DaskChunkExecutor", "make_executor", "shared_pool", "shutdown_shared_pools",
           "terminate_shared_pools", "run_frame_job", "CANCEL_FILE"]

CANCEL_FILE = "CANCEL"


class JobCancelledError(SoundstageError):
    """The job was cancelled between chunks; finished chunks stay for a later resume."""


class ChunkExecutor(Protocol):
    name: str

    def run(self, tasks: list[ChunkTask], should_stop: Callable[[], bool]) -> Iterator[ChunkResult]:
        """Yield results as chunks finish; stop submitting (and drop pending work) once ``should_stop``."""
        ...

    def close(self) -> None: ...


class SerialExecutor:
    """In-process, one chunk after another: for tests and debugging."""

    name = "serial"

    def run(self, tasks: list[ChunkTask], should_stop: Callable[[], bool]) -> Iterator[ChunkResult]:
        for task in tasks:
            if should_stop():
                return
            yield run_chunk(task)

    def close(self) -> None:
        pass


class ProcessPoolChunkExecutor:
    """A local pool of worker processes (spawned: no inherited threads, locks or DB handles).

    ``shared`` pools outlive a job (see ``shared_pool``): ``close`` leaves them running."""

    name = "process-pool"

    def __init__(self, workers: int = 2, *, shared: bool = False) -> None:
        self.workers = max(1, workers)
        self.shared = shared
        self.broken = False
        self._pool = cf.ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=prepare_local_worker)

    def run(self, tasks: list[ChunkTask], should_stop: Callable[[], bool]) -> Iterator[ChunkResult]:
        pending: list[cf.Future] = []
        queue = list(tasks)
        try:
            yield from self._run(queue, pending, should_stop)
        finally:  # a failed or abandoned job leaves nothing queued in a pool that outlives it
            for future in pending:
                future.cancel()

    def _run(self, queue: list[ChunkTask], pending: list[cf.Future],
             should_stop: Callable[[], bool]) -> Iterator[ChunkResult]:
        # keep only a couple of chunks queued per worker so a cancel stops quickly
        while queue or pending:
            while queue and len(pending) < self.workers * 2 and not should_stop():
                try:
                    pending.append(self._pool.submit(run_chunk, queue.pop(0)))
                except cf.process.BrokenProcessPool:  # a worker died while the pool sat idle
                    self.broken = True
                    raise BackendError("a worker process died (out of memory or killed); resume the job: "
                                       "soundstage job resume JOB") from None
            if should_stop():
                queue.clear()
                for future in pending:
                    future.cancel()
            if not pending:
                return
            finished, _ = cf.wait(pending, timeout=0.5, return_when=cf.FIRST_COMPLETED)
            for future in finished:
                pending.remove(future)
                if not future.cancelled():
                    try:
                        yield _result_of(future)
                    except BackendError:
                        self.broken = self.broken or isinstance(future.exception(), cf.process.BrokenProcessPool)
                        raise

    def close(self) -> None:
        if self.shared and not self.broken:
            return  # stays warm for the next job; shut down at interpreter exit
        self._pool.shutdown(wait=True, cancel_futures=True)


_SHARED_POOLS: dict[int, ProcessPoolChunkExecutor] = {}


def shared_pool(workers: int = 2) -> ProcessPoolChunkExecutor:
    """The process's warm pool of this size, started on first use and reused by every later job.

    Why: starting a worker (spawn, imports) and loading its detectors and identity network costs
    ~1.6 s per worker per job; a server or a long session runs job after job. A pool that broke
    (a worker was killed) is replaced. Workers keep the last operation and the models, nothing
    else: each chunk still reads its inputs and writes its files."""
    pool = _SHARED_POOLS.get(workers)
    if pool is not None and getattr(pool._pool, "_broken", False):  # CPython marks a pool whose worker died
        pool.broken = True
    if pool is None or pool.broken:
        if pool is not None:
            pool._pool.shutdown(wait=False, cancel_futures=True)
        pool = _SHARED_POOLS[workers] = ProcessPoolChunkExecutor(workers, shared=True)
    return pool


def shutdown_shared_pools() -> None:
    """Stop the warm pools (benchmarks measure cold starts with it; a worker or server shutting
    down reaps its pool processes with it)."""
    while _SHARED_POOLS:
        _, pool = _SHARED_POOLS.popitem()
        pool._pool.shutdown(wait=True, cancel_futures=True)


def terminate_shared_pools() -> None:
    """Stop the warm pools now: their processes are terminated mid-chunk (a worker's hard stop; the
    chunks they were computing are redone by the next run) and reaped. A job using a pool fails
    with BackendError ("a worker process died")."""
    while _SHARED_POOLS:
        _, pool = _SHARED_POOLS.popitem()
        pool.broken = True
        processes = list((getattr(pool._pool, "_processes", None) or {}).values())
        for process in processes:
            if process.is_alive():
                process.terminate()
        pool._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)


class DaskChunkExecutor:
    """Chunks on a Dask distributed cluster; the client connects to ``address`` (tcp://host:port)."""

    name = "dask"

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise InputError("--cluster needs Dask distributed", hint='pip install "dask[distributed]"') from None
        try:
            self._client = Client(address, timeout=10)
        except (OSError, TimeoutError) as exc:
            raise BackendError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        self.address = address
        try:  # one compute thread per worker process, as in the local pool (best effort: workers may come later)
            self._client.run(prepare_worker)
        except Exception:  # noqa: BLE001 - a worker that cannot import soundstage fails clearly at its first chunk
            pass

    def run(self, tasks: list[ChunkTask], should_stop: Callable[[], bool]) -> Iterator[ChunkResult]:
        from distributed import as_completed

        futures = self._client.map(run_chunk, tasks, pure=False, key=[f"chunk-{t.fingerprint[:12]}-{t.chunk.index}"
                                                                     for t in tasks])
        try:
            for future in as_completed(futures):
                if should_stop():
                    self._client.cancel(futures)
                    return
                try:
                    yield future.result()
                except SoundstageError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a worker failure becomes one clear error
                    raise BackendError(f"a Dask worker failed: {type(exc).__name__}: {exc}") from None
        finally:
            self._client.cancel([f for f in futures if not f.done()])

    def close(self) -> None:
        self._client.close()


def _result_of(future: cf.Future) -> ChunkResult:
    try:
        return future.result()
    except SoundstageError:
        raise
    except cf.process.BrokenProcessPool:
        raise BackendError("a worker process died (out of memory or killed); resume the job: "
                           "soundstage job resume JOB") from None
    except Exception as exc:  # noqa: BLE001
        raise BackendError(f"a worker failed: {type(exc).__name__}: {exc}") from None


def make_executor(cluster: str | None = None, *, workers: int = 2) -> ChunkExecutor:
    """``None`` -> the warm local process pool; ``"serial"`` -> in-process; ``"tcp://host:port"`` -> Dask."""
    if cluster in (None, "", "local"):
        return shared_pool(workers)
    if cluster == "serial":
        return SerialExecutor()
    if cluster.startswith(("tcp://", "tls://", "inproc://")):
        return DaskChunkExecutor(cluster)
    raise InputError(f"not a cluster address: {cluster!r}", hint="use tcp://host:port (a Dask scheduler)")


@dataclass
class FrameJob:
    """A whole frame job: source -> operation -> watermark -> output file."""

    job_id: str
    work_root: Path
    source: FrameSource
    source_sha256: str
    context: OpContext
    payload: int
    output: Path
    codec: str = "h264"
    chunk_frames: int = DEFAULT_CHUNK_FRAMES
    factory: str = DEFAULT_FACTORY
    audio_from: Path | None = None
    timecode: str | None = None
    colour: Any = None  # media.ColourInfo
    warmup_frames: int | None = None  # None: ask the operation

    @property
    def work_dir(self) -> Path:
        """``<work_root>/job-<id>``: always a direct child of the work root, whatever the id holds
        (the prefix keeps "." and ".." from naming the root or its parent)."""
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.job_id)[:80]
        return Path(self.work_root) / f"job-{safe}"


@dataclass
class FrameJobResult:
    output: Path
    frames: int
    chunks: int
    computed_chunks: int
    reused_chunks: int
    frame_sha256: list[str] = field(default_factory=list)
    executor: str = ""


def run_frame_job(job: FrameJob, executor: ChunkExecutor | None = None, *,
                  progress: Callable[[int, int], None] | None = None,
                  cancelled: Callable[[], bool] | None = None) -> FrameJobResult:
    """Run every missing chunk, then assemble the output. Resumable: call again after a crash.

    Cancellation (the callable, or a ``CANCEL`` file in the work dir) is checked between chunks and
    raises ``JobCancelledError`` with no output written."""
    work_dir = job.work_dir
    work_dir.mkdir(parents=True, exist_ok=True)
    cancel_file = work_dir / CANCEL_FILE

    def should_stop() -> bool:
        return cancel_file.exists() or bool(cancelled and cancelled())

    warmup = job.warmup_frames
    if warmup is None:
        warmup = _warmup_for(job.factory, job.context)
    chunks = plan_chunks(job.source.frame_count, job.chunk_frames, warmup)
    fingerprint = job_fingerprint(job.source_sha256, job.context, job.payload, job.chunk_frames, job.factory,
                                  job.codec)
    _reset_if_stale(work_dir, fingerprint)
    total = job.source.frame_count
    done_frames = 0
    manifests: dict[int, dict] = {}
    todo = []
    for chunk in chunks:  # chunks finished by an earlier run are checked here, not resubmitted
        manifest = chunk_is_done(work_dir, chunk, fingerprint)
        if manifest is not None:
            manifests[chunk.index] = manifest
            done_frames += chunk.frames
        else:
            todo.append(ChunkTask(str(work_dir), chunk, job.source, job.context, job.payload, fingerprint, job.factory,
                                  job.codec, job.colour))
    reused = len(manifests)
    if progress:
        progress(done_frames, total)
    if should_stop():
        raise JobCancelledError(f"job {job.job_id} was cancelled")
    own_executor = executor is None
    executor = executor or make_executor()
    try:
        for result in executor.run(todo, should_stop):
            done_frames += result.frames
            if progress:
                progress(done_frames, total)
    finally:
        if own_executor:
            executor.close()
    if should_stop():
        raise JobCancelledError(f"job {job.job_id} was cancelled; {done_frames} of {total} frames are kept "
                                "for a resume")
    from soundstage.compute.chunks import load_manifest

    for chunk in chunks:
        manifests.setdefault(chunk.index, load_manifest(work_dir, chunk.index) or {})
    hashes = _assemble(job, chunks, manifests)
    return FrameJobResult(job.output, len(hashes), len(chunks), len(chunks) - reused, reused, hashes, executor.name)


def _warmup_for(factory_spec: str, context: OpContext) -> int:
    """The operation's warm-up, without building it in this (parent) process when the factory can say.

    A factory may carry ``warmup_frames_for(ctx) -> int`` (the ops package's does); otherwise the
    operation is built (and cached, so a serial executor reuses it) to read ``warmup_frames``."""
    factory = resolve_factory(factory_spec)
    cheap = getattr(factory, "warmup_frames_for", None)
    if callable(cheap):
        return int(cheap(context))
    return int(getattr(_operation_for(factory_spec, context, resolve_factory), "warmup_frames", 0))


def _reset_if_stale(work_dir: Path, fingerprint: str) -> None:
    """A work dir left by a different job definition (other params, payload, source) is cleared."""
    marker = work_dir / "job.json"
    try:
        previous = json.loads(marker.read_text()).get("fingerprint")
    except (OSError, ValueError):
        previous = None
    if previous != fingerprint:
        for item in work_dir.glob("chunk_*"):
            item.unlink(missing_ok=True)
        tmp = marker.with_suffix(".tmp")
        tmp.write_text(json.dumps({"fingerprint": fingerprint}))
        os.replace(tmp, marker)


def _assemble(job: FrameJob, chunks, manifests: dict[int, dict]) -> list[str]:
    """Join the chunks' encoded segments (each checked against its manifest) into the delivery
    file, written atomically; returns the hashes of the frames the encoders were fed."""
    from soundstage.errors import IntegrityError
    from soundstage.vfx.media import concat_segments

    hashes: list[str] = []
    segments = []
    for chunk in chunks:
        manifest = manifests.get(chunk.index) or {}
        if not manifest:
            raise BackendError(f"chunk {chunk.index} has no manifest after the run")
        path = intact_segment(job.work_dir, chunk, manifest)
        if path is None:
            raise IntegrityError(f"chunk {chunk.index}'s segment does not match its manifest")
        segments.append((chunk.start, path))
        hashes.extend(manifest["frame_sha256"])
    output = Path(job.output)
    tmp = output.with_name(".partial-" + output.name)
    try:
        frames = concat_segments(tmp, segments, fps=Fraction(job.source.fps), timecode=job.timecode,
                                 audio_from=job.audio_from)
        if frames != job.source.frame_count or len(hashes) != frames:
            raise BackendError(f"assembled {frames} frames; the source has {job.source.frame_count}")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, output)
    return hashes


def clear_work_dir(job: FrameJob) -> None:
    """Drop a finished job's chunks (after its asset is registered); never anything but the job's
    own folder directly under the work root."""
    target = job.work_dir
    if target.parent != Path(job.work_root) or not target.name.startswith("job-") or target.is_symlink():
        raise ValueError(f"refusing to clear {target.name!r}: not a job folder of the work root")
    shutil.rmtree(target, ignore_errors=True)

