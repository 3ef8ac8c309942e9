"""The one guarded path: the only code that may write an asset.

Every asset enters the ledger through here, in a fixed order. Source material (a screenplay, a
camera plate) is *ingested*: hashed, stored, registered and audited. Generative and altering
jobs add the safeguard steps in front (model registry, consent, policy, approvals) and the
marking steps behind (watermark, C2PA) - see ``docs/decisions`` for the order.

The asset store refuses a write without a single-use ``WriteGrant`` minted here, from the write
capability the composition root handed over (``adopt_store``). A review preview
(``safeguards.previews``) registers its output through ``mark_sign_register`` like any job's; what
the policy says about previews (``safeguards.preview_rules``) and the checks that a backend marked
its output (``safeguards.output_checks``) sit below this module.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from soundstage import __version__
from soundstage.compute.executors import parse_cluster_options
from soundstage.domain.ids import ASSET_ID_BITS, format_asset_id, new_asset_id, parse_asset_id  # noqa: F401
from soundstage.domain.jobs import JobStatus
from soundstage.domain.params import validate as validate_params
from soundstage.domain.safeguards import (
    LIKENESS_OPERATIONS,
    VOICE_OPERATIONS,
    JobSpec,
    Outcome,
    Reason,
    Role,
    spec_digest,
)
from soundstage.errors import (
    BackendError,
    BusyError,
    IntegrityError,
    NotFoundError,
    QuarantinedError,
    RefusedError,
    SoundstageError,
    StateConflictError,
)
from soundstage.generate.protocol import (
    GeneratedClip,
    GeneratedFile,
    GenerationInput,
    GenerationRequest,
    InputUse,
    OutputProvenance,
)
from soundstage.generate.registry import get_generator, operation_params
from soundstage.media.images import encode_image
from soundstage.safeguards import audit, keys, signatures
from soundstage.safeguards.jobstate import transition
from soundstage.safeguards.lease import (
    LeaseKeeper,
    LeaseTerms,
    as_utc,
    lapsed,
    lease_terms,
    new_owner,
    next_queued,
    utcnow,
)
from soundstage.safeguards.ledger_state import prove_rows
from soundstage.safeguards.output_checks import check_audio_marked, check_clip_marked
from soundstage.safeguards.preview_rules import PREVIEW_KIND, check_preview_binding
from soundstage.safeguards.provenance import (
    AI_SOURCE_TYPES,
    HashedReference,
    IngredientSource,
    ManifestSpec,
    ModelInfo,
    Operation,
    SoftwareAgent,
    SoundstageRecord,
    CredentialState,
    WatermarkInfo,
    read_credentials,
    read_with_sidecar,
    sign_file,
    sign_sidecar,
    spec_source_type,
)
from soundstage.safeguards.provenance.reading import ExplanationKind, explain_codes, timestamp_codes
from soundstage.safeguards.resolve import backend_of, decide, get_model
from soundstage.store.blobs import ContentStore, GrantMinter, StoredBlob, WriteGrant
from soundstage.store.models import (
    Approval,
    Asset,
    AssetConsent,
    AssetEdge,
    AuditEvent,
    AuditHead,
    ConsentRecord,
    Job,
    Person,
)
from soundstage.store.named import named_content
from soundstage.store.remote import node_address
from soundstage.vfx.sequences import SEQUENCE_MEDIA_TYPE, SequenceIndex
from soundstage.voice.protocol import REFERENCE_KIND, GeneratedAudio

#: store -> its write capability, handed over by the composition root (services.workspace)
_MINTERS: "weakref.WeakKeyDictionary[ContentStore, GrantMinter]" = weakref.WeakKeyDictionary()

def adopt_store(store: ContentStore) -> ContentStore:
    """Take a store's write capability (once, from the composition root): from then on the guard
    is the only code that can store a file in it."""
    _MINTERS[store] = store.hand_over_write_capability()
    return store


def _grant(store: ContentStore, job_id: str) -> WriteGrant:
    """A single-use grant for one file of one job."""
    minter = _MINTERS.get(store)
    if minter is None:
        raise RefusedError("the guard does not hold this store's write capability",
                           hint="open the workspace through soundstage.services.workspace")
    return minter.grant(job_id)


@dataclass
class IngestRequest:
    """Source material entering the production as-is (no model touched it)."""

    production_id: str
    actor: str
    kind: str  # screenplay | plate | document | reference_image ...
    media_type: str
    name: str
    data: bytes | None = None
    path: Path | None = None
    parents: list[int] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    #: files stored alongside the asset's own content, each with the sha256 that content names it
    #: by (an image sequence's frames, listed by its index); a file that changed since it was
    #: hashed is refused and nothing is kept
    members: list[tuple[Path, str]] = field(default_factory=list)


def ingest(session: Session, store: ContentStore, req: IngestRequest) -> Asset:
    """Store, register and audit one source asset inside the caller's transaction."""
    for member, expected in req.members:
        try:  # the store refuses content whose hash is not the one checked at probe time, and keeps nothing
            store.put_file(member, _grant(store, f"ingest:{req.kind}"), expected_sha256=expected)
        except IntegrityError as exc:
            raise IntegrityError(f"{member.name} changed while it was being ingested; nothing was stored") from exc
    if req.data is not None:
        blob = store.put_bytes(req.data, _grant(store, f"ingest:{req.kind}"))
    elif req.path is not None:
        blob = store.put_file(req.path, _grant(store, f"ingest:{req.kind}"))
    else:  # pragma: no cover - programming error
        raise ValueError("IngestRequest needs data or path")
    asset = Asset(
        id=new_asset_id(), production_id=req.production_id, sha256=blob.sha256, kind=req.kind,
        media_type=req.media_type, name=req.name, size=blob.size, status="active", job_id=None,
        details=req.details, created_at=datetime.now(timezone.utc),
    )
    session.add(asset)
    session.flush()
    for parent in req.parents:
        session.add(AssetEdge(child_id=asset.id, parent_id=parent, relation="derived_from"))
    audit.append(session, production_id=req.production_id, actor=req.actor, action="asset.ingested",
                 subject=format_asset_id(asset.id),
                 payload={"kind": req.kind, "name": req.name, "sha256": blob.sha256, "size": blob.size,
                          "parents": [format_asset_id(p) for p in req.parents], "media_type": req.media_type,
                          "details": asset.details})
    return asset


# ----------------------------------------------------------------------------- the guarded run

OPERATION_FOR_OUTPUT = {
    "generated": "generated",
    "procedural": "procedural",
    "genai_edit": "genai_edit",
    "composite": "composite",
    "edit": "edit",
}


@dataclass
class RunOutcome:
    """What a guarded run concluded; ``status`` is the job's status afterwards."""

    job_id: str
    status: str  # a domain.jobs.JobStatus value
    decision: dict
    assets: list[dict] = field(default_factory=list)
    missing_roles: list[str] = field(default_factory=list)


def spec_seed(spec: dict) -> int:
    try:
        return int((spec.get("params") or {}).get("seed", 0))
    except (TypeError, ValueError):
        return 0


