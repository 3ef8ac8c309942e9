"""The REST API: thin routes over the service layer. Each route names its action in the
permission matrix (``require``), calls one service, and shapes the answer; nothing else.

Sync or async: a plain ``def`` route runs in the threadpool, which costs a thread hand-off and GIL
contention on every request. The hot, bounded reads (``/me``, ``/production``, ``/models``,
``/policy/check``, one job) are ``async def`` and call the service through
``off_loop_if_networked``: inline on SQLite, where their work is a few indexed reads (the summary's
counts walk the smallest index) that never wait on a writer (WAL readers do not block); in the
threadpool on PostgreSQL, where every query is a network round trip. Everything that
writes, scans a growing table, touches files or may wait on a lock stays ``def``, so it cannot
stall the event loop. Measured in bench/api.py; see docs/guides/api-permissions.md."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, File, Form, Header, Query, Request, UploadFile
from fastapi import Path as Path_
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile as StarletteUploadFile

from soundstage.domain.safeguards import JobSpec, ModelCard, job_spec_from_request
from soundstage.errors import InputError, QuarantinedError, RefusedError, SpecError, http_status_for
from soundstage.interfaces.api import schemas as S
from soundstage.interfaces.api.gate import WorkGate
from soundstage.interfaces.api.messages import error_body, public_message
from soundstage.interfaces.api.progress import progress_response, wants_progress
from soundstage.interfaces.api.security import (
    allowed_actions,
    check_performer_scope,
    current_principal,
    is_scoped_rep,
    off_loop_if_networked,
    request_signer,
    require,
)
from soundstage.interfaces.api.uploads import MEDIA_SUFFIX, PayloadTooLargeError, attachment, saved_upload, temp_dir
from soundstage.services import (
    consent_service,
    disclosure_service,
    jobs_service,
    keys_service,
    ledger,
    models,
    people_service,
    policy_service,
    script_service,
    talent_service,
    verify_service,
)
from soundstage.services.auth_service import Principal
from soundstage.services.jobs_service import cancel_job
from soundstage.services.workspace import Workspace, production_summary

ERRORS = {code: {"model": S.ErrorBody} for code in (400, 401, 403, 404, 409, 413, 422)}
router = APIRouter(prefix="/api", responses=ERRORS)


def ws_of(request: Request) -> Workspace:
    return request.app.state.ws


def limit_of(request: Request) -> int:
    return request.app.state.max_upload_bytes


def _cleanup(path: Path):
    return BackgroundTask(shutil.rmtree, path, ignore_errors=True)


# ---------------------------------------------------------------- scope helpers (authorisation only)

def _job_performers(ws: Workspace, job_id: str | None) -> list[str]:
    if not job_id:
        return []
    return list(jobs_service.show_job(ws, job_id)["spec"].get("performers", []))


def _asset_performers(ws: Workspace, asset: dict) -> list[str]:
    performer = (asset.get("details") or {}).get("performer")
    return ([performer] if performer else []) + _job_performers(ws, asset.get("job_id"))


def _visible_asset(ws: Workspace, principal: Principal, asset_ref: str) -> dict:
    asset = ledger.show_asset(ws, asset_ref)
    if is_scoped_rep(principal):
        check_performer_scope(principal, _asset_performers(ws, asset), f"asset {asset['id']}")
    return asset


def _visible_consent(ws: Workspace, principal: Principal, consent_id: str) -> dict:
    consent = consent_service.show_consent(ws, consent_id)
    check_performer_scope(principal, [consent["performer_id"]], f"consent {consent_id}")
    return consent


def _visible_job(ws: Workspace, principal: Principal, job_id: str) -> dict:
    job = jobs_service.show_job(ws, job_id)
    check_performer_scope(principal, job["spec"].get("performers", []), f"job {job_id}")
    return job


# ---------------------------------------------------------------- who am I, production

@router.get("/me", response_model=S.Me, summary="The authenticated principal and what they may do")
async def me(principal: Principal = Depends(current_principal)) -> S.Me:
    return S.Me(person_id=principal.person_id, name=principal.name, roles=sorted(principal.roles),
                represents=sorted(principal.represents), token_id=principal.token_id,
                expires_at=principal.expires_at.isoformat(), allowed=allowed_actions(principal))


@router.get("/production", response_model=S.ProductionSummary, summary="Production summary")
async def production(request: Request, _: Principal = Depends(require("production.read"))) -> dict:
    ws = ws_of(request)
    return await off_loop_if_networked(ws, production_summary, ws)


# ---------------------------------------------------------------- script

@router.post("/script", summary="Import a screenplay draft (.fountain or .fdx upload)")
def script_import(request: Request, file: UploadFile = File(...),
                  principal: Principal = Depends(require("script.import"))) -> dict[str, Any]:
    with saved_upload(file, limit_of(request)) as path:
        if path.suffix.lower() not in (".fountain", ".fdx", ".txt", ".spmd"):
            raise InputError(f"{path.name}: not a screenplay (.fountain or .fdx)")
        return script_service.import_script(ws_of(request), path, actor=principal.name)


@router.get("/script/breakdown", response_model=S.Breakdown, summary="Breakdown of a draft (latest by default)")
def script_breakdown(request: Request, version: int | None = Query(None, ge=1, le=100000),
                     _: Principal = Depends(require("script.read"))) -> dict:
    bd, info = script_service.get_breakdown(ws_of(request), version)
    return {"info": info, "breakdown": bd.to_dict()}


@router.post("/script/assist", summary="Ask a registered chat model for breakdown elements (a guarded job)",
             description="Without `job`: submits the assist job for the latest draft (refused for an unregistered "
                         "model or one whose card says it stores or trains on inputs; 409 while it waits for "
                         "approvers). With `job`: merges a done job's checked suggestions into the breakdown, or "
                         "answers its status while a worker runs it.")
def script_assist(request: Request, body: S.AssistRequest = Body(default_factory=S.AssistRequest),
                  principal: Principal = Depends(require("script.assist"))) -> dict[str, Any]:
    return script_service.assist_breakdown(ws_of(request), body.model, actor=principal.name, job_id=body.job,
                                           wait=False)


@router.get("/script/reports/{kind}", summary="Download a breakdown report",
            responses={200: {"content": {"text/csv": {}, "application/json": {}, "application/pdf": {}}}})
def script_report(request: Request, kind: Literal["cast", "locations", "scenes", "elements", "sheets"],
                  format: Literal["csv", "json", "pdf"] = Query("csv"),
                  principal: Principal = Depends(require("script.read"))) -> FileResponse:
    if (kind == "sheets") != (format == "pdf"):
        raise InputError("breakdown sheets come as pdf; the lists as csv or json")
    with temp_dir() as tmp:
        paths = script_service.write_reports(ws_of(request), tmp, [kind], [format], actor=principal.name)
        keep = Path(shutil.copytree(tmp, tmp.with_name(tmp.name + "-out")))
    out = keep / paths[0].name
    return FileResponse(out, filename=out.name, background=_cleanup(keep))


# ---------------------------------------------------------------- assets

@router.get("/assets", response_model=list[S.AssetOut], summary="List assets (a representative sees their performers')")
def assets_list(request: Request, kind: str | None = Query(None, max_length=40),
                principal: Principal = Depends(require("assets.read"))) -> list[dict]:
    ws = ws_of(request)
    assets = ledger.list_assets(ws, kind)
    if is_scoped_rep(principal):
        jobs = {j["id"]: j["spec"].get("performers", []) for j in jobs_service.list_jobs(ws)}
        assets = [a for a in assets if principal.represents & set(
            ([a["details"].get("performer")] if a["details"].get("performer") else []) + jobs.get(a["job_id"], []))]
    return assets


@router.get("/assets/{asset_id}", response_model=S.AssetDetail, summary="One asset with its parents and children")
def asset_show(request: Request, asset_id: str, principal: Principal = Depends(require("assets.read"))) -> dict:
    return _visible_asset(ws_of(request), principal, asset_id)


@router.get("/assets/{asset_id}/download", summary="The asset's bytes (refused when quarantined)",
            responses={200: {"content": {"application/octet-stream": {}}}})
def asset_download(request: Request, asset_id: str, principal: Principal = Depends(require("assets.read"))):
    ws = ws_of(request)
    asset = _visible_asset(ws, principal, asset_id)
    if asset["status"] != "active":
        raise QuarantinedError(f"asset {asset['id']} ({asset['name']}) is {asset['status']}: a consent it relied "
                               "on was revoked, so it cannot be downloaded")
    if asset["kind"] == "preview":  # issue 15: a review preview is viewed inline (/media), never handed out
        raise RefusedError(f"asset {asset['id']} is a review preview (labelled PREVIEW - NOT FOR USE); it is not "
                           "downloaded", hint="download the job's output once it is approved")
    ledger.prove_asset(ws, asset["id"])  # the row is what the audit log says (an edited or forged one: 409)
    # hash-checked before the first byte goes out and again as it streams (the CLI export's check)
    chunks = ws.store.iter_verified(asset["sha256"])
    return StreamingResponse(chunks, media_type=asset["media_type"], headers={
        "Content-Length": str(asset["size"]),
        "Content-Disposition": attachment(asset["name"] or asset["id"])})


@router.get("/assets/{asset_id}/lineage", response_model=S.LineageGraph, summary="Lineage graph around an asset")
def asset_lineage(request: Request, asset_id: str, depth: int = Query(6, ge=1, le=20),
                  principal: Principal = Depends(require("assets.read"))) -> dict:
    ws = ws_of(request)
    root = _visible_asset(ws, principal, asset_id)
    nodes: dict[str, dict] = {root["id"]: root}
    edges: set[tuple[str, str]] = set()
    frontier = [root]
    for _ in range(depth):
        following = []
        for node in frontier:
            for parent in node["parents"]:
                edges.add((parent, node["id"]))
            for child in node["children"]:
                edges.add((node["id"], child))
            for ref in node["parents"] + node["children"]:
                if ref not in nodes and len(nodes) < 500:
                    nodes[ref] = ledger.show_asset(ws, ref)
                    following.append(nodes[ref])
        frontier = following
    return {"root": root["id"], "edges": sorted(e for e in edges if e[0] in nodes and e[1] in nodes),
            "nodes": [{"id": n["id"], "name": n["name"], "kind": n["kind"], "status": n["status"]}
                      for n in nodes.values()]}


@router.get("/assets/{asset_id}/provenance", response_model=S.VerifyOut,
            summary="Content Credentials, watermark and ledger record of a stored asset")
def asset_provenance(request: Request, asset_id: str, principal: Principal = Depends(require("assets.read"))) -> dict:
    ws = ws_of(request)
    asset = _visible_asset(ws, principal, asset_id)
    return provenance_of(ws, asset, verify_gate(request), principal.person_id)


def provenance_of(ws: Workspace, asset: dict, gate: WorkGate, who: str) -> dict:
    """The asset read as verify reads a file (a watermark read: one of ``gate``'s slots for ``who``,
    taken now or refused, 429 / 503). The content-addressed store's files have no names: each is copied
    under its media type's suffix, as a person would download it."""
    sidecar_sha = (asset.get("details") or {}).get("c2pa_sidecar_sha256")
    with gate.try_slot(who), temp_dir() as tmp:
        copy = ws.store.export_to(asset["sha256"], tmp / (asset["id"] + MEDIA_SUFFIX.get(asset["media_type"], ".bin")))
        side = ws.store.export_to(sidecar_sha, tmp / (copy.name + ".c2pa")) if sidecar_sha else None
        result = verify_service.verify_file(copy, ws, sidecar=side)
    result["file"] = asset["name"]
    if side is not None:
        result["sidecar"] = asset["name"] + ".c2pa"
    return result


