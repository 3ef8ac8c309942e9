"""The durable job queue, for people: what a job's queue state is, resume, retry, and the work
area's garbage collection. Workers live in ``worker_service``; the guard claims and runs.

- **resume** runs a failed job again from its finished chunks (or a running job whose worker died:
  its lease lapsed). The guard decides it again first - a job whose consent was revoked meanwhile
  is denied, not resumed.
- **retry** is a resume that starts over: the job's finished chunks are dropped first.
- **cancel** (``jobs_service.cancel_job``) stops a job in any unfinished state; a running job's
  worker sees it at its next heartbeat and stops at a chunk boundary.
- **gc** lists (and with ``delete`` removes) what failed, cancelled or killed runs left in the work
  area: chunk folders of jobs that will not run again, and scratch folders of runs that died; on
  an S3 store also those jobs' work areas in the bucket (``<prefix>work/job-<id>/``, where render
  nodes publish their segments).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from soundstage.clock import as_utc, utcnow
from soundstage.domain.jobs import RESUMABLE, JobStatus
from soundstage.errors import NotFoundError, StateConflictError
from soundstage.safeguards import guard
from soundstage.safeguards.jobstate import transition
from soundstage.services.jobs_service import outcome_view, run_here, show_job
from soundstage.services.workspace import Workspace
from soundstage.store.models import Job
from soundstage.store.remote import bucket_work_areas, clear_bucket_work_area
from soundstage.store.s3 import S3Store

__all__ = ["resume_job", "job_progress", "gc_work_area", "GcEntry", "work_dir_of"]


def work_dir_of(ws: Workspace, job_id: str) -> Path:
    """``<work area>/job-<id>``: where a job's finished chunks are kept between runs."""
    return guard.work_root(ws) / guard.safe_job_dir(job_id)


def resume_job(ws: Workspace, job_id: str, *, actor: str, fresh: bool = False, wait: bool = False) -> dict:
    """Resume (``fresh``: retry from scratch) a failed job, a running one whose lease lapsed, or a
    submitted one that was never decided (the process that recorded it died before the guard ran).
    The job is decided again and queued (``wait``: then run here, as ``job submit`` does)."""
    now = utcnow()
    with ws.unit_of_work() as s:
        job = s.get(Job, job_id)
        if job is None or job.production_id != ws.production_id:
            raise NotFoundError(f"no job {job_id} in this production")
        status = JobStatus(job.status)
        if status is JobStatus.RUNNING:
            expires = as_utc(job.lease_expires_at)
            if expires is not None and expires >= now:
                raise StateConflictError(f"job {job_id} is running on {job.lease_owner} (its lease holds until "
                                         f"{expires.isoformat(timespec='seconds')})",
                                         hint=f"it resumes by itself if that worker dies; to stop it: "
                                              f"soundstage job cancel {job_id}")
            transition(s, job, JobStatus.QUEUED, actor=actor,
                       expect={"lease_owner": job.lease_owner, "lease_expires_at": job.lease_expires_at},
                       lease_owner=None, lease_expires_at=None,
                       payload={"reason": f"{'retry' if fresh else 'resume'} requested: the lease of "
                                          f"{job.lease_owner or 'its worker'} lapsed", "worker": job.lease_owner})
        elif status not in RESUMABLE:
            raise StateConflictError(f"job {job_id} is {status.value}; only a failed job, a running one whose "
                                     "worker died, or a submitted one never decided, can be resumed or retried",
                                     hint=f"see it: soundstage job show {job_id}")
    if fresh:
        _clear(work_dir_of(ws, job_id), guard.work_root(ws))
    outcome = guard.enqueue(ws, job_id, actor=actor, note={"requested": "retry" if fresh else "resume"})
    if wait and outcome.status == JobStatus.QUEUED.value:
        outcome = run_here(ws, job_id, actor=actor)
    return outcome_view(ws, outcome)


def job_progress(ws: Workspace, job_id: str) -> dict:
    """A job's status and progress as the event stream sends them."""
    job = show_job(ws, job_id)
    return {"id": job["id"], "status": job["status"], "progress": job.get("progress"),
            "attempts": job.get("attempts", 0), "lease": job.get("lease"), "approvals": job["approvals"],
            "missing_roles": job.get("missing_roles", [])}


# ---------------------------------------------------------------- garbage collection