def reserved_ids(production_id: str, job_id: str, count: int = 256) -> tuple[int, ...]:
    """Asset ids set aside for a job's outputs, derived from the job so a retried run reuses them
    (and with them any finished frame chunks marked with those ids)."""
    out = []
    for i in range(count):
        digest = hashlib.sha256(f"soundstage-asset\x00{production_id}\x00{job_id}\x00{i}".encode()).digest()
        out.append((int.from_bytes(digest[:8], "big") >> 1) or 1)
    return tuple(out)


@dataclass
class _Cleared:
    """What phase A established, carried across the un-transacted run of the backend."""

    spec: JobSpec
    model: object
    generator: object
    inputs: list
    consent_ids: list[str]
    decision: dict
    params: dict
    seed: int
    references: dict
    digest: str
    job_id: str = ""
    backend: tuple = ()  # (backend, config) the model registry named at the claim


def resolve_inputs(s: Session, ws, spec: JobSpec, *, verify_content: bool = True) -> list[tuple[Asset, GenerationInput]]:
    """Step 1: every input exists in this production, is active, and (when ``verify_content``) its
    stored bytes still hash to what the ledger says."""
    out = []
    for ref in spec.inputs:
        asset = s.get(Asset, parse_asset_id(ref))
        if asset is None or asset.production_id != ws.production_id:
            raise NotFoundError(f"job input {ref} is not an asset of this production")
        if asset.status != "active":
            raise QuarantinedError(f"input {ref} ({asset.name}) is quarantined after a consent revocation; "
                                   "it cannot be used")
        members = _member_paths(ws, asset)
        if verify_content:
            ws.store.verify(asset.sha256)
        mark = (asset.details or {}).get("watermark") or {}
        out.append((asset, GenerationInput(asset.id, store_path(ws, asset), asset.media_type, asset.kind, asset.name,
                                           int(mark["payload_hex"], 16) if mark.get("payload_hex") else None,
                                           members, asset.sha256)))
    return out


def job_digest(spec: JobSpec, inputs: list[tuple[Asset, GenerationInput]]) -> str:
    return spec_digest(spec, {ref: asset.sha256 for ref, (asset, _) in zip(spec.inputs, inputs)})


def generator_for(s: Session, model_id: str):
    """The backend the model registry names for the model (never one a job names)."""
    backend, config = backend_of(s, model_id)
    return get_generator(model_id, backend, {k: v for k, v in config.items() if k not in _SERVER_OWNED_CONFIG})


#: settings a model record may not carry: they are the production's (soundstage.toml [compute])
_SERVER_OWNED_CONFIG = ("cluster", "work_dir", "workers")


def registered_backend(s: Session, spec: JobSpec):
    """(model card, backend, validated parameters) for a job: an unregistered model is refused
    first (it has no backend to declare anything), then the job's parameters are checked against
    what its backend declares for its operation."""
    model = get_model(s, spec.model_id)
    if model is None:
        raise RefusedError(f"model {spec.model_id!r} is not in the model registry",
                           hint="register it with its licence and training-data attestation: soundstage model add")
    generator = generator_for(s, spec.model_id)
    params = validate_params(spec.params, operation_params(generator, spec.operation.value),
                             operation=f"{spec.operation.value} on {spec.model_id}")
    return model, generator, params


def validated_params(s: Session, spec: JobSpec) -> dict:
    """The job's parameters as its backend declares them (see ``registered_backend``)."""
    return registered_backend(s, spec)[2]


def submitted_digest(s: Session, job_id: str) -> str | None:
    """The digest recorded in the job's ``job.submitted`` audit event (None for older jobs). The
    event must still be the one the chain holds: its own hash recomputes, and the next event (or
    the ledger head) names that hash; an edited event is refused, not believed."""
    event = s.scalars(select(AuditEvent).where(AuditEvent.subject == job_id, AuditEvent.action == "job.submitted")
                      .order_by(AuditEvent.seq)).first()
    if event is None:
        return None
    following = s.get(AuditEvent, event.seq + 1)
    if not audit.still_chained(event, following.prev_hash if following is not None else None, s.get(AuditHead, 1)):
        raise IntegrityError(f"the audit event recording job {job_id}'s submission (#{event.seq}) was edited, so "
                             "its spec digest cannot be trusted; nothing ran",
                             hint="soundstage audit verify names what changed")
    return json.loads(event.payload).get("spec_digest")


@dataclass(frozen=True)
class Claim:
    """Who is claiming a job, and on what lease terms (``safeguards.lease``)."""

    owner: str
    terms: LeaseTerms = field(default_factory=LeaseTerms)


def work_root(ws) -> Path:
    """The production's durable work area (``[compute] work_dir`` in soundstage.toml, relative to
    the workspace; default ``<workspace>/vfx-work``): each job's finished chunks live in its
    ``job-<id>`` folder there, so a job handed back or killed is resumed by the next worker, and a
    run's scratch files live under its ``tmp`` folder (``soundstage gc`` lists what is left)."""
    configured = (ws.settings.extra.get("compute") or {}).get("work_dir")
    root = Path(str(configured)) if configured else Path("vfx-work")
    return root if root.is_absolute() else Path(ws.settings.root) / root


def run(ws, job_id: str, *, actor: str, now: datetime | None = None, progress=None, cancelled=None,
        terms: LeaseTerms | None = None) -> RunOutcome:
    """Steps 1-10 of the guarded path for one submitted job, here and now (the CLI, the services):
    ``enqueue``, then - the job being queued - ``claim`` it under a lease of this process and
    ``execute`` it, exactly as a worker would. If another worker claims it first, its run decides
    and this returns the job as it is."""
    outcome = enqueue(ws, job_id, actor=actor, now=now)
    if outcome.status != JobStatus.QUEUED.value:
        return outcome
    lease = Claim(new_owner("inline"), terms or lease_terms(ws.settings.extra))
    outcome, cleared = claim(ws, lease, job_id=job_id, actor=actor, now=now)
    if cleared is None:
        return outcome if outcome is not None else current_outcome(ws, job_id)
    return execute(ws, cleared, lease, actor=actor, progress=progress, cancelled=cancelled)


def enqueue(ws, job_id: str, *, actor: str, now: datetime | None = None, note: dict | None = None) -> RunOutcome:
    """Steps 1-5 for a job, as the ledger stands now, in one transaction: the spec digest is
    recomputed and must match the submission and every approval; a denial or a wait is recorded,
    or the job is *queued* for a worker (status queued). Nothing runs here: an HTTP request that
    submits or approves a job returns at once. ``note`` is added to the queueing event (why: a
    resume, a retry)."""
    with ws.unit_of_work() as s:
        job = job_of(s, ws, job_id)
        outcome, _ = _decide(s, ws, job, actor=actor, now=now, lease=None, note=note)
        return outcome


