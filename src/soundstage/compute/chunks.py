"""Chunked frame jobs: plan, run one chunk (in any worker), verify, assemble.

A chunk task is a pure function of picklable data, so the same code runs in-process, in a local
process pool or on a Dask worker. Each worker encodes its chunk's marked frames itself, with the
job's delivery codec on one encoder thread, into a segment file, then writes a manifest (last,
atomically) holding the hash of the file and of every frame it fed the encoder. A chunk with a
valid manifest whose file still hashes the same is never redone: that is what makes a job
resumable after a crash or ``kill -9``, and a retried job cheap. Assembly only remuxes the
segments (``media.concat_segments``): the codec's work is spread over the workers, and a
one-thread encoder is deterministic, so a resumed job's file is byte-identical to an
uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from soundstage.errors import BackendError, SpecError
from soundstage.files import sha256_file
from soundstage.vfx.contract import OpContext

__all__ = ["Chunk", "FrameSource", "ChunkTask", "ChunkResult", "plan_chunks", "run_chunk", "load_manifest",
           "chunk_is_done", "intact_segment", "segment_suffix", "job_fingerprint", "DEFAULT_CHUNK_FRAMES",
           "DEFAULT_FACTORY"]

DEFAULT_CHUNK_FRAMES = 48
DEFAULT_FACTORY = "soundstage.vfx.ops:make_operation"
MANIFEST_VERSION = 2


@dataclass(frozen=True)
class Chunk:
    index: int
    start: int  # first output frame
    stop: int  # one past the last output frame
    warmup_start: int  # first decoded frame (context only up to ``start``)

    @property
    def warmup(self) -> int:
        return self.start - self.warmup_start

    @property
    def frames(self) -> int:
        return self.stop - self.start


def plan_chunks(frame_count: int, chunk_frames: int = DEFAULT_CHUNK_FRAMES, warmup_frames: int = 0) -> list[Chunk]:
    """Split [0, N) into consecutive chunks; each decodes up to ``warmup_frames`` before its start."""
    if frame_count <= 0:
        raise SpecError("nothing to process: the source has no frames", field="frames")
    if chunk_frames <= 0:
        raise SpecError("must be a positive number of frames", field="chunk_frames")
    return [Chunk(i, start, min(start + chunk_frames, frame_count), max(0, start - max(0, warmup_frames)))
            for i, start in enumerate(range(0, frame_count, chunk_frames))]


@dataclass(frozen=True)
class FrameSource:
    """Where frames come from: a video file, or an ordered list of image files (sequence/still)."""

    kind: str  # "video" | "images"
    path: str = ""
    frame_paths: tuple[str, ...] = ()
    frame_count: int = 0
    fps: Fraction = Fraction(24)
    width: int = 0
    height: int = 0
    video_info: Any = None  # a media.VideoInfo, so workers need not probe again

    def read(self, start: int, stop: int) -> Iterator[np.ndarray]:
        if self.kind == "video":
            from soundstage.vfx.media import decode_range

            yield from decode_range(self.path, start, stop, info=self.video_info)
        else:
            from soundstage.vfx.sequences import read_frame_rgb8

            for frame_path in self.frame_paths[start:stop]:
                yield read_frame_rgb8(Path(frame_path))


@dataclass(frozen=True)
class ChunkTask:
    """One unit of work, picklable: everything a worker needs and nothing else."""

    work_dir: str
    chunk: Chunk
    source: FrameSource
    context: OpContext
    payload: int  # watermark payload (the reserved asset id)
    fingerprint: str
    factory: str = DEFAULT_FACTORY
    codec: str = "h264"  # the delivery codec: each chunk is encoded as a segment of the final clip
    colour: Any = None  # media.ColourInfo tags for the segment


@dataclass(frozen=True)
class ChunkResult:
    index: int
    frames: int
    reused: bool
    seconds: float
    frame_sha256: tuple[str, ...] = field(default=())


def job_fingerprint(source_sha256: str, context: OpContext, payload: int, chunk_frames: int, factory: str,
                    codec: str = "h264") -> str:
    """What makes chunk files reusable: same source, operation, parameters, payload, chunking, codec."""
    body = json.dumps({"v": MANIFEST_VERSION, "source": source_sha256, "op": asdict(context), "payload": payload,
                       "chunk_frames": chunk_frames, "factory": factory, "codec": codec}, sort_keys=True,
                      default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def segment_suffix(codec: str) -> str:
    """A segment is written in the delivery container of its codec (so its stream can be remuxed)."""
    from soundstage.vfx.media import CODECS

    preset = CODECS.get(codec)
    if preset is None:
        raise SpecError(f"unknown codec {codec!r}", field="codec")
    return preset.containers[0]


def _chunk_paths(work_dir: Path, index: int, suffix: str = ".mp4") -> tuple[Path, Path]:
    return work_dir / f"chunk_{index:05d}{suffix}", work_dir / f"chunk_{index:05d}.json"


def intact_segment(work_dir: Path, chunk: Chunk, manifest: dict[str, Any]) -> Path | None:
    """The segment file a manifest describes, if it is there and still hashes as the manifest says.

    The manifest names a bare file of this chunk inside the work dir, never a path elsewhere."""
    name = Path(str(manifest.get("file") or "")).name
    if not name.startswith(f"chunk_{chunk.index:05d}"):
        return None
    path = work_dir / name
    if not path.exists() or sha256_file(path) != manifest.get("file_sha256"):
        return None
    return path


def load_manifest(work_dir: Path, index: int) -> dict[str, Any] | None:
    _, manifest_path = _chunk_paths(work_dir, index)
    try:
        return json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return None


def chunk_is_done(work_dir: Path, chunk: Chunk, fingerprint: str) -> dict[str, Any] | None:
    """The manifest of a finished, intact chunk of this very job - or None (then it is redone)."""
    manifest = load_manifest(work_dir, chunk.index)
    if not manifest or manifest.get("fingerprint") != fingerprint or manifest.get("start") != chunk.start \
            or manifest.get("stop") != chunk.stop or len(manifest.get("frame_sha256", [])) != chunk.frames:
        return None
    return manifest if intact_segment(work_dir, chunk, manifest) is not None else None


def _atomic_write_text(path: Path, text: str) -> None:
    from soundstage.files import atomic_write_text

    atomic_write_text(path, text, make_parents=False)


def run_chunk(task: ChunkTask) -> ChunkResult:
    """Decode (with warm-up) -> operate -> watermark every frame -> encoded segment -> manifest.

    Runs in a worker. Idempotent: a chunk already done (and intact) is returned as reused."""
    from soundstage.safeguards.watermark import default_engine
    from soundstage.vfx.contract import resolve_factory
    from soundstage.vfx.media import VideoWriter, frame_sha256

    began = time.perf_counter()
    work_dir = Path(task.work_dir)
    chunk = task.chunk
    done = chunk_is_done(work_dir, chunk, task.fingerprint)
    if done is not None:
        return ChunkResult(chunk.index, chunk.frames, True, 0.0, tuple(done["frame_sha256"]))
    operation = _operation_for(task.factory, task.context, resolve_factory)
    frames = list(task.source.read(chunk.warmup_start, chunk.stop))
    if len(frames) != chunk.stop - chunk.warmup_start:
        raise BackendError(f"chunk {chunk.index}: decoded {len(frames)} frames, expected "
                           f"{chunk.stop - chunk.warmup_start}")
    engine = default_engine(bytes.fromhex(task.context.watermark_key) or None)
    lift = task.context.params.get("source_watermark")
    if lift:
        frames = [engine.remove(f, int(lift)) for f in frames]
    # an operation that can yield its frames one by one lets each be marked, encoded and freed at
    # once: a chunk's outputs are never all in memory, and fresh pages for each are not paid for
    produce = getattr(operation, "iter_chunk", None) or operation.process_chunk
    data_path, manifest_path = _chunk_paths(work_dir, chunk.index, segment_suffix(task.codec))
    tmp_path = data_path.with_name(f"tmp{os.getpid()}_" + data_path.name)
    hashes: list[str] = []
    height, width = frames[0].shape[:2]
    # one encoder thread: a worker per core already, and the bytes are then the same on every run
    with VideoWriter(tmp_path, codec=task.codec, fps=task.source.fps, width=width, height=height,
                     colour=task.colour, threads=1) as writer:
        for frame in produce(frames, chunk.start, chunk.warmup):
            if len(hashes) >= chunk.frames:
                raise BackendError(f"operation {operation.name} returned more than {chunk.frames} frames for "
                                   f"chunk {chunk.index}")
            if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[:2] != (height, width):
                raise BackendError(f"operation {operation.name} returned frame {chunk.start + len(hashes)} as "
                                   f"{frame.shape} {frame.dtype}; expected {height}x{width}x3 uint8")
            marked = engine.embed(frame, task.payload)
            hashes.append(frame_sha256(marked))
            writer.write(marked)
            del frame, marked
        if len(hashes) != chunk.frames:
            raise BackendError(f"operation {operation.name} returned {len(hashes)} frames for chunk {chunk.index}, "
                               f"expected {chunk.frames}")
    os.replace(tmp_path, data_path)
    manifest = {"version": MANIFEST_VERSION, "fingerprint": task.fingerprint, "chunk": chunk.index,
                "start": chunk.start, "stop": chunk.stop, "file": data_path.name,
                "file_sha256": sha256_file(data_path), "frame_sha256": hashes, "width": width, "height": height}
    _atomic_write_text(manifest_path, json.dumps(manifest))
    return ChunkResult(chunk.index, chunk.frames, False, time.perf_counter() - began, tuple(hashes))


def prepare_worker() -> None:
    """Initializer of a chunk worker process: one OpenCV thread per process.

    Why: a pool runs one worker per core, and OpenCV's own thread pool would start one thread per
    core in every worker (2 workers x 2 threads on 2 cores), so blurs and resizes fight over the
    cores. Results are unchanged: OpenCV's filters give the same pixels for any thread count."""
    import cv2

    cv2.setNumThreads(1)


def prepare_local_worker() -> None:
    """Initializer of a local pool's worker: ``prepare_worker``, and the worker exits when the
    process that started it is gone. Why: a pool worker whose parent was killed (kill -9, an OOM
    kill) is re-parented to PID 1 and would otherwise live on, holding its models in memory."""
    prepare_worker()
    exit_with_parent()


def exit_with_parent(interval: float = 1.0, on_exit: Callable[[], None] | None = None) -> None:
    """Watch this process's parent from a daemon thread; when it is gone (this process was
    re-parented), call ``on_exit`` - by default end this process at once (``os._exit``)."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        if on_exit is not None:
            on_exit()
        else:
            os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


# one operation per worker process per job: building it (models, reference descriptors) is the slow part
_OPERATION_CACHE: dict[tuple[str, str], Any] = {}


def _operation_for(factory: str, context: OpContext, resolve: Callable[[str], Any]):
    key = (factory, json.dumps(asdict(context), sort_keys=True, default=str))
    op = _OPERATION_CACHE.get(key)
    if op is None:
        _OPERATION_CACHE.clear()
        op = resolve(factory)(context)
        _OPERATION_CACHE[key] = op
    return op
