"""Chunked, resumable, frame-parallel execution (serial, local process pool, Dask)."""

from soundstage.compute.chunks import Chunk, ChunkTask, FrameSource, plan_chunks, run_chunk
from soundstage.compute.executors import (
    DaskChunkExecutor,
    FrameJob,
    FrameJobResult,
    JobCancelledError,
    ProcessPoolChunkExecutor,
    SerialExecutor,
    make_executor,
    run_frame_job,
)

__all__ = ["Chunk", "ChunkTask", "FrameSource", "plan_chunks", "run_chunk", "DaskChunkExecutor", "FrameJob",
           "FrameJobResult", "JobCancelledError", "ProcessPoolChunkExecutor", "SerialExecutor", "make_executor",
           "run_frame_job"]