def claim(ws, lease: Claim, *, job_id: str | None = None, actor: str | None = None,
          now: datetime | None = None) -> tuple[RunOutcome | None, "_Cleared | None"]:
    """A worker's claim, in one transaction: take the oldest queued job (or ``job_id``), prove it
    again exactly as ``enqueue`` did - steps 1-5 re-read from the ledger now, so a consent revoked
    or a spec edited while the job waited is caught here - and move it to running under ``lease``
    (compare-and-set: of racing claims exactly one wins). Returns (None, cleared) for the winner;
    (outcome, None) when the checks moved the job elsewhere (denied, escalated); (None, None) when
    there was nothing to claim or another worker won. A claim the checks refuse (IntegrityError,
    a quarantined input...) records the job as failed - it is not retried in a loop - and raises.

    The last check, once the job may run: the production signer could sign its outputs
    (``check_signer_ready``). Else the move to running is rolled back and the job is recorded
    failed at stage ``signer`` with the one-line reason and its fix: its backend never runs, and no
    worker claims it again until a person resumes it (``job resume``) after fixing the keys. Every
    run goes through here, a worker's and a command's (``run``) alike."""
    actor = actor or lease.owner.rsplit(":", 1)[0]
    claimed_id = job_id
    stage = "claim"
    try:
        with ws.unit_of_work() as s:
            job = next_queued(s, ws.production_id, job_id)
            if job is None:
                return None, None
            claimed_id = job.id
            outcome, cleared = _decide(s, ws, job, actor=actor, now=now, lease=lease)
            if cleared is not None:
                stage = "signer"
                check_signer_ready(ws)  # raising here rolls the move to running back: nothing was started
            return outcome, cleared
    except (StateConflictError, OperationalError, BusyError):
        return None, None  # another worker's claim (or a person's cancel) came first, or the ledger is busy
    except SoundstageError as exc:
        recorded = _refuse_claim(ws, claimed_id, exc, actor=actor, stage=stage)
        if stage == "signer" and recorded:
            raise exc.__class__(f"{exc.message}; job {claimed_id} did not run and is recorded failed; once this "
                                f"is fixed: soundstage job resume {claimed_id}", hint=exc.hint) from exc
        raise


def check_signer_ready(ws, *, now: datetime | None = None, runs_for: timedelta = keys.SIGNING_MARGIN):
    """Whether this production's outputs could be signed by a run starting now: the signer loads
    (owner-only key files, the passphrase at hand), its keys are the ones the audit log records, and
    its certificate is valid now and for ``runs_for`` more (``keys.check_signer``). The one check,
    made at every claim; a one-line error with the fix otherwise."""
    return keys.check_signer(ws.settings.keys_dir, tsa_url=ws.settings.tsa_url, now=now, runs_for=runs_for)


def _refuse_claim(ws, job_id: str | None, exc: BaseException, *, actor: str, stage: str = "claim") -> bool:
    """The claim's checks refused a queued job: record it failed (with the stage and the reason), so
    no worker claims it again until a person resumes it. True when this call recorded it."""
    if job_id is None:
        return False
    one_line = exc.one_line() if isinstance(exc, SoundstageError) else str(exc)
    try:
        with ws.unit_of_work() as s:
            job = s.get(Job, job_id)
            if job is not None and job.status == JobStatus.QUEUED.value:
                transition(s, job, JobStatus.FAILED, actor=actor, payload={
                    "stage": stage, "error": f"{exc.__class__.__name__}: {one_line}".splitlines()[0][:500]})
                return True
    except Exception:  # noqa: BLE001 - never hide the refusal behind a bookkeeping error
        pass
    return False


def current_outcome(ws, job_id: str) -> RunOutcome:
    with ws.reading() as s:
        job = job_of(s, ws, job_id)
        assets = s.scalars(select(Asset).where(Asset.job_id == job_id, Asset.kind != PREVIEW_KIND)
                           .order_by(Asset.created_at)) \
            if job.status == JobStatus.DONE.value else []
        return RunOutcome(job_id, job.status, job.decision, [asset_summary(a) for a in assets])


def execute(ws, cleared: "_Cleared", lease: Claim, *, actor: str, progress=None, cancelled=None,
            stopping=None) -> RunOutcome:
    """Steps 6-10 of a claimed job: B the backend, outside any transaction, given only the
    validated parameters and what the guard resolved itself; C (one transaction) the decision is
    taken again - a consent revoked while the backend ran stops the job here - then steps 7-10.
    A heartbeat keeps the lease while it runs; every write is a compare-and-set on this lease.

    ``cancelled()``: the caller stops the run (the job ends cancelled); ``stopping()``: the worker
    is shutting down (the run stops at a chunk boundary and the job is handed back to the queue).
    A run whose lease is lost (cancelled by a person, or taken over after it lapsed) stops and
    writes nothing; the job is returned as it now is."""
    job_id = cleared.job_id
    reserved = reserved_ids(ws.production_id, job_id)
    compute = dict(ws.settings.extra.get("compute") or {})
    root = work_root(ws)
    with LeaseKeeper(ws.db.transaction, job_id, lease.owner, lease.terms) as keeper:
        def report(done: int, total: int) -> None:
            keeper.report(done, total)
            if progress is not None:
                progress(done, total)

        def should_stop() -> bool:
            return keeper.should_stop() or bool(stopping and stopping()) or bool(cancelled and cancelled())

        try:
            (root / "tmp").mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix=f"{safe_job_dir(job_id)}-", dir=root / "tmp") as scratch:
                outputs = cleared.generator.generate(GenerationRequest(
                    job=cleared.spec, inputs=tuple(cleared.inputs), params=cleared.params, seed=cleared.seed,
                    scratch_dir=Path(scratch), reserved_asset_ids=reserved, progress=report, cancelled=should_stop,
                    watermark_key=ws.watermark_key, performer_references=cleared.references,
                    work_root=root, cluster=str(compute["cluster"]) if compute.get("cluster") else None,
                    workers=int(compute.get("workers") or 2),
                    # render nodes (issue 14): inputs by hash from the store's address, Dask settings
                    job_store=node_address(ws.store, root),
                    cluster_options=parse_cluster_options(compute, ws.settings.root)))
                if len(outputs) > len(reserved):
                    raise RefusedError(f"backend {cleared.spec.model_id} returned {len(outputs)} outputs; at most "
                                       f"{len(reserved)} are allowed per job")
                if not keeper.beat():  # the claim still holds (and the last progress is written)
                    raise StateConflictError(f"job {job_id}: {keeper.lost}")
                return _phase_c_register(ws, job_id, cleared, outputs, reserved, actor=actor, owner=lease.owner)
        except BaseException as exc:
            if keeper.should_stop() or (isinstance(exc, StateConflictError) and keeper.beat() is False):
                return current_outcome(ws, job_id)  # the claim is gone: whoever holds the job now decides
            handback = bool(stopping and stopping())
            _record_failure(ws, job_id, exc, actor=actor, owner=lease.owner, handback=handback)
            if handback:
                return current_outcome(ws, job_id)
            raise


def safe_job_dir(job_id: str) -> str:
    """The folder name of a job's scratch and work areas: its id with anything but letters, digits,
    "-" and "_" replaced, at most 80 characters (the queue, previews and S3 work areas use it too)."""
    return "job-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in job_id)[:80]


def job_of(s: Session, ws, job_id: str):
    """The job row, if it is a job of this production (NotFoundError otherwise)."""
    job = s.get(Job, job_id)
    if job is None or job.production_id != ws.production_id:
        raise NotFoundError(f"no job {job_id} in this production")
    return job


