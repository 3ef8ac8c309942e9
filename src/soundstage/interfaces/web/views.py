"""The web review app: server-rendered pages over the same services and permission matrix as the
API. Login exchanges an API token for an HttpOnly, SameSite=Strict session cookie; every form
carries a per-session CSRF token (an HMAC of the session nonce), checked before anything changes."""

from __future__ import annotations

import hmac
import re
import secrets
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from soundstage.domain.safeguards import LIKENESS_OPERATIONS, ConsentKind, OperationKind
from soundstage.errors import (
    InputError, NotFoundError, PendingApprovalError, PermissionDeniedError, SoundstageError, SpecError, http_status_for,
)
from soundstage.interfaces.api import review_routes, routes as api
from soundstage.interfaces.api.messages import public_message
from soundstage.interfaces.api.progress import progress_response, wants_progress
from soundstage.interfaces.api.schemas import ReasonIn, SuspendIn
from soundstage.interfaces.api.security import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_HOURS,
    allowed_actions,
    check_allowed,
    decode_session,
    encode_session,
    request_signer,
)
from soundstage.services import jobs_service, keys_service, ledger, preview_service, script_service, verify_service
from soundstage.services.auth_service import (
    AuthenticationError,
    Principal,
    authenticate,
    authenticate_session,
    end_session,
    start_session,
)
from soundstage.services.workspace import production_summary

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


def when(value) -> str:
    """A stored time as people read it: ``2026-12-06 16:53 UTC`` (the ledger keeps the microseconds)."""
    if not value:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text[:16].replace("T", " ") + " UTC"


templates.env.filters["when"] = when
templates.env.filters["watermark_line"] = verify_service.watermark_line
templates.env.filters["not_found_line"] = verify_service.not_found_line
router = APIRouter(include_in_schema=False)
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")


class LoginRequired(Exception):
    pass


_MAY_NOT = re.compile(r" may not (?P<action>[a-z_]+\.[a-z_]+)(?: \(needs one of: (?P<roles>[^)]*)\))?")


def error_page(request: Request, status: int, kind: str, message: str) -> HTMLResponse:
    """The error inside the site's layout: a signed-in person keeps the navigation (their session is
    looked up again; a bad or missing one just gets the page without it). A permission refusal names
    the permission and the roles that hold it."""
    try:
        me: Principal | None = _principal(request)
    except (LoginRequired, SoundstageError):
        me = None
    missing = _MAY_NOT.search(message) if status == 403 else None
    response = render(request, "error.html", me, status=status, kind=kind, message=message,
                      permission=missing.group("action") if missing else None,
                      holders=missing.group("roles") if missing else None)
    response.status_code = status
    return response


def _principal(request: Request) -> Principal:
    state = request.app.state
    session = decode_session(state.session_key, request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise LoginRequired()
    try:
        principal = authenticate_session(state.ws, session.token_id, session.nonce)
    except AuthenticationError:
        raise LoginRequired() from None
    request.state.session = session
    return principal


def _page(request: Request, action: str | None = None) -> Principal:
    principal = _principal(request)
    if action:
        check_allowed(principal, action)
    return principal


async def _form(request: Request) -> Any:
    """The posted form, refused with 403 unless it carries this session's CSRF token."""
    form = await request.form()
    session = getattr(request.state, "session", None)
    sent = str(form.get(CSRF_FIELD, ""))
    if session is None or not hmac.compare_digest(sent, session.csrf_token(request.app.state.session_key)):
        raise PermissionDeniedError("missing or wrong CSRF token; reload the page and try again")
    return form


def render(request: Request, name: str, principal: Principal | None, **ctx: Any) -> HTMLResponse:
    session = getattr(request.state, "session", None)
    ctx.update(me=principal, csrf=session.csrf_token(request.app.state.session_key) if session else "",
               allowed=set(allowed_actions(principal)) if principal else set(),
               title=request.app.state.ws.settings.title)
    response = templates.TemplateResponse(request, name, ctx)
    response.headers["Cache-Control"] = "no-store"
    return response


def ws(request: Request):
    return request.app.state.ws


# ---------------------------------------------------------------- login / logout

@router.get("/login")
def login_form(request: Request, error: str = "") -> HTMLResponse:
    pre = secrets.token_hex(16)
    response = render(request, "login.html", None, login_csrf=pre, error=error[:200])
    response.set_cookie(LOGIN_CSRF_COOKIE, pre, httponly=True, samesite="strict", max_age=900, path="/login")
    return response


@router.post("/login")
async def login(request: Request):
    form = await request.form()
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, str(form.get(CSRF_FIELD, ""))):
        raise PermissionDeniedError("missing or wrong CSRF token on the login form; reload it and try again")
    try:
        principal = await run_in_threadpool(authenticate, ws(request), str(form.get("token", "")).strip())
    except AuthenticationError as exc:
        return login_form(request, error=exc.one_line())
    expires = int(min(time.time() + SESSION_HOURS * 3600, principal.expires_at.timestamp()))
    cookie_value, session = encode_session(request.app.state.session_key, principal.token_id, expires)
    await run_in_threadpool(start_session, ws(request), principal.token_id, session.nonce,
                            datetime.fromtimestamp(expires, timezone.utc), token=str(form.get("token", "")).strip())
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, cookie_value, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", max_age=max(1, expires - int(time.time())), path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request):
    _principal(request)
    await _form(request)
    await run_in_threadpool(end_session, ws(request), request.state.session.nonce)  # the cookie is dead now
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# ---------------------------------------------------------------- pages

