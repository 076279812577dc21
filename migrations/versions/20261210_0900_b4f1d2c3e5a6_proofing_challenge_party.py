"""proofing challenges: the party (account or device) whose try each is (failures per person and device)

Revision ID: b4f1d2c3e5a6
Revises: a7e3c91d2b04
Create Date: 2026-12-10 09:00:00.000000

Review before committing: every migration must keep the previous release working (add NOT NULL columns
with a temporary server_default; backfill with op.execute(SQL), never with app models).
A nullable column: the previous release inserts challenges without it, and rows from before have none (their
failures count as anonymous devices').
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'b4f1d2c3e5a6'
down_revision = 'b91f0c2d7e15'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('proofing_challenges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('party', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('proofing_challenges', schema=None) as batch_op:
        batch_op.drop_column('party')