@dataclass
class _Checked:
    """Steps 1-4 of the guarded path on a job, as the ledger stands under the write order."""

    spec: JobSpec
    resolved: list
    digest: str
    model: object
    generator: object
    params: dict
    backend: tuple
    decision: object
    ctx: object
    consent_ids: list[str]


def check_job(s: Session, ws, job, now: datetime | None = None) -> _Checked:
    """Steps 1-4 on ``job``, the same for its claim, the registration of its outputs (phase C) and its
    review preview: the ledger's write order first (``audit.serialize``: whatever the caller
    registers on this is serial with every revocation, registry change and approval), then every
    input active and hashing to its row, the job proven to be the one submitted, its rows to their
    audit events, the model registered with its parameters, every consent as signed, and the policy
    decision with the job's overrides. Raises on anything the guard refuses."""
    audit.serialize(s)
    spec = JobSpec.from_dict(job.spec)
    # 1. resolve inputs, and prove the job is the one submitted and approved
    resolved = resolve_inputs(s, ws, spec)
    digest = job_digest(spec, resolved)
    recorded = {d for d in (job.spec_digest, submitted_digest(s, job.id)) if d}
    if recorded != {digest}:
        raise IntegrityError(f"job {job.id} is not what was submitted: its spec or an input changed since "
                             "submission (the spec digest differs); nothing ran",
                             hint="a submitted job is immutable: submit the changed job as a new job")
    # every row this run relies on is the state its audit events describe (issue 12)
    prove_rows(s, job.id, spec)
    # 2. model registry: an unregistered tool never runs; parameters are the backend's declared ones
    model, generator, params = registered_backend(s, spec)
    # 3 + 4. consent checks and the policy decision, from the ledger as it is now: every consent
    # row of the job's performers is first proven to be what its signers signed
    signatures.verify_consents(s, ws.production_id, spec.performers)
    decision, ctx = decide(s, ws, spec, now)
    decision = apply_overrides(decision, job.overrides or [])
    consent_ids = sorted({c.consent_id for c in ctx.consent_checks.values() if c.consent_id})
    return _Checked(spec, resolved, digest, model, generator, params, backend_of(s, spec.model_id), decision, ctx,
                    consent_ids)


def _approvals(s: Session, ws, job, checked: _Checked) -> tuple[str, list[str]]:
    """Step 5: every role the decision asks for approved, none rejected, each verdict given on this
    very spec, signed by whom it names, on an active preview of this job. ("ok", []), ("rejected",
    roles) or ("missing", roles)."""
    if checked.decision.outcome is not Outcome.ESCALATE:
        return "ok", []
    approvals = list(s.scalars(select(Approval).where(Approval.job_id == job.id)))
    stale = [a for a in approvals if a.spec_digest != checked.digest]
    if stale:
        raise IntegrityError(f"job {job.id} has a {stale[0].role} verdict that was not given on this job's "
                             "spec (its digest differs); nothing ran",
                             hint="an approval is bound to the exact spec it approved")
    signatures.verify_approvals(s, ws.production_id, job, approvals)  # signed, by whom it names
    rejected = [a.role for a in approvals if a.verdict == "reject"]
    if rejected:
        return "rejected", rejected
    for a in approvals:  # each names an active preview of this very job (required if the pack says so)
        check_preview_binding(s, ws, job, checked.spec.operation.value, a.verdict, a.preview_sha256,
                              label=f"the {a.role} verdict on job {job.id} (approval #{a.id})")
    granted = {a.role for a in approvals if a.verdict == "approve"}
    missing = missing_roles([r.value for r in checked.decision.approver_roles], list(checked.spec.performers),
                            granted)
    return ("missing", missing) if missing else ("ok", [])


def _decide(s: Session, ws, job, *, actor: str, now: datetime | None, lease: Claim | None,
            note: dict | None = None):
    """Steps 1-5 on ``job`` inside the caller's transaction. ``lease`` None: a job that may run is
    queued; a lease: the queued job is claimed (running, under that lease)."""
    job_id = job.id
    now = now or datetime.now(timezone.utc)
    status = JobStatus(job.status)
    if status is JobStatus.DONE:
        assets = s.scalars(select(Asset).where(Asset.job_id == job_id, Asset.kind != PREVIEW_KIND)
                           .order_by(Asset.created_at))
        return RunOutcome(job_id, "done", job.decision, [asset_summary(a) for a in assets]), None
    if status is JobStatus.RUNNING:
        # a worker holds the claim: its run decides; this request changes nothing
        return RunOutcome(job_id, "running", job.decision), None
    if status in (JobStatus.REJECTED, JobStatus.CANCELLED):
        raise RefusedError(f"job {job_id} was {status.value}; submit a new job")
    if (status is JobStatus.QUEUED) != (lease is not None):
        # queued already (it waits for a worker), or a claim of a job that is not queued (moved on)
        return RunOutcome(job_id, status.value, job.decision), None
    checked = check_job(s, ws, job, now)
    spec, resolved, digest, decision, ctx = checked.spec, checked.resolved, checked.digest, checked.decision, checked.ctx
    model, generator, params = checked.model, checked.generator, checked.params
    job.decision = decision.to_dict()
    if decision.outcome is Outcome.DENY:
        transition(s, job, JobStatus.DENIED, actor=actor,
                   payload={"rules": [r.rule_id for r in decision.reasons if r.outcome == "deny"]})
        return RunOutcome(job_id, "denied", job.decision), None
    # a voice is used only as its own performer's, enrolled under their consent (a denial above is
    # recorded first: it names the rule)
    check_voice_references(s, spec, [asset for asset, _ in resolved])
    # 5. approvals: every required role, none rejected, each given on this very spec
    verdict, roles = _approvals(s, ws, job, checked)
    if verdict == "rejected":
        transition(s, job, JobStatus.REJECTED, actor=actor, payload={"by_roles": roles})
        return RunOutcome(job_id, "rejected", job.decision), None
    if verdict == "missing":
        if status is not JobStatus.ESCALATED:
            transition(s, job, JobStatus.ESCALATED, actor=actor,
                       payload={"approvers": [r.value for r in decision.approver_roles], "spec_digest": digest})
        return RunOutcome(job_id, "escalated", job.decision, missing_roles=roles), None
    consent_ids = checked.consent_ids
    cleared = {"model": spec.model_id, "operation": spec.operation.value, "decision": decision.outcome.value,
               "consents": consent_ids, "spec_digest": digest}
    if lease is None:
        # cleared to run: a worker will claim it (and prove all of the above again when it does)
        transition(s, job, JobStatus.QUEUED, actor=actor, payload={**cleared, **(note or {})},
                   queued_at=utcnow(), lease_owner=None, lease_expires_at=None, progress=None)
        return RunOutcome(job_id, "queued", job.decision), None
    references = performer_references(s, ws, spec, ctx)
    # the claim: exactly one worker moves the job to running; a racing one gets StateConflictError
    attempt = int(job.attempts or 0) + 1
    transition(s, job, JobStatus.RUNNING, actor=actor, payload={**cleared, "worker": lease.owner, "attempt": attempt},
               lease_owner=lease.owner, lease_expires_at=utcnow() + timedelta(seconds=lease.terms.seconds),
               attempts=attempt)
    return None, _Cleared(spec, model, generator, [i for _, i in resolved], consent_ids, job.decision, params,
                          int(params.get("seed", 0)), references, digest, job_id, checked.backend)