@router.get("/")
def dashboard(request: Request) -> HTMLResponse:
    me = _page(request, "production.read")
    w = ws(request)
    jobs = api.jobs_list(request, None, me) if "jobs.read" in allowed_actions(me) else []
    return render(request, "dashboard.html", me, summary=production_summary(w),
                  counts={s: sum(1 for j in jobs if j["status"] == s) for s in
                          ("escalated", "queued", "running", "failed", "done", "denied", "rejected", "cancelled")})


@router.get("/script")
def script_page(request: Request) -> HTMLResponse:
    me = _page(request, "script.read")
    try:
        bd, info = script_service.get_breakdown(ws(request))
        data = bd.to_dict()
    except SoundstageError as exc:
        data, info = None, {"error": public_message(request, exc)}
    can_assist = data is not None and "script.assist" in allowed_actions(me)
    return render(request, "script.html", me, breakdown=data, info=info,
                  drafts=script_service.draft_history(ws(request)),
                  assist=script_service.assist_status(ws(request)) if can_assist else None,
                  assist_models=script_service.assist_models(ws(request)) if can_assist else [])


@router.post("/script/assist")
async def script_assist(request: Request):
    """Start the breakdown assist (DR022: a guarded job; approvers decide, a queue worker runs it),
    or merge a done one (``job``). The click never waits for the model; the script page shows where
    the job stands."""
    me = _page(request, "script.assist")
    form = await _form(request)
    job = str(form.get("job", "")).strip()[:64] or None
    model = str(form.get("model", "")).strip()[:200] or None

    def run() -> None:
        try:
            script_service.assist_breakdown(ws(request), model, actor=me.name, job_id=job, wait=False)
        except PendingApprovalError:
            pass  # escalated to its approvers: the page names them

    await run_in_threadpool(run)
    return RedirectResponse("/script#assist", status_code=303)


@router.get("/storyboards")
def storyboards(request: Request) -> HTMLResponse:
    """The signed storyboard PDFs and look-book (embedded), the animatic and other previz videos
    (a player), and the boards' panels and generated images."""
    me = _page(request, "assets.read")
    assets = api.assets_list(request, None, me)
    images = [a for a in assets if a["media_type"] in IMAGE_TYPES and a["kind"] != "preview"
              and (a["job_id"] or a["kind"] in ("storyboard", "panel", "board"))]
    videos = [a for a in assets if a["media_type"].startswith("video/") and a["job_id"]
              and (a.get("details") or {}).get("operation") in ("storyboard", "ideation", "concept_art")]
    documents = (preview_service.previz_documents(ws(request)) if "script.read" in allowed_actions(me) else [])
    return render(request, "storyboards.html", me, images=images, videos=videos, documents=documents)


