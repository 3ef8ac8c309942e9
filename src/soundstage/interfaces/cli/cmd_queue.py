"""worker | gc | job resume / retry / cancel - the durable job queue on the command line."""

from __future__ import annotations

import logging
import os
import signal
import threading
from datetime import timedelta

import typer

from soundstage.interfaces.cli import common

#: set by ``serve`` for the workers it starts: the worker hands its job back and exits when that
#: process is gone (a server killed with -9 leaves no worker behind)
PARENT_ENV = "SOUNDSTAGE_WORKER_PARENT"


def register(app: typer.Typer, job: typer.Typer) -> None:
    app.command("worker")(worker)
    app.command("gc")(gc)
    job.command("resume")(job_resume)
    job.command("retry")(job_retry)
    job.command("cancel")(job_cancel)


def worker(once: bool = typer.Option(False, "--once", help="Run the jobs queued now, then exit."),
           max_jobs: int = typer.Option(0, "--max-jobs", min=0, help="Exit after this many jobs (0: no limit)."),
           poll: float = typer.Option(1.0, "--poll", min=0.05, max=60.0,
                                      help="Seconds between looks at an empty queue."),
           lease_seconds: float = typer.Option(None, "--lease-seconds", min=0.5, max=3600.0,
                                               help="Lease length (default: [queue] lease_seconds, 30)."),
           heartbeat_seconds: float = typer.Option(None, "--heartbeat-seconds", min=0.05, max=1800.0,
                                                   help="Lease renewal interval (default 5, at most half a lease)."),
           json_out: bool = typer.Option(False, "--json", help="Print the worker's tally as JSON when it exits.")
           ) -> None:
    """Run queued jobs of this workspace, one at a time, down the guarded path (start one or more per
    machine). SIGTERM or Ctrl-C: the chunks being computed finish, the job is handed back to the queue
    and the worker exits; a second signal stops at once (the job is handed back all the same)."""
    from soundstage.services.worker_service import Worker, worker_terms
    from soundstage.services.workspace import open_workspace

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("soundstage").setLevel(logging.INFO)  # one line per job claimed, finished, handed back
    ws = open_workspace(common.workspace_dir().resolve())
    try:
        terms = worker_terms(ws, lease_seconds, heartbeat_seconds)
        runner = Worker(ws, terms=terms, poll=poll)
        signals = {"count": 0}

        def on_signal(_signum, _frame) -> None:
            # never stop from inside a signal handler (locks): a thread does it
            signals["count"] += 1
            threading.Thread(target=runner.request_stop, kwargs={"hard": signals["count"] > 1}, daemon=True).start()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        if os.environ.get(PARENT_ENV):
            runner.stop_with_parent(int(os.environ[PARENT_ENV]))
        common.err_console.print(f"soundstage {runner.name} on {ws.settings.root} (lease {terms.seconds:g} s, "
                                 f"heartbeat {terms.heartbeat:g} s)")
        try:
            stats = runner.run(until_idle=once, max_jobs=max_jobs or None)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        ws.close()
    tally = {"worker": runner.name, "claimed": stats.claimed, "done": stats.done, "failed": stats.failed,
             "handed_back": stats.handed_back, "requeued_lapsed": stats.requeued_lapsed, "jobs": stats.outcomes}
    if json_out:
        common.emit_json(tally)
    else:
        common.err_console.print(f"{runner.name}: {stats.claimed} claimed, {stats.done} done, {stats.failed} failed, "
                                 f"{stats.handed_back} handed back")


def gc(delete: bool = typer.Option(False, "--delete", help="Remove what is listed (default: list only)."),
       grace_hours: float = typer.Option(24.0, "--grace-hours", min=1.0, max=24.0 * 366,
                                         help="Stored content no ledger row names is listed once it was last "
                                              "written or reused this many hours ago (longer than any unit of "
                                              "work; default 24)."),
       json_out: bool = typer.Option(False, "--json")) -> None:
    """List the leftovers: chunk folders of jobs that will not run again (failed, cancelled, denied,
    done), scratch folders of runs that died, on an S3 store those jobs' work areas in the bucket
    (<prefix>work/job-<id>/) and, on the local store, stored content no ledger row names (what a
    failed or killed unit of work stored) older than the grace period. Nothing is removed without
    --delete; the chunks of queued and running jobs and content a ledger row names are never touched."""
    from soundstage.services.content_gc import gc_content
    from soundstage.services.queue_service import gc_work_area

    with common.open_ws() as ws:
        entries = [e.to_dict() for e in gc_work_area(ws, delete=delete)]
        content = [e.to_dict() for e in gc_content(ws, delete=delete, older_than=timedelta(hours=grace_hours))]
    total = sum(e["bytes"] for e in entries + content)
    if json_out:
        common.emit_json({"deleted": delete, "bytes": total, "entries": entries + content})
        return
    for e in entries:
        common.console.print(f"{e['path']}  {e['kind']}  job {e['job'] or '?'} ({e['status']})  "
                             f"{e['bytes'] / 1e6:.1f} MB  {e['note']}")
    for e in content:
        common.console.print(f"{e['path']}  content  {e['bytes'] / 1e6:.1f} MB  {e['note']}")
    verb = "removed" if delete else "would be removed (dry run: add --delete)"
    common.err_console.print(f"{len(entries)} folder(s) or bucket area(s) and {len(content)} unnamed stored "
                             f"file(s), {total / 1e6:.1f} MB {verb}")


_NO_WAIT = typer.Option(False, "--no-wait", help="Only queue the job: a worker (soundstage worker, or the one "
                                                 "soundstage serve runs) takes it.")


def _resume(job_id: str, *, fresh: bool, no_wait: bool, json_out: bool) -> None:
    from soundstage.services.jobs_service import raise_for_outcome
    from soundstage.services.queue_service import resume_job

    with common.open_ws() as ws:
        result = resume_job(ws, job_id, actor=common.actor(), fresh=fresh, wait=not no_wait)
    if json_out:
        common.emit_json(result)
    else:
        common.console.print(f"job {result['job']}: {result['status']}")
        for a in result.get("assets", []):
            common.console.print(f"  asset {a['id']} {a['name']}")
    raise_for_outcome(result)


def job_resume(job_id: str, no_wait: bool = _NO_WAIT, json_out: bool = typer.Option(False, "--json")) -> None:
    """Run a failed job again from its finished chunks (or a running job whose worker died). It is
    decided again first: a job whose consent was revoked meanwhile is denied, not resumed."""
    _resume(job_id, fresh=False, no_wait=no_wait, json_out=json_out)


def job_retry(job_id: str, no_wait: bool = _NO_WAIT, json_out: bool = typer.Option(False, "--json")) -> None:
    """Run a failed job again from the start: its finished chunks are dropped first."""
    _resume(job_id, fresh=True, no_wait=no_wait, json_out=json_out)


def job_cancel(job_id: str, json_out: bool = typer.Option(False, "--json")) -> None:
    """Cancel a job that has not finished. A running job's worker stops at its next chunk boundary
    and registers nothing."""
    from soundstage.services.jobs_service import cancel_job

    with common.open_ws() as ws:
        result = cancel_job(ws, job_id, actor=common.actor())
    if json_out:
        common.emit_json(result)
    else:
        common.console.print(f"job {job_id}: {result['status']}")
