"""Voice use cases: enrol a performer's voice reference under consent, build and submit voice jobs
(ADR line replacement, dubbing, synthetic lines) down the guarded path, list voice outputs.

A voice job names the performer; the enrolled voice reference is added here as an input (the
guard checks it is theirs and was enrolled under their consent) - a client never names a voice
file. The decision is the same policy as for a likeness (docs/decisions/DR018-voice-consent-and-jobs.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sqlalchemy import select

from soundstage.clock import utcnow
from soundstage.domain.safeguards import VOICE_OPERATIONS, JobSpec, OperationKind
from soundstage.errors import ConsentError, InputError, NotFoundError
from soundstage.safeguards import audit
from soundstage.safeguards.guard import IngestRequest, format_asset_id, ingest
from soundstage.safeguards.preview_rules import PREVIEW_KIND
from soundstage.services import jobs_service
from soundstage.services.consent_service import consent_status
from soundstage.services.people_service import find_person
from soundstage.services.policy_service import check_job
from soundstage.services.preview_service import MediaRef
from soundstage.services.workspace import Workspace
from soundstage.store.models import Asset, AssetConsent, ConsentRecord, Job
from soundstage.voice.job import REFERENCE_KIND
from soundstage.voice.pcm import read_track
from soundstage.voice.registry import VOICE_OPERATION_NAMES

__all__ = ["VoiceReference", "enroll_voice", "voice_reference", "build_voice_job", "submit_voice_job",
           "list_voice_jobs", "VOICE_OPERATION_NAMES", "MIN_REFERENCE_SECONDS", "MAX_REFERENCE_SECONDS",
           "MAX_REFERENCE_BYTES", "voice_outputs"]

MIN_REFERENCE_SECONDS = 1.0
MAX_REFERENCE_SECONDS = 120.0
MAX_REFERENCE_BYTES = 64 * 1024 * 1024
_AUDIO_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".flac": "audio/flac"}
#: media types of a plate a line can be replaced in sample for sample (``voice.replace.replace_in_wav``)
WAV_TYPES = ("audio/wav", "audio/x-wav", "audio/wave")
#: consents whose scope names one of these cover enrolling a voice
_VOICE_SCOPE = {*(o.value for o in VOICE_OPERATIONS), OperationKind.VOICE_SYNTHESIS.value}


@dataclass(frozen=True)
class VoiceReference:
    performer: str
    asset: str
    name: str
    seconds: float
    sample_rate: int
    consents: tuple[str, ...]
    status: str

    def to_dict(self) -> dict:
        return {"performer": self.performer, "asset": self.asset, "name": self.name, "seconds": self.seconds,
                "sample_rate": self.sample_rate, "consents": list(self.consents), "status": self.status}



def enroll_voice(ws: Workspace, performer_ref: str, audio: Path, *, actor: str) -> VoiceReference:
    """Store a performer's voice reference - only under an active consent of theirs whose scope
    names a voice operation; linked to those consents, so revoking one quarantines it."""

    audio = Path(audio)
    media_type = _AUDIO_TYPES.get(audio.suffix.lower())
    if media_type is None:
        raise InputError(f"{audio.name}: a voice reference is WAV, MP3, M4A or FLAC")
    if not audio.is_file():
        raise NotFoundError(f"voice reference not found: {audio}")
    if audio.stat().st_size > MAX_REFERENCE_BYTES:
        raise InputError(f"{audio.name} is over {MAX_REFERENCE_BYTES // 2**20} MB; a voice reference is a short "
                         "recording")
    samples, rate = read_track(audio, max_seconds=MAX_REFERENCE_SECONDS)  # refuses what is not audio
    seconds = samples.shape[0] / rate
    if seconds < MIN_REFERENCE_SECONDS:
        raise InputError(f"{audio.name} lasts {seconds:.2f} s; a voice reference needs at least "
                         f"{MIN_REFERENCE_SECONDS:.0f} s of speech")
    now = utcnow()
    with ws.unit_of_work() as s:
        row = find_person(s, ws, performer_ref, kind="performer")
        consents = [c for c in s.scalars(select(ConsentRecord).where(ConsentRecord.performer_id == row.id,
                                                                     ConsentRecord.production_id == ws.production_id))
                    if consent_status(c, now) == "active"
                    and _VOICE_SCOPE & set((c.data.get("scope") or {}).get("operations") or [])]
        if not consents:
            raise ConsentError(f"{row.name} has no active consent in this production that covers their voice; a "
                               "voice reference is biometric data and is enrolled only with consent",
                               hint="grant one naming voice.adr, voice.dub or voice.synthetic_line first: "
                                    "soundstage consent grant ...")
        asset = ingest(s, ws.store, IngestRequest(
            production_id=ws.production_id, actor=actor, kind=REFERENCE_KIND, media_type=media_type,
            name=audio.name, path=audio,
            details={"performer": row.id, "seconds": round(seconds, 3), "sample_rate": rate}))
        for c in consents:
            s.add(AssetConsent(asset_id=asset.id, consent_id=c.id))
        ids = tuple(sorted(c.id for c in consents))
        audit.append(s, production_id=ws.production_id, actor=actor, action="talent.voice_enrolled",
                     subject=row.id, payload={"asset": format_asset_id(asset.id), "consents": list(ids)})
        return VoiceReference(row.id, format_asset_id(asset.id), audio.name, round(seconds, 3), rate, ids, "active")


def voice_reference(ws: Workspace, performer_ref: str) -> VoiceReference | None:
    """The performer's newest active voice reference (None when there is none)."""
    with ws.reading() as s:
        row = find_person(s, ws, performer_ref, kind="performer")
        for asset in s.scalars(select(Asset).where(Asset.production_id == ws.production_id,
                                                   Asset.kind == REFERENCE_KIND, Asset.status == "active")
                               .order_by(Asset.created_at.desc())):
            d = asset.details or {}
            if d.get("performer") == row.id:
                links = tuple(sorted(s.scalars(select(AssetConsent.consent_id)
                                               .where(AssetConsent.asset_id == asset.id))))
                return VoiceReference(row.id, format_asset_id(asset.id), asset.name, float(d.get("seconds") or 0),
                                      int(d.get("sample_rate") or 0), links, asset.status)
    return None


