"""The ledger schema (SQLAlchemy 2). One set of models for SQLite and PostgreSQL.

Changes to these tables go through an Alembic migration in ``store/migrations/versions``;
a test compares the migrated schema with these models so the two cannot drift.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Production(Base):
    __tablename__ = "production"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # the public key (hex Ed25519) of the production's first credential: every person key's
    # certificate chain ends here (safeguards.signatures)
    identity_root: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Person(Base):
    """A performer or a crew member. Roles (producer, legal, ...) are what approvals check."""

    __tablename__ = "person"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    production_id: Mapped[str] = mapped_column(ForeignKey("production.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))  # performer | crew
    roles: Mapped[list] = mapped_column(JSON, default=list)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (UniqueConstraint("production_id", "name", "kind", name="uq_person_name"),)


class Asset(Base):
    """A file in the content-addressed store. ``id`` is also the watermark payload (63-bit)."""

    __tablename__ = "asset"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    production_id: Mapped[str] = mapped_column(ForeignKey("production.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    media_type: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(500))
    size: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | quarantined
    job_id: Mapped[str | None] = mapped_column(ForeignKey("job.id"), nullable=True, index=True)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AssetEdge(Base):
    """Lineage: ``child`` was derived from ``parent``."""

    __tablename__ = "asset_edge"
    child_id: Mapped[int] = mapped_column(ForeignKey("asset.id"), primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("asset.id"), primary_key=True)
    relation: Mapped[str] = mapped_column(String(30), default="derived_from")
    __table_args__ = (Index("ix_asset_edge_parent", "parent_id"),)


class Job(Base):
    __tablename__ = "job"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    production_id: Mapped[str] = mapped_column(ForeignKey("production.id"), index=True)
    kind: Mapped[str] = mapped_column(String(60))
    spec: Mapped[dict] = mapped_column(JSON, default=dict)
    # submitted | escalated | running | done | denied | rejected | failed | cancelled
    status: Mapped[str] = mapped_column(String(20))
    requested_by: Mapped[str] = mapped_column(String(300))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    decision: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # explicit, audited requests to override a denying rule: [{rule_id, reason, by, at}]
    overrides: Mapped[list | None] = mapped_column(JSON, nullable=True)
    # SHA-256 of the canonical spec and its inputs' content hashes, fixed at submission
    spec_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # the durable queue (migration 0010): when the job was queued (workers claim oldest first),
    # the lease of the worker running it (a claim's own id, and when it lapses unless renewed by
    # the heartbeat), how many times it was claimed, and the last progress its worker reported
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    progress: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    __table_args__ = (Index("ix_job_status_queued_at", "status", "queued_at"),)


class PreviewRequest(Base):
    """A review preview asked for (issue 15, DR023): work on the durable queue, not a job. The job it
    previews keeps its status; a queue worker (or ``job preview`` in its own process) claims the
    request under a lease, renders the preview through the guard and records what came of it.
    ``pending_job_id`` holds the job id while the request is unfinished and NULL after: its unique
    constraint is what lets a job have at most one preview request pending (a second asks for the
    same one), on SQLite and PostgreSQL alike."""

    __tablename__ = "preview_request"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    production_id: Mapped[str] = mapped_column(ForeignKey("production.id"), index=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("job.id"), index=True)
    pending_job_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # the job's spec digest when the preview was asked for: a job that changed since gets no preview
    spec_digest: Mapped[str] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(300))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("asset.id"), nullable=True)
    __table_args__ = (UniqueConstraint("pending_job_id", name="uq_preview_request_pending"),)


class AuditEvent(Base):
    """Append-only, hash-chained. ``hash`` covers ``prev_hash`` and every other column."""

    __tablename__ = "audit_event"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    production_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[str] = mapped_column(String(40))  # ISO-8601 UTC, stored as text so it hashes the same everywhere
    actor: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(300))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # a subject's events by action, in log order (the guard's state proof; migration 0008)
    __table_args__ = (Index("ix_audit_subject_action_seq", "subject", "action", "seq"),)


class AuditHead(Base):
    """The last event's seq and hash; appending locks this row, and verify compares against it
    so a deleted tail is caught too."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class ScreenplayDraft(Base):
    __tablename__ = "screenplay_draft"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    production_id: Mapped[str] = mapped_column(ForeignKey("production.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id"))
    title: Mapped[str] = mapped_column(String(500))
    page_count: Mapped[int] = mapped_column(Integer)
    breakdown: Mapped[dict] = mapped_column(JSON)  # the computed breakdown, numbers locked
    revision: Mapped[dict] = mapped_column(JSON, default=dict)  # what changed against the previous draft
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (UniqueConstraint("production_id", "version", name="uq_draft_version"),)


