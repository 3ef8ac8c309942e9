"""Review previews (issue 15): a guarded, labelled, low-resolution run of a job waiting for
approval, so its approvers see what they approve (docs/guides/review-before-approval.md).

A preview goes down the guarded path like any output: the job's own checks first (``safeguards.guard``
proves the inputs, the rows, the model, the consents and the policy now), then the backend runs on
proxies of the inputs in a scratch folder, and the result is labelled PREVIEW, marked, signed and
registered by the guard (``guard.mark_sign_register``: the guard alone holds the store's write
capability; nothing here touches the store's write side). What the policy says about previews, and
the check of the preview a verdict names, are in ``safeguards.preview_rules``.

A preview is asked for, not made, by a request (DR023): ``request`` records a ``preview_request``
row (at most one pending per job: a second request is answered with the pending one), a queue
worker ``claim_request``s it under a lease and ``render_request`` makes the preview here, through
the same checks; the request is finished in the very transaction that registers the preview (a
compare-and-set on the lease, so a worker whose lease lapsed and was taken over registers nothing).
A worker killed mid-render leaves a lease that lapses: the next worker renders it again, at most
``MAX_RENDER_ATTEMPTS`` times. The job's status never changes (``safeguards.jobstate`` is the
job's one state machine).
"""

from __future__ import annotations

import logging
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import numpy as np
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError as DBIntegrityError
from sqlalchemy.exc import OperationalError

from soundstage.clock import as_utc, utcnow
from soundstage.domain.ids import format_asset_id
from soundstage.domain.jobs import JobStatus
from soundstage.domain.safeguards import JobSpec, Outcome
from soundstage.errors import (
    NotFoundError,
    PolicyDeniedError,
    RefusedError,
    SoundstageError,
    StateConflictError,
)
from soundstage.generate.protocol import GeneratedClip, GeneratedImage, GenerationInput, GenerationRequest
from soundstage.media import preview as proxy
from soundstage.media.images import encode_image
from soundstage.media.video import iter_frames
from soundstage.safeguards import audit, guard
from soundstage.safeguards.lease import LeaseTerms
from soundstage.safeguards.preview_rules import PREVIEW_KIND, PREVIEW_LIST, preview_allowed
from soundstage.store.models import Asset, Job, PreviewRequest
from soundstage.vfx import media as vmedia
from soundstage.vfx.sequences import SequenceIndex, read_frame_rgb8
from soundstage.voice.job import mark_segment
from soundstage.voice.pcm import read_track, resample, write_wav16
from soundstage.voice.protocol import GeneratedAudio

#: previews one job may have (each is a backend run): enough to look again after a change of mind
MAX_PREVIEWS_PER_JOB = 20
#: preview requests one job may have in all (a failed one was a render too); one is pending at a time
MAX_REQUESTS_PER_JOB = 2 * MAX_PREVIEWS_PER_JOB
#: a request whose render was interrupted (its worker killed) this many times is given up as failed
MAX_RENDER_ATTEMPTS = 3

log = logging.getLogger("soundstage.preview")


@dataclass(frozen=True)
class PreviewOutcome:
    """A preview registered for a job waiting for approval: the asset and the digest it binds."""

    job_id: str
    asset: dict
    spec_digest: str


