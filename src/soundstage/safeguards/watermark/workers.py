"""The watermark's thread budget: row bands of a frame worked on at once, and work started ahead.

**Bands.** The embed's full-frame work is per pixel or per 4 x 4 block (the mask's block
statistics, the mark's application), so horizontal bands of whole blocks can be worked on at once:
each writes its own rows of shared outputs, and the result is the same bytes as one pass (tests
hold it to that). Each OpenCV call on a 1080p frame is too short for OpenCV's own threads to pay
off (DR015, tenth pass): two bands, one per core, halve the wall time of those parts.

**Ahead.** The detector's last fallback (the perspective search) needs only the analysed picture,
so it can start beside the earlier steps and be used only if they all fail, exactly as if it had
run after them; when an earlier step reads the mark, it is told to stop (``Ahead.stop``; it
checks between its stages) and its result is never looked at (DR015, eleventh pass).

Both follow ``cv2.getNumThreads()``: a worker that set it to 1 (compute/chunks.py: a process per
core already) gets one band, nothing ahead and no thread. The pool is made on first use and again
in a forked child (a fork keeps the pool object but not its threads).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

import cv2

__all__ = ["bands", "run", "Ahead", "Stopped"]

MAX_BANDS = 8

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _forget_in_child() -> None:
    """After a fork: the child has the parent's pool but none of its threads, and perhaps a lock a
    parent's thread held."""
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
            _pool = ThreadPoolExecutor(MAX_BANDS - 1, thread_name_prefix="soundstage-watermark")
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


T = TypeVar("T")


class Stopped(Exception):
    """Raised inside work started ahead when it was told to stop (``Ahead.check``)."""


class Ahead(Generic[T]):
    """``work(*args, ahead=self)``: started in the pool (``start``), or worked out in the caller's
    thread when its result is asked for: either way the same call, so the same result."""

    def __init__(self, work: Callable[..., T], *args: Any) -> None:
        self._work, self._args = work, args
        self._stop = threading.Event()
        self._future: Future | None = None

    def start(self) -> None:
        """Start the work in the pool if OpenCV's thread budget is above 1 (and it has not started)."""
        if self._future is None and cv2.getNumThreads() > 1:
            self._future = _executor().submit(self._work, *self._args, ahead=self)

    def check(self) -> None:
        """Called by the work between its stages: raises Stopped once it is no longer wanted."""
        if self._stop.is_set():
            raise Stopped

    def stop(self) -> None:
        """The result is not wanted: the work ends at its next check."""
        self._stop.set()

    def result(self) -> T:
        """The work's result: waited for if it was started, else worked out now."""
        if self._future is None:
            return self._work(*self._args, ahead=self)
        return self._future.result()