@router.get("/assets")
def assets_page(request: Request, kind: str = Query("", max_length=40), scene: str = Query("", max_length=20),
                page: int = Query(1, ge=1, le=100000)) -> HTMLResponse:
    """The asset browser: thumbnails, newest first, a page of ASSET_PAGE_SIZE, by kind and scene."""
    me = _page(request, "assets.read")
    result = review_routes.browse(request, me, kind=kind.strip() or None, scene=scene.strip() or None, page=page,
                                  per_page=ASSET_PAGE_SIZE)
    kept = {k: v for k, v in (("kind", kind.strip()), ("scene", scene.strip())) if v}
    kinds = sorted({a["kind"] for a in api.assets_list(request, None, me)})
    return render(request, "assets.html", me, result=result, kinds=kinds, filters={"kind": kind, "scene": scene},
                  prev_url="/assets?" + urlencode({**kept, "page": page - 1}) if page > 1 else None,
                  next_url="/assets?" + urlencode({**kept, "page": page + 1}) if page < result["pages"] else None)


ASSET_PAGE_SIZE = 24


@router.get("/jobs")
def jobs_page(request: Request) -> HTMLResponse:
    me = _page(request, "jobs.read")
    return render(request, "jobs.html", me, jobs=list(reversed(api.jobs_list(request, None, me))))


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: str) -> HTMLResponse:
    me = _page(request, "jobs.read")
    job = api._visible_job(ws(request), me, job_id)
    return render(request, "job.html", me, job=job, card=preview_service.review_card(ws(request), job_id))


@router.get("/approvals")
def approvals(request: Request) -> HTMLResponse:
    me = _page(request, "jobs.decide")
    waiting = [api._visible_job(ws(request), me, j["id"]) for j in api.jobs_list(request, "escalated", me)]
    items = []
    for job in waiting:
        card = preview_service.review_card(ws(request), job["id"])
        names = dict(card.performers)
        mine = [r for r in job.get("missing_roles", []) if r.split(":")[0] in me.roles
                and (not r.startswith("performer_rep:") or r.split(":", 1)[1] in me.represents)]
        # "performer_rep:t-…" reads as the representative of the performer, by name
        shown = [f"performer rep of {names.get(r.split(':', 1)[1], r.split(':', 1)[1])}"
                 if r.startswith("performer_rep:") else r for r in job.get("missing_roles", [])]
        items.append({"job": job, "card": card, "waiting": shown,
                      "my_roles": sorted({r.split(":")[0] for r in mine})})
    recent = [j for j in reversed(api.jobs_list(request, "done", me)) if j["approvals"]][:5]
    compared = [(j, preview_service.review_card(ws(request), j["id"])) for j in recent]
    return render(request, "approvals.html", me, items=items, compared=compared)


@router.post("/jobs/{job_id}/preview")
async def make_preview(request: Request, job_id: str):
    """Ask for the job's guarded preview (DR023): recorded at once, rendered by a queue worker (the
    guard runs the job's own checks then); the card shows "preview rendering…" and follows it. A
    second click while one is pending asks for the same one."""
    me = _page(request, "jobs.decide")
    await _form(request)
    await run_in_threadpool(api._visible_job, ws(request), me, job_id)
    await run_in_threadpool(preview_service.request_preview, ws(request), job_id, actor=me.name)
    return RedirectResponse(f"/approvals#job-{job_id}", status_code=303)


@router.post("/jobs/{job_id}/decide")
async def decide(request: Request, job_id: str):
    me = _page(request, "jobs.decide")
    form = await _form(request)
    signer = await run_in_threadpool(request_signer, request)  # unsealed with this session's cookie
    await run_in_threadpool(jobs_service.decide_on_job, ws(request), job_id, signer=signer,
                            role=str(form.get("role", ""))[:40], verdict=str(form.get("verdict", ""))[:10],
                            note=str(form.get("note", ""))[:2000], actor=me.name,
                            # the digest of the spec this page showed: a job changed since is refused
                            spec_digest=str(form.get("spec_digest", ""))[:64] or None,
                            # and of the preview it showed: a newer (or no) preview is refused
                            preview_digest=str(form.get("preview_digest", ""))[:64] or None,
                            wait=False)  # the last approval queues the job: the click returns at once
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@router.post("/jobs/{job_id}/cancel")
async def cancel(request: Request, job_id: str):
    me = _page(request, "jobs.cancel")
    await _form(request)
    await run_in_threadpool(api.cancel_job, ws(request), job_id, actor=me.name)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