# ---------------------------------------------------------------- people

@router.get("/people", response_model=list[S.PersonOut], summary="Crew and performers")
def people_list(request: Request, kind: Literal["crew", "performer"] | None = Query(None),
                principal: Principal = Depends(require("people.read"))) -> list[dict]:
    people = people_service.list_people(ws_of(request), kind)
    if is_scoped_rep(principal):
        people = [p for p in people if p["id"] in principal.represents or p["id"] == principal.person_id]
    return people


@router.post("/crew", response_model=S.PersonOut, status_code=201, summary="Add a crew member with roles")
def crew_add(request: Request, body: S.CrewIn, principal: Principal = Depends(require("crew.add"))) -> dict:
    return people_service.add_crew(ws_of(request), body.name, body.roles, actor=principal.name)


@router.post("/performers", response_model=S.PersonOut, status_code=201, summary="Register a performer")
def performer_add(request: Request, body: S.PerformerIn,
                  principal: Principal = Depends(require("performers.add"))) -> dict:
    out = talent_service.add_performer(ws_of(request), body.name, union_status=body.union_status,
                                           living=body.living, representatives=body.representatives,
                                           actor=principal.name)
    return {**out, "kind": "performer", "roles": []}


@router.post("/performers/{performer_id}/representatives", summary="Put a representative on file for a performer")
def performer_represent(request: Request, performer_id: str, body: S.RepresentativeIn,
                        principal: Principal = Depends(require("performers.add"))) -> dict[str, Any]:
    return talent_service.add_representative(ws_of(request), performer_id, body.representative,
                                                 actor=principal.name)


