"""The job lifecycle: one state machine, pure data.

Every status a job can have, every transition between them, and the audit action each transition
records. The guard and the job services change a job's status only through
``safeguards.jobstate.transition``, which looks the move up here, performs it as a compare-and-set
on the ledger row (so two racing requests cannot both make it) and appends this audit action in
the same transaction. A move that is not in the table is a programming error or a stale request,
never a silent overwrite.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Mapping

__all__ = ["JobStatus", "TRANSITIONS", "TERMINAL", "CANCELLABLE", "action_for", "can_move"]


class JobStatus(StrEnum):
    SUBMITTED = "submitted"  # recorded, not yet decided
    ESCALATED = "escalated"  # decided: waits for named approvers
    RUNNING = "running"  # claimed: exactly one backend run is under way
    DONE = "done"  # outputs marked, signed and registered
    DENIED = "denied"  # a rule said no (before it ran, or when consent changed while it ran)
    REJECTED = "rejected"  # an approver said no
    FAILED = "failed"  # the backend failed; the job may be run again (it resumes)
    CANCELLED = "cancelled"  # stopped by a person before or while it ran


#: (from, to) -> the audit action that records the move. Nothing else is a legal move.
TRANSITIONS: Mapping[tuple[JobStatus, JobStatus], str] = {
    (JobStatus.SUBMITTED, JobStatus.ESCALATED): "job.escalated",
    (JobStatus.SUBMITTED, JobStatus.DENIED): "job.denied",
    (JobStatus.SUBMITTED, JobStatus.RUNNING): "job.started",
    (JobStatus.SUBMITTED, JobStatus.CANCELLED): "job.cancelled",
    (JobStatus.ESCALATED, JobStatus.RUNNING): "job.started",
    (JobStatus.ESCALATED, JobStatus.DENIED): "job.denied",
    (JobStatus.ESCALATED, JobStatus.REJECTED): "job.rejected",
    (JobStatus.ESCALATED, JobStatus.CANCELLED): "job.cancelled",
    (JobStatus.RUNNING, JobStatus.DONE): "job.completed",
    (JobStatus.RUNNING, JobStatus.DENIED): "job.denied",
    (JobStatus.RUNNING, JobStatus.FAILED): "job.failed",
    (JobStatus.RUNNING, JobStatus.CANCELLED): "job.cancelled",
    (JobStatus.FAILED, JobStatus.RUNNING): "job.started",
    (JobStatus.FAILED, JobStatus.DENIED): "job.denied",
    (JobStatus.FAILED, JobStatus.ESCALATED): "job.escalated",
    (JobStatus.FAILED, JobStatus.CANCELLED): "job.cancelled",
    # an explicit, audited override request sends a denied job back to be decided again
    (JobStatus.DENIED, JobStatus.SUBMITTED): "safeguard.override_requested",
}

TERMINAL = frozenset({JobStatus.DONE, JobStatus.REJECTED, JobStatus.CANCELLED})
#: statuses a person may cancel from (a running job is cancelled through its executor)
CANCELLABLE = frozenset(frm for (frm, to) in TRANSITIONS if to is JobStatus.CANCELLED and frm is not JobStatus.RUNNING)


def can_move(current: str | JobStatus, target: str | JobStatus) -> bool:
    return (JobStatus(current), JobStatus(target)) in TRANSITIONS


def action_for(current: str | JobStatus, target: str | JobStatus) -> str | None:
    """The audit action of a legal move, or None when the move is not allowed."""
    return TRANSITIONS.get((JobStatus(current), JobStatus(target)))
