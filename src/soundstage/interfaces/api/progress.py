"""Long requests that report how far they are: one JSON object a line (``application/x-ndjson``),
``{"progress": [done, total]}`` as the work goes on, then one last line - the result, or the error
the plain request would have answered. Shared by ``POST /api/verify`` and the web page's Verify form,
so it sits below both."""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import nullcontext
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from soundstage.errors import InternalError, SoundstageError
from soundstage.interfaces.api.gate import Slot

log = logging.getLogger(__name__)

#: what a client asks for (``Accept``) to follow a long request as it goes
NDJSON = "application/x-ndjson"

T = TypeVar("T")


def wants_progress(request: Request) -> bool:
    return NDJSON in request.headers.get("accept", "")


def progress_response(work: Callable[[Callable[[int, int], None]], T], last: Callable[[T], dict],
                      failed: Callable[[Exception], dict], *, slot: Slot | None = None) -> StreamingResponse:
    """Run ``work(progress)`` in a worker thread and stream its ``progress(done, total)`` calls, then
    ``last(result)`` or, if it raised, ``failed(error)`` - any error: the answer's status (200) went
    out with the first line, so an unexpected one is told in the last line too (logged, named by its
    class only, as the plain request's 500 is; ``failed`` gets an ``InternalError``). Whatever must
    be refused before the work starts (a permission, a CSRF token, a size, a ``gate`` slot) is
    checked by the caller first, so a refusal is still a plain 4xx/503 answer, never a line.
    ``slot``: the gate's slot the caller acquired for this work, given back when the work ends - or,
    when it never starts (the client left before the answer began), when the answer is dropped."""
    lines = _lines(work, last, failed, slot)
    if slot is not None:
        weakref.finalize(lines, slot.release_unless_running)
    return StreamingResponse(lines, media_type=NDJSON, headers={"Cache-Control": "no-store"})


async def _lines(work: Callable[[Callable[[int, int], None]], T], last: Callable[[T], dict],
                 failed: Callable[[Exception], dict], slot: Slot | None) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    heard: asyncio.Queue[tuple[int, int]] = asyncio.Queue()

    def progress(done: int, total: int) -> None:
        loop.call_soon_threadsafe(heard.put_nowait, (done, total))

    def run(progress: Callable[[int, int], None]) -> T:
        with slot.held() if slot is not None else nullcontext():
            return work(progress)

    try:
        running = asyncio.ensure_future(run_in_threadpool(run, progress))
        while not running.done():
            waiting = asyncio.ensure_future(heard.get())
            await asyncio.wait({waiting, running}, return_when=asyncio.FIRST_COMPLETED)
            if waiting.done():
                yield _line({"progress": list(waiting.result())})
            else:
                waiting.cancel()
        while not heard.empty():
            yield _line({"progress": list(heard.get_nowait())})
        try:
            result = running.result()
        except SoundstageError as exc:
            yield _line(failed(exc))
            return
        except Exception as exc:  # noqa: BLE001 - told as the plain request's 500 tells it, and logged
            log.exception("internal error in a request answered with progress")
            yield _line(failed(InternalError(f"internal error: {exc.__class__.__name__}")))
            return
        yield _line(last(result))
    finally:
        if slot is not None:
            slot.release_unless_running()   # cancelled before its work started


def _line(obj: Any) -> bytes:
    return (json.dumps(obj) + "\n").encode()
