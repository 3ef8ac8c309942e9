"""A queue worker: claims queued jobs one at a time and runs them down the guarded path.

Run as ``soundstage worker`` (1..N per machine) or embedded in ``soundstage serve``. Each loop it
hands back the jobs whose lease lapsed (their worker was killed), then claims the oldest queued job
(``guard.claim``: the guard proves the job again at the claim) and runs it (``guard.execute``)
while a heartbeat keeps its lease. Review previews asked for on an approval card come first
(DR023: ``previews.claim_request`` / ``render_request``, under a lease of their own): they are
bounded renders a person is waiting for, and the job they preview does not run until approved. Stopping (SIGTERM) lets the chunks being computed finish, then
hands the job back to the queue with its finished chunks; a second signal (a hard stop) terminates
the pool processes at once and hands the job back too. Either way the worker reaps its pool
processes before it exits.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field

from soundstage.compute.executors import shutdown_shared_pools, terminate_shared_pools
from soundstage.errors import SoundstageError
from soundstage.safeguards import guard, previews
from soundstage.safeguards.lease import LeaseTerms, lease_terms, new_owner
from soundstage.services.workspace import Workspace

__all__ = ["Worker", "WorkerStats", "drain_queue", "worker_terms"]

log = logging.getLogger("soundstage.worker")


@dataclass
class WorkerStats:
    claimed: int = 0
    done: int = 0
    failed: int = 0
    handed_back: int = 0
    requeued_lapsed: int = 0
    previews: int = 0
    previews_failed: int = 0
    outcomes: list[dict] = field(default_factory=list)


class Worker:
    """One worker of one production. ``run`` blocks until ``request_stop`` (or, with ``until_idle``,
    until the queue is empty). Safe to run in a thread (tests, an in-process server): it installs
    no signal handlers itself - the CLI does."""

    def __init__(self, ws: Workspace, *, terms: LeaseTerms | None = None, poll: float = 1.0,
                 name: str | None = None, reap: bool = True) -> None:
        self.ws = ws
        self.reap = reap  # stop the pool processes when the loop ends (False: keep them warm)
        self.terms = terms or lease_terms(ws.settings.extra)
        self.poll = max(0.05, float(poll))
        self.name = name or new_owner("worker").rsplit(":", 1)[0]
        self._stop = threading.Event()
        self._hard = threading.Event()
        self.stats = WorkerStats()
        self.current: str | None = None  # the job being run now

    # -- stopping
    def request_stop(self, *, hard: bool = False) -> None:
        """Finish the chunks being computed, hand the job back, exit. ``hard``: do not wait for
        them - terminate the pool processes now (their chunks are redone by the next run)."""
        first = not self._stop.is_set()
        self._stop.set()
        if hard and not self._hard.is_set():
            self._hard.set()
            terminate_shared_pools()
        if first:
            log.warning("%s: stopping%s", self.name, f" - handing job {self.current} back" if self.current else "")

    def stop_with_parent(self, parent_pid: int, interval: float = 0.5) -> None:
        """Hard-stop (hand the job back, reap the pool, exit) once process ``parent_pid`` - the
        server that started this worker - is gone: a server killed with -9 leaves no worker."""
        def watch() -> None:
            while os.getppid() == parent_pid and not self._stop.is_set():
                time.sleep(interval)
            if os.getppid() != parent_pid:
                log.warning("%s: the server that started this worker is gone", self.name)
                self.request_stop(hard=True)

        threading.Thread(target=watch, name="stop-with-parent", daemon=True).start()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- the loop
    def run(self, *, until_idle: bool = False, max_jobs: int | None = None) -> WorkerStats:
        try:
            while not self._stop.is_set():
                if max_jobs is not None and self.stats.claimed >= max_jobs:
                    break
                if not self.step():
                    if until_idle:
                        break
                    self._stop.wait(self.poll)
        finally:
            self.close()
        return self.stats

    def step(self) -> bool:
        """Hand back lapsed jobs, then claim and run one job. False when nothing was claimable."""
        try:
            handed = guard.requeue_lapsed(self.ws, actor=self.name)
        except Exception as exc:  # noqa: BLE001 - a database hiccup: try again next loop
            log.warning("%s: could not check for lapsed leases: %s", self.name, _line(exc))
            return False
        for job_id in handed:
            log.warning("%s: job %s: its worker's lease lapsed; handed back to the queue", self.name, job_id)
        self.stats.requeued_lapsed += len(handed)
        if self.preview_step():
            return True
        lease = guard.Claim(new_owner("worker"), self.terms)
        try:
            outcome, cleared = guard.claim(self.ws, lease, actor=self.name)
        except SoundstageError as exc:
            self.stats.failed += 1
            log.error("%s: a queued job was refused at its claim: %s", self.name, exc.one_line())
            return True
        except Exception as exc:  # noqa: BLE001 - the database is away: wait and try again
            log.warning("%s: could not claim a job: %s", self.name, _line(exc))
            return False
        if cleared is None:
            if outcome is None:
                return False
            log.info("%s: job %s is %s at its claim", self.name, outcome.job_id, outcome.status)
            self.stats.outcomes.append({"job": outcome.job_id, "status": outcome.status})
            return True
        self.stats.claimed += 1
        self.current = cleared.job_id
        began = time.monotonic()
        log.info("%s: job %s claimed (%s)", self.name, cleared.job_id, cleared.spec.operation.value)
        try:
            outcome = guard.execute(self.ws, cleared, lease, actor=self.name, stopping=self._stop.is_set)
        except SoundstageError as exc:
            self.stats.failed += 1
            self.stats.outcomes.append({"job": cleared.job_id, "status": "failed", "error": exc.one_line()})
            log.error("%s: job %s failed: %s", self.name, cleared.job_id, exc.one_line())
            return True
        except Exception as exc:  # noqa: BLE001 - recorded on the job by the guard; the worker goes on
            self.stats.failed += 1
            self.stats.outcomes.append({"job": cleared.job_id, "status": "failed", "error": _line(exc)})
            log.exception("%s: job %s failed", self.name, cleared.job_id)
            return True
        finally:
            self.current = None
        self.stats.outcomes.append({"job": outcome.job_id, "status": outcome.status})
        if outcome.status == "done":
            self.stats.done += 1
        elif outcome.status == "queued":
            self.stats.handed_back += 1
        log.info("%s: job %s %s in %.1f s", self.name, outcome.job_id, outcome.status, time.monotonic() - began)
        return True

    def preview_step(self) -> bool:
        """Claim and render one review preview asked for (DR023). False when none was waiting."""
        try:
            claimed = previews.claim_request(self.ws, new_owner("worker"), self.terms)
        except Exception as exc:  # noqa: BLE001 - the database is away: try again next loop
            log.warning("%s: could not claim a preview request: %s", self.name, _line(exc))
            return False
        if claimed is None:
            return False
        self.current = f"{claimed.job_id} (its review preview)"
        began = time.monotonic()
        try:
            previews.render_request(self.ws, claimed)
        except SoundstageError as exc:
            self.stats.previews_failed += 1
            log.warning("%s: preview of job %s not made: %s", self.name, claimed.job_id, exc.one_line())
            return True
        except Exception as exc:  # noqa: BLE001 - recorded on the request; the worker goes on
            self.stats.previews_failed += 1
            log.exception("%s: preview of job %s failed: %s", self.name, claimed.job_id, _line(exc))
            return True
        finally:
            self.current = None
        self.stats.previews += 1
        log.info("%s: preview of job %s made in %.1f s", self.name, claimed.job_id, time.monotonic() - began)
        return True

    def close(self) -> None:
        """Reap this process's pool processes (a hard stop has already terminated them)."""
        if self._hard.is_set():
            terminate_shared_pools()
        elif self.reap:
            shutdown_shared_pools()


def worker_terms(ws: Workspace, seconds: float | None = None, heartbeat: float | None = None) -> LeaseTerms:
    """The production's lease terms ([queue] in soundstage.toml), as a worker's options override them."""
    return lease_terms(ws.settings.extra, seconds=seconds, heartbeat=heartbeat)


def drain_queue(ws: Workspace, *, terms: LeaseTerms | None = None) -> WorkerStats:
    """Run every queued job in this process until the queue is empty (tests, one-shot scripts)."""
    return Worker(ws, terms=terms, poll=0.05, reap=False).run(until_idle=True)


def _line(exc: BaseException) -> str:
    return (f"{exc.__class__.__name__}: {exc}".splitlines() or [""])[0][:300]
