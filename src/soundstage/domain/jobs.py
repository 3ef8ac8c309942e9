"""The job lifecycle: one state machine, pure data.

Every status a job can have, every transition between them, and the audit action each transition
records. The guard and the job services change a job's status only through
``safeguards.jobstate.transition``, which looks the move up here, performs it as a compare-and-set
on the ledger row (so two racing requests cannot both make it) and appends this audit action in
the same transaction. A move that is not in the table is a programming error or a stale request,
never a silent overwrite.

A job that may run is *queued*, never run where it was decided: a worker claims it with a lease
(``safeguards.lease``) and the guard proves it again at the claim (queued -> running). A worker
that stops (SIGTERM) or loses its lease hands the job back (running -> queued, ``job.requeued``);
a failed job is resumed or retried the same way. See docs/decisions/DR011-durable-job-queue.md.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Mapping

__all__ = ["JobStatus", "TRANSITIONS", "TERMINAL", "CANCELLABLE", "RESUMABLE", "action_for", "can_move"]


class JobStatus(StrEnum):
    SUBMITTED = "submitted"  # recorded, not yet decided
    ESCALATED = "escalated"  # decided: waits for named approvers
    QUEUED = "queued"  # cleared to run: waits for a worker to claim it
    RUNNING = "running"  # claimed under a lease: exactly one backend run is under way
    DONE = "done"  # outputs marked, signed and registered
    DENIED = "denied"  # a rule said no (before it ran, or when consent changed while it ran)
    REJECTED = "rejected"  # an approver said no
    FAILED = "failed"  # the backend failed (or the claim refused it); it may be resumed or retried
    CANCELLED = "cancelled"  # stopped by a person before or while it ran


#: (from, to) -> the audit action that records the move. Nothing else is a legal move.
TRANSITIONS: Mapping[tuple[JobStatus, JobStatus], str] = {
    (JobStatus.SUBMITTED, JobStatus.ESCALATED): "job.escalated",
    (JobStatus.SUBMITTED, JobStatus.DENIED): "job.denied",
    (JobStatus.SUBMITTED, JobStatus.QUEUED): "job.queued",
    (JobStatus.SUBMITTED, JobStatus.CANCELLED): "job.cancelled",
    (JobStatus.ESCALATED, JobStatus.QUEUED): "job.queued",
    (JobStatus.ESCALATED, JobStatus.DENIED): "job.denied",
    (JobStatus.ESCALATED, JobStatus.REJECTED): "job.rejected",
    (JobStatus.ESCALATED, JobStatus.CANCELLED): "job.cancelled",
    # the claim: a worker takes the job under a lease once the guard has proven it again
    (JobStatus.QUEUED, JobStatus.RUNNING): "job.started",
    # ... or the claim's checks say otherwise (consent revoked, policy changed, the spec was edited)
    (JobStatus.QUEUED, JobStatus.DENIED): "job.denied",
    (JobStatus.QUEUED, JobStatus.ESCALATED): "job.escalated",
    (JobStatus.QUEUED, JobStatus.REJECTED): "job.rejected",
    (JobStatus.QUEUED, JobStatus.FAILED): "job.failed",
    (JobStatus.QUEUED, JobStatus.CANCELLED): "job.cancelled",
    (JobStatus.RUNNING, JobStatus.DONE): "job.completed",
    (JobStatus.RUNNING, JobStatus.DENIED): "job.denied",
    (JobStatus.RUNNING, JobStatus.FAILED): "job.failed",
    # a person cancels: the worker sees it at its next heartbeat and stops at a chunk boundary
    (JobStatus.RUNNING, JobStatus.CANCELLED): "job.cancelled",
    # handed back: the worker stopped (SIGTERM), or its lease expired (kill -9, a lost machine)
    (JobStatus.RUNNING, JobStatus.QUEUED): "job.requeued",
    # resume (finished chunks are kept) or retry (they are dropped): decided again, then queued
    (JobStatus.FAILED, JobStatus.QUEUED): "job.requeued",
    (JobStatus.FAILED, JobStatus.DENIED): "job.denied",
    (JobStatus.FAILED, JobStatus.ESCALATED): "job.escalated",
    (JobStatus.FAILED, JobStatus.CANCELLED): "job.cancelled",
    # an explicit, audited override request sends a denied job back to be decided again
    (JobStatus.DENIED, JobStatus.SUBMITTED): "safeguard.override_requested",
}

TERMINAL = frozenset({JobStatus.DONE, JobStatus.REJECTED, JobStatus.CANCELLED})
#: statuses a person may cancel from (a running job's worker stops at its next chunk boundary)
CANCELLABLE = frozenset(frm for (frm, to) in TRANSITIONS if to is JobStatus.CANCELLED)
#: statuses ``job resume`` / ``job retry`` start from (a running job only once its lease has expired;
#: a submitted one whose process died before the guard decided on it)
RESUMABLE = frozenset({JobStatus.FAILED, JobStatus.RUNNING, JobStatus.SUBMITTED})


def can_move(current: str | JobStatus, target: str | JobStatus) -> bool:
    return (JobStatus(current), JobStatus(target)) in TRANSITIONS


def action_for(current: str | JobStatus, target: str | JobStatus) -> str | None:
    """The audit action of a legal move, or None when the move is not allowed."""
    return TRANSITIONS.get((JobStatus(current), JobStatus(target)))