@router.get("/performers/{performer_id}", summary="A performer with their consents")
def performer_show(request: Request, performer_id: str,
                   principal: Principal = Depends(require("people.read"))) -> dict[str, Any]:
    performer = talent_service.show_performer(ws_of(request), performer_id)
    check_performer_scope(principal, [performer["id"]], f"performer {performer_id}")
    return performer


# ---------------------------------------------------------------- consents

@router.get("/consents", response_model=list[S.ConsentOut], summary="Consents (a representative sees their performers')")
def consents_list(request: Request, principal: Principal = Depends(require("consents.read"))) -> list[dict]:
    consents = consent_service.list_consents(ws_of(request))
    if is_scoped_rep(principal):
        consents = [c for c in consents if c["performer_id"] in principal.represents]
    return consents


@router.get("/consents/{consent_id}", response_model=S.ConsentOut, summary="One consent and the assets relying on it")
def consent_show(request: Request, consent_id: str,
                 principal: Principal = Depends(require("consents.read"))) -> dict:
    return _visible_consent(ws_of(request), principal, consent_id)


@router.post("/consents", response_model=S.ConsentOut, status_code=201,
             summary="Grant a consent (multipart form; the signed document as an upload)")
def consent_grant(request: Request,
                  performer: str = Form(..., max_length=300),
                  kind: str = Form(..., max_length=60),
                  operations: str = Form(..., max_length=1000, description="comma-separated operation kinds"),
                  description: str = Form(..., max_length=5000),
                  scenes: str = Form("", max_length=2000, description="comma-separated scene numbers"),
                  max_alteration: float = Form(0.0, ge=0.0, le=1.0),
                  valid_days: int | None = Form(None, ge=1, le=36600),
                  signed_separately: bool = Form(False),
                  representation: Literal["counsel", "union", "none"] = Form("none"),
                  document: UploadFile | None = File(None),
                  principal: Principal = Depends(require("consents.grant"))) -> dict:
    ws = ws_of(request)
    target = talent_service.show_performer(ws, performer)
    check_performer_scope(principal, [target["id"]], f"performer {target['name']}")
    until = datetime.now(timezone.utc) + timedelta(days=valid_days) if valid_days else None
    args = dict(kind=kind, operations=_csv(operations), description=description, scenes=_csv(scenes),
                max_alteration=max_alteration, valid_until=until, signed_separately=signed_separately,
                representation=representation, actor=principal.name, signer=request_signer(request))
    if document is not None and document.filename:
        with saved_upload(document, limit_of(request)) as doc:
            return consent_service.grant_consent(ws, target["id"], document=doc, **args)
    return consent_service.grant_consent(ws, target["id"], **args)


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@router.post("/consents/{consent_id}/revoke", response_model=S.RevocationOut,
             summary="Revoke a consent; every asset derived from it is quarantined")
