"""Response and request models: what the OpenAPI document promises. Service dicts carry more
detail than we type here, so the models allow extra fields rather than silently dropping them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(BaseModel):
    type: str = Field(description="The soundstage error class, e.g. PolicyDeniedError")
    message: str = Field(description="One line, with the fix when known")
    rule_ids: list[str] = Field(default_factory=list, description="Policy rules that said no, if any")
    status: int


class ErrorBody(BaseModel):
    """The one error shape of every endpoint."""

    error: ErrorDetail


class ProductionSummary(Open):
    production_id: str
    title: str
    created_at: str | None
    assets: int
    people: int
    audit_events: int
    watermark_key: str | None = Field(default=None, description="Whose key marks this production's outputs: "
                                                                 "its own secret one, or the public default")
    identity_root: str | None = Field(default=None, description="The key every credential's certificate chains "
                                                                 "to: compare it with the copy kept outside")


class AssetOut(Open):
    id: str
    kind: str
    name: str
    media_type: str
    sha256: str
    size: int
    status: str
    job_id: str | None
    created_at: str | None
    details: dict[str, Any]


class AssetDetail(AssetOut):
    parents: list[str]
    children: list[str]


class LineageNode(BaseModel):
    id: str
    name: str
    kind: str
    status: str


class LineageGraph(BaseModel):
    root: str
    nodes: list[LineageNode]
    edges: list[tuple[str, str]] = Field(description="[parent, child] pairs")


class DraftInfo(Open):
    draft: int
    asset: str
    title: str


class Breakdown(Open):
    info: dict[str, Any]
    breakdown: dict[str, Any]


class AssistRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(None, min_length=1, max_length=200,
                              description="The registered chat model (backend openai-chat); default: the only one")
    job: str | None = Field(None, min_length=1, max_length=100, description="An assist job to finish")


class PersonOut(Open):
    id: str
    name: str
    kind: str
    roles: list[str]


class CrewIn(BaseModel):
    name: str = Field(min_length=1, max_length=300)
    roles: list[str] = Field(min_length=1)


class PerformerIn(BaseModel):
    name: str = Field(min_length=1, max_length=300)
    union_status: str = Field("non-union", max_length=40)
    living: bool = True
    representatives: list[str] = Field(default_factory=list)


class RepresentativeIn(BaseModel):
    representative: str = Field(min_length=1, max_length=300,
                                description="Crew member with the performer_rep role (id or name)")


class ConsentOut(Open):
    id: str
    performer_id: str
    kind: str
    status: str


class RevocationOut(Open):
    consent: str
    performer: str
    revoked_at: str
    quarantined: list[dict[str, Any]]


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class SuspendIn(ReasonIn):
    suspended: bool = True


class ModelCardOut(Open):
    id: str
    name: str


class DecisionOut(Open):
    job: str | None
    decision: dict[str, Any]
    consent_checks: dict[str, Any]
    model_registered: bool


class JobOutcome(Open):
    job: str
    status: str
    decision: dict[str, Any]
    assets: list[dict[str, Any]]
    missing_roles: list[str]
    #: missing roles nobody but the requester holds: add a crew member with the role
    unstaffed_roles: list[str] = []


class JobReplay(Open):
    id: str
    status: str
    replayed: bool


class JobOut(Open):
    id: str
    kind: str
    status: str
    requested_by: str
    created_at: str
    finished_at: str | None
    spec: dict[str, Any]
    decision: dict[str, Any]
    approvals: list[dict[str, Any]]
    #: the queue: when it was queued, how often claimed, the running worker's lease, its last progress
    queued_at: str | None = None
    attempts: int = 0
    lease: dict[str, Any] | None = None
    progress: dict[str, Any] | None = None
    #: a failed job's reason, from its job.failed audit event: stage ("signer": its outputs could not
    #: have been signed, so its backend never ran; "claim"; "run"), the one-line error, when
    failure: dict[str, Any] | None = None


class VerdictIn(BaseModel):
    role: str = Field(min_length=1, max_length=40)
    verdict: str = Field(pattern="^(approve|reject)$")
    note: str = Field("", max_length=2000)
    #: the job's spec digest the approver reviewed: a job that is no longer that job is refused (409)
    spec_digest: str | None = Field(None, pattern="^[0-9a-f]{64}$")
    #: the sha256 of the job's preview the approver was shown: not the current preview -> refused (409)
    preview_digest: str | None = Field(None, pattern="^[0-9a-f]{64}$")


class AuditEventOut(Open):
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    payload: Any
    hash: str


class LedgerDifference(Open):
    """One ledger row that is not the state the audit log describes."""

    table: str
    row: str = Field(description="The row's id (an approval: job/role; a lineage edge: child<-parent)")
    field: str = Field(description="The column (dotted into JSON), 'row' for a forged or deleted row, 'file'")
    kind: str = Field(description="differs | forged (no event) | missing (deleted) | file (stored content)")
    expected: Any = Field(description="What the audit log says")
    found: Any = Field(description="What the ledger holds")
    seq: int | None = Field(None, description="The event that says so")
    message: str


class UnprovableRow(Open):
    table: str
    row: str
    fields: list[str]
    reason: str


class LedgerStateOut(Open):
    ok: bool
    rows: int
    files: int
    deep: bool
    differences: list[LedgerDifference]
    unprovable: list[UnprovableRow] = Field(description="Rows whose events were written before state proof")


class AuditVerifyOut(Open):
    ok: bool = Field(description="The chain is intact and every row is the state it describes")
    events: int = 0
    chain_ok: bool = True
    first_bad_seq: int | None = None
    first_bad_position: int | None = None
    problem: str = ""
    state: LedgerStateOut | None = Field(None, description="Absent when the chain is broken")


class VerifyOut(Open):
    verdict: str
    c2pa: dict[str, Any]
    watermark: dict[str, Any] | None
    ledger: dict[str, Any] | None


class Me(BaseModel):
    person_id: str
    name: str
    roles: list[str]
    represents: list[str]
    token_id: str
    expires_at: str
    allowed: list[str] = Field(description="Actions this principal may take (from the permission matrix)")
