"""Holding a ledger's write order from another thread, for tests of what waits for it (DR025)."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from sqlalchemy.orm import Session


@contextmanager
def write_order_held(ws, *, then: Callable[[Session], None] | None = None,
                     most_seconds: float = 60.0) -> Iterator[threading.Thread]:
    """Another thread opens a unit of work on ``ws`` (its own connection) and holds the ledger's write
    order while the block runs; on leaving, it runs ``then(session)`` in that unit (if given) and
    commits. Yields the thread: ``thread.is_alive()`` inside the block says the order is still held."""
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        with ws.unit_of_work() as session:
            holding.set()
            release.wait(most_seconds)
            if then is not None:
                then(session)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        if not holding.wait(10):
            raise RuntimeError("the holding thread never got the write order")
        yield thread
    finally:
        release.set()
        thread.join(most_seconds)
