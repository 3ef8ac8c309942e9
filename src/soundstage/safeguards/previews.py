"""Review previews (issue 15): a guarded, labelled, low-resolution run of a job waiting for
approval, so its approvers see what they approve (docs/guides/review-before-approval.md).

A preview goes down the guarded path like any output: the job's own checks first (``safeguards.guard``
proves the inputs, the rows, the model, the consents and the policy now), then the backend runs on
proxies of the inputs in a scratch folder, and the result is labelled PREVIEW, marked, signed and
registered by the guard (``guard.mark_sign_register``: the guard alone holds the store's write
capability; nothing here touches the store's write side). What the policy says about previews, and
the check of the preview a verdict names, are in ``safeguards.preview_rules``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from fractions import Fraction
from pathlib import Path

from sqlalchemy.exc import IntegrityError as DBIntegrityError

from soundstage.domain.ids import format_asset_id
from soundstage.domain.jobs import JobStatus
from soundstage.domain.safeguards import JobSpec, Outcome
from soundstage.errors import IntegrityError, PolicyDeniedError, RefusedError, StateConflictError
from soundstage.generate.protocol import GeneratedClip, GeneratedImage, GenerationInput, GenerationRequest
from soundstage.media import preview as proxy
from soundstage.media.images import encode_image
from soundstage.media.video import iter_frames
from soundstage.safeguards import audit, guard, signatures
from soundstage.safeguards.ledger_state import prove_rows
from soundstage.safeguards.preview_rules import PREVIEW_KIND, PREVIEW_LIST, preview_allowed
from soundstage.safeguards.resolve import decide
from soundstage.store.models import Asset
from soundstage.vfx import media as vmedia
from soundstage.vfx.sequences import SequenceIndex, read_frame_rgb8

#: previews one job may have (each is a backend run): enough to look again after a change of mind
MAX_PREVIEWS_PER_JOB = 20


@dataclass(frozen=True)
class PreviewOutcome:
    """A preview registered for a job waiting for approval: the asset and the digest it binds."""

    job_id: str
    asset: dict
    spec_digest: str


def preview(ws, job_id: str, *, actor: str) -> PreviewOutcome:
    """A guarded, low-resolution preview of a job waiting for approval, for its approvers to see.

    The job's own checks first (its inputs still the ones submitted, its rows what the audit log
    says, its model registered, its consents verified and the policy not denying it now), then the
    pack's preview rule; then the job's backend runs on proxies of its inputs (at most
    ``PROXY_MAX_SIDE`` px, the first ``PROXY_MAX_FRAMES`` frames, in a scratch folder - never the
    job's resumable chunk folder), the result is labelled PREVIEW, watermarked, signed and
    registered as a ``preview`` asset of the job, and ``job.previewed`` records its digest. Nothing
    else about the job changes: it still waits for every approval."""
    with ws.unit_of_work() as s:
        job = guard.job_of(s, ws, job_id)
        if job.status != JobStatus.ESCALATED.value:
            raise StateConflictError(f"job {job_id} is {job.status}; a preview is made for a job waiting for approval",
                                     hint=f"see it: soundstage job show {job_id}")
        spec = JobSpec.from_dict(job.spec)
        resolved = guard.resolve_inputs(s, ws, spec)
        digest = guard.job_digest(spec, resolved)
        if {d for d in (job.spec_digest, guard.submitted_digest(s, job_id)) if d} != {digest}:
            raise IntegrityError(f"job {job_id} is not what was submitted (the spec digest differs); no preview made")
        prove_rows(s, job_id, spec)
        model, generator, params = guard.registered_backend(s, spec)
        signatures.verify_consents(s, ws.production_id, spec.performers)
        decision, ctx = decide(s, ws, spec)
        decision = guard.apply_overrides(decision, job.overrides or [])
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
        proxies = tuple(_proxy_input(item, tmp / f"in{n}") for n, item in enumerate(inputs))
        outputs = generator.generate(GenerationRequest(
            job=spec, inputs=proxies, params=params, seed=int(params.get("seed", 0)), scratch_dir=tmp,
            reserved_asset_ids=reserved, watermark_key=ws.watermark_key, performer_references=references,
            work_root=None, cluster=None, workers=1))
        output = _preview_output(ws, outputs, reserved[0], tmp)
        try:
            return _register_preview(ws, job_id, spec, digest, model, output, inputs, consent_ids, actor, reserved[0])
        except DBIntegrityError:
            raise StateConflictError(f"another preview of job {job_id} was registered at the same moment",
                                     hint="reload the approval card") from None


def _register_preview(ws, job_id: str, spec: JobSpec, digest: str, model, output, inputs, consent_ids, actor: str,
                      asset_id: int) -> PreviewOutcome:
    """The preview's own step C: the job still waits on the same spec and its consents still hold."""
    with ws.unit_of_work() as s:
        job = guard.job_of(s, ws, job_id)
        if job.status != JobStatus.ESCALATED.value or job.spec_digest != digest:
            raise StateConflictError(f"job {job_id} moved on while its preview was made; nothing registered")
        decision, ctx = decide(s, ws, spec)
        still = sorted({c.consent_id for c in ctx.consent_checks.values() if c.consent_id})
        if guard.apply_overrides(decision, job.overrides or []).outcome is Outcome.DENY or \
                not set(consent_ids) <= set(still):
            raise PolicyDeniedError(f"job {job_id}: a consent changed while its preview was made; nothing "
                                    "registered")
        labelled = dc_replace(spec, deliverable="temporary")  # its credentials say: temporary, not a final
        asset = guard.mark_sign_register(ws, s, job_id, labelled, model, output, inputs, consent_ids, actor,
                                         asset_id)
        audit.append(s, production_id=ws.production_id, actor=actor, action="job.previewed", subject=job_id,
                     payload={"asset": format_asset_id(asset.id), "sha256": asset.sha256, "spec_digest": digest})
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


def _preview_output(ws, outputs, payload: int, folder: Path):
    """The backend's first picture output, labelled PREVIEW: a still's pixels (the guard marks
    them when it registers), or a clip decoded, labelled, re-marked with the preview's id frame by
    frame and encoded again (at most ``PROXY_MAX_FRAMES`` frames)."""
    for output in outputs:
        details = {**output.details, "asset_kind": PREVIEW_KIND, "label": proxy.PREVIEW_LABEL}
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
    raise RefusedError("the backend returned no picture to preview")