def preview(ws, job_id: str, *, actor: str, claimed: "ClaimedRequest | None" = None) -> PreviewOutcome:
    """A guarded, low-resolution preview of a job waiting for approval, for its approvers to see.

    The job's own checks first (its inputs still the ones submitted, its rows what the audit log
    says, its model registered, its consents verified and the policy not denying it now), then the
    pack's preview rule; then the job's backend runs on proxies of its inputs (at most
    ``PROXY_MAX_SIDE`` px, the first ``PROXY_MAX_FRAMES`` frames, in a scratch folder - never the
    job's resumable chunk folder), the result is labelled PREVIEW, watermarked, signed and
    registered as a ``preview`` asset of the job, and ``job.previewed`` records its digest. Nothing
    else about the job changes: it still waits for every approval. ``claimed``: the preview request
    being rendered (``render_request``): the job must still be the one it was asked for, and the
    request is finished in the transaction that registers the preview."""
    with ws.unit_of_work() as s:
        job = guard.job_of(s, ws, job_id)
        if job.status != JobStatus.ESCALATED.value:
            raise StateConflictError(f"job {job_id} is {job.status}; a preview is made for a job waiting for approval",
                                     hint=f"see it: soundstage job show {job_id}")
        checked = guard.check_job(s, ws, job)  # the claim's checks (no preview of a job that could not run)
        spec, resolved, digest, decision = checked.spec, checked.resolved, checked.digest, checked.decision
        model, generator, params, ctx = checked.model, checked.generator, checked.params, checked.ctx
        if claimed is not None and claimed.spec_digest != digest:
            raise StateConflictError(f"job {job_id} changed after its preview was asked for; no preview made",
                                     hint="ask for a preview of the job as it is now")
        if decision.outcome is Outcome.DENY:
            rules = [r.rule_id for r in decision.reasons if r.outcome == "deny"]
            raise PolicyDeniedError(f"job {job_id} is denied now ({', '.join(rules)}); no preview is made",
                                    rule_ids=rules)
        if not preview_allowed(ws, spec.operation.value):
            raise RefusedError(f"the policy makes no preview of {spec.operation.value} jobs before approval",
                               hint=f"the pack's '{PREVIEW_LIST}' list names the operations that may be previewed")
        consent_ids = sorted({c.consent_id for c in ctx.consent_checks.values() if c.consent_id})
        references = guard.performer_references(s, ws, spec, ctx)
        made = s.query(Asset).filter(Asset.job_id == job_id, Asset.kind == PREVIEW_KIND).count()
        if made >= MAX_PREVIEWS_PER_JOB:
            raise RefusedError(f"job {job_id} already has {made} previews; no more are made",
                               hint="review the current one, or submit the job again")
        inputs = [i for _, i in resolved]
    reserved = guard.reserved_ids(ws.production_id, f"{job_id}:preview:{made}")
    root = guard.work_root(ws)
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{guard.safe_job_dir(job_id)}-preview-", dir=root / "tmp") as scratch:
        tmp = Path(scratch)
        # a voice job runs on its own inputs (the reference and the plate whose line it replaces: the
        # line is bounded, and a proxy would lose the plate's sound); its output is cut for the preview
        proxies = tuple(inputs) if _is_voice(spec) else tuple(_proxy_input(item, tmp / f"in{n}")
                                                               for n, item in enumerate(inputs))
        outputs = generator.generate(GenerationRequest(
            job=spec, inputs=proxies, params=params, seed=int(params.get("seed", 0)), scratch_dir=tmp,
            reserved_asset_ids=reserved, watermark_key=ws.watermark_key, performer_references=references,
            work_root=None, cluster=None, workers=1))
        output = _preview_output(ws, outputs, reserved[0], tmp)
        try:
            return _register_preview(ws, job_id, spec, digest, model, output, inputs, consent_ids, actor, reserved[0],
                                     claimed)
        except DBIntegrityError:
            raise StateConflictError(f"another preview of job {job_id} was registered at the same moment",
                                     hint="reload the approval card") from None


