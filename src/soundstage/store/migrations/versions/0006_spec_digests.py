"""spec digests: what a job was submitted as and what each approval approved

``job.spec_digest`` is the SHA-256 of the canonical JobSpec.2 and its inputs' content hashes, fixed
at submission (jobs from before carry NULL and are digested on their next run); every approval
records the digest it approved, and the guard runs a job only when the spec, its inputs and every
approval agree. The audit index finds a job's submission event without scanning the log.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job") as batch:
        batch.add_column(sa.Column("spec_digest", sa.String(64), nullable=True))
    with op.batch_alter_table("approval") as batch:
        batch.add_column(sa.Column("spec_digest", sa.String(64), nullable=True))
    op.create_index("ix_audit_subject_action", "audit_event", ["subject", "action"])


def downgrade() -> None:
    op.drop_index("ix_audit_subject_action", table_name="audit_event")
    with op.batch_alter_table("approval") as batch:
        batch.drop_column("spec_digest")
    with op.batch_alter_table("job") as batch:
        batch.drop_column("spec_digest")
