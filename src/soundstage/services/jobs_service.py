"""Job use cases: check, submit (idempotent), approve or reject, run, list. The guard does the work."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace as dc_replace
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as DBIntegrityError

from soundstage.clock import as_utc, utcnow
from soundstage.domain.jobs import CANCELLABLE, JobStatus
from soundstage.domain.params import json_schema
from soundstage.domain.permissions import SINGLE_USER_PREFIX
from soundstage.domain.safeguards import JobSpec
from soundstage.errors import (
    AlreadyExistsError,
    InputError,
    NotFoundError,
    PendingApprovalError,
    PermissionDeniedError,
    PolicyDeniedError,
    RefusedError,
    SpecError,
    StateConflictError,
)
from soundstage.generate.registry import declared_operations, operation_params
from soundstage.safeguards import audit, guard, preview_rules
from soundstage.safeguards.consent_rules import MISSING_WHAT
from soundstage.safeguards.jobstate import transition
from soundstage.safeguards.resolve import get_model, performer_of
from soundstage.safeguards.signatures import Signer, sign_approval
from soundstage.services.workspace import Workspace
from soundstage.store.models import Approval, Asset, AuditEvent, Job, Person

VERDICTS = ("approve", "reject")
MAX_NOTE_CHARS = 2000


def new_job_id() -> str:
    return "j-" + uuid.uuid4().hex[:12]


def _iso(value: datetime | None) -> str | None:
    value = as_utc(value)
    return value.isoformat() if value is not None else None


def queue_view(job: Job) -> dict:
    """The queue fields of a job, as the CLI and the API show them."""
    running = job.status == JobStatus.RUNNING.value
    lease = None
    if job.lease_owner and (running or job.lease_expires_at is not None):
        expires = as_utc(job.lease_expires_at)
        lease = {"owner": job.lease_owner, "expires_at": _iso(expires),
                 "lapsed": bool(running and (expires is None or expires < utcnow()))}
    elif running:  # left running by a soundstage from before leases
        lease = {"owner": None, "expires_at": None, "lapsed": True}
    return {"queued_at": _iso(job.queued_at), "attempts": int(job.attempts or 0), "lease": lease,
            "progress": job.progress}


def job_view(job: Job, approvals: list[Approval] | None = None, failure: dict | None = None) -> dict:
    return {"id": job.id, "kind": job.kind, "status": job.status, "requested_by": job.requested_by,
            "spec_digest": job.spec_digest, "created_at": job.created_at.isoformat(), "finished_at": job.finished_at.isoformat()
            if job.finished_at else None, "spec": job.spec, "decision": job.decision,
            "approvals": [{"role": a.role, "person": a.person_id, "verdict": a.verdict, "note": a.note,
                           "at": a.at.isoformat(), "spec_digest": a.spec_digest,
                           "preview_digest": a.preview_sha256} for a in (approvals or [])],
            **queue_view(job), "failure": failure if job.status == JobStatus.FAILED.value else None}


def failures(s, job_ids: list[str]) -> dict[str, dict]:
    """Why each of these failed jobs failed, from its last ``job.failed`` audit event: the stage
    (``signer``: the production could not have signed its outputs, so its backend never ran;
    ``claim``: the claim's checks refused it; ``run``: the backend or the signing failed), the
    one-line error and when. Read from the log the job's status moves are recorded in."""
    out: dict[str, dict] = {}
    for start in range(0, len(job_ids), 500):
        rows = s.scalars(select(AuditEvent).where(AuditEvent.action == "job.failed",
                                                  AuditEvent.subject.in_(job_ids[start:start + 500]))
                         .order_by(AuditEvent.seq))
        for event in rows:
            try:
                payload = json.loads(event.payload)
            except ValueError:
                payload = {}
            out[event.subject] = {"stage": str(payload.get("stage") or "run"), "error": str(payload.get("error") or ""),
                                  "at": event.at}
    return out


def run_here(ws: Workspace, job_id: str, *, actor: str, progress=None, cancelled=None) -> guard.RunOutcome:
    """``guard.run`` in this process: queued, then claimed and run exactly as a worker would. The
    claim checks the production signer before the backend runs (``guard.check_signer_ready``): a
    job whose outputs could not be signed - key files others can read, keys that are not the ones
    the audit log records, a certificate expired or expiring within the run - is recorded failed
    (stage ``signer``) without running, and the one-line error says how to fix it and resume it,
    instead of failing after the render."""
    return guard.run(ws, job_id, actor=actor, progress=progress, cancelled=cancelled)


def submit_job(ws: Workspace, spec: JobSpec, *, actor: str, idempotency_key: str | None = None,
               progress=None, cancelled=None, wait: bool = True) -> dict:
    """Record the job and take it down the guarded path. The server gives it its id; the spec is
    checked whole (its parameters against what its backend declares, its inputs against the ledger
    and the store) before anything is recorded, then frozen: its digest and full canonical form go
    into the ``job.submitted`` audit event, and a changed job is a new job. A retried submit with
    the same idempotency key returns the first job instead of running a second one.

    ``wait``: run the job here once it is queued (as a worker would: under a lease, resumable by a
    worker if this process dies); False only queues it (the API: no request waits for a render)."""
    if spec.production_id != ws.production_id:
        raise SpecError(f"job is for production {spec.production_id!r}, not this one ({ws.production_id})",
                        field="production_id")
    if actor.startswith(SINGLE_USER_PREFIX) and spec.deliverable == "final":
        raise PermissionDeniedError(f"{actor}: a final deliverable is requested by an authenticated person, not in "
                                    "single-user mode", hint="use your credential (SOUNDSTAGE_TOKEN or --token-file)")
    with ws.unit_of_work() as s:
        job_id = new_job_id()
        if idempotency_key:
            existing = s.scalars(select(Job).where(Job.idempotency_key == idempotency_key)).first()
            if existing is not None:
                again = dc_replace(spec, id=existing.id, requested_by=existing.requested_by)
                if existing.spec_digest != guard.job_digest(again, guard.resolve_inputs(s, ws, again,
                                                                                         verify_content=False)):
                    raise InputError(f"idempotency key {idempotency_key!r} was used for a different job")
                return {**job_view(existing), "replayed": True}
        spec = dc_replace(spec, id=job_id, requested_by=actor)
        guard.validated_params(s, spec)  # unknown, wrongly typed or out-of-range parameters: refused here
        digest = guard.job_digest(spec, guard.resolve_inputs(s, ws, spec))
        job = Job(id=job_id, production_id=ws.production_id, kind=spec.operation.value, spec=spec.to_dict(),
                  status=JobStatus.SUBMITTED.value, requested_by=actor, idempotency_key=idempotency_key,
                  decision={}, created_at=datetime.now(timezone.utc), spec_digest=digest)
        s.add(job)
        try:
            s.flush()
        except DBIntegrityError:
            raise AlreadyExistsError(f"idempotency key {idempotency_key!r} is being used by a concurrent submit",
                                     hint="retry shortly: the first submit's result will be returned") from None
        audit.append(s, production_id=ws.production_id, actor=actor, action="job.submitted", subject=job_id,
                     payload={"operation": spec.operation.value, "model": spec.model_id,
                              "performers": list(spec.performers), "spec_digest": digest, "spec": spec.to_dict()})
    outcome = (run_here(ws, job_id, actor=actor, progress=progress, cancelled=cancelled) if wait
               else guard.enqueue(ws, job_id, actor=actor))
    return outcome_view(ws, outcome)


def declared_params(ws: Workspace, model_id: str, operation: str, hints: dict) -> dict:
    """The subset of ``hints`` the model's backend declares for ``operation``: for services that
    compose one set of hints for whichever renderer a production registered (a card renderer has
    no use for a shot record). What a person sends is never filtered: it is validated whole."""

    with ws.reading() as s:
        names = {p.name for p in operation_params(guard.generator_for(s, model_id), operation)}
    return {k: v for k, v in hints.items() if k in names}


def model_operations(ws: Workspace, model_id: str) -> dict:
    """What a registered model can be asked to do: job operation ("*": any) -> the JSON schema of
    the parameters a job may set. Generated from the backends' declarations (the API publishes it)."""

    with ws.reading() as s:
        if get_model(s, model_id) is None:
            raise NotFoundError(f"model {model_id!r} is not in the model registry")
        generator = guard.generator_for(s, model_id)
    return {"model": model_id, "operations": {op: json_schema(operation_params(generator, op))
                                              for op in declared_operations(generator)}}


def outcome_view(ws: Workspace, outcome: guard.RunOutcome) -> dict:
    view = {"job": outcome.job_id, "status": outcome.status, "decision": outcome.decision,
            "assets": outcome.assets, "missing_roles": outcome.missing_roles}
    if outcome.status == JobStatus.ESCALATED.value:
        view["unstaffed_roles"] = unstaffed_roles(ws, outcome.job_id, outcome.missing_roles)
        view["waiting_for"] = role_labels(ws, outcome.missing_roles)  # words; missing_roles keeps the ids
    return view


def unstaffed_roles(ws: Workspace, job_id: str, missing: list[str]) -> list[str]:
    """Missing roles that nobody can give: no crew member other than the requester (or whoever
    asked for an override) holds them. A production with one VFX supervisor who requested the job
    would otherwise wait forever."""
    with ws.reading() as s:
        job = s.get(Job, job_id)
        excluded = {job.requested_by.casefold(), *(o["by"].casefold() for o in (job.overrides or []))}
        crew = list(s.scalars(select(Person).where(Person.production_id == ws.production_id,
                                                   Person.kind == "crew")))
    out = []
    for role in missing:
        base = role.split(":", 1)[0]
        if base == "performer_rep":
            continue  # a representative is named on the performer's record (soundstage talent represent)
        holders = [p for p in crew if base in (p.roles or []) and p.name.casefold() not in excluded
                   and p.id.casefold() not in excluded]
        if not holders:
            out.append(base)
    return out


def role_labels(ws: Workspace, roles: list[str]) -> list[str]:
    """Missing roles as people read them: ``performer_rep:t-049a…`` is "performer_rep of Maya
    Castell" (the performer's name in this production; the id when there is no such person). JSON
    outputs keep the machine ids; this is for the words a person reads."""
    out = []
    with ws.reading() as s:
        for role in roles:
            base, _, performer_id = role.partition(":")
            if not performer_id:
                out.append(role)
                continue
            person = s.get(Person, performer_id)
            named = person is not None and person.production_id == ws.production_id
            out.append(f"{base} of {person.name if named else performer_id}")
    return out


def raise_for_outcome(result: dict) -> None:
    """CLI/API helper: a denied or waiting job is an error for the caller, with the reasons (the
    roles it waits for by name: ``waiting_for``, when the outcome has it)."""
    decision = result.get("decision") or {}
    if result["status"] == "denied":
        rules = [r["rule_id"] for r in decision.get("reasons", []) if r.get("outcome") == "deny"]
        texts = [r["text"] for r in decision.get("reasons", []) if r.get("outcome") == "deny"]
        # a rule with the job's own details ("[performer: consent c-..: no signed consent document on
        # file]") says what is wrong; the umbrella rule before it only that consent is needed
        specific = [t[t.rindex(" [") + 2:-1] for t in texts if t.endswith("]") and " [" in t]
        lacking = [MISSING_WHAT[r] for r in rules if r in MISSING_WHAT]
        hint = ("the consent on file lacks " + "; ".join(lacking) + ": a new consent that has them is needed "
                "(soundstage consent grant ... --signed-separately --document FILE)") if lacking else None
        raise PolicyDeniedError(f"job {result['job']} denied by {', '.join(rules)}: "
                                f"{'; '.join(specific) if specific else texts[0] if texts else ''}",
                                rule_ids=rules, hint=hint)
    if result["status"] == "escalated":
        unstaffed = result.get("unstaffed_roles") or []
        hint = f"approvers run: soundstage job approve {result['job']} --role ROLE"
        if unstaffed:
            hint = (f"nobody but the requester holds {', '.join(unstaffed)}: the requester may not approve their own "
                    f"job; add another crew member with that role (soundstage crew add NAME --role "
                    f"{unstaffed[0]}) and they can approve it")
        raise PendingApprovalError(f"job {result['job']} is waiting for approval by: "
                                   + ", ".join(result.get("waiting_for") or result["missing_roles"]), hint=hint)
    if result["status"] == "rejected":
        raise RefusedError(f"job {result['job']} was rejected by an approver")


def decide_on_job(ws: Workspace, job_id: str, *, signer: Signer, role: str, verdict: str, note: str = "",
                  actor: str | None = None, spec_digest: str | None = None, preview_digest: str | None = None,
                  wait: bool = True) -> dict:
    """An approver's verdict, signed with their key (``signer``: the person is whoever holds the
    credential it came from, never a name given on a command line) over the job, its spec digest,
    the role and the verdict; the guard verifies that signature before it runs anything.
    ``spec_digest``, when given, is the digest the approver was shown: a job that is not that job is
    refused. Nobody approves their own request; a representative acts only for their own
    performers; only the roles the decision named can approve. Of verdicts racing to complete a job,
    each is recorded once and the job's backend runs once: a late one is answered with the job as
    it then is, or StateConflictError. ``wait`` False: a completed job is queued, not run here.
    ``preview_digest``, when given, is the sha256 of the preview the approver was shown: unless it
    is the job's current preview (the newest, still active) the verdict is refused (409); it is
    stored on the approval row, covered by the approver's signature and recorded in the verdict's
    audit event. An approval without one is refused (409) when the policy pack requires previews
    of the job's operation (``preview_rules.check_preview_binding``, the check the guard repeats before
    the job runs)."""
    actor = actor or signer.name
    if verdict not in VERDICTS:
        raise InputError(f"verdict must be approve or reject, not {verdict!r}")
    if len(note) > MAX_NOTE_CHARS:
        raise InputError(f"a note is at most {MAX_NOTE_CHARS} characters")
    with ws.unit_of_work() as s:
        job = s.get(Job, job_id)
        if job is None or job.production_id != ws.production_id:
            raise NotFoundError(f"no job {job_id} in this production")
        if job.status != JobStatus.ESCALATED.value:
            raise StateConflictError(f"job {job_id} is {job.status}, not waiting for approval",
                                     hint=f"see it: soundstage job show {job_id}")
        if spec_digest is not None and spec_digest != job.spec_digest:
            raise StateConflictError(f"job {job_id} is not the job you reviewed (its spec digest is "
                                     f"{(job.spec_digest or '')[:12]}…, you approved {spec_digest[:12]}…)",
                                     hint=f"review it again: soundstage job show {job_id}")
        if preview_digest is not None and (len(preview_digest) != 64 or preview_digest.strip("0123456789abcdef")):
            raise InputError("a preview digest is the 64 lowercase hex digits soundstage job preview prints")
        person = s.get(Person, signer.person_id)
        if person is None or person.production_id != ws.production_id or person.kind != "crew":
            raise PermissionDeniedError(f"{signer.name} is not crew of this production")
        if role not in (person.roles or []):
            raise PermissionDeniedError(f"{person.name} does not hold the role {role!r}",
                                        hint=f"their roles: {', '.join(person.roles or []) or 'none'}")
        if person.id == job.requested_by or person.name.casefold() == job.requested_by.casefold():
            raise PermissionDeniedError(f"{person.name} requested job {job_id} and cannot approve it")
        if any(o["by"].casefold() in (person.name.casefold(), person.id.casefold()) for o in (job.overrides or [])):
            raise PermissionDeniedError(f"{person.name} asked to override a safeguard on job {job_id} and cannot "
                                        "approve it")
        required = [r for r in job.decision.get("approver_roles", [])]
        if role not in required:
            raise PermissionDeniedError(f"job {job_id} does not need {role!r} approval",
                                        hint="required: " + ", ".join(required))
        if role == "performer_rep":
            represented = [pid for pid in job.spec.get("performers", [])
                           if person.id in performer_of(s.get(Person, pid)).representatives]
            if not represented:
                raise PermissionDeniedError(f"{person.name} does not represent any performer in job {job_id}")
            existing = {a.role for a in s.scalars(select(Approval).where(Approval.job_id == job_id))}
            todo = [pid for pid in represented if f"performer_rep:{pid}" not in existing]
            if not todo:
                raise AlreadyExistsError(f"{person.name} has already decided on job {job_id} for their performers")
            keys = [f"performer_rep:{pid}" for pid in todo]
        else:
            if s.scalars(select(Approval).where(Approval.job_id == job_id, Approval.role == role)).first():
                raise AlreadyExistsError(f"the {role} verdict on job {job_id} has already been given")
            keys = [role]
        # the guard's own check: the job's current preview, and one is required when the pack says so
        preview_rules.check_preview_binding(s, ws, job, job.spec.get("operation", ""), verdict, preview_digest,
                                    label=f"your {role} verdict on job {job_id}", current=True)
        now = datetime.now(timezone.utc)
        for key in keys:
            s.add(Approval(job_id=job_id, role=key, person_id=person.id, verdict=verdict, note=note, at=now,
                           spec_digest=job.spec_digest, key_id=signer.key_id, preview_sha256=preview_digest,
                           signature=sign_approval(signer, ws.production_id, job_id=job_id,
                                                   spec_digest=job.spec_digest, role=key, verdict=verdict,
                                                   note=note, at=now, preview_sha256=preview_digest)))
        try:
            s.flush()
        except DBIntegrityError:
            raise StateConflictError(f"the {role} verdict on job {job_id} was given by another request just now",
                                     hint=f"see it: soundstage job show {job_id}") from None
        audit.append(s, production_id=ws.production_id, actor=actor, action=f"job.{verdict}d", subject=job_id,
                     payload={"role": role, "for": keys, "person": person.id, "note": note,
                              "spec_digest": job.spec_digest, "key": signer.key_id,
                              **({"preview_digest": preview_digest} if preview_digest else {})})
    try:
        outcome = run_here(ws, job_id, actor=actor) if wait else guard.enqueue(ws, job_id, actor=actor)
    except StateConflictError:
        # another verdict completed the job at the same moment and holds the run: this verdict is
        # recorded; answer with the job as it is now
        view = show_job(ws, job_id)
        return {"job": job_id, "status": view["status"], "decision": view["decision"], "assets": [],
                "missing_roles": view.get("missing_roles", [])}
    return outcome_view(ws, outcome)


def latest_preview(s, job_id: str) -> Asset | None:
    """The job's current review preview: its newest active ``preview`` asset."""
    return s.scalars(select(Asset).where(Asset.job_id == job_id, Asset.kind == preview_rules.PREVIEW_KIND,
                                         Asset.status == "active").order_by(Asset.created_at.desc())).first()


def run_job(ws: Workspace, job_id: str, *, actor: str, progress=None, cancelled=None) -> dict:
    """Run (or re-run after a crash or failure) a job that is cleared to run."""
    return outcome_view(ws, run_here(ws, job_id, actor=actor, progress=progress, cancelled=cancelled))


def show_job(ws: Workspace, job_id: str) -> dict:
    with ws.reading() as s:
        job = s.get(Job, job_id)
        if job is None or job.production_id != ws.production_id:
            raise NotFoundError(f"no job {job_id} in this production")
        approvals = list(s.scalars(select(Approval).where(Approval.job_id == job_id).order_by(Approval.at)))
        failure = failures(s, [job_id]).get(job_id) if job.status == JobStatus.FAILED.value else None
        view = job_view(job, approvals, failure)
        for entry in view["approvals"]:  # people read names, the ledger keeps ids
            person = s.get(Person, entry["person"])
            entry["person_name"] = person.name if person is not None else entry["person"]
        if job.status == "escalated":
            granted = {a.role for a in approvals if a.verdict == "approve"}
            view["missing_roles"] = guard.missing_roles(job.decision.get("approver_roles", []),
                                                        job.spec.get("performers", []), granted)
    if "missing_roles" in view:
        view["waiting_for"] = role_labels(ws, view["missing_roles"])
    return view


def list_jobs(ws: Workspace, status: str | None = None) -> list[dict]:
    with ws.reading() as s:
        q = select(Job).where(Job.production_id == ws.production_id).order_by(Job.created_at)
        if status:
            q = q.where(Job.status == status)
        jobs = list(s.scalars(q))
        failed = failures(s, [j.id for j in jobs if j.status == JobStatus.FAILED.value])
        return [job_view(j, failure=failed.get(j.id)) for j in jobs]


def cancel_job(ws: Workspace, job_id: str, *, actor: str) -> dict:
    """Stop a job that has not finished: waiting for approval, queued, running or failed. A running
    job's worker sees it at its next heartbeat, stops at the next chunk boundary and registers
    nothing; its finished chunks are left for ``soundstage gc``."""
    with ws.unit_of_work() as s:
        job = s.get(Job, job_id)
        if job is None or job.production_id != ws.production_id:
            raise NotFoundError(f"no job {job_id} in this production")
        if JobStatus(job.status) not in CANCELLABLE:
            raise StateConflictError(f"job {job_id} is {job.status}; only a job that has not finished can be "
                                     "cancelled", hint=f"see it: soundstage job show {job_id}")
        was = {"was": job.status, **({"worker": job.lease_owner} if job.status == JobStatus.RUNNING.value else {})}
        transition(s, job, JobStatus.CANCELLED, actor=actor, payload=was, lease_expires_at=None)
    return show_job(ws, job_id)


def request_override(ws: Workspace, job_id: str, rule_id: str, *, reason: str, actor: str,
                     wait: bool = True) -> dict:
    """Ask to override one denying rule of a denied job. This never switches a safeguard off: the
    job goes back down the guarded path as an escalation that legal and the producer must approve,
    and consent and law rules (SAG-*, CA-*, EUAI-*) cannot be overridden at all."""
    if not reason.strip():
        raise InputError("an override needs a reason", hint="--reason \"why this rule does not apply here\"")
    with ws.unit_of_work() as s:
        job = s.get(Job, job_id)
        if job is None or job.production_id != ws.production_id:
            raise NotFoundError(f"no job {job_id} in this production")
        if job.status != "denied":
            raise InputError(f"job {job_id} is {job.status}; only a denied job can be overridden")
        denying = [r["rule_id"] for r in job.decision.get("reasons", []) if r.get("outcome") == "deny"]
        if rule_id not in denying:
            raise InputError(f"rule {rule_id} did not deny job {job_id}", hint="denied by: " + ", ".join(denying))
        if not guard.overridable(rule_id):
            raise PermissionDeniedError(f"{rule_id} protects consent or the law and can never be overridden")
        entry = {"rule_id": rule_id, "reason": reason.strip()[:MAX_NOTE_CHARS], "by": actor,
                 "at": datetime.now(timezone.utc).isoformat()}
        job.overrides = [*(job.overrides or []), entry]
        transition(s, job, JobStatus.SUBMITTED, actor=actor, payload=entry)
    return outcome_view(ws, run_here(ws, job_id, actor=actor) if wait else guard.enqueue(ws, job_id, actor=actor))