def check_voice_references(s: Session, spec: JobSpec, inputs: list[Asset]) -> None:
    """Voice (issue 17, DR018): a voice reference is used only as the voice of a performer the job
    names, and a voice job speaks only with the voice reference enrolled for its performer: each
    reference input was enrolled for a named performer (its ingest event says whose, and the state
    proof holds the row to it) under one of that performer's consents (``asset_consent`` links it,
    so a revocation quarantines it and ``resolve_inputs`` refuses it)."""
    references = [a for a in inputs if a.kind == REFERENCE_KIND]
    if spec.operation not in VOICE_OPERATIONS and not references:
        return
    if spec.operation in VOICE_OPERATIONS and backend_of(s, spec.model_id)[0] != "voice":
        raise RefusedError(f"{spec.operation.value} runs on a voice model (backend 'voice'); {spec.model_id} is not "
                           "one, so nothing would mark and check its audio",
                           hint="register the voice model with backend: voice and config.engine")
    for ref in references:
        owner = (ref.details or {}).get("performer")
        if owner not in spec.performers:
            raise RefusedError(f"voice reference {format_asset_id(ref.id)} is {owner}'s voice; the job names "
                               f"{', '.join(spec.performers) or 'no performer'}: a voice is used only for its own "
                               "performer")
        linked = set(s.scalars(select(ConsentRecord.performer_id).join(
            AssetConsent, AssetConsent.consent_id == ConsentRecord.id).where(AssetConsent.asset_id == ref.id)))
        if linked != {owner}:
            raise RefusedError(f"voice reference {format_asset_id(ref.id)} was not enrolled under a consent of "
                               f"{owner}; a voice is enrolled only under consent",
                               hint="soundstage voice enroll PERFORMER FILE, under a consent that covers voice")
    if spec.operation in VOICE_OPERATIONS:
        owners = sorted((r.details or {}).get("performer") for r in references)
        if owners != sorted(spec.performers):
            raise RefusedError(f"a voice job uses exactly the enrolled voice reference of each performer it names "
                               f"(names {', '.join(spec.performers) or 'none'}, has references of "
                               f"{', '.join(owners) or 'none'})",
                               hint="enroll it first: soundstage voice enroll PERFORMER FILE")


def performer_references(s: Session, ws, spec: JobSpec, ctx) -> dict:
    """performer id -> stored path of their enrolled reference face, resolved here and only here:
    the reference must be an active asset of this production, and the performer must be covered by
    a consent for this job (or need none). A job cannot name an image to identify anyone."""
    refs = {}
    for pid in spec.performers:
        check = ctx.consent_checks.get(pid)
        if check is None or not check.covered:
            continue
        person = s.get(Person, pid)
        ref = ((person.details or {}).get("reference_asset") if person is not None else None)
        if not ref:
            continue
        asset = s.get(Asset, parse_asset_id(ref))
        if asset is None or asset.production_id != ws.production_id or asset.status != "active":
            continue
        ws.store.verify(asset.sha256)
        refs[pid] = ws.store.path_for(asset.sha256)
    return refs


@contextmanager
def removed_if_it_fails(ws) -> Iterator[list[StoredBlob]]:
    """A list for what a registration stores (``mark_sign_register(..., stored=)``), and, when the
    registration fails - its transaction already rolled back: enter this before the unit of work -
    the removal of what it created (a failed job leaves nothing half-written; DR010, amendment). The
    store removes only content this registration created itself that no ledger row names and no
    other unit has reused since (``ContentStore.discard_created``, gc's rule with the write as its
    cutoff; the names are ``store.named.named_content``, gc's); everything else stays for gc, as
    does everything if the removal itself fails (the job's own error is the one raised)."""
    stored: list[StoredBlob] = []
    try:
        yield stored
    except BaseException:
        if any(blob.created for blob in stored):
            try:
                ws.store.discard_created(stored, lambda: named_content(ws.db.transaction, ws.store, ws.production_id))
            except Exception:  # noqa: BLE001 - never hide the job's failure; what stays, gc collects
                pass
        raise


def _phase_c_register(ws, job_id: str, cleared: _Cleared, outputs, reserved, *, actor: str,
                      owner: str) -> RunOutcome:
    with removed_if_it_fails(ws) as stored, ws.unit_of_work() as s:
        job = s.get(Job, job_id)
        # the claim's checks, all of them, again (``check_job``): a revocation that quarantined an
        # input, a model card replaced, a policy that now asks for approvals, an input swapped on disk
        # while the backend ran each stop the registration here (red team, 2026-12-07)
        checked = check_job(s, ws, job)
        decision = checked.decision
        if decision.outcome is Outcome.DENY or not set(cleared.consent_ids) <= set(checked.consent_ids):
            job.decision = decision.to_dict()
            transition(s, job, JobStatus.DENIED, actor=actor, expect={"lease_owner": owner}, lease_expires_at=None,
                       payload={"rules": [r.rule_id for r in decision.reasons if r.outcome == "deny"],
                                "stage": "before registering outputs (consent changed while it ran)"})
            return RunOutcome(job_id, "denied", job.decision)
        if checked.model != cleared.model or checked.backend != cleared.backend:
            raise RefusedError(f"the model registry's entry for {cleared.spec.model_id} changed while job {job_id} ran; "
                               "nothing was registered", hint=f"run it under the entry as it is now: soundstage job "
                                                              f"resume {job_id}")
        check_voice_references(s, checked.spec, [asset for asset, _ in checked.resolved])
        verdict, roles = _approvals(s, ws, job, checked)
        if verdict != "ok":
            why = (f"a {', '.join(roles)} verdict rejects job {job_id}" if verdict == "rejected" else
                   f"the policy now asks for {', '.join(roles)} approval of job {job_id} (it changed while the job ran)")
            raise RefusedError(f"{why}; nothing was registered",
                               hint=f"soundstage job resume {job_id}: its claim asks for the approvals")
        # 7-9. watermark, sign, register each output
        produced = []
        for index, output in enumerate(outputs):
            asset = mark_sign_register(ws, s, job_id, cleared.spec, cleared.model, output, cleared.inputs,
                                       cleared.consent_ids, actor, reserved[index], stored=stored)
            produced.append(asset_summary(asset))
        # 10. audit event (with the move to done)
        # (a compare-and-set on this claim's lease: a run whose job was cancelled or taken over
        # while it ran registers nothing - the whole transaction rolls back)
        transition(s, job, JobStatus.DONE, actor=actor, expect={"lease_owner": owner}, lease_expires_at=None,
                   finished_at=datetime.now(timezone.utc),
                   payload={"assets": [a["id"] for a in produced], "model": cleared.spec.model_id,
                            "operation": cleared.spec.operation.value, "decision": cleared.decision.get("outcome"),
                            "consents": cleared.consent_ids, "spec_digest": cleared.digest})
        return RunOutcome(job_id, "done", job.decision, produced)


