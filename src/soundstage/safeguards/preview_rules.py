"""What the policy says about review previews (issue 15), and the guard's one check of the preview
an approval names.

A preview is a guarded, labelled, low-resolution run of a job waiting for approval
(``safeguards.previews`` makes and registers it through the guard). Which operations may be
previewed, and which approvals must name the preview they were given on, is policy data (two pack
lists); ``check_preview_binding`` holds a verdict to an active preview of its own job, when it is
given (``services.jobs_service``) and again before every run (``safeguards.guard``). Nothing here
writes anything.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from soundstage.domain.ids import format_asset_id
from soundstage.errors import IntegrityError, QuarantinedError, RefusedError, StateConflictError
from soundstage.safeguards.resolve import policy_engine
from soundstage.store.models import Asset

PREVIEW_KIND = "preview"
#: the policy pack list naming the operations whose jobs may render a preview before approval
PREVIEW_LIST = "preview_before_approval"
#: the policy pack list naming the operations whose approvals must name the preview they were given on
PREVIEW_REQUIRED_LIST = "preview_required_before_approval"


def preview_required(ws, operation: str) -> bool:
    """An approval of this operation must name the review preview its approver was shown: any
    pack that lists the operation in ``preview_required_before_approval`` asks for it (the default
    pack does for the likeness operations that have a picture). A production pack can add the
    requirement, never take another pack's away: not by leaving the operation out of its own list,
    and not by narrowing ``preview_before_approval`` so that the operation cannot be previewed (its
    approvals are then refused until the packs agree, ``check_preview_binding``). Only an operation
    that no pack lets be previewed (voice_synthesis, training: nothing to preview) is never required:
    nobody could ever approve it."""
    packs = policy_engine(ws).packs
    listed = any(operation in p.lists.get(PREVIEW_REQUIRED_LIST, ()) for p in packs)
    return listed and any(operation in p.lists.get(PREVIEW_LIST, ()) for p in packs)


def check_preview_binding(s: Session, ws, job, operation: str, verdict: str, preview_sha256: str | None, *,
                          label: str, current: bool = False) -> Asset | None:
    """The guard's one check of the preview a verdict names (issue 15), when a verdict is given
    (``current``: it must be the job's newest active preview) and again before every run (it must
    still be an active preview of this very job: an approval bound to another job's preview, a row
    edited behind the guard's back, a preview quarantined by a revocation, are refused). An
    approval without one is refused when the pack requires previews for the operation; a
    rejection needs none. Returns the preview asset named (None when none is)."""
    if preview_sha256 is None:
        if verdict == "approve" and preview_required(ws, operation) and not preview_allowed(ws, operation):
            raise RefusedError(f"{label} cannot count: the policy requires a preview before approving {operation} "
                               f"jobs, and a pack leaves {operation} out of '{PREVIEW_LIST}', so none can be made",
                               hint=f"a pack cannot take the '{PREVIEW_REQUIRED_LIST}' requirement away; list "
                                    f"{operation} in every pack's '{PREVIEW_LIST}'")
        if verdict == "approve" and preview_required(ws, operation):
            # when given: 409, look first; before a run (a verdict given before the pack asked): refused
            error = StateConflictError if current else RefusedError
            raise error(f"{label} names no preview: look at the preview first: soundstage job preview {job.id}",
                        hint=f"then approve with --preview and the digest it prints: the policy asks approvers of "
                             f"{operation} jobs to see a preview" if current else
                             "a verdict given before the policy asked for a preview does not count: submit the "
                             "job again and approve it on its preview")
        return None
    rows = list(s.scalars(select(Asset).where(Asset.production_id == ws.production_id, Asset.job_id == job.id,
                                              Asset.kind == PREVIEW_KIND, Asset.sha256 == preview_sha256)))
    active = [a for a in rows if a.status == "active"]
    if current:
        newest = s.scalars(select(Asset).where(Asset.job_id == job.id, Asset.kind == PREVIEW_KIND,
                                               Asset.status == "active").order_by(Asset.created_at.desc())).first()
        if newest is None or newest.sha256 != preview_sha256:
            raise StateConflictError(f"job {job.id}: the preview you reviewed ({preview_sha256[:12]}…) is not its "
                                     "current preview" + (f" ({newest.sha256[:12]}…)" if newest else " (none)"),
                                     hint=f"look at the current one: soundstage job preview {job.id}")
        return newest
    if not rows:
        raise IntegrityError(f"{label} names preview {preview_sha256[:12]}…, which is no preview of job {job.id}; "
                             "nothing ran", hint="an approval is bound to a preview of the job it approves")
    if not active:
        raise QuarantinedError(f"{label} was given on preview {format_asset_id(rows[0].id)}, quarantined since "
                               "(a consent it relied on was revoked); nothing ran",
                               hint="a verdict on a withdrawn preview does not count: submit the job again and "
                                    "approve it on its new preview")
    return active[0]


def preview_allowed(ws, operation: str) -> bool:
    """The policy's preview rule is data: every pack that lists ``preview_before_approval`` must
    name the operation (a production pack can narrow the default's list, never widen it)."""
    lists = [p.lists[PREVIEW_LIST] for p in policy_engine(ws).packs if PREVIEW_LIST in p.lists]
    return bool(lists) and all(operation in names for names in lists)