def _register_preview(ws, job_id: str, spec: JobSpec, digest: str, model, output, inputs, consent_ids, actor: str,
                      asset_id: int, claimed: "ClaimedRequest | None" = None) -> PreviewOutcome:
    """The preview's own step C: the job still waits on the same spec and its consents still hold;
    the request being rendered (if any) is still this claim's, and is finished with it. A registration
    that fails removes what it stored (``guard.removed_if_it_fails``)."""
    with guard.removed_if_it_fails(ws) as stored, ws.unit_of_work() as s:
        job = guard.job_of(s, ws, job_id)
        if job.status != JobStatus.ESCALATED.value or job.spec_digest != digest:
            raise StateConflictError(f"job {job_id} moved on while its preview was made; nothing registered")
        # the claim's checks again, under the write order: a consent revoked, an input quarantined, a
        # model card replaced while the preview rendered each stop it here
        checked = guard.check_job(s, ws, job)
        if checked.decision.outcome is Outcome.DENY or not set(consent_ids) <= set(checked.consent_ids):
            raise PolicyDeniedError(f"job {job_id}: a consent changed while its preview was made; nothing "
                                    "registered")
        if checked.model != model:
            raise StateConflictError(f"the model registry's entry for {spec.model_id} changed while the preview of "
                                     f"job {job_id} was made; nothing registered", hint="ask for a new preview")
        labelled = dc_replace(spec, deliverable="temporary")  # its credentials say: temporary, not a final
        asset = guard.mark_sign_register(ws, s, job_id, labelled, model, output, inputs, consent_ids, actor,
                                         asset_id, stored=stored)
        payload = {"asset": format_asset_id(asset.id), "sha256": asset.sha256, "spec_digest": digest}
        if claimed is not None:
            s.flush()
            done = s.execute(update(PreviewRequest).where(
                PreviewRequest.id == claimed.request_id, PreviewRequest.lease_owner == claimed.owner,
                PreviewRequest.finished_at.is_(None)).values(
                finished_at=utcnow(), pending_job_id=None, asset_id=asset.id, lease_expires_at=None)
                .execution_options(synchronize_session=False))
            if done.rowcount != 1:
                raise StateConflictError(f"preview request {claimed.request_id} of job {job_id} was taken over "
                                         "while this render ran (its lease lapsed); nothing registered")
            payload.update(request=claimed.request_id, rendered_by=claimed.owner)
        audit.append(s, production_id=ws.production_id, actor=actor, action="job.previewed", subject=job_id,
                     payload=payload)
        return PreviewOutcome(job_id, guard.asset_summary(asset), digest)


def _proxy_input(item: GenerationInput, folder: Path) -> GenerationInput:
    """A job input reduced for a preview: a still scaled down, a clip or an image sequence cut to
    its first frames and scaled down into an H.264 proxy. Other inputs (documents) as they are."""
    folder.mkdir(parents=True, exist_ok=True)
    if item.frames:
        index = SequenceIndex.from_bytes(Path(item.path).read_bytes(), source=item.name)
        frames = (read_frame_rgb8(Path(p)) for p in item.frames[:proxy.PROXY_MAX_FRAMES])
        fps = Fraction(index.fps)
    elif str(item.media_type).startswith("video/"):
        info = vmedia.probe(item.path, refuse_vfr=True)
        frames = vmedia.decode_range(item.path, 0, proxy.PROXY_MAX_FRAMES, info=info)
        fps = info.fps
    elif str(item.media_type).startswith("image/"):
        still = proxy.downscale(read_frame_rgb8(Path(item.path)), proxy.PROXY_MAX_SIDE)
        out = folder / ("proxy-" + Path(item.name).stem[:60] + ".png")
        out.write_bytes(encode_image(still, "png"))
        return dc_replace(item, path=out, media_type="image/png", name=out.name, watermark_payload=None,
                        frames=(), sha256="")
    else:
        return item
    out = folder / ("proxy-" + Path(item.name).stem[:60] + ".mp4")
    writer = None
    try:
        for frame in frames:
            small = proxy.downscale(frame, proxy.PROXY_MAX_SIDE)
            if writer is None:
                writer = vmedia.VideoWriter(out, codec="h264", fps=fps, width=small.shape[1], height=small.shape[0])
            writer.write(small)
    finally:
        if writer is not None:
            writer.close()
    return dc_replace(item, path=out, media_type="video/mp4", name=out.name, watermark_payload=None, frames=(),
                    sha256="")


