"""The FastAPI application: built by ``create_app(workspace_dir)`` with explicit settings (nothing
is read at import time), one JSON error shape for every failure, and a body-size limit."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from soundstage.errors import PolicyDeniedError, SoundstageError, http_status_for
from soundstage.interfaces.api.gate import RETRY_AFTER_SECONDS, WAIT_SECONDS, WorkGate, default_slots
from soundstage.interfaces.api.messages import error_body, path_roots, public_message, redact_paths
from soundstage.interfaces.api.plate_routes import router as plate_router
from soundstage.interfaces.api.queue_routes import router as queue_router
from soundstage.interfaces.api.review_routes import router as review_router
from soundstage.interfaces.api.routes import router
from soundstage.interfaces.api.security import load_session_key
from soundstage.interfaces.api.uploads import DEFAULT_MAX_UPLOAD_BYTES, BodySizeLimit
from soundstage.interfaces.api.voice_routes import router as voice_router
from soundstage.interfaces.web.views import error_page, mount_web
from soundstage.interfaces.web.voice_views import router as voice_pages
from soundstage.services.workspace import open_workspace

log = logging.getLogger("soundstage.api")


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def create_app(workspace_dir: Path, *, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
               web: bool = True, auth_cache_seconds: float = 2.0, verify_slots: int | None = None,
               verify_wait_seconds: float = WAIT_SECONDS) -> FastAPI:
    """One app per workspace. The workspace (database engine, store) is opened once and shared.
    ``verify_slots``: verify reads at once in this process (default: one a core, at least two)."""
    ws = open_workspace(Path(workspace_dir))
    app = FastAPI(
        title="soundstage",
        version="1",
        description="Generative AI for film and TV with consent, policy and provenance safeguards. "
                    "Authenticate with 'Authorization: Bearer <token>' (soundstage token create). "
                    "Every error has the shape {\"error\": {type, message, rule_ids, status}}.",
    )
    app.state.ws = ws
    app.state.max_upload_bytes = max_upload_bytes
    app.state.auth_cache_seconds = auth_cache_seconds
    app.state.session_key = load_session_key(ws.settings.keys_dir)
    app.state.path_roots = path_roots(ws.settings.root)
    app.state.verify_gate = WorkGate(verify_slots or default_slots(), wait_seconds=verify_wait_seconds)
    app.include_router(router)
    app.include_router(queue_router)  # resume, retry, the event stream: the job queue
    app.include_router(review_router)  # previews, approval cards, media with ranges, thumbnails (issue 15)
    app.include_router(plate_router)  # plate upload, streamed and hash-checked (issue 14)
    app.include_router(voice_router)  # voice references and voice jobs (issue 17, DR018)
    if web:
        mount_web(app)
        app.include_router(voice_pages)  # the voice page (issue 17)

    @app.exception_handler(SoundstageError)
    async def soundstage_error(request: Request, exc: SoundstageError):
        status = http_status_for(exc)
        rule_ids = exc.rule_ids if isinstance(exc, PolicyDeniedError) else []
        # a refusal to come back later says when, to a page and an API client alike
        retry = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status in (429, 503) else {}
        if _wants_html(request):
            page = error_page(request, status, exc.__class__.__name__, public_message(request, exc))
            page.headers.update(retry)
            return page
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else retry
        return JSONResponse(error_body(exc.__class__.__name__, public_message(request, exc), status, rule_ids),
                            status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else first.get("msg", "invalid request")
        return JSONResponse(error_body("RequestValidationError", " ".join(str(message).split()), 422), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        message = redact_paths(message, request.app.state.path_roots)
        if _wants_html(request):
            return error_page(request, exc.status_code, "HTTPError", message)
        return JSONResponse(error_body("HTTPError", message, exc.status_code), exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("InternalError", f"internal error: {exc.__class__.__name__}", 500), 500)

    app.add_middleware(BodySizeLimit, limit=max_upload_bytes)
    return app