CONSENT_FORM_DEFAULTS = {"performer": "", "kind": "digital_alteration", "operations": "likeness_deage",
                         "description": "", "scenes": "", "max_alteration": "0.5", "valid_days": "365",
                         "signed_separately": False, "representation": "none"}


@router.get("/consents")
def consents_page(request: Request) -> HTMLResponse:
    return _consents(request)


def _consents(request: Request, typed: dict | None = None, error: str = "", status: int = 200) -> HTMLResponse:
    me = _page(request, "consents.read")
    consents = api.consents_list(request, me)
    details = [api._visible_consent(ws(request), me, c["id"]) for c in consents]
    performers = [p for p in api.people_list(request, "performer", me)]
    quarantined = [a for a in api.assets_list(request, None, me) if a["status"] == "quarantined"]
    response = render(request, "consents.html", me, consents=details, performers=performers, quarantined=quarantined,
                      names={p["id"]: p["name"] for p in performers}, form={**CONSENT_FORM_DEFAULTS, **(typed or {})},
                      form_error=error, kinds=[k.value for k in ConsentKind],
                      operations=[o.value for o in OperationKind if o in LIKENESS_OPERATIONS])
    response.status_code = status
    return response


@router.post("/consents/grant")
async def consent_grant(request: Request):
    """Grant from the portal; a refusal shows the form again as typed, with the one-line error and
    its hint above it (the document upload is the one field a browser cannot be given back)."""
    me = _page(request, "consents.grant")
    form = await _form(request)
    document = form.get("document")
    typed = {key: str(form.get(key, ""))[:5000] for key in CONSENT_FORM_DEFAULTS if key != "signed_separately"}
    typed["signed_separately"] = form.get("signed_separately") == "on"
    days = typed["valid_days"].strip()
    try:
        if days and not (days.isdigit() and 1 <= int(days) <= 36600):
            raise SpecError("must be a whole number of days from 1 to 36600", field="valid_days")
        granted = await run_in_threadpool(
            api.consent_grant, request, performer=typed["performer"][:300],
            kind=typed["kind"][:60], operations=typed["operations"][:1000],
            description=typed["description"], scenes=typed["scenes"][:2000],
            max_alteration=_float(typed["max_alteration"]), valid_days=int(days) if days else None,
            signed_separately=typed["signed_separately"],
            representation=typed["representation"] if typed["representation"] in ("counsel", "union", "none")
            else "none",
            document=document if getattr(document, "filename", None) else None, principal=me)
    except (SpecError, NotFoundError) as exc:
        return _consents(request, typed=typed, error=public_message(request, exc), status=http_status_for(exc))
    return RedirectResponse(f"/consents#consent-{granted['id']}", status_code=303)


def _float(value: Any) -> float:
    try:
        number = float(str(value))
    except ValueError:
        return -1.0  # the service refuses it with the field named
    return number


@router.post("/consents/{consent_id}/revoke")
async def consent_revoke(request: Request, consent_id: str):
    me = _page(request, "consents.revoke")
    form = await _form(request)
    reason = str(form.get("reason", "")).strip()[:2000] or "revoked in the consent portal"
    report = await run_in_threadpool(api.consent_revoke, request, consent_id, ReasonIn(reason=reason), me)
    return render(request, "revoked.html", me, report=report)


@router.post("/consents/{consent_id}/suspend")
async def consent_suspend(request: Request, consent_id: str):
    me = _page(request, "consents.suspend")
    form = await _form(request)
    body = SuspendIn(reason=str(form.get("reason", "")).strip()[:2000] or "strike",
                     suspended=form.get("suspended", "1") == "1")
    await run_in_threadpool(api.consent_suspend, request, consent_id, body, me)
    return RedirectResponse("/consents", status_code=303)


@router.get("/assets/{asset_id}")
def asset_page(request: Request, asset_id: str) -> HTMLResponse:
    me = _page(request, "assets.read")
    asset = api._visible_asset(ws(request), me, asset_id)
    lineage = api.asset_lineage(request, asset_id, 6, me)
    try:
        provenance = api.provenance_of(ws(request), asset, api.verify_gate(request), me.person_id)
    except SoundstageError as exc:
        provenance = {"verdict": public_message(request, exc), "c2pa": {}, "watermark": None, "ledger": None}
    return render(request, "asset.html", me, asset=asset, lineage=lineage, provenance=provenance,
                  is_image=asset["media_type"] in IMAGE_TYPES)


