"""job queue: jobs are queued in the ledger and claimed by workers under a lease

A job that may run is ``queued`` (``queued_at`` orders the queue); a worker claims it by moving it
to ``running`` with its lease (``lease_owner``: the claim's own id; ``lease_expires_at``: when the
claim lapses unless the worker's heartbeat renews it) and counts the claim in ``attempts``. A job
whose lease lapsed (its worker was killed, its machine lost) is handed back to the queue and the
next worker resumes it from its finished chunks. ``progress`` is the last progress its worker
reported (frames done of the total), for the API's event stream.

A job left ``running`` by a soundstage from before this revision has no lease: the first worker
hands it back to the queue and resumes it (``job.requeued``, "no lease").

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job") as batch:
        batch.add_column(sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("lease_owner", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("progress", sa.JSON(), nullable=True))
    op.create_index("ix_job_status_queued_at", "job", ["status", "queued_at"])


def downgrade() -> None:
    op.drop_index("ix_job_status_queued_at", table_name="job")
    with op.batch_alter_table("job") as batch:
        batch.drop_column("progress")
        batch.drop_column("attempts")
        batch.drop_column("lease_expires_at")
        batch.drop_column("lease_owner")
        batch.drop_column("queued_at")
