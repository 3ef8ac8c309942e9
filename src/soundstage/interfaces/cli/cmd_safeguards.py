"""talent | crew | consent | model | policy | job | keys - the safeguards on the command line."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import typer
import yaml
from rich.table import Table

from soundstage.domain.safeguards import ModelCard, compose_located, job_spec_from_request
from soundstage.errors import InputError, SpecError
from soundstage.interfaces.cli import access, common

talent = typer.Typer(no_args_is_help=True)
crew = typer.Typer(no_args_is_help=True)
consent = typer.Typer(no_args_is_help=True)
model = typer.Typer(no_args_is_help=True)
policy = typer.Typer(no_args_is_help=True)
job = typer.Typer(no_args_is_help=True)
keys = typer.Typer(no_args_is_help=True)
disclosure = typer.Typer(no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(talent, name="talent", help="Performers: register, show, represent, enrol a reference face.")
    app.add_typer(crew, name="crew", help="Crew and their approval roles.")
    app.add_typer(consent, name="consent", help="Grant, show, revoke and suspend performer consents.")
    app.add_typer(model, name="model", help="The model registry: licences and training-data attestations.")
    app.add_typer(policy, name="policy", help="See the decision on a job before anything runs.")
    app.add_typer(job, name="job", help="Submit jobs down the guarded path; approve or reject them.")
    app.add_typer(keys, name="keys", help="Content Credentials signing keys and the watermark key.")
    app.add_typer(disclosure, name="disclosure", help="GenAI disclosure report (HTML, PDF, JSON) and credits notice.")


def _date(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise SpecError(f"not an ISO date/time: {value!r} (e.g. 2026-12-31 or 2026-12-31T18:00)",
                        field=field) from None


def _print_kv(data: dict) -> None:
    for key, value in data.items():
        common.console.print(f"[bold]{key}:[/] {value}")


# ------------------------------------------------------------------ talent / crew

@talent.command("add")
def talent_add(
    name: str = typer.Argument(...),
    union: str = typer.Option("non-union", "--union", help="Union status, e.g. sag-aftra."),
    deceased: bool = typer.Option(False, "--deceased"),
    died: str = typer.Option(None, "--died", help="Date of death (ISO)."),
    authority: str = typer.Option(None, "--consent-authority", help="performer | estate | union"),
    rep: list[str] = typer.Option(None, "--rep", help="Representative (crew name or id, role performer_rep)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Register a performer (deceased performers' consent comes from their estate or the union)."""
    from soundstage.services.safeguards_service import add_performer

    with common.open_ws() as ws:
        data = add_performer(ws, name, union_status=union, living=not deceased, died_at=_date(died, "died"),
                             consent_authority=authority, representatives=rep or [], actor=common.actor())
    common.emit_json(data) if json_out else common.console.print(f"performer {data['id']}: {data['name']}")


@talent.command("show")
def talent_show(ref: str, json_out: bool = typer.Option(False, "--json")) -> None:
    """A performer with their consents."""
    from soundstage.services.safeguards_service import show_performer

    with common.open_ws() as ws:
        data = show_performer(ws, ref)
    access.check_scope([data["id"]], f"performer {data['name']}")
    if json_out:
        common.emit_json(data)
        return
    consents = data.pop("consents")
    _print_kv(data)
    for c in consents:
        common.console.print(f"  consent {c['id']}: {c['kind']} [{_consent_state(c)}] "
                             f"ops={','.join(c['scope']['operations'])} until={c['valid_until']}", markup=False)


@talent.command("represent")
def talent_represent(performer: str = typer.Argument(..., help="Performer (name or id)."),
                     by: str = typer.Option(..., "--by", help="Crew member with the performer_rep role "
                                                             "(name or id)."),
                     json_out: bool = typer.Option(False, "--json")) -> None:
    """Put a representative on file for a performer (agent, counsel, the estate's or union's rep):
    they then approve and revoke for that performer."""
    from soundstage.services.safeguards_service import add_representative

    with common.open_ws() as ws:
        data = add_representative(ws, performer, by, actor=common.actor())
    if json_out:
        common.emit_json(data)
        return
    common.console.print(f"performer {data['id']}: {data['name']} represented by "
                         f"{', '.join(data['representative_names'])}")


