"""api tokens

Revision ID: 0003
Revises: 0002b
Create Date: 2026-11-25 07:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_token',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('production_id', sa.String(length=64), nullable=False),
    sa.Column('person_id', sa.String(length=64), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('created_by', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['production_id'], ['production.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_token_production_id'), ['production_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_token_token_hash'), ['token_hash'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_token_hash'))
        batch_op.drop_index(batch_op.f('ix_api_token_production_id'))
        batch_op.drop_index(batch_op.f('ix_api_token_person_id'))
    op.drop_table('api_token')
