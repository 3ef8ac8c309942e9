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
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from soundstage.errors import BackendError, SpecError
from soundstage.files import atomic_write_text, sha256_file
from soundstage.media.images import read_image
from soundstage.media.video import iter_frames
from soundstage.vfx.contract import OpContext, resolve_factory
from soundstage.vfx.media import CODECS, VideoWriter, decode_range, frame_sha256, probe
from soundstage.vfx.sequences import read_frame_rgb8

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
    """Where frames come from: a video, or an ordered list of image files (sequence/still).

    Named by content (``sha256`` / ``frame_sha256``: a worker fetches them from the store) or, for a
    job that runs on this machine only, by local path (``path`` / ``frame_paths``)."""

    kind: str  # "video" | "images"
    path: str = ""
    frame_paths: tuple[str, ...] = ()
    frame_count: int = 0
    fps: Fraction = Fraction(24)
    width: int = 0
    height: int = 0
    video_info: Any = None  # a media.VideoInfo, so workers need not probe again
    sha256: str = ""  # the video's content hash
    frame_sha256: tuple[str, ...] = ()  # the image files' content hashes, in order

    @property
    def by_hash(self) -> bool:
        """True when no local path is named (the source can be read on any render node)."""
        info_path = getattr(self.video_info, "path", "") if self.video_info is not None else ""
        return not self.path and not self.frame_paths and not info_path

    def read(self, start: int, stop: int, fetch: Callable[[str], Path] | None = None) -> Iterator[np.ndarray]:
        """Frames ``[start, stop)``; inputs named by hash are fetched with ``fetch`` (verified copies)."""
        if self.kind == "video":
            path, info = self.path, self.video_info
            if not path:
                if fetch is None or not self.sha256:
                    raise BackendError("the video source names neither a file nor a content hash")
                path = str(fetch(self.sha256))
                info = replace(info, path=path) if info is not None else None
            yield from decode_range(path, start, stop, info=info)
        else:
            if self.frame_paths:
                paths: list[Path | str] = list(self.frame_paths[start:stop])
            elif fetch is not None:
                paths = [fetch(sha) for sha in self.frame_sha256[start:stop]]
            else:
                raise BackendError("the image source names neither files nor content hashes")
            for frame_path in paths:
                yield read_frame_rgb8(Path(frame_path))


@dataclass(frozen=True)
class ChunkTask:
    """One unit of work, picklable: everything a worker needs and nothing else.

    No path of the submitting machine and no key: inputs are content hashes the worker fetches
    through ``store`` (``context.performers`` / ``context.extra_inputs`` map to hashes too), its
    work folder is the store's ``node_work_dir(job_dir)``, and it marks frames with ``marker``
    (this job's id only; DR016). ``lift`` removes the plate's own mark (the id of the job that
    made it) and ``input_lifts`` the mark of a second input (a background made by a job)."""

    job_dir: str  # the job's work area name ("job-<id>"): never a path
    chunk: Chunk
    source: FrameSource
    context: OpContext
    fingerprint: str
    store: Any  # a compute.nodes.JobStore
    marker: Any  # a compute.marking.PayloadMarker for the reserved asset id
    factory: str = DEFAULT_FACTORY
    codec: str = "h264"  # the delivery codec: each chunk is encoded as a segment of the final clip
    colour: Any = None  # media.ColourInfo tags for the segment
    lift: Any = None  # PayloadMarker of the plate's own mark, or None
    input_lifts: dict[str, Any] = field(default_factory=dict)  # role -> PayloadMarker

    @property
    def payload(self) -> int:
        return int(self.marker.payload)


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
    atomic_write_text(path, text, make_parents=False)


def run_chunk(task: ChunkTask) -> ChunkResult:
    """Fetch inputs -> decode (with warm-up) -> operate -> mark every frame -> encoded segment ->
    manifest -> publish both to the job's work area.

    Runs in a worker (this process, a local pool, a render node). Idempotent: a chunk already
    done (and intact) in the worker's folder is published again and returned as reused."""
    began = time.perf_counter()
    store = task.store
    work_dir = store.node_work_dir(task.job_dir)
    chunk = task.chunk
    done = chunk_is_done(work_dir, chunk, task.fingerprint)
    if done is not None:
        _publish(task, work_dir, intact_segment(work_dir, chunk, done))
        return ChunkResult(chunk.index, chunk.frames, True, 0.0, tuple(done["frame_sha256"]))
    context = resolved_context(task.context, task.store, task.input_lifts, work_dir)
    operation = _operation_for(task.factory, context, resolve_factory)
    frames = list(task.source.read(chunk.warmup_start, chunk.stop, store.fetch))
    if len(frames) != chunk.stop - chunk.warmup_start:
        raise BackendError(f"chunk {chunk.index}: decoded {len(frames)} frames, expected "
                           f"{chunk.stop - chunk.warmup_start}")
    if task.lift is not None:
        frames = [task.lift.remove(f) for f in frames]
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
            marked = task.marker.embed(frame)
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
    _publish(task, work_dir, data_path)
    return ChunkResult(chunk.index, chunk.frames, False, time.perf_counter() - began, tuple(hashes))