def build_voice_job(ws: Workspace, operation: str, performer: str, line: str, *, requested_by: str, model_id: str,
                    plate: str | None = None, start: str | None = None, end: str | None = None,
                    crossfade_ms: int | None = None, language: str | None = None, speed: float | None = None,
                    scene: str | None = None, shot: str | None = None, deliverable: str = "temporary",
                    medium: str = "previz", territory: str = "worldwide", seed: int = 0) -> JobSpec:
    """A voice JobSpec: the performer, the line (prompt), the plate and the performer's enrolled
    voice reference as inputs, and the declared parameters. What the policy decides (consent,
    approvers) is not a field here: it is read from the ledger when the job is decided."""
    kind = VOICE_OPERATION_NAMES.get(operation, operation)
    if kind not in VOICE_OPERATION_NAMES.values():
        raise InputError(f"unknown voice operation {operation!r}", hint="one of: " + ", ".join(VOICE_OPERATION_NAMES))
    with ws.unit_of_work() as s:
        performer_id = find_person(s, ws, performer, kind="performer").id
    reference = voice_reference(ws, performer_id)
    inputs = [plate] if plate else []
    if reference is not None:
        inputs.append(reference.asset)
    params: dict = {"seed": seed}
    for name, value in (("start", start), ("end", end), ("crossfade_ms", crossfade_ms), ("language", language),
                        ("speed", speed)):
        if value is not None:
            params[name] = value
    return JobSpec(id="", production_id=ws.production_id, operation=OperationKind(kind), requested_by=requested_by,
                   model_id=model_id, prompt=line, inputs=tuple(inputs), performers=(performer_id,), scene=scene,
                   shot=shot, deliverable=deliverable, medium=medium, territory=territory,
                   params=params)


def submit_voice_job(ws: Workspace, spec: JobSpec, *, actor: str, idempotency_key: str | None = None,
                     progress: Callable[[int, int], None] | None = None, wait: bool = True) -> dict:
    """Submit through jobs_service (the guarded path). A job the policy would let through but whose
    performer has no enrolled voice reference is refused here, before approvers spend time on a
    job that cannot run; a denied job is submitted, so the denial and its rules are recorded."""

    if spec.operation not in VOICE_OPERATIONS:
        raise InputError(f"{spec.operation.value} is not a voice operation")
    with ws.unit_of_work() as s:
        rows = {ref: s.get(Asset, int(ref, 16)) for ref in spec.inputs}
        kinds = {ref: (a.kind if a is not None else None) for ref, a in rows.items()}
    for ref, a in rows.items():  # a line is replaced in a clip's track or a 16-bit PCM WAV, not a lossy file
        if a is not None and a.kind != REFERENCE_KIND and a.media_type.startswith("audio/") \
                and a.media_type not in WAV_TYPES:
            raise InputError(f"plate {ref} ({a.name}) is {a.media_type}; a line is replaced in a WAV plate or a "
                             "clip's audio track, so the samples outside the range stay the plate's own",
                             hint="add the production track as a 16-bit PCM WAV: soundstage asset add FILE.wav")
    if REFERENCE_KIND not in kinds.values() and check_job(ws, spec)["decision"]["outcome"] != "deny":
        raise InputError(f"performer {spec.performers[0]} has no enrolled voice reference; a voice is synthesised "
                         "only from a reference enrolled under consent",
                         hint="enroll one under their consent: soundstage voice enroll PERFORMER FILE")
    return jobs_service.submit_job(ws, spec, actor=actor, idempotency_key=idempotency_key, progress=progress,
                                   wait=wait)


def list_voice_jobs(ws: Workspace, limit: int = 100) -> list[dict]:
    """The production's voice jobs, newest first."""

    limit = max(1, min(int(limit), 1000))
    with ws.reading() as s:
        rows = s.scalars(select(Job).where(Job.production_id == ws.production_id,
                                           Job.kind.in_([o.value for o in VOICE_OPERATIONS]))
                         .order_by(Job.created_at.desc()).limit(limit))
        jobs = list(rows)
        failed = jobs_service.failures(s, [j.id for j in jobs if j.status == "failed"])
        return [jobs_service.job_view(j, failure=failed.get(j.id)) for j in jobs]


def voice_outputs(ws: Workspace, job_ids: list[str]) -> dict[str, list[MediaRef]]:
    """The outputs of these voice jobs (their marked, signed WAVs or clips; never a review preview),
    in one query, keyed by job id; a quarantined output is listed with its status (not shown)."""
    ids = list(dict.fromkeys(job_ids))[:1000]
    found: dict[str, list[MediaRef]] = {j: [] for j in ids}
    if not ids:
        return found
    with ws.reading() as s:
        for a in s.scalars(select(Asset).where(Asset.production_id == ws.production_id, Asset.job_id.in_(ids),
                                               Asset.kind != PREVIEW_KIND).order_by(Asset.created_at)):
            d = a.details or {}
            found[a.job_id].append(MediaRef(format_asset_id(a.id), a.name, a.kind, a.media_type, a.status, a.size,
                                            str(d["scene"]) if d.get("scene") else None,
                                            str(d["shot"]) if d.get("shot") else None))
    return found