def _record_failure(ws, job_id: str, exc: BaseException, *, actor: str, owner: str, handback: bool) -> None:
    """The backend failed, was cancelled, or its worker is stopping: say so on the job, in its own
    transaction, only while this claim still holds it. A worker that stops hands the job back to
    the queue (its finished chunks stay for the next worker)."""
    cancelled = exc.__class__.__name__ == "JobCancelledError" or isinstance(exc, KeyboardInterrupt)
    error = f"{exc.__class__.__name__}: {exc}".splitlines()[0][:500]
    for _ in range(FAILURE_RECORD_TRIES):
        try:
            _record_failure_once(ws, job_id, cancelled, error, actor=actor, owner=owner, handback=handback)
            return
        except BusyError:
            continue  # another job's phase C holds the write order: wait for it again
        except Exception:  # noqa: BLE001 - never hide the original error behind a bookkeeping one
            return


#: how many times a failed run's record is attempted while the ledger is busy (each waits its
#: busy timeout): a job left running is requeued once its lease lapses anyway
FAILURE_RECORD_TRIES = 4


def _record_failure_once(ws, job_id: str, cancelled: bool, error: str, *, actor: str, owner: str,
                         handback: bool) -> None:
    with ws.unit_of_work() as s:
        job = s.get(Job, job_id)
        if job is None or job.status != JobStatus.RUNNING.value or job.lease_owner != owner:
            return
        if handback:
            transition(s, job, JobStatus.QUEUED, actor=actor, expect={"lease_owner": owner},
                       lease_owner=None, lease_expires_at=None,
                       payload={"reason": "the worker is stopping; finished chunks are kept", "worker": owner})
        else:
            transition(s, job, JobStatus.CANCELLED if cancelled else JobStatus.FAILED, actor=actor,
                       expect={"lease_owner": owner}, lease_expires_at=None, payload={"error": error})


def requeue_lapsed(ws, *, actor: str, now: datetime | None = None) -> list[str]:
    """Hand back to the queue every running job whose lease lapsed (its worker was killed or lost):
    each is a compare-and-set on the lapsed lease, so a worker that renews in time keeps its job.
    The next claim resumes it from its finished chunks. Returns the job ids handed back."""
    now = now or utcnow()
    handed = []
    with ws.unit_of_work() as s:
        for job in lapsed(s, ws.production_id, now):
            reason = ("no lease (left running by a soundstage without leases)" if job.lease_expires_at is None
                      else f"the lease of {job.lease_owner} lapsed at {as_utc(job.lease_expires_at).isoformat()}")
            transition(s, job, JobStatus.QUEUED, actor=actor,
                       expect={"lease_owner": job.lease_owner, "lease_expires_at": job.lease_expires_at},
                       lease_owner=None, lease_expires_at=None, payload={"reason": reason, "worker": job.lease_owner})
            handed.append(job.id)
    return handed


# Rules a person can never override: consent (SAG-AFTRA terms), state law, the EU AI Act.
NEVER_OVERRIDABLE = ("SAG-", "CA-", "EUAI-")
OVERRIDE_APPROVERS = ("producer", "legal")


def overridable(rule_id: str) -> bool:
    return not rule_id.startswith(NEVER_OVERRIDABLE)


def apply_overrides(decision, overrides: list[dict]):
    """Turn a denial into an escalation when every denying rule has an explicit, audited override.

    The override does not switch a safeguard off: it is itself a policy decision (reason
    SOUNDSTAGE-OVERRIDE) that needs legal and the producer *on top of* every approver and duty the
    other rules required (an override only adds), and consent and law rules are never overridable."""
    if decision.outcome is not Outcome.DENY or not overrides:
        return decision
    requested = {o["rule_id"]: o for o in overrides if overridable(o["rule_id"])}
    denying = [r for r in decision.reasons if r.outcome == "deny"]
    if not denying or any(r.rule_id not in requested for r in denying):
        return decision
    reasons = tuple(dc_replace(r, outcome="escalate") if r.rule_id in requested else r for r in decision.reasons)
    note = "; ".join(f"{rid} by {o['by']}: {o['reason']}" for rid, o in requested.items()
                     if rid in {r.rule_id for r in denying})
    reasons += (Reason("SOUNDSTAGE-OVERRIDE", f"Safeguard override requested ({note}); needs legal and producer "
                       "approval", "escalate"),)
    roles = tuple(dict.fromkeys([*decision.held_roles, *decision.approver_roles,
                                 *(Role(r) for r in OVERRIDE_APPROVERS)]))
    duties = tuple(dict.fromkeys([*decision.held_duties, *decision.duties]))
    return dc_replace(decision, outcome=Outcome.ESCALATE, reasons=reasons, approver_roles=roles, duties=duties,
                      held_roles=(), held_duties=())


def missing_roles(required: list[str], performers: list[str], granted: set[str]) -> list[str]:
    """Roles still to approve. A performer's representative approves per performer
    ("performer_rep:<id>"): one agent cannot sign off for another agent's client."""
    missing = []
    for role in required:
        if role == "performer_rep" and performers:
            missing.extend(f"performer_rep:{p}" for p in performers if f"performer_rep:{p}" not in granted)
        elif role not in granted:
            missing.append(role)
    return missing


def store_path(ws, asset: Asset) -> Path:
    return ws.store.path_for(asset.sha256)


def _member_paths(ws, asset: Asset) -> tuple[Path, ...]:
    """An image sequence's frame files in the store, in order (empty for other assets)."""
    if asset.media_type != SEQUENCE_MEDIA_TYPE:
        return ()
    index = SequenceIndex.from_bytes(store_path(ws, asset).read_bytes(), source=asset.name)
    paths = tuple(ws.store.path_for(f.sha256) for f in index.frames)
    missing = next((f for f, p in zip(index.frames, paths) if not p.is_file()), None)
    if missing is not None:
        raise IntegrityError(f"frame {missing.name} of sequence {asset.name} is missing from the store")
    return paths


def asset_summary(a: Asset) -> dict:
    return {"id": format_asset_id(a.id), "name": a.name, "sha256": a.sha256, "media_type": a.media_type,
            "status": a.status, "details": a.details or {}}


