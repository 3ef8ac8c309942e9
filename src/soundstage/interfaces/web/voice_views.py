"""The web app's voice page: the production's voice jobs and a form to ask for one (issue 17).

Same session, CSRF check and permission matrix as every other page (``views``); the form posts to
the same service the API and the CLI call, so a voice job from the browser is decided, approved and
marked exactly as theirs. A refusal shows the form again as typed, with the one-line error."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from soundstage.errors import SoundstageError, http_status_for
from soundstage.interfaces.api.messages import public_message
from soundstage.interfaces.api.security import is_scoped_rep
from soundstage.interfaces.web.views import _form, _page, render, ws
from soundstage.services import voice_service
from soundstage.services.people_service import list_people

router = APIRouter(include_in_schema=False)

FIELDS = ("operation", "performer", "line", "model", "plate", "start", "end", "language", "scene", "shot")
LIMITS = {"line": 1000, "performer": 100, "model": 100, "language": 35}


def _voice_page(request: Request, me, *, typed: dict | None = None, error: str | None = None,
                status: int = 200) -> HTMLResponse:
    workspace = ws(request)
    jobs = voice_service.list_voice_jobs(workspace, 100)
    if is_scoped_rep(me):  # a representative sees the voice jobs of their own performers, as on /jobs
        jobs = [j for j in jobs if me.represents & set(j["spec"].get("performers", []))]
    outputs = voice_service.voice_outputs(workspace, [j["id"] for j in jobs if j["status"] == "done"])
    performers = list_people(workspace, "performer")
    names = {p["id"]: p["name"] for p in performers}  # jobs name performers by id; people read names
    response = render(request, "voice.html", me, jobs=jobs, outputs=outputs, performers=performers, names=names,
                      operations=list(voice_service.VOICE_OPERATION_NAMES), form=typed or {"operation": "adr"},
                      form_error=error)
    response.status_code = status
    return response


@router.get("/voice")
def voice_page(request: Request) -> HTMLResponse:
    return _voice_page(request, _page(request, "jobs.read"))


@router.post("/voice")
async def voice_submit(request: Request):
    me = _page(request, "jobs.submit")
    form = await _form(request)
    typed: dict[str, Any] = {k: str(form.get(k, "")).strip()[:LIMITS.get(k, 40)] for k in FIELDS}

    def submit() -> dict:
        workspace = ws(request)
        spec = voice_service.build_voice_job(
            workspace, typed["operation"], typed["performer"], typed["line"], requested_by=me.name,
            model_id=typed["model"], plate=typed["plate"] or None, start=typed["start"] or None,
            end=typed["end"] or None, language=typed["language"] or None, scene=typed["scene"] or None,
            shot=typed["shot"] or None)
        return voice_service.submit_voice_job(workspace, spec, actor=me.name, wait=False)

    try:
        result = await run_in_threadpool(submit)
    except SoundstageError as exc:
        return _voice_page(request, me, typed=typed, error=public_message(request, exc), status=http_status_for(exc))
    return RedirectResponse(f"/jobs/{result['job']}", status_code=303)