def _is_voice(spec: JobSpec) -> bool:
    return spec.operation.value.startswith("voice")


def _preview_output(ws, outputs, payload: int, folder: Path):
    """The backend's first picture output, labelled PREVIEW: a still's pixels (the guard marks
    them when it registers), or a clip decoded, labelled, re-marked with the preview's id frame by
    frame and encoded again (at most ``PROXY_MAX_FRAMES`` frames); or a voice job's sound
    (``_audio_preview``)."""
    for output in outputs:
        details = {**output.details, "asset_kind": PREVIEW_KIND, "label": proxy.PREVIEW_LABEL}
        if isinstance(output, GeneratedAudio):
            return _audio_preview(ws, output, payload, folder, details)
        if isinstance(output, GeneratedImage):
            pixels = proxy.burn_label(proxy.downscale(output.pixels, proxy.PROXY_MAX_SIDE))
            return GeneratedImage(pixels, "preview-" + output.name, output.parents, output.operation, details,
                                  output.provenance)
        if isinstance(output, GeneratedClip):
            engine = ws.watermark_engine()
            fps = Fraction(str(output.details.get("fps") or "24"))
            out = folder / "preview.mp4"
            writer = None
            try:
                for frame in iter_frames(output.path, max_frames=proxy.PROXY_MAX_FRAMES):
                    labelled = engine.embed(proxy.burn_label(proxy.downscale(frame, proxy.PROXY_MAX_SIDE)), payload)
                    if writer is None:
                        writer = vmedia.VideoWriter(out, codec="h264", fps=fps, width=labelled.shape[1],
                                                    height=labelled.shape[0])
                    writer.write(labelled)
            finally:
                if writer is not None:
                    writer.close()
            return GeneratedClip(out, "preview-" + Path(output.name).stem + ".mp4", payload, output.parents,
                                 output.operation, "video/mp4", details, output.provenance)
    raise RefusedError("the backend returned no picture or sound to preview")


#: a voice preview: at most this many seconds, from just before the line
AUDIO_PREVIEW_SECONDS = 6.0
#: ... mono at this rate (16-bit WAV, 256 kb/s: the mark's band, 150 Hz-7 kHz, is kept)
AUDIO_PREVIEW_RATE = 16000
#: how much of the sound before the line a preview keeps, to hear the line against what precedes it
AUDIO_PREVIEW_LEAD = 0.5
#: two short tones open every voice preview, so that a copy played anywhere is heard as one
AUDIO_PREVIEW_TONE = (1000.0, 0.12, 0.08)  # Hz, tone seconds, gap seconds


def _audio_preview(ws, output: "GeneratedAudio", payload: int, folder: Path, details: dict) -> "GeneratedAudio":
    """A voice job's output reduced for a preview: from ``AUDIO_PREVIEW_LEAD`` s before its first
    synthetic segment, at most ``AUDIO_PREVIEW_SECONDS`` s, mono at ``AUDIO_PREVIEW_RATE`` Hz,
    opened by two short tones, and marked again as a whole with the preview's id (the production's
    audio watermark, DR017) - the guard checks that mark before it signs, and the credentials say
    temporary. The performer's voice is the job's own line: nothing new is spoken."""
    samples, rate = read_track(output.path, max_seconds=120.0)
    first = min((a for a, _ in output.segments), default=0.0)
    start = max(0.0, first - AUDIO_PREVIEW_LEAD)
    a = int(round(start * rate))
    b = min(samples.shape[0], a + int(round(AUDIO_PREVIEW_SECONDS * rate)))
    mono = samples[a:b].astype(np.float32).mean(axis=1, keepdims=True)
    mono = resample(mono, rate, AUDIO_PREVIEW_RATE)
    hz, tone, gap = AUDIO_PREVIEW_TONE
    t = np.arange(int(tone * AUDIO_PREVIEW_RATE), dtype=np.float32) / AUDIO_PREVIEW_RATE
    beep = (0.25 * np.sin(2 * np.pi * hz * t))[:, None].astype(np.float32)
    silence = np.zeros((int(gap * AUDIO_PREVIEW_RATE), 1), np.float32)
    body = np.concatenate([beep, silence, beep, silence, mono], axis=0)
    body = body[: int(round((AUDIO_PREVIEW_SECONDS + 2 * (tone + gap)) * AUDIO_PREVIEW_RATE))]
    marked = mark_segment(body, AUDIO_PREVIEW_RATE, payload, ws.watermark_key)
    out = folder / "preview.wav"
    write_wav16(out, marked, AUDIO_PREVIEW_RATE)
    seconds = marked.shape[0] / AUDIO_PREVIEW_RATE
    details = {**details, "preview_of": {"start": round(start, 3), "seconds": round(seconds, 3)}}
    return GeneratedAudio(out, "preview-" + Path(output.name).stem + ".wav", payload, ((0.0, seconds),), "audio/wav",
                          output.parents, output.operation, details, output.provenance)