def mark_sign_register(ws, s: Session, job_id: str, spec, model, frame, inputs, consent_ids, actor,
                       asset_id: int, *, stored: list[StoredBlob] | None = None) -> Asset:
    """Steps 7-9 for one output of a cleared job, inside the caller's transaction: watermark it with
    ``asset_id`` (or check the backend did: ``safeguards.output_checks``), sign its Content
    Credentials, store it under a grant of this module and register it with its lineage and the
    consents it relied on. Called by the guarded run (``execute``) and the review preview
    (``safeguards.previews``), each after the job's checks held in that same transaction; each
    write to the store is appended to ``stored``, so that a caller whose transaction then fails
    removes what it stored (``removed_if_it_fails``)."""
    engine = ws.watermark_engine()
    is_clip = isinstance(frame, GeneratedClip)
    is_file = isinstance(frame, GeneratedFile)
    is_audio = isinstance(frame, GeneratedAudio)
    if is_audio:
        # a voice output: the audio mark is in every synthetic or altered segment (the backend
        # embedded it; checked here before anything is signed), and the picture of a clip whose line
        # was replaced is the plate's own, untouched
        engine = check_audio_marked(frame, asset_id, ws.watermark_key)
    # 7. watermark: payload = the asset's ledger id. Stills are marked here; clips were marked frame
    # by frame by the backend, and the guard checks that before it signs anything.
    if is_file or is_audio:
        pass  # a file is bound by a signed sidecar manifest below; audio was marked and checked above
    elif is_clip:
        if frame.payload != asset_id:
            raise RefusedError(f"clip {frame.name} carries payload {frame.payload:x}, not its reserved id")
        check_clip_marked(frame.path, asset_id, engine)
    else:
        marked = engine.embed(frame.pixels, asset_id)
    manifest = _manifest_spec(ws, s, job_id, spec, model, frame, inputs, consent_ids, asset_id,
                              None if is_file else engine)
    # 8. C2PA
    credentials = keys.load_production_signer(ws.settings.keys_dir, tsa_url=ws.settings.tsa_url)
    sidecar_sha = None
    with tempfile.TemporaryDirectory(dir=ws.store.scratch_dir()) as tmp:
        if is_file:
            # the sidecar's hard binding covers the file's own bytes: any C2PA reader given both checks it
            sidecar = Path(tmp) / (frame.name + ".c2pa")
            result = sign_sidecar(frame.path, sidecar, manifest, credentials)
            sidecar_blob = ws.store.put_file(sidecar, _grant(ws.store, job_id))
            if stored is not None:
                stored.append(sidecar_blob)
            sidecar_sha = sidecar_blob.sha256
            signed = frame.path
            media_type, kind = frame.media_type, "file"
        elif is_clip or is_audio:
            raw = frame.path
            signed = Path(tmp) / ("signed" + (frame.path.suffix or ".mp4"))
            media_type, kind = frame.media_type, ("audio" if frame.media_type.startswith("audio/") else "video")
        else:
            raw = Path(tmp) / "unsigned.png"
            raw.write_bytes(encode_image(marked, "png"))
            signed = Path(tmp) / "signed.png"
            media_type, kind = "image/png", "image"
        if not is_file:
            result = sign_file(raw, signed, manifest, credentials)
        read_back(ws, signed, sidecar if is_file else None)
        # 9. register: content-addressed, lineage to every input, consents relied on
        blob = ws.store.put_file(signed, _grant(ws.store, job_id))
        if stored is not None:
            stored.append(blob)
    asset = Asset(
        id=asset_id, production_id=ws.production_id, sha256=blob.sha256, kind=frame.details.get("asset_kind", kind),
        media_type=media_type,
        name=frame.name, size=blob.size, status="active", job_id=job_id,
        details={**frame.details, "scene": frame.details.get("scene") or spec.scene,
                 "shot": frame.details.get("shot") or spec.shot, "operation": spec.operation.value,
                 "watermark": None if is_file else {"engine": engine.name, "payload_hex": format_asset_id(asset_id),
                                                    **({"segments": [list(seg) for seg in frame.segments]}
                                                       if is_audio else {})},
                 "c2pa_sidecar_sha256": sidecar_sha,
                 "c2pa": {"manifest_label": result.manifest_label,
                          "digital_source_type": spec_source_type(manifest)}},
        created_at=datetime.now(timezone.utc))
    s.add(asset)
    s.flush()
    edges = sorted(set(frame.parents) | {i.asset_id for i in inputs})
    for parent_id in edges:
        s.add(AssetEdge(child_id=asset.id, parent_id=parent_id, relation="derived_from"))
    for cid in consent_ids:
        s.add(AssetConsent(asset_id=asset.id, consent_id=cid))
    s.flush()
    audit.append(s, production_id=ws.production_id, actor=actor, action="asset.generated",
                 subject=format_asset_id(asset.id),
                 payload={"job": job_id, "sha256": blob.sha256, "manifest": result.manifest_label,
                          "watermark": None if is_file else engine.name,
                          "parents": [format_asset_id(p) for p in frame.parents],
                          # the row and its lineage in full (ledger_state proves them from this)
                          "kind": asset.kind, "media_type": asset.media_type, "name": asset.name,
                          "size": asset.size, "details": asset.details,
                          "edges": [format_asset_id(p) for p in edges],
                          "consents": list(consent_ids)})
    return asset


def read_back(ws, signed: Path, sidecar: Path | None = None) -> None:
    """Read a signed output as a verifier will, before it is stored: refused (BackendError, nothing
    stored) unless its credentials validate (Trusted, or Valid for a chain imported from a CA the
    readers' anchors do not hold yet) and, when a TSA and its CA are configured, its time-stamp is
    trusted. It reads with verify's anchors (``keys.trust_anchors``: a ca.pem the audit log does not
    record, or a configured anchor that is missing, is refused as verify refuses it).
    c2pa signs with whatever token the TSA URL returns: one
    from a TSA the production does not trust (anyone on the path of an http:// URL can answer), or
    stamped outside the signing certificate's validity, made a file that read Trusted today and
    EXPIRED once the certificate lapsed, or Invalid from birth (red team, issue 13; RFC 3161 §2.4.2:
    the requester checks that the token comes from the TSA it asked)."""
    settings = ws.settings
    # the anchors verify reads with (keys.trust_anchors): ca.pem as the audit log records it, every
    # configured anchor present
    trust = {"trust_anchors": keys.trust_anchors(settings) or None, "trust_list": settings.trust_list}
    reading = read_with_sidecar(signed, sidecar, **trust) if sidecar is not None else read_credentials(signed, **trust)
    stamps = timestamp_codes(reading)
    if reading.state not in (CredentialState.TRUSTED, CredentialState.VALID):
        codes = ", ".join(reading.failure_codes or reading.status_codes) or "no codes"
        why = explain_codes(reading.state.value, reading.failure_codes, reading.status_codes, stamps)
        cause = _stamp_fault(settings.tsa_url, why)
        if cause is not None:
            raise BackendError(f"the signed output reads {reading.state.value} ({codes}): {why.text}; {cause}; "
                               "nothing was stored",
                               hint="the production's signer was valid when it signed: the TSA's clock or its answer "
                                    "is wrong - ask its operator, or name another TSA in [provenance] tsa_url")
        raise BackendError(f"the signed output reads {reading.state.value} ({codes}): {why.text}; nothing was stored",
                           hint="check the production's keys (soundstage info) and [provenance] tsa_url")
    if settings.tsa_url and settings.tsa_trust_anchor is not None and "timeStamp.trusted" not in stamps:
        raise BackendError(f"the time-stamp from {settings.tsa_url} does not chain to [provenance] tsa_trust_anchor "
                           f"({', '.join(stamps) or 'no time-stamp'}); nothing was stored",
                           hint="the TSA at that URL is not the one whose CA the production configured")


def _stamp_fault(tsa_url: str | None, why) -> str | None:
    """What the production's TSA did wrong, when its time-stamp is why a signed output reads Invalid:
    the signer was loaded only if its certificate is valid now, so a signing it read as outside that
    certificate's validity was dated so by the stamp. None: the stamp is not the cause (or no TSA)."""
    if not tsa_url:
        return None
    if why.kind in (ExplanationKind.SIGNED_OUTSIDE_VALIDITY, ExplanationKind.EXPIRED_NO_TIMESTAMP):
        return (f"the time-stamp authority {tsa_url} dated the signing to a time the production's signing "
                "certificate was not valid")
    if why.timestamp == "invalid":
        return f"the time-stamp from {tsa_url} does not verify"
    return None


