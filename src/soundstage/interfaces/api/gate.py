"""Heavy requests share the server's cores fairly.

Reading a long clip for its watermark is up to ~30 s of CPU (`POST /api/verify`, the web page's
Verify form). Without a bound, anyone with a token - every role may verify - could start dozens at
once and starve approvals and every other request. A ``WorkGate`` admits at most ``slots`` such
requests at a time in this HTTP process (a request waits up to ``wait_seconds`` for one, then
``BusyError``: 503) and one per person (a second while the first runs: ``TooManyRequestsError``:
429). Both answers carry Retry-After; nothing is half-done, and a slot is always given back."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from soundstage.errors import BusyError, TooManyRequestsError

#: how long a request waits for a free slot before the server answers 503
WAIT_SECONDS = 15.0
#: what a 503 / 429 from the gate tells the client to wait (seconds)
RETRY_AFTER_SECONDS = 30


def default_slots() -> int:
    """One heavy read a core, at least two."""
    return max(2, os.cpu_count() or 2)


class WorkGate:
    def __init__(self, slots: int, *, wait_seconds: float = WAIT_SECONDS, what: str = "verifying a file") -> None:
        if slots < 1:
            raise ValueError("a work gate needs at least one slot")
        self.slots = slots
        self.wait_seconds = wait_seconds
        self.what = what
        self._free = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._running: set[str] = set()

    @contextmanager
    def slot(self, who: str) -> Iterator[None]:
        """Hold one slot for ``who`` (a person id) while the block runs."""
        with self._lock:
            if who in self._running:
                raise TooManyRequestsError(f"you are already {self.what}; one at a time",
                                           hint="wait for it to finish, then send the next")
            self._running.add(who)
        try:
            if not self._free.acquire(timeout=self.wait_seconds):
                raise BusyError(f"the server is busy: {self.slots} people are {self.what}",
                                hint=f"try again in {RETRY_AFTER_SECONDS} s")
            try:
                yield
            finally:
                self._free.release()
        finally:
            with self._lock:
                self._running.discard(who)