# ---------------------------------------------------------------- preview requests (DR023)

@dataclass(frozen=True)
class RequestState:
    """A preview request as people see it: ``pending`` (waiting for a worker), ``rendering`` (a
    worker's lease holds it), ``done`` (``asset`` is the preview) or ``failed`` (``error``, one line)."""

    request_id: str
    job_id: str
    status: str
    spec_digest: str
    requested_by: str
    requested_at: str
    attempts: int
    asset: str | None = None
    error: str | None = None

    def to_dict(self) -> dict:
        return {"request": self.request_id, "job": self.job_id, "status": self.status,
                "spec_digest": self.spec_digest, "requested_by": self.requested_by,
                "requested_at": self.requested_at, "attempts": self.attempts, "asset": self.asset,
                "error": self.error}


@dataclass(frozen=True)
class ClaimedRequest:
    request_id: str
    job_id: str
    spec_digest: str
    requested_by: str
    owner: str
    terms: LeaseTerms


def state_of(row: PreviewRequest, now=None) -> RequestState:
    now = now or utcnow()
    if row.finished_at is not None:
        status = "done" if row.asset_id is not None else "failed"
    else:
        expires = as_utc(row.lease_expires_at)
        status = "rendering" if row.lease_owner and expires is not None and expires >= now else "pending"
    return RequestState(row.id, row.job_id, status, row.spec_digest, row.requested_by,
                        as_utc(row.requested_at).isoformat(timespec="seconds"), int(row.attempts or 0),
                        format_asset_id(row.asset_id) if row.asset_id is not None else None, row.error)


def latest_request(s, ws, job_id: str) -> PreviewRequest | None:
    """The job's newest preview request (None: none was ever asked for)."""
    return s.scalars(select(PreviewRequest).where(PreviewRequest.production_id == ws.production_id,
                                                  PreviewRequest.job_id == job_id)
                     .order_by(PreviewRequest.requested_at.desc(), PreviewRequest.id.desc()).limit(1)).first()


def _pending(s, job_id: str) -> PreviewRequest | None:
    return s.scalars(select(PreviewRequest).where(PreviewRequest.pending_job_id == job_id)).first()


