"""proofing challenges: when the server revealed each flash step (issue 15: the plan is revealed step by step)

Revision ID: b91f0c2d7e15
Revises: a7e3c91d2b04
Create Date: 2026-12-02 08:00:00

A nullable JSON column: the previous release ignores it; challenges issued before it have none (their colour
check then fails as flash_timing, and they expire within 60 s anyway).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'b91f0c2d7e15'
down_revision = 'a7e3c91d2b04'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('proofing_challenges') as batch:
        batch.add_column(sa.Column('reveals', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('proofing_challenges') as batch:
        batch.drop_column('reveals')
