"""Leases: which worker runs a job, until when, and how it keeps the claim alive.

A worker claims a queued job by moving it to ``running`` with a lease: ``lease_owner`` (an id made
for this one claim) and ``lease_expires_at``. While the job runs, a ``LeaseKeeper`` thread renews
the lease every ``heartbeat`` seconds with a compare-and-set on (status running, this owner) and
carries the job's progress with it. The renewal failing means the claim is gone - a person
cancelled the job, or the lease lapsed and another worker took the job over - and the worker then
stops at its next chunk boundary and writes nothing: every write of a claimed run (done, failed,
handed back) is itself a compare-and-set on the same owner (``jobstate.transition(expect=...)``).

A lease that lapsed (the worker was killed, its machine lost, its database connection cut for
longer than the lease) is reclaimed by any worker: the job goes back to the queue and is resumed
from its finished chunks.

PostgreSQL: candidates are read ``FOR UPDATE SKIP LOCKED``, so concurrent workers each lock a
different row instead of queueing behind one. SQLite (one machine) ignores the row lock; there the
compare-and-set alone decides, and a claim that loses the race fails to write (rowcount 0, or
SQLite's "database is locked" for a transaction whose snapshot went stale) and changes nothing.
Clocks: leases are stamped with the worker's UTC clock, so the machines of one production keep
their clocks synchronised (NTP); a lease of 30 s tolerates seconds of skew.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from soundstage.clock import as_utc, utcnow
from soundstage.domain.jobs import JobStatus
from soundstage.errors import SpecError
from soundstage.store.db import is_busy
from soundstage.store.models import Job

__all__ = ["LeaseTerms", "LeaseKeeper", "lease_terms", "new_owner", "utcnow", "next_queued", "lapsed", "renew",
           "as_utc", "DEFAULT_LEASE_SECONDS", "DEFAULT_HEARTBEAT_SECONDS"]

log = logging.getLogger("soundstage.queue")

#: a claim lapses 30 s after its last renewal; the heartbeat renews it every 5 s, so five renewals
#: in a row must fail (a database restart, a stalled machine) before another worker takes the job
DEFAULT_LEASE_SECONDS = 30.0
DEFAULT_HEARTBEAT_SECONDS = 5.0
#: progress is written with the lease at most this often (a chunk finishing wakes the heartbeat)
PROGRESS_MIN_INTERVAL = 0.5


@dataclass(frozen=True)
class LeaseTerms:
    seconds: float = DEFAULT_LEASE_SECONDS
    heartbeat: float = DEFAULT_HEARTBEAT_SECONDS

    def __post_init__(self) -> None:
        if not (0.5 <= self.seconds <= 3600):
            raise SpecError("a lease lasts between 0.5 and 3600 seconds", field="queue.lease_seconds")
        if not (0.05 <= self.heartbeat <= self.seconds / 2):
            raise SpecError("the heartbeat must renew a lease at least twice per lease "
                            f"(at most {self.seconds / 2:g} s for a {self.seconds:g} s lease)",
                            field="queue.heartbeat_seconds")


def lease_terms(extra: dict, *, seconds: float | None = None, heartbeat: float | None = None) -> LeaseTerms:
    """The production's lease terms (``[queue] lease_seconds``, ``heartbeat_seconds`` in
    soundstage.toml), optionally overridden (a worker's command line)."""
    queue = dict((extra or {}).get("queue") or {})
    try:
        lease = float(seconds if seconds is not None else queue.get("lease_seconds", DEFAULT_LEASE_SECONDS))
        beat = heartbeat if heartbeat is not None else queue.get("heartbeat_seconds")
        beat = float(beat) if beat is not None else min(DEFAULT_HEARTBEAT_SECONDS, lease / 6)
    except (TypeError, ValueError):
        raise SpecError("lease_seconds and heartbeat_seconds are numbers of seconds", field="queue") from None
    return LeaseTerms(lease, beat)


def new_owner(kind: str = "worker") -> str:
    """An id for one claim: who holds it (kind, host, process) and a nonce, so that a worker that
    claims the same job twice holds two different leases."""
    return f"{kind}:{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"




def next_queued(s: Session, production_id: str, job_id: str | None = None) -> Job | None:
    """The oldest queued job (or ``job_id`` if it is queued), locked for this transaction on
    PostgreSQL - a row another worker holds is skipped, not waited for."""
    query = select(Job).where(Job.production_id == production_id, Job.status == JobStatus.QUEUED.value)
    if job_id is not None:
        query = query.where(Job.id == job_id)
    query = query.order_by(Job.queued_at, Job.id).limit(1).with_for_update(skip_locked=True)
    return s.scalars(query).first()


def lapsed(s: Session, production_id: str, now: datetime, limit: int = 50) -> list[Job]:
    """Running jobs whose lease lapsed (or that have none: left by a soundstage before leases)."""
    query = (select(Job).where(Job.production_id == production_id, Job.status == JobStatus.RUNNING.value,
                               or_(Job.lease_expires_at.is_(None), Job.lease_expires_at < now))
             .order_by(Job.lease_expires_at, Job.id).limit(limit).with_for_update(skip_locked=True))
    return list(s.scalars(query))


_UNCHANGED = object()


def renew(s: Session, job_id: str, owner: str, until: datetime, progress=_UNCHANGED) -> bool:
    """Extend this owner's lease on a running job (and record its progress). False: the claim is
    gone (the job was cancelled, or taken over after the lease lapsed)."""
    values: dict = {"lease_expires_at": until}
    if progress is not _UNCHANGED:
        values["progress"] = progress
    result = s.execute(update(Job).where(Job.id == job_id, Job.status == JobStatus.RUNNING.value,
                                         Job.lease_owner == owner)
                       .values(**values).execution_options(synchronize_session=False))
    return result.rowcount == 1


class LeaseKeeper:
    """Keeps one claim alive while its job runs: a daemon thread renewing the lease every
    ``terms.heartbeat`` seconds and writing the progress reported to ``progress``. ``lost`` says
    why the claim is gone (then ``should_stop`` is true and the run must write nothing)."""

    def __init__(self, transaction: Callable, job_id: str, owner: str, terms: LeaseTerms) -> None:
        self._transaction = transaction  # a context manager factory yielding a Session (db.transaction)
        self.job_id = job_id
        self.owner = owner
        self.terms = terms
        self.lost: str | None = None
        self._progress: dict | None = None
        self._progress_dirty = False
        self._wake = threading.Event()
        self._done = threading.Event()
        self._renewed = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"lease-{job_id}", daemon=True)

    def __enter__(self) -> "LeaseKeeper":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._done.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=max(5.0, self.terms.heartbeat * 2))

    def report(self, done: int, total: int) -> None:
        """A progress callback (frames done of total): written with the next renewal, promptly."""
        self._progress = {"frames_done": int(done), "frames_total": int(total), "at": utcnow().isoformat()}
        self._progress_dirty = True
        self._wake.set()

    def should_stop(self) -> bool:
        return self.lost is not None

    def _run(self) -> None:
        last_write = 0.0
        while not self._done.is_set():
            woke = self._wake.wait(self.terms.heartbeat)
            self._wake.clear()
            if self._done.is_set():
                return
            if woke and time.monotonic() - last_write < PROGRESS_MIN_INTERVAL:
                time.sleep(PROGRESS_MIN_INTERVAL - (time.monotonic() - last_write))
            last_write = time.monotonic()
            self.beat()
            if self.lost:
                return

    def beat(self) -> bool:
        """One renewal now. Returns whether the claim still holds."""
        progress = self._progress if self._progress_dirty else _UNCHANGED
        self._progress_dirty = False
        try:
            with self._transaction() as s:
                held = renew(s, self.job_id, self.owner, utcnow() + timedelta(seconds=self.terms.seconds), progress)
                if not held:
                    job = s.get(Job, self.job_id)
                    status = job.status if job is not None else "gone"
                    self.lost = (f"the job is {status}" if status != JobStatus.RUNNING.value
                                 else f"the lease lapsed and {job.lease_owner} took the job over")
        except Exception as exc:  # noqa: BLE001 - the database may be briefly away: retry at the next beat
            log.warning("job %s: lease renewal failed: %s", self.job_id, str(exc).splitlines()[0][:200])
            if is_busy(exc):
                # SQLite's write lock is held by another transaction (another job's phase C signing
                # with a slow TSA): no worker can take this job over while it is (that is a write
                # too), so the run goes on; the renewal's compare-and-set decides when it gets in
                return True
            if time.monotonic() - self._renewed > self.terms.seconds:
                # the lease has lapsed by now: another worker may hold the job, so this one stops
                self.lost = "the lease could not be renewed before it lapsed"
            return self.lost is None
        if self.lost is None:
            self._renewed = time.monotonic()
        return self.lost is None