def request(ws, job_id: str, *, actor: str) -> tuple[RequestState, bool]:
    """Ask for a preview of a job waiting for approval; returns (the request, whether it is new).
    Cheap checks answer at once (no such job 404, a job not waiting for approval 409, an operation
    the policy makes no preview of 403, too many previews 403); the guard's full checks run when
    the preview is rendered. While one request of the job is pending, asking again answers with
    that one: however many clicks, one render. The unique ``pending_job_id`` decides a race."""
    for attempt in range(5):
        try:
            with ws.unit_of_work() as s:
                job = guard.job_of(s, ws, job_id)
                if job.status != JobStatus.ESCALATED.value:
                    raise StateConflictError(f"job {job_id} is {job.status}; a preview is made for a job waiting "
                                             "for approval", hint=f"see it: soundstage job show {job_id}")
                pending = _pending(s, job_id)
                if pending is not None:
                    return state_of(pending), False
                operation = str((job.spec or {}).get("operation", ""))
                if not preview_allowed(ws, operation):
                    raise RefusedError(f"the policy makes no preview of {operation} jobs before approval",
                                       hint=f"the pack's '{PREVIEW_LIST}' list names the operations that may be "
                                            "previewed")
                made = s.scalar(select(func.count()).select_from(Asset).where(
                    Asset.job_id == job_id, Asset.kind == PREVIEW_KIND)) or 0
                asked = s.scalar(select(func.count()).select_from(PreviewRequest).where(
                    PreviewRequest.job_id == job_id)) or 0
                if made >= MAX_PREVIEWS_PER_JOB or asked >= MAX_REQUESTS_PER_JOB:
                    raise RefusedError(f"job {job_id} already has {made} previews ({asked} asked for); no more are "
                                       "made", hint="review the current one, or submit the job again")
                row = PreviewRequest(id="pr-" + secrets.token_hex(8), production_id=ws.production_id, job_id=job_id,
                                     pending_job_id=job_id, spec_digest=job.spec_digest or "",
                                     requested_by=actor[:300], requested_at=utcnow(), attempts=0)
                s.add(row)
                s.flush()
                return state_of(row), True
        except (DBIntegrityError, OperationalError) as exc:
            # another request of the same job won the race (the unique pending row), or SQLite's
            # snapshot went stale under a concurrent writer: read again - its request is ours too
            if isinstance(exc, OperationalError) and "locked" not in str(exc).lower():
                raise
            time.sleep(0.05 * (attempt + 1))
    raise StateConflictError(f"job {job_id}: its preview request could not be recorded (the ledger was busy)",
                             hint="ask again")


def claim_request(ws, owner: str, terms: LeaseTerms, *, request_id: str | None = None) -> ClaimedRequest | None:
    """Claim the oldest preview request no live lease holds (or ``request_id``) for ``owner``: a
    compare-and-set on its lease owner, so of racing workers one wins. A request whose renders were
    interrupted ``MAX_RENDER_ATTEMPTS`` times is finished as failed instead. None: nothing to claim."""
    while True:
        now = utcnow()
        with ws.unit_of_work() as s:
            query = select(PreviewRequest).where(
                PreviewRequest.production_id == ws.production_id, PreviewRequest.finished_at.is_(None),
                or_(PreviewRequest.lease_owner.is_(None), PreviewRequest.lease_expires_at < now))
            if request_id is not None:
                query = query.where(PreviewRequest.id == request_id)
            row = s.scalars(query.order_by(PreviewRequest.requested_at, PreviewRequest.id).limit(1)
                            .with_for_update(skip_locked=True)).first()
            if row is None:
                return None
            held = (PreviewRequest.lease_owner.is_(None) if row.lease_owner is None
                    else PreviewRequest.lease_owner == row.lease_owner)
            if (row.attempts or 0) >= MAX_RENDER_ATTEMPTS:
                s.execute(update(PreviewRequest).where(PreviewRequest.id == row.id, held,
                                                       PreviewRequest.finished_at.is_(None))
                          .values(finished_at=now, pending_job_id=None, lease_owner=None, lease_expires_at=None,
                                  error=f"its render was interrupted {row.attempts} times (the worker stopped "
                                        "or died); given up - ask for a preview again")
                          .execution_options(synchronize_session=False))
                log.warning("preview request %s of job %s given up after %s attempts", row.id, row.job_id,
                            row.attempts)
                continue
            claimed = s.execute(update(PreviewRequest).where(PreviewRequest.id == row.id, held,
                                                             PreviewRequest.finished_at.is_(None))
                                .values(lease_owner=owner, lease_expires_at=now + _seconds(terms.seconds),
                                        attempts=(row.attempts or 0) + 1)
                                .execution_options(synchronize_session=False))
            if claimed.rowcount != 1:
                return None  # another worker took it at the same moment
            return ClaimedRequest(row.id, row.job_id, row.spec_digest, row.requested_by, owner, terms)


