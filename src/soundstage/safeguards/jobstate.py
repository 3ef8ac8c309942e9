"""The one place a job's status changes: a compare-and-set on its ledger row plus its audit event.

``transition`` looks the move up in ``domain.jobs.TRANSITIONS`` and performs it as
``UPDATE job SET status = :to WHERE id = :id AND status = :from``: of any number of requests that
race for the same move (final approvals arriving together, a retry during a run, two API workers),
exactly one changes the row; the others get ``StateConflictError`` (HTTP 409) and change nothing.
The audit event is appended in the same transaction, so the log and the row cannot disagree.
``expect`` adds columns the row must still hold (a worker's lease: a worker whose lease lapsed and
was taken over, or whose job a person cancelled, can no longer move the job).
"""

from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from soundstage.domain.jobs import JobStatus, action_for
from soundstage.errors import StateConflictError
from soundstage.safeguards import audit
from soundstage.store.models import Job

__all__ = ["transition"]


def transition(s: Session, job: Job, target: JobStatus, *, actor: str, payload: dict | None = None,
               expect: Mapping[str, Any] | None = None, **values: Any) -> str:
    """Move ``job`` to ``target`` (setting ``values`` on the row too) or raise StateConflictError.
    ``expect``: column -> value the row must also still hold. Returns the audit action recorded."""
    # the ledger's write order before the job's row: every writer takes the audit head first, so a
    # cancel and a registration never hold one lock each waiting for the other (a deadlock on
    # PostgreSQL, red team 2026-12-07)
    audit.serialize(s)
    current = JobStatus(job.status)
    action = action_for(current, target)
    if action is None:
        raise StateConflictError(f"job {job.id} is {current.value}; it cannot become {target.value}",
                                 hint=f"see it: soundstage job show {job.id}")
    s.flush()  # pending changes to this job go first, so the compare-and-set sees them
    conditions = [getattr(Job, column) == value for column, value in (expect or {}).items()]
    result = s.execute(update(Job).where(Job.id == job.id, Job.status == current.value, *conditions)
                       .values(status=target.value, **values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise StateConflictError(f"job {job.id} was changed by another request while this one ran "
                                 f"(it is no longer {current.value})",
                                 hint=f"read it again: soundstage job show {job.id}")
    set_committed_value(job, "status", target.value)
    for key, value in values.items():
        set_committed_value(job, key, value)
    audit.append(s, production_id=job.production_id, actor=actor, action=action, subject=job.id,
                 payload={"from": current.value, "to": target.value, **(payload or {})})
    return action