@talent.command("list")
def talent_list(json_out: bool = typer.Option(False, "--json")) -> None:
    from soundstage.services.safeguards_service import list_people

    with common.open_ws() as ws:
        rows = access.visible(list_people(ws, "performer"), lambda p: [p["id"]])
    if json_out:
        common.emit_json(rows)
        return
    table = Table("id", "name", "union", "living", "consent authority", "reference")
    for r in rows:
        p = r.get("performer", {})
        table.add_row(r["id"], r["name"], p.get("union_status", ""), str(p.get("living", "")),
                      p.get("consent_authority", ""), r.get("reference_asset") or "")
    common.console.print(table)


@talent.command("enroll")
def talent_enroll(ref: str, image: Path = typer.Argument(..., help="Reference face image."),
                  json_out: bool = typer.Option(False, "--json")) -> None:
    """Enrol a reference face image (needs an active consent; revoking it quarantines the image)."""
    from soundstage.services.safeguards_service import enroll_reference, show_performer

    with common.open_ws() as ws:
        target = show_performer(ws, ref)
        access.check_scope([target["id"]], f"performer {target['name']}")
        data = enroll_reference(ws, target["id"], image, actor=common.actor())
    common.emit_json(data) if json_out else common.console.print(f"reference enrolled as asset {data['asset']}")


@crew.command("add")
def crew_add(name: str, role: list[str] = typer.Option(..., "--role", "-r",
                                                      help="producer, vfx_supervisor, rights_clearance, legal, "
                                                           "performer_rep (repeatable)"),
             json_out: bool = typer.Option(False, "--json")) -> None:
    """Add a crew member with approval roles."""
    from soundstage.services.safeguards_service import add_crew

    with common.open_ws() as ws:
        data = add_crew(ws, name, list(role), actor=common.actor())
    common.emit_json(data) if json_out else common.console.print(f"crew {data['id']}: {name} ({', '.join(role)})")


@crew.command("list")
def crew_list(json_out: bool = typer.Option(False, "--json")) -> None:
    from soundstage.services.safeguards_service import list_people

    me = common.principal()
    with common.open_ws() as ws:
        rows = [p for p in list_people(ws, "crew") if not access.is_scoped_rep(me) or p["id"] == me.person_id]
    if json_out:
        common.emit_json(rows)
        return
    table = Table("id", "name", "roles")
    for r in rows:
        table.add_row(r["id"], r["name"], ", ".join(r["roles"]))
    common.console.print(table)


# ------------------------------------------------------------------ consent

