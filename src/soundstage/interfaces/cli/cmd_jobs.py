"""policy | job - decide, submit, preview, approve, reject, override and list jobs."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from soundstage.domain.safeguards import compose_located, job_spec_from_request
from soundstage.errors import InputError, SpecError
from soundstage.interfaces.cli import access, common

policy = typer.Typer(no_args_is_help=True)
job = typer.Typer(no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(policy, name="policy", help="See the decision on a job before anything runs.")
    app.add_typer(job, name="job", help="Submit jobs down the guarded path; approve or reject them.")


def _job_from_file(ws, path: Path):
    """Read a job YAML (JobSpec.2) as a request: the production defaults to this workspace, the
    requester is the person running the command, and the id is the server's (a file naming
    ``id`` or ``requested_by`` is refused, as over the API)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"job spec not found: {path}") from None
    except UnicodeDecodeError:
        raise SpecError("not UTF-8 text", source=str(path)) from None
    data = compose_located(text, str(path))
    return job_spec_from_request(data, production_id=ws.production_id, requested_by=common.actor(),
                                 source=str(path)), 0


def _print_decision(decision: dict) -> None:
    colour = {"proceed": "green", "escalate": "yellow", "deny": "red"}.get(decision["outcome"], "white")
    common.console.print(f"decision: [bold {colour}]{decision['outcome'].upper()}[/]")
    for r in decision.get("reasons", []):
        common.console.print(f"  [{r['outcome']}] {r['rule_id']}: {r['text']}")
    if decision.get("approver_roles"):
        common.console.print(f"  approvers needed: {', '.join(decision['approver_roles'])}")
    if decision.get("duties"):
        common.console.print(f"  duties: {', '.join(decision['duties'])}")


@policy.command("check")
def policy_check(spec_file: Path = typer.Argument(..., metavar="JOB.yaml"),
                 json_out: bool = typer.Option(False, "--json")) -> None:
    """Show the decision (proceed / escalate / deny) and its rule ids, without running anything."""
    from soundstage.services.policy_service import check_job

    with common.open_ws() as ws:
        spec, _ = _job_from_file(ws, spec_file)
        data = check_job(ws, spec)
    if json_out:
        common.emit_json(data)
        return
    _print_decision(data["decision"])


@job.command("submit")
def job_submit(spec_file: Path = typer.Argument(..., metavar="JOB.yaml"),
               idempotency_key: str = typer.Option(None, "--idempotency-key"),
               no_wait: bool = typer.Option(False, "--no-wait", help="Only queue it: a worker runs it."),
               json_out: bool = typer.Option(False, "--json")) -> None:
    """Submit a job down the guarded path: it is queued and run here (or, with --no-wait, by a worker),
    waits for approvals, or is denied with reasons."""
    from soundstage.services.jobs_service import submit_job

    with common.open_ws() as ws:
        spec, _ = _job_from_file(ws, spec_file)
        with common.progress() as bar:
            task = bar.add_task(f"job {spec.operation.value}", total=1)
            result = submit_job(ws, spec, actor=common.actor(), idempotency_key=idempotency_key, wait=not no_wait)
            bar.advance(task)
    _report(result, json_out)


def _report(result: dict, json_out: bool) -> None:
    from soundstage.services.jobs_service import raise_for_outcome

    if json_out:
        common.emit_json(result)
    else:
        common.console.print(f"job {result['job']}: {result['status']}")
        if result.get("decision"):
            _print_decision(result["decision"])
        for a in result.get("assets", []):
            common.console.print(f"  asset {a['id']} {a['name']}")
    if not json_out:
        raise_for_outcome(result)
    elif result["status"] in ("denied", "rejected"):
        raise typer.Exit(1)


@job.command("preview")
def job_preview(job_id: str, out: Path = typer.Option(Path("."), "--out", help="The folder to write it to."),
                fresh: bool = typer.Option(False, "--fresh", help="Make a new preview even if the job has one."),
                json_out: bool = typer.Option(False, "--json")) -> None:
    """Make (or reuse the newest) guarded low-resolution preview of a job waiting for approval,
    labelled PREVIEW, and write it to a file; approve with --preview and the digest printed. The
    preview is rendered here, through the same request a web click records (one render either way)."""
    from soundstage.services.jobs_service import show_job
    from soundstage.services.preview_service import preview_for_review, write_preview

    with common.open_ws() as ws:
        access.check_scope(show_job(ws, job_id)["spec"].get("performers", []), f"job {job_id}")
        def waiting(state) -> None:  # a queue worker holds the same request: wait for its render
            common.err_console.print(f"a queue worker is rendering the preview of job {job_id} (request "
                                     f"{state.request_id}); waiting for it...", soft_wrap=True)

        view = preview_for_review(ws, job_id, actor=common.actor(), fresh=fresh, on_wait=waiting)
        path = write_preview(ws, view, out)
    if json_out:
        common.emit_json({**view.to_dict(), "file": str(path)})
        return
    common.console.print(f"preview {view.asset_id} of job {job_id} written to {path}", soft_wrap=True)
    common.console.print(f"  preview digest {view.sha256}", soft_wrap=True)  # one line: people copy it
    common.console.print(f"  approve with: soundstage job approve {job_id} --role ROLE --preview {view.sha256}",
                         soft_wrap=True)


