"""Review before approval over HTTP (issue 15): a job's guarded preview and approval card, media
served inline with byte ranges (so a player can seek), cached thumbnails, and the asset browser.

Every route asks the permission matrix; a representative sees only jobs and assets of their own
performers. A job's source plate is reached through ``jobs.review`` - the job's own inputs,
preview and outputs, under the job's performer scope - and nothing else. No response names a
server path."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from soundstage.errors import InputError
from soundstage.interfaces.api.routes import ERRORS, _visible_asset, _visible_job, assets_list, ws_of
from soundstage.interfaces.api.security import require
from soundstage.services import ledger, preview_service
from soundstage.services.auth_service import Principal

router = APIRouter(prefix="/api", responses=ERRORS)

#: media types a browser may render inline; anything else is sent as an attachment
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "video/mp4", "video/quicktime", "video/webm",
                          "application/pdf",
                          "audio/wav", "audio/mpeg", "audio/mp4", "audio/flac"})  # a voice output's <audio> player
BROWSE_PAGE_MAX = 100


@router.post("/jobs/{job_id}/preview", status_code=202,
             summary="Ask for a guarded low-resolution preview of a job waiting for approval (labelled PREVIEW)",
             description="Answers at once with 202 and where to poll in Location (GET /api/jobs/{id}/preview); a "
                         "queue worker renders the preview through the guard. While one is pending, asking again "
                         "answers with that one (new: false): one render however many requests.")
def job_preview_make(request: Request, response: Response, job_id: str,
                     principal: Principal = Depends(require("jobs.decide"))) -> dict:
    ws = ws_of(request)
    _visible_job(ws, principal, job_id)
    asked = preview_service.request_preview(ws, job_id, actor=principal.name)
    response.headers["Location"] = f"/api/jobs/{job_id}/preview"
    return {**asked, "poll": f"/api/jobs/{job_id}/preview"}


@router.get("/jobs/{job_id}/preview", summary="The job's preview request (pending, rendering, done, failed, stale, "
                                              "none) and its current preview with its digest")
def job_preview_status(request: Request, job_id: str, principal: Principal = Depends(require("jobs.review"))) -> dict:
    ws = ws_of(request)
    _visible_job(ws, principal, job_id)
    return preview_service.preview_status(ws, job_id)


@router.get("/jobs/{job_id}/review", summary="The approval card: performers by name, amount, shot, rules, "
                                             "inputs, outputs and the current preview with its digest")
def job_review(request: Request, job_id: str, principal: Principal = Depends(require("jobs.review"))) -> dict:
    ws = ws_of(request)
    _visible_job(ws, principal, job_id)
    return asdict(preview_service.review_card(ws, job_id))


@router.get("/jobs/{job_id}/media/{asset_id}", summary="An input, the preview or an output of a job, inline "
                                                       "(byte ranges served)")
def job_media(request: Request, job_id: str, asset_id: str,
              principal: Principal = Depends(require("jobs.review"))):
    ws = ws_of(request)
    _visible_job(ws, principal, job_id)
    preview_service.job_of_input(ws, job_id, asset_id)
    return serve_media(request, ledger.show_asset(ws, asset_id))


@router.get("/jobs/{job_id}/media/{asset_id}/thumbnail", summary="A JPEG thumbnail of a job's input, preview or "
                                                                 "output")
def job_media_thumbnail(request: Request, job_id: str, asset_id: str, side: int = Query(320, ge=1, le=480),
                        principal: Principal = Depends(require("jobs.review"))):
    ws = ws_of(request)
    _visible_job(ws, principal, job_id)
    preview_service.job_of_input(ws, job_id, asset_id)
    return _thumb(ws, ledger.show_asset(ws, asset_id), side)


@router.get("/assets/{asset_id}/media", summary="An asset's bytes inline for viewing (byte ranges served)")
def asset_media(request: Request, asset_id: str, principal: Principal = Depends(require("assets.read"))):
    ws = ws_of(request)
    return serve_media(request, _visible_asset(ws, principal, asset_id))


@router.get("/assets/{asset_id}/thumbnail", summary="A JPEG thumbnail (160, 320 or 480 px), made once and cached")
def asset_thumbnail(request: Request, asset_id: str, side: int = Query(320, ge=1, le=480),
                    principal: Principal = Depends(require("assets.read"))):
    ws = ws_of(request)
    return _thumb(ws, _visible_asset(ws, principal, asset_id), side)


@router.get("/browse/assets", summary="Assets a page at a time, newest first, filtered by kind and scene")
def assets_browse(request: Request, kind: str | None = Query(None, max_length=40),
                  scene: str | None = Query(None, max_length=20), page: int = Query(1, ge=1, le=100000),
                  per_page: int = Query(24, ge=1, le=BROWSE_PAGE_MAX),
                  principal: Principal = Depends(require("assets.read"))) -> dict:
    return browse(request, principal, kind=kind, scene=scene, page=page, per_page=per_page)


@router.get("/previz/documents", summary="The signed storyboard PDFs and look-book of the production, by name")
def previz_documents(request: Request, principal: Principal = Depends(require("script.read"))) -> list[dict]:
    return [asdict(d) for d in preview_service.previz_documents(ws_of(request))]


@router.get("/previz/documents/{name}", summary="One storyboard PDF or the look-book, inline (byte ranges served)")
def previz_document(request: Request, name: str, principal: Principal = Depends(require("script.read"))):
    path = preview_service.previz_document(ws_of(request), name)
    return serve_path(request, path, "application/pdf")


def browse(request: Request, principal: Principal, *, kind: str | None, scene: str | None, page: int,
           per_page: int) -> dict:
    """One page of the assets the principal may see (the listing's own scope), newest first."""
    visible = list(reversed(assets_list(request, kind or None, principal)))
    if scene:
        visible = [a for a in visible if str((a.get("details") or {}).get("scene") or "") == scene]
    start = (page - 1) * per_page
    items = [{k: a[k] for k in ("id", "name", "kind", "media_type", "status", "size", "job_id", "created_at")
              if k in a} | {"scene": (a.get("details") or {}).get("scene"), "shot": (a.get("details") or {}).get("shot")}
             for a in visible[start:start + per_page]]
    return {"items": items, "page": page, "per_page": per_page, "total": len(visible),
            "pages": max(1, -(-len(visible) // per_page))}


def _thumb(ws, asset: dict, side: int) -> Response:
    side = min(preview_service.THUMB_SIDES, key=lambda s: (s < side, abs(s - side)))  # the nearest size at least
    data = preview_service.thumbnail(ws, asset, side)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600",
                                                            "X-Content-Type-Options": "nosniff"})


def serve_media(request: Request, asset: dict) -> Response:
    """The asset's verified file, inline when a browser may render its type."""
    path = preview_service.media_file(ws_of(request), asset)
    media_type = asset["media_type"] if asset["media_type"] in INLINE_TYPES else "application/octet-stream"
    return serve_path(request, path, media_type)


def serve_path(request: Request, path, media_type: str) -> Response:
    """A file, one byte range at a time when asked (206 + Content-Range; a range is capped at
    preview_service.MAX_RANGE_BYTES, 416 when outside the file). Inline only for INLINE_TYPES;
    anything but a PDF is sandboxed (a PDF viewer needs scripts)."""
    size = path.stat().st_size
    headers = {"Accept-Ranges": "bytes", "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-cache",
               "Content-Disposition": "inline" if media_type in INLINE_TYPES else "attachment"}
    if media_type != "application/pdf":
        headers["Content-Security-Policy"] = "sandbox"
    try:
        wanted = preview_service.parse_range(request.headers.get("range"), size)
    except InputError as exc:
        return Response(exc.one_line(), status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    if wanted is None:
        def whole():
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    yield chunk
        return StreamingResponse(whole(), media_type=media_type, headers={**headers, "Content-Length": str(size)})
    with path.open("rb") as fh:
        fh.seek(wanted.start)
        data = fh.read(wanted.length)
    return Response(data, status_code=206, media_type=media_type,
                    headers={**headers, "Content-Range": wanted.content_range})
