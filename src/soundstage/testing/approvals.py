"""Approving a job in tests and the demo the way the policy asks an approver to (issue 15).

When a pack requires a review preview of the job's operation (the default pack does for every job
that alters a real performer's likeness or performance on screen), the approver looks at the job's
current preview first - the guard makes one when the job has none - and the approval names its
digest. Otherwise the approval names no preview, as before.
"""

from __future__ import annotations

from soundstage.safeguards.preview_rules import preview_required
from soundstage.services import jobs_service, preview_service


def review_digest(ws, job_id: str, *, actor: str = "approver") -> str | None:
    """The sha256 of the preview an approver of ``job_id`` must name, made by the guard (as
    ``actor``) when the job has no current preview; None when the policy asks for none (or the job
    is not waiting for approval, where a verdict is refused anyway)."""
    job = jobs_service.show_job(ws, job_id)
    if job["status"] != "escalated" or not preview_required(ws, job["spec"]["operation"]):
        return None
    return preview_service.preview_for_review(ws, job_id, actor=actor).sha256


def approve(ws, job_id: str, *, signer, role: str, note: str = "", actor: str | None = None, **options) -> dict:
    """``jobs_service.decide_on_job`` with verdict approve, naming the job's current preview when
    the policy requires one (``review_digest``)."""
    preview = review_digest(ws, job_id, actor=actor or signer.name)
    return jobs_service.decide_on_job(ws, job_id, signer=signer, role=role, verdict="approve", note=note,
                                      actor=actor, preview_digest=preview, **options)