def consent_revoke(request: Request, consent_id: str, body: S.ReasonIn,
                   principal: Principal = Depends(require("consents.revoke"))) -> dict:
    ws = ws_of(request)
    _visible_consent(ws, principal, consent_id)
    return consent_service.revoke_consent(ws, consent_id, reason=body.reason, actor=principal.name,
                                             signer=request_signer(request))


@router.post("/consents/{consent_id}/suspend", response_model=S.ConsentOut,
             summary="Suspend (or resume) a consent, e.g. during a strike")
def consent_suspend(request: Request, consent_id: str, body: S.SuspendIn,
                    principal: Principal = Depends(require("consents.suspend"))) -> dict:
    ws = ws_of(request)
    _visible_consent(ws, principal, consent_id)
    return consent_service.set_suspension(ws, consent_id, body.suspended, reason=body.reason, actor=principal.name,
                                             signer=request_signer(request))


# ---------------------------------------------------------------- models and policy

@router.get("/models", response_model=list[S.ModelCardOut], summary="The model registry")
async def models_list(request: Request, _: Principal = Depends(require("models.read"))) -> list[dict]:
    ws = ws_of(request)
    return await off_loop_if_networked(ws, models.list_models, ws)


@router.get("/models/{model_id}/operations", summary="The operations a model runs and the parameters each takes",
            description="Generated from the backend's declarations: a job may set exactly these parameters "
                        "(anything else is refused with 422).")
