"""users.locale: the language a holder's SMS, messages and pushes are written in (issue 16, English)

Revision ID: b4f1e2d3c5a6
Revises: b4f1d2c3e5a6
Create Date: 2026-12-10 09:30:00.000000

Review before committing: every migration must keep the previous release working (add NOT NULL columns
with a temporary server_default; backfill with op.execute(SQL), never with app models).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'b4f1e2d3c5a6'
down_revision = 'b4f1d2c3e5a6'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: NULL is zh-CN (the default language), so the previous release keeps inserting accounts.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('locale')
