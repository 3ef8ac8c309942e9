"""preview requests: a review preview is rendered by a queue worker, not inside a web request

``preview_request`` (DR023) is a preview asked for on the approval card, the API or the command
line. A queue worker claims it under a lease (``lease_owner``, ``lease_expires_at``; a worker
killed mid-render leaves a lease that lapses, and the next worker renders it), renders the preview
through the guard and records the outcome (``finished_at`` with ``asset_id`` or ``error``).
``pending_job_id`` is the job id while the request is unfinished and NULL afterwards; its unique
constraint keeps one request pending per job. The job's own status is not touched.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "preview_request",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("production_id", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("pending_job_id", sa.String(length=64), nullable=True),
        sa.Column("spec_digest", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=300), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("asset_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["production_id"], ["production.id"]),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"]),
        sa.ForeignKeyConstraint(["asset_id"], ["asset.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pending_job_id", name="uq_preview_request_pending"),
    )
    op.create_index("ix_preview_request_production_id", "preview_request", ["production_id"])
    op.create_index("ix_preview_request_job_id", "preview_request", ["job_id"])


def downgrade() -> None:
    op.drop_index("ix_preview_request_job_id", table_name="preview_request")
    op.drop_index("ix_preview_request_production_id", table_name="preview_request")
    op.drop_table("preview_request")