@consent.command("grant")
def consent_grant(
    performer: str = typer.Argument(..., help="Performer name or id."),
    kind: str = typer.Option(..., "--kind", help="employment_based_replica | independently_created_replica | "
                                                 "background_actor_replica | digital_alteration"),
    operation: list[str] = typer.Option(..., "--operation", "-o", help="Permitted operation kind (repeatable)."),
    description: str = typer.Option(..., "--description", "-d", help="Reasonably specific description of the use."),
    scene: list[str] = typer.Option(None, "--scene", help="Limit to scenes (repeatable; default all)."),
    shot: list[str] = typer.Option(None, "--shot"),
    max_alteration: float = typer.Option(0.5, "--max-alteration", help="0..1"),
    media: list[str] = typer.Option(None, "--media", help="previz, final (default both)."),
    territory: list[str] = typer.Option(None, "--territory"),
    valid_from: str = typer.Option(None, "--from"),
    valid_until: str = typer.Option(None, "--until"),
    signed_separately: bool = typer.Option(False, "--signed-separately",
                                           help="Signed as a separate writing, not buried in boilerplate."),
    representation: str = typer.Option("none", "--representation", help="counsel | union | none (CA AB 2602)"),
    compensation: str = typer.Option("", "--compensation-ref"),
    granted_by: str = typer.Option(None, "--granted-by", help="performer | estate | union"),
    document: Path = typer.Option(None, "--document", help="The signed consent document (stored by hash)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Record a performer's consent for this production, signed with your key (rights clearance,
    legal, or the performer's representative)."""
    from soundstage.services.safeguards_service import grant_consent, show_performer

    with common.open_ws() as ws:
        target = show_performer(ws, performer)
        access.check_scope([target["id"]], f"performer {target['name']}")
        data = grant_consent(ws, target["id"], kind=kind, operations=list(operation), description=description,
                             scenes=list(scene or []), shots=list(shot or []), max_alteration=max_alteration,
                             media=list(media or ["previz", "final"]), territory=list(territory or ["worldwide"]),
                             valid_from=_date(valid_from, "from"), valid_until=_date(valid_until, "until"),
                             signed_separately=signed_separately, representation=representation,
                             compensation_ref=compensation, granted_by=granted_by, document=document,
                             actor=common.actor(), signer=common.signer())
    if json_out:
        common.emit_json(data)
        return
    common.console.print(f"consent {data['id']} granted ({_consent_state(data)})", markup=False)
    if data.get("missing"):
        common.console.print("it authorises no job until a new consent is granted with "
                             + ", ".join(m["what"] for m in data["missing"]), markup=False)


def _consent_state(c: dict, short: bool = False) -> str:
    """A consent's status as people should read it: an active one that lacks a separate signature,
    its document or a specific description is 'NOT YET VALID', with what is missing (``short``:
    the rule ids only, for tables)."""
    if c.get("missing") and c["status"] == "active":
        if short:
            return "NOT YET VALID (missing " + ", ".join(m["rule_id"] for m in c["missing"]) + ")"
        return "NOT YET VALID - missing " + "; ".join(f"{m['what']} ({m['rule_id']})" for m in c["missing"])
    return c["status"]


@consent.command("show")
def consent_show(consent_id: str, json_out: bool = typer.Option(False, "--json")) -> None:
    from soundstage.services.safeguards_service import show_consent

    with common.open_ws() as ws:
        data = show_consent(ws, consent_id)
    access.check_scope([data["performer_id"]], f"consent {consent_id}")
    common.emit_json(data) if json_out else _print_kv(data)


@consent.command("list")
def consent_list(performer: str = typer.Option(None, "--performer"),
                 json_out: bool = typer.Option(False, "--json")) -> None:
    from soundstage.services.safeguards_service import list_consents

    with common.open_ws() as ws:
        rows = access.visible(list_consents(ws, performer), lambda c: [c["performer_id"]])
    if json_out:
        common.emit_json(rows)
        return
    table = Table("id", "performer", "kind", "status", "operations", "until")
    for r in rows:
        table.add_row(r["id"], r["performer_id"], r["kind"], _consent_state(r, short=True), ", ".join(r["scope"]["operations"]),
                      str(r["valid_until"] or ""))
    common.console.print(table)


@consent.command("revoke")
def consent_revoke(consent_id: str, reason: str = typer.Option(..., "--reason"),
                   json_out: bool = typer.Option(False, "--json")) -> None:
    """Revoke a consent: every asset derived from it is quarantined and listed with its shot."""
    from soundstage.services.safeguards_service import revoke_consent

    with common.open_ws() as ws:
        _consent_in_scope(ws, consent_id)
        data = revoke_consent(ws, consent_id, reason=reason, actor=common.actor(), signer=common.signer())
    if json_out:
        common.emit_json(data)
        return
    common.console.print(f"consent {consent_id} revoked; {len(data['quarantined'])} asset(s) quarantined")
    table = Table("asset", "name", "scene", "shot", "job")
    for a in data["quarantined"]:
        table.add_row(a["id"], a["name"], str(a["scene"] or ""), str(a["shot"] or ""), str(a["job"] or ""))
    if data["quarantined"]:
        common.console.print(table)


@consent.command("suspend")
def consent_suspend(consent_id: str, reason: str = typer.Option("strike", "--reason")) -> None:
    """Suspend a consent (e.g. during a strike): it covers no new work until resumed."""
    from soundstage.services.safeguards_service import set_suspension

    with common.open_ws() as ws:
        _consent_in_scope(ws, consent_id)
        set_suspension(ws, consent_id, True, reason=reason, actor=common.actor(), signer=common.signer())
    common.console.print(f"consent {consent_id} suspended")


@consent.command("resume")
def consent_resume(consent_id: str, reason: str = typer.Option("strike ended", "--reason")) -> None:
    """Resume a suspended consent, signed with your key (the same people who may suspend it)."""
    from soundstage.services.safeguards_service import set_suspension

    with common.open_ws() as ws:
        _consent_in_scope(ws, consent_id)
        set_suspension(ws, consent_id, False, reason=reason, actor=common.actor(), signer=common.signer())
    common.console.print(f"consent {consent_id} resumed")


def _consent_in_scope(ws, consent_id: str) -> None:
    from soundstage.services.safeguards_service import show_consent

    access.check_scope([show_consent(ws, consent_id)["performer_id"]], f"consent {consent_id}")


# ------------------------------------------------------------------ models

@model.command("add")
def model_add(card: Path = typer.Argument(..., help="Model card YAML: id, name, version, licence, "
                                                    "weights_sha256, training_data, evidence, ..., plus "
                                                    "backend and config (how to run it)."),
              replace: bool = typer.Option(False, "--replace")) -> None:
    """Register a generator or alterer with its licence and training-data attestation."""
    from soundstage.services.safeguards_service import register_model

    try:
        data = yaml.safe_load(card.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"model card not found: {card}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"not valid YAML: {exc}".splitlines()[0], source=str(card)) from None
    if not isinstance(data, dict):
        raise SpecError("a model card is a mapping of fields", source=str(card))
    backend = data.pop("backend", None)
    config = data.pop("config", None) or {}
    mc = ModelCard.from_dict(data)
    with common.open_ws() as ws:
        register_model(ws, mc, actor=common.actor(), replace_existing=replace, backend=backend, config=config)
    common.console.print(f"model {mc.id} registered (training data: {mc.training_data})")


@model.command("list")
def model_list(json_out: bool = typer.Option(False, "--json")) -> None:
    from soundstage.services.safeguards_service import list_models

    with common.open_ws() as ws:
        rows = list_models(ws)
    if json_out:
        common.emit_json(rows)
        return
    table = Table("id", "licence", "training data", "stores inputs", "trains on inputs", "in our environment",
                  "trained")
    for r in rows:
        # a card recorded without these fields said nothing: shown (and decided) as the unsafe case
        table.add_row(r["id"], r["licence"], r["training_data"], str(r.get("stores_inputs", True)),
                      str(r.get("trains_on_inputs", True)), str(r["runs_in_production_env"]), str(r["trained_model"]))
    common.console.print(table)


# ------------------------------------------------------------------ policy / jobs

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
    from soundstage.services.safeguards_service import check_job

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


@job.command("list")
def job_list(status: str = typer.Option(None, "--status"), json_out: bool = typer.Option(False, "--json")) -> None:
    from soundstage.services.jobs_service import list_jobs

    with common.open_ws() as ws:
        rows = access.visible(list_jobs(ws, status), lambda j: j["spec"].get("performers", []))
    if json_out:
        common.emit_json(rows)
        return
    table = Table("id", "operation", "status", "requested by", "decision")
    for r in rows:
        table.add_row(r["id"], r["kind"], r["status"], r["requested_by"], (r["decision"] or {}).get("outcome", ""))
    common.console.print(table)


# ------------------------------------------------------------------ keys

PASSPHRASE_ENV_HELP = ("Environment variable holding the passphrase that encrypts the key; it is recorded, and "
                       "signing reads the same variable. Default: SOUNDSTAGE_KEY_PASSPHRASE if set, else the key "
                       "is not encrypted.")


def _key_passphrase(passphrase_env: str | None) -> tuple[str | None, str]:
    """(passphrase, variable name): a variable named on the command line must be set."""
    from soundstage.safeguards.keys import DEFAULT_PASSPHRASE_ENV

    name = passphrase_env or DEFAULT_PASSPHRASE_ENV
    passphrase = os.environ.get(name) or None
    if passphrase_env and passphrase is None:
        raise InputError(f"--passphrase-env {passphrase_env}: ${passphrase_env} is not set",
                         hint=f"export {passphrase_env} with the passphrase, or leave the option out")
    return passphrase, name


@keys.command("init")
def keys_init(passphrase_env: str = typer.Option(None, "--passphrase-env", help=PASSPHRASE_ENV_HELP)) -> None:
    """Create the production CA and an ES256 claim-signing certificate (refuses to overwrite).
    Without a time-stamp authority ([provenance] tsa_url) it warns: signatures outlive the
    two-year certificate only when they carry an RFC 3161 time-stamp."""
    from soundstage.safeguards.keys import create_production_ca, no_timestamp_warning, signing_certificate_expiry

    passphrase, name = _key_passphrase(passphrase_env)
    with common.open_ws() as ws:
        paths = create_production_ca(ws.settings.keys_dir, ws.settings.title, passphrase, passphrase_env=name)
        tsa_url = ws.settings.tsa_url
    common.console.print(f"signing chain: {paths.chain}" + (f" (key encrypted; passphrase read from ${name})"
                                                            if passphrase else ""))
    if tsa_url is None:
        common.err_console.print("warning: " + no_timestamp_warning(signing_certificate_expiry(paths.directory)),
                                 style="bold red", markup=False, soft_wrap=True)
    else:
        common.console.print(f"every signature is time-stamped by {tsa_url}")


@keys.command("watermark")
def keys_watermark() -> None:
    """Create the production's secret watermark key (workspaces made before keys existed used the
    public default key; their old marks are still found by verify). Refuses to replace a key."""
    from soundstage.services.safeguards_service import create_watermark_key

    with common.open_ws() as ws:
        path = create_watermark_key(ws, actor=common.actor())
    common.console.print(f"watermark key: {path} (owner-only; back it up with the signing keys)")


@keys.command("import")
def keys_import(chain: Path = typer.Option(..., "--chain"), key: Path = typer.Option(..., "--key"),
                passphrase_env: str = typer.Option(None, "--passphrase-env", help=PASSPHRASE_ENV_HELP)) -> None:
    """Use a real signing chain (leaf first) and key instead of the production CA."""
    from soundstage.safeguards.keys import import_signing_credentials

    passphrase, name = _key_passphrase(passphrase_env)
    with common.open_ws() as ws:
        import_signing_credentials(ws.settings.keys_dir, chain.read_bytes(), key.read_bytes(), passphrase,
                                   passphrase_env=name)
    common.console.print("signing credentials imported")



@disclosure.command("report")
def disclosure_report(out: Path = typer.Option(None, "--out", "-o", help="Default: WORKSPACE/exports/disclosure."),
                      fmt: list[str] = typer.Option(None, "--format", "-f", help="json, html, pdf"),
                      episode: str = typer.Option(None, "--episode"),
                      sign_off: str = typer.Option(None, "--sign-off", help="Role that signs the report off, "
                                                   "e.g. legal (signature lines in the PDF)."),
                      sign_off_person: str = typer.Option(None, "--sign-off-person", help="Crew member holding "
                                                          "that role (default: its only holder).")) -> None:
    """Every GenAI use, its model and data attestation, consents, approvals, watermark ids, quarantine.

    Prepared by the person running it (their credential); states the audit head it was built from."""
    from soundstage.services.safeguards_service import write_disclosure_report

    with common.open_ws() as ws:
        target = out or ws.settings.exports_dir / "disclosure"
        paths, head = write_disclosure_report(ws, target, list(fmt or ["json", "html", "pdf"]), episode=episode,
                                              actor=common.actor(), sign_off_role=sign_off,
                                              sign_off_person=sign_off_person)
    for p in paths:
        common.console.print(str(p))
    common.console.print(f"prepared by {common.actor()}; built from audit event #{head['seq']} "
                         f"(hash {head['hash']}); check it with 'audit verify' and 'audit log'")