class BreakdownEdit(Base):
    """A person's change to the breakdown; re-applied after every re-run and carried across drafts."""

    __tablename__ = "breakdown_edit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    production_id: Mapped[str] = mapped_column(ForeignKey("production.id"), index=True)
    scene: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(300))
    new_category: Mapped[str | None] = mapped_column(String(40), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ConsentRecord(Base):
    """A performer's consent, shaped by the SAG-AFTRA terms; ``data`` is ``domain.Consent.to_dict()``."""

    __tablename__ = "consent"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    production_id: Mapped[str] = mapped_column(ForeignKey("production.id"), index=True)
    performer_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    data: Mapped[dict] = mapped_column(JSON)
    document_asset_id: Mapped[int | None] = mapped_column(ForeignKey("asset.id"), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # signed actions, oldest first: granted, then revoked / suspended / resumed (safeguards.signatures)
    signatures: Mapped[list | None] = mapped_column(JSON, nullable=True)


class ModelRecord(Base):
    """A generator or alterer in the model registry; ``data`` is ``domain.ModelCard.to_dict()``."""

    __tablename__ = "model_card"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    production_id: Mapped[str] = mapped_column(ForeignKey("production.id"), index=True)
    data: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Approval(Base):
    __tablename__ = "approval"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("job.id"), index=True)
    role: Mapped[str] = mapped_column(String(40))
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"))
    verdict: Mapped[str] = mapped_column(String(10))  # approve | reject
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # the job spec digest this verdict was given on
    spec_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # the approver's key and Ed25519 signature (hex) over the verdict (safeguards.signatures)
    key_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    signature: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # the sha256 of the review preview the approver was shown (issue 15; signed with the verdict)
    preview_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    __table_args__ = (UniqueConstraint("job_id", "role", name="uq_approval_role"),)


class AssetConsent(Base):
    """Which consents an asset relied on: revocation starts here and follows the lineage."""

    __tablename__ = "asset_consent"
    asset_id: Mapped[int] = mapped_column(ForeignKey("asset.id"), primary_key=True)
    consent_id: Mapped[str] = mapped_column(ForeignKey("consent.id"), primary_key=True)
    __table_args__ = (Index("ix_asset_consent_consent", "consent_id"),)


class ApiToken(Base):
    """A bearer token for the API and web app. Only the sha256 of the token is stored: the token
    itself is shown once, at creation, and a leaked database cannot be replayed against the server."""

    __tablename__ = "api_token"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    production_id: Mapped[str] = mapped_column(ForeignKey("production.id"), index=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WebSession(Base):
    """A web login. The signed cookie names it (``id`` is the sha256 of the cookie's nonce); logging
    out sets ``ended_at``, so a copied cookie and its CSRF token stop working at once on every worker."""

    __tablename__ = "web_session"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    production_id: Mapped[str] = mapped_column(ForeignKey("production.id"), index=True)
    token_id: Mapped[str] = mapped_column(ForeignKey("api_token.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # the person's signing key, sealed (AES-GCM) under a key derived from the cookie's nonce, which
    # only the cookie holds: the server can sign for this session's person only while they send it
    sealed_key: Mapped[str | None] = mapped_column(String(200), nullable=True)


class PersonKey(Base):
    """A person's public signing key, derived from one of their credentials (``token_id``), with its
    certificate (canonical JSON: key, person, roles, issuer) signed by the issuer's key, or by
    itself for the production's identity root. The private key is never stored."""

    __tablename__ = "person_key"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # k- + sha256(public key)[:32]
    production_id: Mapped[str] = mapped_column(ForeignKey("production.id"), index=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id"), index=True)
    public_key: Mapped[str] = mapped_column(String(64), unique=True)
    token_id: Mapped[str | None] = mapped_column(ForeignKey("api_token.id"), nullable=True, index=True)
    issuer_key_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    certificate: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
