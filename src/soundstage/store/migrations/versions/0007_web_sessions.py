"""web sessions: logging out ends a session on the server

A web session cookie is HMAC-signed, so before this it stayed valid until it expired (up to 12 h)
even after logout: a copied cookie and its CSRF token still worked. Each login now records its
session here, every request with the cookie checks the row, and logout sets ``ended_at``.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("production_id", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["production_id"], ["production.id"]),
        sa.ForeignKeyConstraint(["token_id"], ["api_token.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_session_production_id"), ["production_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_web_session_token_id"), ["token_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_session_token_id"))
        batch_op.drop_index(batch_op.f("ix_web_session_production_id"))
    op.drop_table("web_session")