def _publish(task: ChunkTask, work_dir: Path, segment: Path | None) -> None:
    """The segment, then its manifest (last: a manifest in the work area means a whole segment),
    into the job's work area; a render node then drops its own copies."""
    store = task.store
    if store.shares_work_dir() or segment is None:
        return
    _, manifest_path = _chunk_paths(work_dir, task.chunk.index)
    store.put_work(task.job_dir, segment)
    store.put_work(task.job_dir, manifest_path)
    segment.unlink(missing_ok=True)
    manifest_path.unlink(missing_ok=True)


def resolved_context(context: OpContext, store: Any, input_lifts: dict[str, Any], work_dir: Path) -> OpContext:
    """The operation's context with local files for the inputs a task names by hash: reference
    faces and second inputs fetched (verified) from the store, a second input's mark lifted."""
    fetch = store.fetch
    extra: dict[str, str] = {}
    for role, ref in context.extra_inputs.items():
        path = fetch(ref)
        lift = input_lifts.get(role)
        if lift is not None:
            path = _unmarked(path, lift, work_dir / f"unmarked_{role}_{lift.payload:016x}.png")
        extra[role] = str(path)
    return replace(context, performers={p: str(fetch(ref)) for p, ref in context.performers.items()},
                   extra_inputs=extra, watermark_key="")


def _unmarked(path: Path, lift: Any, target: Path) -> Path:
    """A still made by an earlier job carries that job's mark; composite it without it, or the new
    output would carry two ids whose bits cancel (the guard then refuses it as unmarked)."""
    if target.is_file():
        return target
    from PIL import Image

    with open(path, "rb") as fh:
        head = fh.read(12)
    if head[4:8] == b"ftyp" or head.startswith(b"\x1a\x45\xdf\xa3"):
        return _unmarked_clip(Path(path), lift, target.with_suffix(".mp4"))
    clean = lift.remove(read_image(Path(path)))
    tmp = target.with_name(f".tmp{os.getpid()}-{target.name}")
    Image.fromarray(clean).save(tmp, format="PNG")
    os.replace(tmp, target)
    return target


def _unmarked_clip(path: Path, lift: Any, target: Path) -> Path:
    """A clip made by an earlier job (a generated background, issue 16), every frame's mark lifted,
    re-encoded once per job (H.264 at the intermediate quality) and shared by its chunks."""
    if target.is_file():
        return target

    if _rgba_clip(path):  # an element with alpha (PNG in MOV): lift the mark from its RGB, keep its alpha
        return _unmarked_rgba_clip(path, lift, target.with_suffix(".mov"))
    info = probe(path)
    tmp = target.with_name(f".tmp{os.getpid()}-{target.name}")
    with VideoWriter(tmp, codec="h264", fps=info.fps, width=info.width, height=info.height) as writer:
        for frame in iter_frames(path, max_frames=info.frame_count):
            writer.write(lift.remove(frame))
    os.replace(tmp, target)
    return target


def _rgba_clip(path: Path) -> bool:
    import av

    with av.open(str(path)) as container:
        fmt = container.streams.video[0].codec_context.format
        return fmt is not None and len(fmt.components) == 4


def _unmarked_rgba_clip(path: Path, lift: Any, target: Path) -> Path:
    """An element clip with alpha (issue 16: the procedural collapse): the earlier job's mark lifted
    from each frame's RGB, the alpha kept bit for bit, written losslessly as PNG in MOV."""
    if target.is_file():
        return target
    import av

    tmp = target.with_name(f".tmp{os.getpid()}-{target.name}")
    with av.open(str(path)) as source, av.open(str(tmp), "w", format="mov") as out:
        stream = source.streams.video[0]
        encoder = out.add_stream("png", rate=stream.average_rate or 24)
        encoder.width, encoder.height, encoder.pix_fmt = stream.codec_context.width, stream.codec_context.height, "rgba"
        for frame in source.decode(stream):
            rgba = frame.to_ndarray(format="rgba")
            rgba[..., :3] = lift.remove(np.ascontiguousarray(rgba[..., :3]))
            for packet in encoder.encode(av.VideoFrame.from_ndarray(rgba, format="rgba")):
                out.mux(packet)
        for packet in encoder.encode():
            out.mux(packet)
    os.replace(tmp, target)
    return target


def prepare_worker() -> None:
    """Initializer of a chunk worker process: one OpenCV thread per process.

    Why: a pool runs one worker per core, and OpenCV's own thread pool would start one thread per
    core in every worker (2 workers x 2 threads on 2 cores), so blurs and resizes fight over the
    cores. Results are unchanged: OpenCV's filters give the same pixels for any thread count."""
    import cv2  # noqa: PLC0415 - OpenCV costs ~0.3 s to import; only pool workers need it here

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
