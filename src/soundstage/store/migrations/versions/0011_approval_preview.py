"""approval preview: a verdict names the review preview its approver was shown

``approval.preview_sha256`` is the sha256 of the job's ``preview`` asset the approver looked at
(issue 15). The approver's signature covers it (signed approval payload v2) and the guard checks,
before every run, that it names an active preview of that very job. Verdicts given before this
revision have none (NULL) and keep verifying under the v1 payload.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("approval") as batch:
        batch.add_column(sa.Column("preview_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("approval") as batch:
        batch.drop_column("preview_sha256")