@job.command("approve")
def job_approve(job_id: str, role: str = typer.Option(..., "--role"), note: str = typer.Option("", "--note"),
                digest: str = typer.Option(None, "--digest", help="The spec digest you reviewed (job show): a job "
                                           "that is no longer that job is refused."),
                preview: str = typer.Option(None, "--preview", help="The digest of the preview you looked at (job "
                                            "preview): signed with your verdict; required when the policy asks."),
                no_wait: bool = typer.Option(False, "--no-wait", help="Only queue the approved job: a worker runs it."),
                json_out: bool = typer.Option(False, "--json")) -> None:
    """Approve an escalated job in one of your roles, signed with your key; the job runs once every
    role has approved. You are whoever your credential says."""
    from soundstage.services.jobs_service import decide_on_job

    with common.open_ws() as ws:
        result = decide_on_job(ws, job_id, signer=common.signer(), role=role, verdict="approve", note=note,
                               actor=common.actor(), spec_digest=digest, preview_digest=preview, wait=not no_wait)
    if result["status"] == "escalated":
        if json_out:
            common.emit_json(result)
        else:
            waiting = result.get("waiting_for") or result["missing_roles"]  # by name; --json keeps the ids
            common.console.print(f"approved as {role}; still waiting for: {', '.join(waiting)}")
        return
    _report(result, json_out)


@job.command("reject")
def job_reject(job_id: str, role: str = typer.Option(..., "--role"), note: str = typer.Option(..., "--note"),
               json_out: bool = typer.Option(False, "--json")) -> None:
    """Reject an escalated job in one of your roles, signed with your key, with a note saying why."""
    from soundstage.services.jobs_service import decide_on_job

    with common.open_ws() as ws:
        result = decide_on_job(ws, job_id, signer=common.signer(), role=role, verdict="reject", note=note,
                               actor=common.actor())
    common.emit_json(result) if json_out else common.console.print(f"job {job_id}: {result['status']}")


@job.command("override")
def job_override(job_id: str, rule: str = typer.Option(..., "--rule", help="The denying rule id."),
                 reason: str = typer.Option(..., "--reason"), json_out: bool = typer.Option(False, "--json")) -> None:
    """Ask to override a denying rule: the job is escalated to legal and the producer (audited).
    Consent and law rules can never be overridden."""
    from soundstage.services.jobs_service import request_override

    with common.open_ws() as ws:
        result = request_override(ws, job_id, rule, reason=reason, actor=common.actor())
    _report(result, json_out)


@job.command("show")
def job_show(job_id: str, json_out: bool = typer.Option(False, "--json")) -> None:
    from soundstage.services.jobs_service import show_job

    with common.open_ws() as ws:
        data = show_job(ws, job_id)
    access.check_scope(data["spec"].get("performers", []), f"job {job_id}")
    if json_out:
        common.emit_json(data)
        return
    common.console.print(f"job {data['id']} ({data['kind']}): {data['status']}, requested by {data['requested_by']}")
    if data.get("spec_digest"):
        common.console.print(f"  spec digest {data['spec_digest']} (approve with --digest to bind your verdict to it)")
    if data["decision"]:
        _print_decision(data["decision"])
    for a in data["approvals"]:
        common.console.print(f"  {a['verdict']} as {a['role']} by {a.get('person_name', a['person'])}: {a['note']}")
    if data.get("missing_roles"):
        common.console.print(f"  waiting for: {', '.join(data.get('waiting_for') or data['missing_roles'])}")
    if data.get("failure"):
        common.console.print(f"  {escape(failure_line(data['failure']))}")
        common.console.print(f"  once fixed: soundstage job resume {data['id']}")


@job.command("list")
def job_list(status: str = typer.Option(None, "--status"), json_out: bool = typer.Option(False, "--json")) -> None:
    from soundstage.services.jobs_service import list_jobs

    with common.open_ws() as ws:
        rows = access.visible(list_jobs(ws, status), lambda j: j["spec"].get("performers", []))
    if json_out:
        common.emit_json(rows)
        return
    table = Table("id", "operation", "status", "requested by", "decision", "why it failed")
    for r in rows:
        table.add_row(r["id"], r["kind"], r["status"], r["requested_by"], (r["decision"] or {}).get("outcome", ""),
                      escape(failure_line(r["failure"])) if r.get("failure") else "")
    common.console.print(table)


def failure_line(failure: dict) -> str:
    """A failed job's reason as a person reads it: where it stopped, and the one-line error."""
    where = {"signer": "before its backend ran: the production could not sign its outputs",
             "claim": "at its claim, before its backend ran"}.get(failure.get("stage") or "", "while it ran")
    return f"failed {where}: {failure.get('error') or 'no reason recorded'}"