def model_operations(request: Request, model_id: str = Path_(..., max_length=100),
                     _: Principal = Depends(require("models.read"))) -> dict:
    return jobs_service.model_operations(ws_of(request), model_id)


@router.post("/models", response_model=S.ModelCardOut, status_code=201, summary="Register a model card")
def model_add(request: Request, card: dict[str, Any] = Body(..., examples=[{
        "id": "acme.upscaler", "name": "Acme upscaler", "version": "1", "licence": "commercial",
        "training_data": "licensed", "evidence": "contract 2026-11"}]),
        principal: Principal = Depends(require("models.add"))) -> dict:
    return models.register_model(ws_of(request), _model_card(card), actor=principal.name)


def _model_card(data: dict[str, Any]) -> ModelCard:
    if not isinstance(data.get("id"), str) or not isinstance(data.get("name"), str) \
            or not data["id"].strip() or not data["name"].strip():
        raise SpecError("a model card needs text 'id' and 'name'", field="id")
    try:
        return ModelCard.from_dict(data)
    except TypeError as exc:
        raise SpecError(f"bad model card: {exc}") from None


def _job_spec(ws: Workspace, data: dict[str, Any], principal: Principal) -> JobSpec:
    """A JobSpec.2 request, read like the CLI's: the server owns the id and the requester (the
    authenticated person); a body that sets either is refused (422)."""
    return job_spec_from_request(data, production_id=ws.production_id, requested_by=principal.name,
                                 source="request body")


JOB_EXAMPLE = {"operation": "ideation", "model_id": "soundstage.procedural-card", "prompt": "rainy street at dusk"}


