"""session generations (server-side revocation) and login throttles (per-account back-off)

Revision ID: a7e3c91d2b04
Revises: 25522c7e882b
Create Date: 2026-12-02 05:00:00.000000

Review before committing: every migration must keep the previous release working (add NOT NULL columns
with a temporary server_default; backfill with op.execute(SQL), never with app models).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


import webapp.db

revision = 'a7e3c91d2b04'
down_revision = '25522c7e882b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_throttles',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', webapp.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('locked_until', webapp.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttles'))
    )
    # The server default stays (the models declare it): the previous release inserts accounts without the column.
    for table in ('users', 'officers'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('session_generation', sa.Integer(), server_default=sa.text('0'),
                                          nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('officers', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
    op.drop_table('login_throttles')
