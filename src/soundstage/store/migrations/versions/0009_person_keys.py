"""person keys: approvals and consents are signatures

Every credential now stands for an Ed25519 key of its person (derived from the token, never
stored). ``person_key`` keeps each public key with its certificate, signed by the issuer's key;
``production.identity_root`` is the first credential's public key, where every certificate chain
ends. An approval keeps its approver's key id and signature; a consent keeps its signed actions
(granted, revoked, suspended, resumed); a web session keeps the person's key sealed under its
cookie's nonce so the web app can sign while that person is logged in.

Rows from before this revision carry no signature: the guard refuses them (re-approve the waiting
jobs, re-grant the consents), and tokens from before it authenticate but cannot sign (issue new
ones: ``soundstage token create``; the first one issued becomes the identity root).

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_key",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("production_id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.String(length=64), nullable=True),
        sa.Column("issuer_key_id", sa.String(length=40), nullable=True),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["production_id"], ["production.id"]),
        sa.ForeignKeyConstraint(["token_id"], ["api_token.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_key"),
    )
    with op.batch_alter_table("person_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_key_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_key_production_id"), ["production_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_key_token_id"), ["token_id"], unique=False)
    with op.batch_alter_table("production") as batch:
        batch.add_column(sa.Column("identity_root", sa.String(length=64), nullable=True))
    with op.batch_alter_table("approval") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("signature", sa.String(length=128), nullable=True))
    with op.batch_alter_table("consent") as batch:
        batch.add_column(sa.Column("signatures", sa.JSON(), nullable=True))
    with op.batch_alter_table("web_session") as batch:
        batch.add_column(sa.Column("sealed_key", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("web_session") as batch:
        batch.drop_column("sealed_key")
    with op.batch_alter_table("consent") as batch:
        batch.drop_column("signatures")
    with op.batch_alter_table("approval") as batch:
        batch.drop_column("signature")
        batch.drop_column("key_id")
    with op.batch_alter_table("production") as batch:
        batch.drop_column("identity_root")
    with op.batch_alter_table("person_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_key_token_id"))
        batch_op.drop_index(batch_op.f("ix_person_key_production_id"))
        batch_op.drop_index(batch_op.f("ix_person_key_person_id"))
    op.drop_table("person_key")
