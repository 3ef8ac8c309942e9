"""state proof: a subject's events are read in log order straight from the audit index

From this revision every safeguard-relevant audit event carries the full content it changes, and
the guard proves the rows a job relies on against their subjects' events before it runs
(``safeguards.ledger_state``). Those reads ask for a subject's state-changing actions in seq order:
the audit index gains ``seq`` (``(subject, action, seq)`` replaces ``(subject, action)``, which it
covers), so the events come out of the index already ordered.

Events written before this revision are not rewritten: what they lack is reported as "unprovable
(written before state proof)" by ``soundstage audit verify``, never as tampering.

Revision ID: 0008
Revises: 0007
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_subject_action_seq", "audit_event", ["subject", "action", "seq"])
    op.drop_index("ix_audit_subject_action", table_name="audit_event")


def downgrade() -> None:
    op.create_index("ix_audit_subject_action", "audit_event", ["subject", "action"])
    op.drop_index("ix_audit_subject_action_seq", table_name="audit_event")