@router.post("/policy/check", response_model=S.DecisionOut, summary="Decide on a job spec without running it")
async def policy_check(request: Request, spec: dict[str, Any] = Body(..., examples=[JOB_EXAMPLE]),
                 principal: Principal = Depends(require("policy.check"))) -> dict:
    ws = ws_of(request)
    return await off_loop_if_networked(ws, lambda: policy_service.check_job(ws, _job_spec(ws, spec, principal)))


# ---------------------------------------------------------------- jobs

@router.post("/jobs", response_model=S.JobOutcome | S.JobReplay, status_code=202,
             summary="Submit a job (queued for a worker, waiting for approvals, or denied with reasons)",
             description="Answers at once with 202 and the job's URL in Location; a worker runs a queued job "
                         "(follow it at /api/jobs/{id}/events). Send an Idempotency-Key header so a retried submit "
                         "returns the first job instead of making a second one. The status field says what "
                         "happened: queued, escalated, denied.")
def job_submit(request: Request, response: Response, spec: dict[str, Any] = Body(..., examples=[JOB_EXAMPLE]),
               idempotency_key: str | None = Header(None, max_length=200),
               principal: Principal = Depends(require("jobs.submit"))) -> dict:
    ws = ws_of(request)
    result = jobs_service.submit_job(ws, _job_spec(ws, spec, principal), actor=principal.name,
                                     idempotency_key=idempotency_key or None, wait=False)
    response.headers["Location"] = f"/api/jobs/{result.get('job') or result.get('id')}"
    return result


@router.get("/jobs", response_model=list[S.JobOut], summary="Jobs, optionally by status")
def jobs_list(request: Request, status: str | None = Query(None, max_length=40),
              principal: Principal = Depends(require("jobs.read"))) -> list[dict]:
    jobs = jobs_service.list_jobs(ws_of(request), status)
    if is_scoped_rep(principal):
        jobs = [j for j in jobs if principal.represents & set(j["spec"].get("performers", []))]
    return jobs


@router.get("/jobs/{job_id}", response_model=S.JobOut, summary="One job with its decision and approvals")
async def job_show(request: Request, job_id: str, principal: Principal = Depends(require("jobs.read"))) -> dict:
    ws = ws_of(request)
    return await off_loop_if_networked(ws, _visible_job, ws, principal, job_id)


@router.post("/jobs/{job_id}/decision", response_model=S.JobOutcome,
             summary="Approve or reject an escalated job in one of your roles (the last approval queues it)")
def job_decide(request: Request, job_id: str, body: S.VerdictIn,
               principal: Principal = Depends(require("jobs.decide"))) -> dict:
    return jobs_service.decide_on_job(ws_of(request), job_id, signer=request_signer(request), role=body.role,
                                      verdict=body.verdict, note=body.note, actor=principal.name,
                                      spec_digest=body.spec_digest, preview_digest=body.preview_digest, wait=False)


@router.post("/jobs/{job_id}/cancel", response_model=S.JobOut,
             summary="Cancel a job that has not finished (a running job stops at its next chunk boundary)")
def job_cancel(request: Request, job_id: str, principal: Principal = Depends(require("jobs.cancel"))) -> dict:
    return cancel_job(ws_of(request), job_id, actor=principal.name)


# ---------------------------------------------------------------- audit, disclosure, verify

@router.get("/audit", response_model=list[S.AuditEventOut], summary="The hash-chained audit log (newest last)")
def audit_list(request: Request, limit: int = Query(200, ge=1, le=10000),
               action: str | None = Query(None, max_length=100),
               _: Principal = Depends(require("audit.read"))) -> list[dict]:
    return ledger.audit_log(ws_of(request), limit=limit, action=action)


@router.get("/audit/verify", response_model=S.AuditVerifyOut,
            summary="Verify the audit chain end to end, and that the ledger's rows are the state it describes")
