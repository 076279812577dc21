"""proofing challenges: one row per 实人核验 attempt (plan, status, scores; frames only if kept)

Revision ID: ffae51388059
Revises: 3dd11bf7cfa2
Create Date: 2026-11-21 06:53:21.370972

Review before committing: every migration must keep the previous release working (add NOT NULL columns
with a temporary server_default; backfill with op.execute(SQL), never with app models).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


import webapp.db

revision = 'ffae51388059'
down_revision = '3dd11bf7cfa2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('proofing_challenges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=43), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('plan', sa.Text(), nullable=False),
    sa.Column('checks', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('issued_at', webapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', webapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', webapp.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.Column('scores', sa.JSON(), nullable=True),
    sa.Column('next_url', sa.String(length=512), nullable=False),
    sa.Column('fallback_url', sa.String(length=512), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('kept_frames', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], name=op.f('fk_proofing_challenges_citizen_id_citizens')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_proofing_challenges_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proofing_challenges')),
    sa.UniqueConstraint('public_id', name=op.f('uq_proofing_challenges_public_id'))
    )
    with op.batch_alter_table('proofing_challenges', schema=None) as batch_op:
        batch_op.create_index('ix_proofing_challenges_citizen_purpose', ['citizen_id', 'purpose', 'decided_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('proofing_challenges', schema=None) as batch_op:
        batch_op.drop_index('ix_proofing_challenges_citizen_purpose')

    op.drop_table('proofing_challenges')
