"""The job queue over HTTP: resume and retry a job, and follow it as Server-Sent Events.

No route here (or anywhere in the API) runs a job: submitting or approving queues it and answers
at once; a worker (``soundstage worker``, or the one ``soundstage serve`` starts) claims it. The
event stream is how a client follows it: one ``status`` event per change of status (and of its
approvals), one ``progress`` event each time its worker reports finished frames (a chunk done),
then ``end`` when the job is over (done, denied, rejected, cancelled, failed) or the stream's
``timeout`` is reached - a stream never lasts more than an hour; reconnect to follow longer.
"""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from soundstage.interfaces.api import schemas as S
from soundstage.interfaces.api.routes import ERRORS, _visible_job, ws_of
from soundstage.interfaces.api.security import require
from soundstage.services import queue_service
from soundstage.services.auth_service import Principal

router = APIRouter(prefix="/api", responses=ERRORS)

#: the stream ends on these (a failed job stays failed until someone resumes it)
STREAM_ENDS = {"done", "denied", "rejected", "cancelled", "failed"}
KEEP_ALIVE_SECONDS = 15.0


@router.post("/jobs/{job_id}/resume", response_model=S.JobOutcome, status_code=202,
             summary="Resume a failed job from its finished chunks (or a running one whose worker died)",
             description="The job is decided again first (a revoked consent denies it) and queued for a worker.")
def job_resume(request: Request, job_id: str, principal: Principal = Depends(require("jobs.submit"))) -> dict:
    ws = ws_of(request)
    _visible_job(ws, principal, job_id)
    return queue_service.resume_job(ws, job_id, actor=principal.name, fresh=False, wait=False)


@router.post("/jobs/{job_id}/retry", response_model=S.JobOutcome, status_code=202,
             summary="Run a failed job again from the start (its finished chunks are dropped)")
def job_retry(request: Request, job_id: str, principal: Principal = Depends(require("jobs.submit"))) -> dict:
    ws = ws_of(request)
    _visible_job(ws, principal, job_id)
    return queue_service.resume_job(ws, job_id, actor=principal.name, fresh=True, wait=False)


@router.get("/jobs/{job_id}/events", summary="A job's status and progress as Server-Sent Events",
            description="Events: `status` (status, approvals, attempts, lease), `progress` (frames done of the "
                        "total, as the worker reports each finished chunk), `end` (the job is over, or `timeout` "
                        "seconds passed). A comment line keeps the connection alive every 15 s.",
            responses={200: {"content": {"text/event-stream": {}}}})
async def job_events(request: Request, job_id: str, timeout: float = Query(300.0, ge=0.1, le=3600.0),
                     interval: float = Query(0.5, ge=0.05, le=10.0),
                     principal: Principal = Depends(require("jobs.read"))) -> StreamingResponse:
    ws = ws_of(request)
    await run_in_threadpool(_visible_job, ws, principal, job_id)  # 404 / 403 before the stream starts
    first = await run_in_threadpool(queue_service.job_progress, ws, job_id)

    async def stream():
        loop = asyncio.get_running_loop()
        began = beat = loop.time()
        state, last_status, last_progress = first, None, None
        yield "retry: 2000\n\n"
        while True:
            status = (state["status"], len(state["approvals"]), state["attempts"])
            if status != last_status:
                last_status = status
                yield _event("status", {k: state[k] for k in ("id", "status", "attempts", "lease", "approvals",
                                                              "missing_roles")})
            if state["progress"] and state["progress"] != last_progress:
                last_progress = state["progress"]
                yield _event("progress", {"id": state["id"], **state["progress"]})
            now = loop.time()
            if state["status"] in STREAM_ENDS or now - began >= timeout or await request.is_disconnected():
                yield _event("end", {"id": state["id"], "status": state["status"]})
                return
            await asyncio.sleep(min(interval, max(0.0, timeout - (now - began))))
            if loop.time() - beat >= KEEP_ALIVE_SECONDS:
                beat = loop.time()
                yield ": keep-alive\n\n"
            state = await run_in_threadpool(queue_service.job_progress, ws, job_id)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _event(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data, default=str)}\n\n"