def _manifest_spec(ws, s: Session, job_id: str, spec, model, frame, inputs, consent_ids, asset_id: int, engine):
    """What the output's Content Credentials say, from the model registry (whether a trained model was
    involved and whether it generates pixels), the job (whether it alters a performer's likeness) and
    the backend's declarations (how it used each input, whose reference faces identified them, which
    networks ran); docs/decisions/DR009-disclosure-terms-and-soft-binding.md."""
    kind = getattr(frame, "operation", "procedural")
    # the registry, not the backend, says whether a trained model was involved and whether it makes
    # pixels: the manifest must match it. A backend may add disclosure, never take it away.
    if not model.trained_model:
        kind = {"generated": "procedural", "genai_edit": "edit"}.get(kind, kind)
    elif model.generative:
        kind = {"procedural": "generated", "edit": "genai_edit"}.get(kind, kind)
    operation = Operation(OPERATION_FOR_OUTPUT[kind])
    declared = getattr(frame, "provenance", None) or OutputProvenance()
    by_id = {i.asset_id: i for i in inputs}
    components: list = []
    masks: list = []
    references: list = []
    component_ai_origin = False
    for input_id, use in declared.inputs:
        src = by_id.get(input_id)
        if src is None or (frame.parents and input_id == frame.parents[0]):
            raise RefusedError(f"the backend declared input {format_asset_id(input_id)} as a {use}; it is not "
                               "one of the job's other inputs")
        use = InputUse(use)
        if use is InputUse.COMPONENT:
            components.append(IngredientSource(src.name, path=src.path, mime=src.media_type))
            component_ai_origin = component_ai_origin or _ai_made(s, src.asset_id)
        elif use is InputUse.MASK:
            masks.append(IngredientSource(src.name, path=src.path, mime=src.media_type))
        else:
            references.append(HashedReference(
                f"reference input {len(references) + 1}", src.sha256 or s.get(Asset, src.asset_id).sha256,
                src.media_type, "a job input that informed the output without being placed; recorded by the "
                                "sha256 of its bytes only, never embedded"))
    if components:
        if operation in (Operation.GENERATED, Operation.PROCEDURAL):
            raise RefusedError(f"{frame.name}: an output made from nothing places no components")
        operation = Operation.COMPOSITE  # placing an element into the plate is what happened
    for number, performer_id in enumerate(declared.performer_references, start=1):
        references.append(_reference_face(s, ws, spec, performer_id, number))
    parent = None
    parent_ai_origin = False
    if operation in (Operation.GENAI_EDIT, Operation.EDIT, Operation.COMPOSITE):
        src = by_id.get(frame.parents[0]) if frame.parents else None
        if src is None:
            raise ValueError(f"{frame.operation} output must name the plate it edits")
        parent = IngredientSource(src.name, path=src.path, mime=src.media_type)
        parent_ai_origin = _ai_made(s, src.asset_id)
    model_info = None
    if model.trained_model:
        model_info = ModelInfo(
            model.name, model.version, model.weights_sha256 or None, model.licence,
            training_data_attestation=model.evidence or None, training_data=model.training_data,
            generative=bool(model.generative or operation in (Operation.GENERATED, Operation.GENAI_EDIT)),
            description=f"{model.name} {model.version}: the registered model ({model.id}); "
                        + ("generative" if model.generative else "trained, non-generative: the networks it runs are "
                                                                  "listed as their own ingredients"))
    likeness = bool(model.trained_model and spec.operation in LIKENESS_OPERATIONS
                    and operation in (Operation.EDIT, Operation.GENAI_EDIT))
    description = f"soundstage job {job_id}: {spec.operation.value}"
    if spec.operation in VOICE_OPERATIONS:
        description += ("; a consented performer's voice synthesised with a trained voice model from the voice "
                        "reference enrolled under their consent (disclosed as AI-generated speech of a real person)")
    elif likeness:
        description += ("; an identified, consented performer's likeness altered with trained face networks "
                        "(disclosed as an AI alteration of a real person)")
    head = s.get(AuditHead, 1)  # the chain as this output is signed: every delivered file witnesses it
    return ManifestSpec(
        operation=operation, title=frame.name,
        generator=SoftwareAgent(model.name, model.version or __version__), model=model_info, parent=parent,
        components=tuple(components), inputs=tuple(masks), references=tuple(references),
        networks=tuple(declared.networks),
        record=SoundstageRecord(ws.production_id, job_id, format_asset_id(asset_id), tuple(consent_ids),
                                extra={"job_operation": spec.operation.value, "deliverable": spec.deliverable,
                                       "label": "temporary previz media" if spec.deliverable == "temporary"
                                       else "final deliverable", "model_id": model.id},
                                audit_head=(head.seq, head.hash) if head is not None else None),
        watermark=None if engine is None else _watermark_info(WatermarkInfo, engine, frame, asset_id,
                                                              keyed=bool(ws.watermark_key)),
        description=description, parent_ai_origin=parent_ai_origin, component_ai_origin=component_ai_origin,
        likeness=likeness,
    )


def _watermark_info(info_cls, engine, frame, asset_id: int, *, keyed: bool):
    """The manifest's watermark record; an audio output's names the span its mark covers."""
    segments = getattr(frame, "segments", None)
    if not segments:
        return info_cls.of(engine, asset_id, keyed=keyed)
    span = (int(round(min(a for a, _ in segments) * 1000)), int(round(max(b for _, b in segments) * 1000)))
    return info_cls(str(engine.name), int(asset_id), int(getattr(engine, "payload_bits", 64)), keyed=keyed,
                    timespan_ms=span)


def _ai_made(s: Session, asset_id: int) -> bool:
    """The ledger says this asset's own manifest declared a trained-algorithmic origin."""
    row = s.get(Asset, asset_id)
    return row is not None and ((row.details or {}).get("c2pa") or {}).get("digital_source_type") in AI_SOURCE_TYPES


def _reference_face(s: Session, ws, spec, performer_id: str, number: int):
    """A performer's enrolled reference face as a data-less ingredient: the sha256 of its bytes, never
    the bytes or a thumbnail, and no name (the consent reference in our record links the ledger)."""
    if performer_id not in spec.performers:
        raise RefusedError(f"the backend declared a reference face of {performer_id}, who is not a performer of "
                           "this job")
    person = s.get(Person, performer_id)
    ref = (person.details or {}).get("reference_asset") if person is not None else None
    asset = s.get(Asset, parse_asset_id(ref)) if ref else None
    if asset is None or asset.production_id != ws.production_id:
        raise RefusedError(f"performer {performer_id} has no enrolled reference face in this production")
    return HashedReference(f"enrolled reference face {number}", asset.sha256, asset.media_type,
                           "the enrolled reference face that identified a consented performer; recorded by the "
                           "sha256 of its bytes only, never embedded and never thumbnailed")
