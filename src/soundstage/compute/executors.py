"""Run a chunked frame job on a serial loop, a local process pool, or a Dask cluster, then assemble.

Why three executors with one interface: tests want in-process determinism, a workstation wants
its cores busy (process pool, the default), and a facility wants its render nodes (Dask, named by
``--cluster tcp://host:port`` or ``tls://``; the workers import soundstage and share no disk with
the submitting machine: chunk tasks name inputs by hash and carry the store's address, see
``compute.nodes``).
The output is byte-for-byte the same whichever executor ran the chunks: chunk work (operation,
watermark, one-thread encode) is a pure function and assembly only remuxes the segments in order.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing
import os
import pickle
import secrets
import shutil
import tempfile
import time
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
from soundstage.compute.nodes import LocalPathsStore, probe_node
from soundstage.errors import BackendError, InputError, RefusedError, SoundstageError
from soundstage.vfx.contract import OpContext, resolve_factory

__all__ = ["JobCancelledError", "FrameJob", "FrameJobResult", "ChunkExecutor", "SerialExecutor",
           "ProcessPoolChunkExecutor", "DaskChunkExecutor", "ClusterOptions", "parse_cluster_options", "NodeFailure",
           "make_executor", "shared_pool", "shutdown_shared_pools",
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


@dataclass(frozen=True)
class ClusterOptions:
    """``[compute]`` settings for a Dask cluster (``parse_cluster_options``)."""

    worker_timeout: float = 60.0  # seconds to wait for a first worker before the job fails
    chunk_attempts: int = 3  # tries per chunk, each on a worker that has not failed it
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None

    @property
    def tls(self) -> bool:
        return bool(self.tls_ca_file or self.tls_cert_file or self.tls_key_file)

    def security(self) -> Any:
        """A ``distributed.security.Security`` requiring TLS with these files (None without TLS)."""
        if not self.tls:
            return None
        from distributed.security import Security

        return Security(tls_ca_file=self.tls_ca_file, tls_client_cert=self.tls_cert_file,
                        tls_client_key=self.tls_key_file, require_encryption=True)


def parse_cluster_options(table: Any, root: Path, *, source: str = "soundstage.toml") -> ClusterOptions:
    """The Dask settings of ``[compute]`` (other keys of the table are left to their readers);
    file paths relative to ``root`` (the workspace). SpecError names the bad field."""
    from soundstage.errors import SpecError

    table = dict(table or {})
    timeout = table.get("worker_timeout", 60)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 3600:
        raise SpecError("must be a number of seconds from 0 to 3600", field="compute.worker_timeout", source=source)
    attempts = table.get("chunk_attempts", 3)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 10:
        raise SpecError("must be a whole number from 1 to 10", field="compute.chunk_attempts", source=source)
    files: dict[str, str | None] = {}
    for name in ("tls_ca_file", "tls_cert_file", "tls_key_file"):
        value = table.get(name)
        if value is None:
            files[name] = None
            continue
        if not isinstance(value, str) or not value.strip():
            raise SpecError("must be a file path", field=f"compute.{name}", source=source)
        path = Path(value) if Path(value).is_absolute() else Path(root) / value
        if not path.is_file():
            raise SpecError(f"no such file: {path}", field=f"compute.{name}", source=source)
        files[name] = str(path)
    if any(files.values()) and not all(files.values()):
        missing = next(k for k, v in files.items() if not v)
        raise SpecError("TLS needs the CA, this machine's certificate and its key", field=f"compute.{missing}",
                        source=source, hint="set tls_ca_file, tls_cert_file and tls_key_file together")
    return ClusterOptions(float(timeout), attempts, **files)


@dataclass(frozen=True)
class NodeFailure:
    """A chunk that failed on a render node: which node, and the error (re-raised in the
    submitting process when no other node may try it)."""

    worker: str
    error: BaseException
    retryable: bool


def run_chunk_on_node(task: ChunkTask) -> ChunkResult | NodeFailure:
    """``run_chunk`` on a Dask worker; a failure comes back as a value naming the worker, so the
    submitting process can send the chunk to another one. Content errors (bad input, a refusal)
    would fail anywhere and are not retried."""
    try:
        return run_chunk(task)
    except Exception as exc:  # noqa: BLE001 - returned to the submitting process, which decides
        from distributed import get_worker

        try:
            pickle.loads(pickle.dumps(exc))
            error: BaseException = exc
        except Exception:  # noqa: BLE001 - an exception that does not travel becomes a plain one
            error = BackendError(f"{type(exc).__name__}: {exc}")
        return NodeFailure(get_worker().address, error, not isinstance(exc, (InputError, RefusedError)))


class DaskChunkExecutor:
    """Chunks on a Dask distributed cluster; the client connects to ``address`` (tcp:// or tls://).

    Before a job's chunks are scheduled every worker proves it can reach the store (it reads a
    probe object the submitting process put into the job's work area, by hash); no worker within
    ``worker_timeout`` is a clear error, not a hang; a chunk that fails on a worker is sent to a
    worker that has not failed it (``chunk_attempts`` in all)."""

    name = "dask"

    def __init__(self, address: str, options: ClusterOptions | None = None) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise InputError("--cluster needs Dask distributed", hint='pip install "dask[distributed]"') from None
        self.options = options or ClusterOptions()
        if address.startswith("tls://") and not self.options.tls:
            raise InputError(f"{address} is a TLS address but no TLS files are configured",
                             hint="set [compute] tls_ca_file, tls_cert_file and tls_key_file")
        if self.options.tls and not address.startswith("tls://"):
            raise InputError(f"TLS is configured, so the scheduler address must start with tls://, not {address!r}")
        try:
            self._client = Client(address, timeout=10, security=self.options.security())
        except (OSError, TimeoutError) as exc:
            raise BackendError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        self.address = address
        self.probed: dict[str, str] = {}  # worker -> "" (reached the store) or the error, from the last preflight

    def preflight(self, store: Any, job_dir: str) -> list[str]:
        """Wait (``worker_timeout``) for workers, then have each read a probe object from the store by
        hash. Returns the workers; BackendError naming the first worker that cannot reach the store."""
        try:
            self._client.wait_for_workers(1, timeout=self.options.worker_timeout)
        except TimeoutError:
            raise BackendError(f"no Dask worker joined the scheduler at {self.address} within "
                               f"{self.options.worker_timeout:g} s", hint=f"start render nodes: dask worker "
                               f"{self.address} (or raise [compute] worker_timeout)") from None
        body = b"soundstage render-node probe " + secrets.token_bytes(32)
        digest = hashlib.sha256(body).hexdigest()
        name = f"probe-{digest[:16]}"
        with tempfile.TemporaryDirectory() as tmp:
            probe = Path(tmp) / name
            probe.write_bytes(body)
            store.put_work(job_dir, probe)
        answers = self._client.run(probe_node, store, job_dir, name, digest, on_error="return")
        self.probed = {w: (a if isinstance(a, str) else f"{type(a).__name__}: {a}") for w, a in answers.items()}
        for worker, error in sorted(self.probed.items()):
            if error:
                raise BackendError(f"render node {worker} cannot reach the store ({store.label}): {error}",
                                   hint="give every worker the store's credentials in its environment "
                                        "(the variables [store] names) and network access to it")
        try:  # one compute thread per worker process, as in the local pool
            self._client.run(prepare_worker)
        except Exception:  # noqa: BLE001 - best effort: a worker that cannot set it still computes
            pass
        return sorted(self.probed)

    def run(self, tasks: list[ChunkTask], should_stop: Callable[[], bool]) -> Iterator[ChunkResult]:
        from distributed import wait

        if not tasks:
            return
        local = [t.chunk.index for t in tasks if not (t.store.portable and t.source.by_hash)]
        if local:
            raise InputError("this job names local files, so it cannot run on a Dask cluster",
                             hint="run it through the guard (inputs come from the store by hash), or without "
                                  "--cluster")
        self.preflight(tasks[0].store, tasks[0].job_dir)
        failed_on: dict[int, set[str]] = {}
        attempts: dict[int, int] = {}
        owner: dict[Any, ChunkTask] = {}

        def submit(task: ChunkTask, workers: list[str] | None = None) -> Any:
            index = task.chunk.index
            attempts[index] = attempts.get(index, 0) + 1
            future = self._client.submit(run_chunk_on_node, task, pure=False, workers=workers,
                                         allow_other_workers=False if workers else None,
                                         key=f"chunk-{task.fingerprint[:12]}-{index}-{attempts[index]}")
            owner[future] = task
            return future

        for task in tasks:
            submit(task)
        alone_since: float | None = None  # when the scheduler was last seen with no worker at all
        try:
            while owner:
                if should_stop():
                    return
                try:
                    finished = wait(list(owner), timeout=1.0, return_when="FIRST_COMPLETED").done
                except TimeoutError:
                    finished = set()
                if not finished:  # every node gone: fail after worker_timeout, never hang
                    if self._client.scheduler_info().get("workers"):
                        alone_since = None
                    elif alone_since is None:
                        alone_since = time.monotonic()
                    elif time.monotonic() - alone_since > self.options.worker_timeout:
                        raise BackendError(f"every Dask worker left the scheduler at {self.address} for "
                                           f"{self.options.worker_timeout:g} s with {len(owner)} chunk(s) to do",
                                           hint="restart the render nodes, then: soundstage job resume JOB")
                    continue
                for future in finished:
                    task = owner.pop(future)
                    try:
                        outcome = future.result()
                    except SoundstageError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - a worker died with the chunk (KilledWorker, lost)
                        outcome = NodeFailure("", BackendError(f"a Dask worker failed: {type(exc).__name__}: "
                                                               f"{exc}"), True)
                    if isinstance(outcome, ChunkResult):
                        yield outcome
                    else:
                        self._retry(task, outcome, failed_on, attempts, submit)
        finally:
            self._client.cancel([f for f in list(owner) if not f.done()])

    def _retry(self, task: ChunkTask, failure: NodeFailure, failed_on: dict[int, set[str]],
               attempts: dict[int, int], submit: Callable[..., Any]) -> Any:
        """Send a failed chunk to a worker that has not failed it, or raise its error."""
        index = task.chunk.index
        if failure.worker:
            failed_on.setdefault(index, set()).add(failure.worker)
        if not failure.retryable:
            raise failure.error
        workers = [w for w in self._client.scheduler_info()["workers"] if w not in failed_on.get(index, set())]
        if attempts.get(index, 0) >= self.options.chunk_attempts or not workers:
            where = ", ".join(sorted(failed_on.get(index, set()))) or "the cluster"
            raise BackendError(f"chunk {index} failed {attempts.get(index, 0)} time(s) (on {where}): "
                               f"{' '.join(str(failure.error).split())[:300]}",
                               hint="resume the job once the render nodes are fixed: soundstage job resume JOB")
        return submit(task, workers)

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


def make_executor(cluster: str | None = None, *, workers: int = 2,
                  options: ClusterOptions | None = None) -> ChunkExecutor:
    """``None`` -> the warm local process pool; ``"serial"`` -> in-process; ``"tcp://host:port"`` or
    ``"tls://host:port"`` -> Dask (``options``: its timeout, retries and TLS files)."""
    if cluster in (None, "", "local"):
        return shared_pool(workers)
    if cluster == "serial":
        return SerialExecutor()
    if cluster.startswith(("tcp://", "tls://", "inproc://")):
        return DaskChunkExecutor(cluster, options)
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
    #: the production's store as workers reach it (compute.nodes.JobStore). None: the source and
    #: the context name local files, and the job runs on this machine only
    store: Any = None
    #: second inputs made by an earlier job: role -> that job's id (its mark is lifted on the worker)
    input_marks: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # role -> (payload, h, w)

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

    store = job.store if job.store is not None else LocalPathsStore(str(Path(job.work_root)))
    warmup = job.warmup_frames
    if warmup is None:
        warmup = _warmup_for(job.factory, job.context, store, job)
    chunks = plan_chunks(job.source.frame_count, job.chunk_frames, warmup)
    fingerprint = job_fingerprint(job.source_sha256, job.context, job.payload, job.chunk_frames, job.factory,
                                  job.codec)
    _reset_if_stale(work_dir, fingerprint)
    total = job.source.frame_count
    done_frames = 0
    manifests: dict[int, dict] = {}
    todo = []
    task_kwargs = _task_parts(job, store, fingerprint)
    for chunk in chunks:  # chunks finished by an earlier run (on any machine) are checked, not resubmitted
        manifest = _finished(job, store, chunk, fingerprint)
        if manifest is not None:
            manifests[chunk.index] = manifest
            done_frames += chunk.frames
        else:
            todo.append(ChunkTask(chunk=chunk, **task_kwargs))
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
    for chunk in chunks:
        if chunk.index not in manifests:
            manifests[chunk.index] = _finished(job, store, chunk, fingerprint) or {}
    hashes = _assemble(job, chunks, manifests)
    return FrameJobResult(job.output, len(hashes), len(chunks), len(chunks) - reused, reused, hashes, executor.name)


def _task_parts(job: FrameJob, store: Any, fingerprint: str) -> dict[str, Any]:
    """What every chunk task of the job shares: the context without the key, the marking
    capabilities the key yields for this job's ids (DR016), the store's address."""
    from dataclasses import replace

    from soundstage.compute.marking import marker_for

    key = bytes.fromhex(job.context.watermark_key) or None
    height, width = job.source.height, job.source.width
    lift_id = job.context.params.get("source_watermark")
    return {
        "job_dir": job.work_dir.name, "source": job.source, "context": replace(job.context, watermark_key=""),
        "fingerprint": fingerprint, "store": store, "marker": marker_for(key, job.payload, height, width),
        "factory": job.factory, "codec": job.codec, "colour": job.colour,
        "lift": marker_for(key, int(lift_id), height, width) if lift_id else None,
        "input_lifts": {role: marker_for(key, payload, h, w) for role, (payload, h, w) in job.input_marks.items()},
    }


def _finished(job: FrameJob, store: Any, chunk, fingerprint: str) -> dict | None:
    """The chunk's manifest when it is done: in the local work folder, or published to the job's
    work area by a render node (pulled here, segment first, then checked against the manifest)."""
    work_dir = job.work_dir
    manifest = chunk_is_done(work_dir, chunk, fingerprint)
    if manifest is not None or store.shares_work_dir():
        return manifest
    name = f"chunk_{chunk.index:05d}.json"
    pulled = work_dir / f".pulled-{name}"
    try:
        if not store.get_work(work_dir.name, name, pulled):
            return None
        try:
            remote = json.loads(pulled.read_text())
        except (OSError, ValueError):
            return None
        segment = Path(str(remote.get("file") or "")).name
        if not segment.startswith(f"chunk_{chunk.index:05d}") or not store.get_work(work_dir.name, segment,
                                                                                    work_dir / segment):
            return None
        os.replace(pulled, work_dir / name)
    finally:
        pulled.unlink(missing_ok=True)
    return chunk_is_done(work_dir, chunk, fingerprint)


def _warmup_for(factory_spec: str, context: OpContext, store: Any, job: FrameJob) -> int:
    """The operation's warm-up, without building it in this (parent) process when the factory can say.

    A factory may carry ``warmup_frames_for(ctx) -> int`` (the ops package's does); otherwise the
    operation is built here (inputs fetched from the store like a worker does; cached, so a serial
    executor reuses it) to read ``warmup_frames``."""
    factory = resolve_factory(factory_spec)
    cheap = getattr(factory, "warmup_frames_for", None)
    if callable(cheap):
        return int(cheap(context))
    from soundstage.compute.chunks import resolved_context
    from soundstage.compute.marking import marker_for

    key = bytes.fromhex(context.watermark_key) or None
    lifts = {role: marker_for(key, p, h, w) for role, (p, h, w) in job.input_marks.items()}
    local = resolved_context(context, store, lifts, store.node_work_dir(job.work_dir.name))
    return int(getattr(_operation_for(factory_spec, local, resolve_factory), "warmup_frames", 0))


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
    if job.store is not None:
        job.store.clear_work(target.name)
    shutil.rmtree(target, ignore_errors=True)

