"""Heavy requests share the server's cores fairly.

Reading a file for its watermark is up to ~30 s of CPU for a long clip (`POST /api/verify`, the web
page's Verify form, an asset's provenance). Without a bound, anyone with a token - every role may
verify - could start dozens at once and starve approvals and every other request. A ``WorkGate``
admits at most ``slots`` such reads at a time in this HTTP process and one per person:

- a second read by someone whose read is running (or waiting) is refused at once,
  ``TooManyRequestsError`` (429);
- a read that finds every slot taken waits up to ``wait_seconds`` *on the event loop* (``acquire``:
  a waiting request holds no worker thread, so the routes that need one still answer), then
  ``BusyError`` (503); both carry Retry-After;
- a synchronous caller (a page that reads an asset's provenance) does not wait (``try_slot``).

A ``Slot`` is given back exactly once: by the work when it ends, or - for an answer that streams
and never started its work (the client left first) - when the answer is dropped."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from soundstage.errors import BusyError, TooManyRequestsError

#: how long a request waits for a free slot before the server answers 503
WAIT_SECONDS = 15.0
#: what a 503 / 429 from the gate tells the client to wait (seconds)
RETRY_AFTER_SECONDS = 30
#: how often a waiting request looks for a free slot (slots are given back by worker threads)
POLL_SECONDS = 0.05


def default_slots() -> int:
    """One heavy read a core, at least two."""
    return max(2, os.cpu_count() or 2)


class Slot:
    """One admitted read: ``claim`` when its work starts, ``release`` when it ends (once, whoever
    calls it first); ``release_unless_running`` for an answer whose work never started."""

    def __init__(self, gate: WorkGate, who: str) -> None:
        self._gate, self._who = gate, who
        self._lock = threading.Lock()
        self._state = "held"   # held -> running -> released, or held -> released

    def claim(self) -> None:
        with self._lock:
            if self._state != "held":
                raise BusyError("the read was given up before it started", hint="send the file again")
            self._state = "running"

    def release(self) -> None:
        self._release_from(("held", "running"))

    @contextmanager
    def held(self) -> Iterator[None]:
        """The work itself: claimed as it starts, given back as it ends (however it ends)."""
        self.claim()
        try:
            yield
        finally:
            self.release()

    def release_unless_running(self) -> None:
        self._release_from(("held",))

    def _release_from(self, states: tuple[str, ...]) -> None:
        """Give the slot back if it is in one of ``states`` (once: it is then released)."""
        with self._lock:
            if self._state not in states:
                return
            self._state = "released"
        self._gate._give_back(self._who)


class WorkGate:
    def __init__(self, slots: int, *, wait_seconds: float = WAIT_SECONDS, what: str = "verifying a file") -> None:
        if slots < 1:
            raise ValueError("a work gate needs at least one slot")
        self.slots = slots
        self.wait_seconds = wait_seconds
        self.what = what
        self._free = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._people: set[str] = set()

    def _enter(self, who: str) -> None:
        with self._lock:
            if who in self._people:
                raise TooManyRequestsError(f"you are already {self.what}; one at a time",
                                           hint="wait for it to finish, then send the next")
            self._people.add(who)

    def _leave(self, who: str) -> None:
        with self._lock:
            self._people.discard(who)

    def _busy(self) -> BusyError:
        return BusyError(f"the server is busy: {self.slots} people are {self.what}",
                         hint=f"try again in {RETRY_AFTER_SECONDS} s")

    def _give_back(self, who: str) -> None:
        self._free.release()
        self._leave(who)

    async def acquire(self, who: str) -> Slot:
        """A slot for ``who``, waited for on the event loop up to ``wait_seconds``."""
        self._enter(who)
        deadline = time.monotonic() + self.wait_seconds
        try:
            while not self._free.acquire(blocking=False):
                if time.monotonic() >= deadline:
                    raise self._busy()
                await asyncio.sleep(POLL_SECONDS)
        except BaseException:   # refused, or the request was cancelled while it waited
            self._leave(who)
            raise
        return Slot(self, who)

    @contextmanager
    def try_slot(self, who: str) -> Iterator[None]:
        """A slot for ``who`` now or a refusal (a synchronous caller never waits), held while the
        block runs."""
        self._enter(who)
        if not self._free.acquire(blocking=False):
            self._leave(who)
            raise self._busy()
        with Slot(self, who).held():
            yield