@dataclass(frozen=True)
class GcEntry:
    path: Path | str  # a folder, or for kind "bucket" the s3:// URL of the work area
    job_id: str | None
    status: str  # the job's status ("unknown": no such job in the ledger)
    kind: str  # "chunks" (a job's finished chunks) | "scratch" (a run's scratch folder) | "bucket"
    size: int
    note: str

    def to_dict(self) -> dict:
        return {"path": str(self.path), "job": self.job_id, "status": self.status, "kind": self.kind,
                "bytes": self.size, "note": self.note}


#: a job in one of these states may still need its chunks (it will run, or is running)
_LIVE = {JobStatus.QUEUED.value, JobStatus.RUNNING.value, JobStatus.SUBMITTED.value, JobStatus.ESCALATED.value}


def gc_work_area(ws: Workspace, *, delete: bool = False) -> list[GcEntry]:
    """What failed, cancelled and killed runs left in the work area. Kept, never listed: the chunks
    of a job that may still run (submitted, waiting for approval, queued, running - a running job
    whose worker died is resumed from them) and the scratch folders of a job running now. Listed:
    the chunks of a job that finished, failed, was cancelled, denied or rejected (a failed job's
    chunks are what ``job resume`` would reuse: deleting them means its resume starts over), and
    scratch folders of runs that are over. On an S3 store the jobs' work areas in the bucket are
    listed by the same rule (kind "bucket"); an area of a job of another production sharing the
    bucket is left to that production's gc. ``delete`` removes what is listed, each job's status
    read again just before (a job resumed meanwhile keeps its chunks)."""
    root = guard.work_root(ws)
    candidates: list[tuple[Path | str, str, str | None]] = []
    if root.is_dir():
        candidates += [(p, "chunks", p.name[len("job-"):]) for p in sorted(root.iterdir())
                       if p.name.startswith("job-") and p.is_dir() and not p.is_symlink()]
        scratch = root / "tmp"
        if scratch.is_dir() and not scratch.is_symlink():
            candidates += [(p, "scratch", _scratch_job(p.name)) for p in sorted(scratch.iterdir())
                           if not p.is_symlink()]
    bucket = {a.url: a for a in bucket_work_areas(ws.store)} if isinstance(ws.store, S3Store) else {}
    candidates += [(url, "bucket", area.job_dir[len("job-"):]) for url, area in bucket.items()]
    statuses = _statuses(ws, {job_id for _, _, job_id in candidates if job_id})
    out = []
    for path, kind, job_id in candidates:
        status = statuses.get(job_id, "unknown") if job_id else "unknown"
        if not _removable(kind, status):
            continue
        note = {"failed": "job resume would reuse these chunks", "chunks": "the job will not run again",
                "bucket": "the job will not run again", "scratch": "scratch files of a run that is over"}
        size = bucket[path].size if kind == "bucket" else _size(Path(path))
        out.append(GcEntry(path, job_id, status, kind, size,
                           note["failed"] if kind != "scratch" and status == JobStatus.FAILED.value else note[kind]))
    if delete:
        now = _statuses(ws, {e.job_id for e in out if e.job_id})
        out = [e for e in out if _removable(e.kind, now.get(e.job_id, "unknown") if e.job_id else "unknown")]
        for entry in out:
            if entry.kind == "bucket":
                clear_bucket_work_area(ws.store, bucket[entry.path].job_dir)
            else:
                _clear(Path(entry.path), root if entry.kind == "chunks" else root / "tmp")
    return out


def _statuses(ws: Workspace, ids: set[str]) -> dict[str, str]:
    """Each job's status; "elsewhere" for a job of another production (never removed here)."""
    if not ids:
        return {}
    with ws.reading() as s:
        return {j.id: (j.status if j.production_id == ws.production_id else "elsewhere")
                for j in s.query(Job).filter(Job.id.in_(ids))}


def _removable(kind: str, status: str) -> bool:
    if status == "elsewhere":
        return False
    if kind in ("chunks", "bucket"):
        return status not in _LIVE
    return status != JobStatus.RUNNING.value


def _scratch_job(name: str) -> str | None:
    """``job-<id>-<random>`` -> the job id (ids are ``j-`` + hex, so the last dash ends it)."""
    if not name.startswith("job-") or name.count("-") < 2:
        return None
    return name[len("job-"):].rsplit("-", 1)[0]


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _clear(target: Path, parent: Path) -> None:
    """Remove ``target``: only ever a direct child of ``parent`` (the work area or its scratch
    folder), never through a symlink."""
    if target.parent != parent or target.is_symlink():
        raise ValueError(f"refusing to remove {target}: not a folder of the work area")
    if target.is_dir():
        shutil.rmtree(target, ignore_errors=True)
    elif target.exists():
        target.unlink()