AUDIT_PAGE_SIZE = 100
_SUBJECT_LINKS = ((re.compile(r"j-[0-9a-f]{12}"), "/jobs/{}"), (re.compile(r"c-[0-9a-f]{10}"), "/consents#consent-{}"),
                  (re.compile(r"[0-9a-f]{16}"), "/assets/{}"), (re.compile(r"[tp]-[0-9a-f]{10}"), "/people#person-{}"))


def subject_link(subject: str) -> str | None:
    """The page of an audit event's subject (a job, consent, asset or person), when it has one."""
    for pattern, url in _SUBJECT_LINKS:
        if pattern.fullmatch(subject):
            return url.format(subject)
    return None


@router.get("/audit")
def audit_page(request: Request, action: str = Query("", max_length=100), actor: str = Query("", max_length=300),
               subject: str = Query("", max_length=300), before: str = Query("", max_length=20)) -> HTMLResponse:
    """The log newest first, AUDIT_PAGE_SIZE events a page (?before=seq pages back), filtered by
    action (* wildcards), actor and subject; subjects link to their pages."""
    me = _page(request, "audit.read")
    if before.strip() and not before.strip().isdigit():
        raise SpecError("must be an event number (the seq column)", field="before")
    start = int(before) if before.strip() else None
    filters = {"action": action.strip(), "actor": actor.strip(), "subject": subject.strip()}
    rows = ledger.audit_log(ws(request), limit=AUDIT_PAGE_SIZE + 1, before=start,
                            **{k: v or None for k, v in filters.items()})
    events = list(reversed(rows))[:AUDIT_PAGE_SIZE]
    older = events[-1]["seq"] if len(rows) > AUDIT_PAGE_SIZE else None
    kept = {k: v for k, v in filters.items() if v}
    chain = keys_service.with_signing_keys(ws(request), ledger.verify_audit(ws(request))).to_dict()
    return render(request, "audit.html", me, events=events, chain=chain,
                  filters=filters, before=start, page_size=AUDIT_PAGE_SIZE, link=subject_link,
                  older_url="/audit?" + urlencode({**kept, "before": older}) if older else None,
                  newest_url=("/audit?" + urlencode(kept) if kept else "/audit") if start else None)


@router.get("/disclosure")
def disclosure_page(request: Request) -> HTMLResponse:
    me = _page(request, "disclosure.read")
    return render(request, "disclosure.html", me)


@router.get("/verify")
def verify_page(request: Request) -> HTMLResponse:
    me = _page(request, "verify.file")
    return render(request, "verify.html", me, result=None)


@router.post("/verify")
async def verify_post(request: Request) -> Response:
    me = _page(request, "verify.file")
    form = await _form(request)
    upload = form.get("file")
    if not getattr(upload, "filename", None):
        raise InputError("choose a file to verify")
    sidecar = form.get("sidecar")  # optional: the file's .c2pa sidecar, for outputs that cannot embed one
    sidecar = sidecar if getattr(sidecar, "filename", None) else None
    # one read a person, a core's worth in all: waited for here, on the event loop (429 / 503 pages)
    slot = await api.verify_gate(request).acquire(me.person_id)
    if wants_progress(request):
        # the page's script asked to follow the reading (a long clip or sound file: up to ~30 s):
        # progress lines, then {"html": the result as the page shows it} or {"error": its one line}
        return progress_response(
            lambda progress: api.verify_uploads(ws(request), api.limit_of(request), upload, sidecar, None, progress),
            lambda result: {"html": templates.get_template("_verify_result.html").render(result=result)},
            lambda exc: {"error": public_message(request, exc)}, slot=slot)
    with slot.held():
        result = await run_in_threadpool(api.verify_uploads, ws(request), api.limit_of(request), upload, sidecar, None)
    return render(request, "verify.html", me, result=result)


@router.get("/people")
def people_page(request: Request) -> HTMLResponse:
    me = _page(request, "people.read")
    return render(request, "people.html", me, people=api.people_list(request, None, me))


def mount_web(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired):
        return RedirectResponse("/login", status_code=303)