def audit_verify(request: Request, deep: bool = Query(False, description="Re-hash every stored file too"),
                 _: Principal = Depends(require("audit.read"))) -> dict:
    ws = ws_of(request)
    return keys_service.with_signing_keys(ws, ledger.verify_audit(ws, deep=deep)).to_dict()


@router.get("/disclosure", summary="The GenAI disclosure report",
            responses={200: {"content": {"application/json": {}, "text/html": {}, "application/pdf": {}}}})
def disclosure(request: Request, format: Literal["json", "html", "pdf"] = Query("json"),
               episode: str | None = Query(None, max_length=100),
               sign_off: str | None = Query(None, max_length=100, description="Role that signs the report off"),
               sign_off_person: str | None = Query(None, max_length=300,
                                                   description="Crew member holding that role"),
               principal: Principal = Depends(require("disclosure.read"))) -> Response:
    with temp_dir() as tmp:
        paths = disclosure_service.write_disclosure(ws_of(request), tmp, [format], episode=episode,
                                                    actor=principal.name, sign_off_role=sign_off,
                                                    sign_off_person=sign_off_person)
        wanted = next(p for p in paths if p.suffix == "." + format)
        data = wanted.read_bytes()
    media = {"json": "application/json", "html": "text/html; charset=utf-8", "pdf": "application/pdf"}[format]
    return Response(data, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="disclosure.{format}"'})


#: most frames one verify upload may carry (each is a part; the request body limit bounds their bytes;
#: Starlette's multipart parser refuses more than 1000 files in any request before this is reached)
MAX_VERIFY_FRAMES = 500
#: most sidecars sent with frames: the parts of a sequence signed in parts (each part lists at least
#: one frame, and at most MAX_VERIFY_FRAMES frames are sent)
MAX_VERIFY_SIDECARS = 64


@router.post("/verify", response_model=S.VerifyOut,
             summary="Upload a file (with its .c2pa sidecar), a sidecar alone, or a sequence's frames with their "
                     "sidecar: who made it, and can that be trusted?")
async def verify_upload(request: Request,
                  file: UploadFile | None = File(None, description="the file to verify (a .c2pa alone: read as a "
                                                                   "sidecar)"),
                  sidecar: UploadFile | None = File(None, description="the .c2pa sidecar of the file or of the "
                                                                      "frames; sent alone, it is read without its "
                                                                      "asset. With frames of a sequence signed in "
                                                                      "parts, send every part's sidecar as a "
                                                                      f"'sidecar' part (at most "
                                                                      f"{MAX_VERIFY_SIDECARS})"),
                  frames: list[UploadFile] | None = File(None, description=f"a sequence's frames (at most "
                                                                           f"{MAX_VERIFY_FRAMES}), with their "
                                                                           "sidecar"),
                  principal: Principal = Depends(require("verify.file"))) -> Any:
    """With ``Accept: application/x-ndjson`` the answer follows the reading of a long clip or sound
    file: ``{"progress": [done, total]}`` lines, then ``{"result": ...}`` (this route's JSON) or
    ``{"error": ...}`` (the error shape, with the status the plain request would have answered).
    At most one read a person and a core's worth in all (``gate.WorkGate``): a bad request is refused
    first, then the read waits for a slot (429, 503 with Retry-After: plain answers, never a line)."""
    ws, limit = ws_of(request), limit_of(request)
    form = await request.form()     # parsed once already, to fill the parameters above
    sidecars = [part for part in form.getlist("sidecar") if isinstance(part, StarletteUploadFile)]
    for name in ("file", "sidecar"):
        if len(form.getlist(name)) > 1 and not (name == "sidecar" and frames):
            # one of them would be read and the others dropped without a word: refuse the ambiguity
            raise InputError(f"send one '{name}' part, not {len(form.getlist(name))}",
                             hint="several sidecars go with the frames of a sequence signed in parts" if
                             name == "sidecar" else None)
    if len(form.getlist("sidecar")) != len(sidecars):
        raise InputError("each 'sidecar' part must be a file")
    check_verify_request(file, sidecar, frames, len(sidecars))
    parts = sidecars if len(sidecars) > 1 else None
    slot = await verify_gate(request).acquire(principal.person_id)
    if not wants_progress(request):
        with slot.held():
            return await run_in_threadpool(verify_uploads, ws, limit, file, sidecar, frames, None, parts=parts)
    return progress_response(
        lambda progress: verify_uploads(ws, limit, file, sidecar, frames, progress, parts=parts),
        lambda result: {"result": jsonable_encoder(S.VerifyOut.model_validate(result))},
        lambda exc: error_body(exc.__class__.__name__, public_message(request, exc), http_status_for(exc)),
        slot=slot)


def verify_gate(request: Request) -> WorkGate:
    """The app's gate for verify reads (``create_app(verify_slots=...)``)."""
    return request.app.state.verify_gate


def check_verify_request(file: UploadFile | None, sidecar: UploadFile | None,
                         frames: list[UploadFile] | None, sidecars: int = 1) -> None:
    """A verify request's shape, refused before it waits for a read's slot."""
    frames = frames or []
    if len(frames) > MAX_VERIFY_FRAMES:
        raise PayloadTooLargeError(f"{len(frames)} frames is over the {MAX_VERIFY_FRAMES}-frame limit of one upload")
    if sidecars > MAX_VERIFY_SIDECARS:
        raise PayloadTooLargeError(f"{sidecars} sidecars is over the {MAX_VERIFY_SIDECARS}-part limit of one upload")
    if frames and (file is not None or sidecar is None):
        raise InputError("frames are verified against their sidecar: send 'frames' and one 'sidecar', no 'file'")
    if file is None and sidecar is None:
        raise InputError("nothing to verify: send a 'file', a 'sidecar', or 'frames' with their 'sidecar'")


def verify_uploads(ws: Workspace, limit: int, file: UploadFile | None, sidecar: UploadFile | None,
                   frames: list[UploadFile] | None,
                   progress: Callable[[int, int], None] | None = None, *,
                   parts: list[UploadFile] | None = None) -> dict:
    """What ``POST /api/verify`` answers, for the web page too (which hears ``progress`` while a long
    clip or sound file is read). The caller holds a slot of the verify gate while it runs. ``parts``:
    every sidecar sent with the frames of a sequence signed in parts (``sidecar`` is the first)."""
    check_verify_request(file, sidecar, frames, len(parts or ()) or 1)
    frames = frames or []
    with ExitStack() as stack:
        side_limit = min(limit, verify_service.SIDECAR_MAX_BYTES)
        side = stack.enter_context(saved_upload(sidecar, side_limit)) if sidecar and not parts else None
        if frames:
            paths = [stack.enter_context(saved_upload(frame, limit)) for frame in frames]
            if len({p.name for p in paths}) != len(paths):
                raise InputError("two frames have the same file name; frame names must be unique")
            sides: Path | list[Path] | None = side
            if parts:  # in the order sent (each part says which it is)
                sides = [stack.enter_context(saved_upload(part, side_limit)) for part in parts]
            result = verify_service.verify_frames(paths, sides, ws, label=f"{len(paths)} uploaded frames")
            if result.get("sidecars"):
                result["sidecars"] = [Path(name).name for name in result["sidecars"]]
        elif file is not None:
            path = stack.enter_context(saved_upload(file, limit))
            result = verify_service.verify_file(path, ws, sidecar=side, progress=progress)
            result["file"] = path.name
        else:
            result = verify_service.verify_sidecar(side, ws)
            result["file"] = side.name
        if result.get("sidecar"):  # a name, never the server's temporary path
            result["sidecar"] = Path(result["sidecar"]).name
        return result
