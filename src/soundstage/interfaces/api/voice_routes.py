"""Voices over HTTP: enrol a performer's voice reference (upload, under consent), submit a voice job
(ADR in a plate, a dub, a synthetic line), list voice jobs. Submitting answers 202 and queues the job
for a worker, as every other job; the body names the performer and the line, never a voice file, a
voice id or a server (those are the ledger's and the model record's)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, File, Header, Query, Request, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from soundstage.domain.permissions import check_performer_scope, is_scoped_rep
from soundstage.errors import NotFoundError
from soundstage.interfaces.api import schemas as S
from soundstage.interfaces.api.routes import ERRORS, limit_of, ws_of
from soundstage.interfaces.api.security import require
from soundstage.interfaces.api.uploads import saved_upload
from soundstage.services import voice_service
from soundstage.services.auth_service import Principal
from soundstage.services.talent_service import show_performer

router = APIRouter(prefix="/api", responses=ERRORS, tags=["voice"])


class VoiceJobRequest(BaseModel):
    """A voice job. Unknown fields are refused (422): who requested it, its decision, its consent,
    the voice file and the voice id are not a client's to say."""

    model_config = ConfigDict(extra="forbid")

    operation: Literal["adr", "dub", "line"]
    performer: str = Field(..., min_length=1, max_length=100)
    line: str = Field(..., min_length=1, max_length=1000)
    model_id: str = Field(..., min_length=1, max_length=100)
    plate: str | None = Field(None, max_length=20)
    start: str | None = Field(None, max_length=20)
    end: str | None = Field(None, max_length=20)
    crossfade_ms: int | None = Field(None, ge=0, le=500)
    language: str | None = Field(None, max_length=35)
    speed: float | None = Field(None, ge=0.25, le=4.0)
    scene: str | None = Field(None, max_length=40)
    shot: str | None = Field(None, max_length=40)
    deliverable: Literal["temporary", "final"] = "temporary"
    territory: str = Field("worldwide", max_length=40)
    seed: int = Field(0, ge=0, le=2**31 - 1)


class VoiceReferenceOut(BaseModel):
    performer: str
    asset: str
    name: str
    seconds: float
    sample_rate: int
    consents: list[str]
    status: str


@router.post("/performers/{performer}/voice", response_model=VoiceReferenceOut, status_code=201,
             summary="Enrol a performer's voice reference (WAV, MP3, M4A or FLAC upload)",
             description="Only under an active consent of theirs that names a voice operation; revoking it "
                         "quarantines the reference.")
def voice_enroll(request: Request, performer: str, file: UploadFile = File(...),
                 principal: Principal = Depends(require("performers.enroll"))) -> dict:
    ws = ws_of(request)
    target = show_performer(ws, performer)
    check_performer_scope(principal, [target["id"]], f"performer {target['name']}")
    limit = min(limit_of(request), voice_service.MAX_REFERENCE_BYTES)
    with saved_upload(file, limit) as path:
        return voice_service.enroll_voice(ws, target["id"], path, actor=principal.name).to_dict()


@router.get("/performers/{performer}/voice", response_model=VoiceReferenceOut,
            summary="A performer's active voice reference")
def voice_reference(request: Request, performer: str, principal: Principal = Depends(require("people.read"))) -> dict:
    ws = ws_of(request)
    target = show_performer(ws, performer)
    if is_scoped_rep(principal):
        check_performer_scope(principal, [target["id"]], f"performer {target['name']}")
    ref = voice_service.voice_reference(ws, target["id"])
    if ref is None:
        raise NotFoundError(f"{target['name']} has no active voice reference")
    return ref.to_dict()


@router.post("/voice/jobs", response_model=S.JobOutcome, status_code=202,
             summary="Submit a voice job: ADR in a plate, a dub, or a synthetic line",
             description="Decided like a likeness job (consent, policy, approvals) and queued for a worker; "
                         "follow it at /api/jobs/{id}/events. A job the policy denies answers 202 with status "
                         "denied and the rules that denied it.")
def voice_job_submit(request: Request, response: Response, body: VoiceJobRequest,
                     idempotency_key: str | None = Header(None, max_length=200),
                     principal: Principal = Depends(require("jobs.submit"))) -> dict:
    ws = ws_of(request)
    spec = voice_service.build_voice_job(
        ws, body.operation, body.performer, body.line, requested_by=principal.name, model_id=body.model_id,
        plate=body.plate, start=body.start, end=body.end, crossfade_ms=body.crossfade_ms, language=body.language,
        speed=body.speed, scene=body.scene, shot=body.shot, deliverable=body.deliverable,
        medium="final" if body.deliverable == "final" else "previz", territory=body.territory, seed=body.seed)
    result = voice_service.submit_voice_job(ws, spec, actor=principal.name, idempotency_key=idempotency_key or None,
                                            wait=False)
    response.headers["Location"] = f"/api/jobs/{result.get('job') or result.get('id')}"
    return result


@router.get("/voice/jobs", response_model=list[S.JobOut], summary="Voice jobs, newest first")
def voice_jobs(request: Request, limit: int = Query(100, ge=1, le=1000),
               principal: Principal = Depends(require("jobs.read"))) -> list[dict]:
    rows = voice_service.list_voice_jobs(ws_of(request), limit)
    if is_scoped_rep(principal):
        rows = [j for j in rows if principal.represents & set(j["spec"].get("performers", []))]
    return rows
