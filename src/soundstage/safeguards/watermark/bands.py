"""Row bands of a frame, worked on by OpenCV's thread budget.

The embed's full-frame work is per pixel or per 4 x 4 block (the mask's block statistics, the
mark's application), so horizontal bands of whole blocks can be worked on at once: each writes
its own rows of shared outputs, and the result is the same bytes as one pass (tests hold it to
that). Each OpenCV call on a 1080p frame is too short for OpenCV's own threads to pay off
(DR015, tenth pass): two bands, one per core, halve the wall time of those parts.

The number of bands follows ``cv2.getNumThreads()``: a worker that set it to 1 (compute/chunks.py:
a process per core already) gets one band and no thread. The pool is made on first use and again
in a forked child (a fork keeps the pool object but not its threads).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import cv2

__all__ = ["bands", "run"]

MAX_BANDS = 8

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _forget_in_child() -> None:
    """After a fork: the child has the parent's pool object but none of its threads, and perhaps
    a lock a parent's thread held."""
    global _lock, _pool
    _lock, _pool = threading.Lock(), None


os.register_at_fork(after_in_child=_forget_in_child)


def bands(rows: int, count: int | None = None) -> list[tuple[int, int]]:
    """``rows`` (blocks) cut into at most ``count`` near-equal bands (start, stop); ``count``
    defaults to OpenCV's thread budget."""
    if count is None:
        count = cv2.getNumThreads()
    count = max(1, min(int(count), MAX_BANDS, rows))
    step = -(-rows // count)
    return [(start, min(rows, start + step)) for start in range(0, rows, step)]


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(MAX_BANDS - 1, thread_name_prefix="soundstage-bands")
        return _pool


def run(work: Callable[[int, int], None], spans: list[tuple[int, int]]) -> None:
    """``work(start, stop)`` for every band: the first in the calling thread, the others in the
    pool; returns when all are done and raises the first band's error."""
    if len(spans) == 1:
        work(*spans[0])
        return
    others = [_executor().submit(work, *span) for span in spans[1:]]
    try:
        work(*spans[0])
    finally:
        errors = [f.exception() for f in others]
    for error in errors:
        if error is not None:
            raise error
