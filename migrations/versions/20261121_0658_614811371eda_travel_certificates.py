"""travel certificates

Revision ID: 614811371eda
Revises: ffae51388059
Create Date: 2026-11-21 06:58:01.106771

Review before committing: every migration must keep the previous release working (add NOT NULL columns
with a temporary server_default; backfill with op.execute(SQL), never with app models).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


import webapp.db

revision = '614811371eda'
down_revision = 'ffae51388059'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('travel_certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=False),
    sa.Column('applicant_user_id', sa.Integer(), nullable=True),
    sa.Column('month_key', sa.String(length=7), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('issued_at', webapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', webapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.Column('located_city', sa.String(length=64), nullable=False),
    sa.Column('challenge_public_id', sa.String(length=64), nullable=True),
    sa.CheckConstraint('slot >= 1 AND slot <= 3', name=op.f('ck_travel_certificates_slot_in_quota')),
    sa.ForeignKeyConstraint(['applicant_user_id'], ['users.id'], name=op.f('fk_travel_certificates_applicant_user_id_users')),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], name=op.f('fk_travel_certificates_citizen_id_citizens')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_travel_certificates')),
    sa.UniqueConstraint('citizen_id', 'month_key', 'slot', name=op.f('uq_travel_certificates_citizen_id_month_key_slot')),
    sa.UniqueConstraint('public_id', name=op.f('uq_travel_certificates_public_id'))
    )
    with op.batch_alter_table('travel_certificates', schema=None) as batch_op:
        batch_op.create_index('ix_travel_certificates_citizen_issued', ['citizen_id', 'issued_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('travel_certificates', schema=None) as batch_op:
        batch_op.drop_index('ix_travel_certificates_citizen_issued')

    op.drop_table('travel_certificates')
