"""proofing queue: queued/deciding instants on challenges, and the transient frames table (no Redis)

Revision ID: 25522c7e882b
Revises: 5b35b28a25d9
Create Date: 2026-12-02 04:41:13.617926

Review before committing: every migration must keep the previous release working (add NOT NULL columns
with a temporary server_default; backfill with op.execute(SQL), never with app models).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


import webapp.db

revision = '25522c7e882b'
down_revision = '5b35b28a25d9'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('proofing_queued_frames',
    sa.Column('challenge_id', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('expires_at', webapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['challenge_id'], ['proofing_challenges.id'], name=op.f('fk_proofing_queued_frames_challenge_id_proofing_challenges'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('challenge_id', name=op.f('pk_proofing_queued_frames'))
    )
    with op.batch_alter_table('proofing_queued_frames', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proofing_queued_frames_expires_at'), ['expires_at'], unique=False)

    with op.batch_alter_table('proofing_challenges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queued_at', webapp.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('deciding_at', webapp.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_proofing_challenges_status_queued_at', ['status', 'queued_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('proofing_challenges', schema=None) as batch_op:
        batch_op.drop_index('ix_proofing_challenges_status_queued_at')
        batch_op.drop_column('deciding_at')
        batch_op.drop_column('queued_at')

    with op.batch_alter_table('proofing_queued_frames', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proofing_queued_frames_expires_at'))

    op.drop_table('proofing_queued_frames')