def render_request(ws, claimed: ClaimedRequest) -> RequestState:
    """Render a claimed request through the guard (``preview``), its lease renewed meanwhile. A
    refusal (the job moved on, changed, is denied now, the backend failed) finishes the request as
    failed with the one line a person reads, and is raised again for the caller."""
    with _RequestLease(ws, claimed):
        try:
            preview(ws, claimed.job_id, actor=claimed.requested_by, claimed=claimed)
        except SoundstageError as exc:
            _fail(ws, claimed, exc.one_line())
            raise
        except Exception as exc:  # noqa: BLE001 - recorded on the request, then raised for the worker's log
            _fail(ws, claimed, f"the preview could not be made: {exc.__class__.__name__}: {exc}")
            raise
    return request_state(ws, claimed.request_id)


def request_state(ws, request_id: str) -> RequestState:
    with ws.reading() as s:
        row = s.get(PreviewRequest, request_id)
        if row is None or row.production_id != ws.production_id:
            raise NotFoundError(f"no preview request {request_id} in this production")
        return state_of(row)


def job_changed_since(s, row: PreviewRequest) -> bool:
    """The job is no longer the one this request (or its preview) was asked for: it is not waiting
    for approval any more, or its spec digest differs."""
    job = s.get(Job, row.job_id)
    return job is None or job.status != JobStatus.ESCALATED.value or (job.spec_digest or "") != row.spec_digest


def _fail(ws, claimed: ClaimedRequest, message: str) -> None:
    line = " ".join(message.split())[:500]
    try:
        with ws.unit_of_work() as s:
            s.execute(update(PreviewRequest).where(PreviewRequest.id == claimed.request_id,
                                                   PreviewRequest.lease_owner == claimed.owner,
                                                   PreviewRequest.finished_at.is_(None))
                      .values(finished_at=utcnow(), pending_job_id=None, lease_expires_at=None, error=line)
                      .execution_options(synchronize_session=False))
    except Exception as exc:  # noqa: BLE001 - the lease lapses and the next worker tries again
        log.warning("preview request %s: could not record its failure: %s", claimed.request_id,
                    str(exc).splitlines()[0][:200] if str(exc) else exc.__class__.__name__)


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


class _RequestLease:
    """Renews a claimed request's lease every heartbeat while it renders (a render of a slow de-age
    may outlast one lease; a worker killed mid-render stops renewing and the lease lapses)."""

    def __init__(self, ws, claimed: ClaimedRequest) -> None:
        self.ws = ws
        self.claimed = claimed
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"preview-lease-{claimed.request_id}", daemon=True)

    def __enter__(self) -> "_RequestLease":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._done.set()
        self._thread.join(timeout=max(5.0, self.claimed.terms.heartbeat * 2))

    def _run(self) -> None:
        while not self._done.wait(self.claimed.terms.heartbeat):
            try:
                with self.ws.unit_of_work() as s:
                    held = s.execute(update(PreviewRequest).where(
                        PreviewRequest.id == self.claimed.request_id, PreviewRequest.lease_owner == self.claimed.owner,
                        PreviewRequest.finished_at.is_(None))
                        .values(lease_expires_at=utcnow() + _seconds(self.claimed.terms.seconds))
                        .execution_options(synchronize_session=False)).rowcount == 1
            except Exception as exc:  # noqa: BLE001 - the database may be briefly away: next beat
                log.warning("preview request %s: lease renewal failed: %s", self.claimed.request_id,
                            str(exc).splitlines()[0][:200] if str(exc) else exc.__class__.__name__)
                continue
            if not held:
                return  # finished, or taken over: registration's compare-and-set refuses this render
