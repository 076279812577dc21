"""electronic licences and licence messages (new tables only; nothing existing changes)

Revision ID: c5a0a641cdfa
Revises: d8da787fe5be
Create Date: 2026-11-21 07:08:19.110464

Review before committing: every migration must keep the previous release working (add NOT NULL columns
with a temporary server_default; backfill with op.execute(SQL), never with app models).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


import webapp.db

revision = 'c5a0a641cdfa'
down_revision = 'd8da787fe5be'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('licence_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', webapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', webapp.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], name=op.f('fk_licence_messages_citizen_id_citizens')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_licence_messages'))
    )
    with op.batch_alter_table('licence_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_licence_messages_citizen_id'), ['citizen_id'], unique=False)

    op.create_table('electronic_licences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=False),
    sa.Column('licence_record_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('licence_class', sa.String(length=32), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('issuing_authority', sa.String(length=128), nullable=False),
    sa.Column('photo_source', sa.String(length=8), nullable=False),
    sa.Column('photo', sa.LargeBinary(), nullable=False),
    sa.Column('applied_at', webapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('review_due_at', webapp.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('issued_at', webapp.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_at', webapp.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('photo_changed_at', webapp.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], name=op.f('fk_electronic_licences_citizen_id_citizens')),
    sa.ForeignKeyConstraint(['licence_record_id'], ['licence_records.id'], name=op.f('fk_electronic_licences_licence_record_id_licence_records')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_electronic_licences_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_electronic_licences')),
    sa.UniqueConstraint('public_id', name=op.f('uq_electronic_licences_public_id'))
    )
    with op.batch_alter_table('electronic_licences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_electronic_licences_citizen_id'), ['citizen_id'], unique=False)
        batch_op.create_index('uq_electronic_licences_one_open', ['citizen_id'], unique=True, sqlite_where=sa.text("status IN ('proofing', 'pending', 'active')"), postgresql_where=sa.text("status IN ('proofing', 'pending', 'active')"))



def downgrade() -> None:
    with op.batch_alter_table('electronic_licences', schema=None) as batch_op:
        batch_op.drop_index('uq_electronic_licences_one_open', sqlite_where=sa.text("status IN ('proofing', 'pending', 'active')"), postgresql_where=sa.text("status IN ('proofing', 'pending', 'active')"))
        batch_op.drop_index(batch_op.f('ix_electronic_licences_citizen_id'))

    op.drop_table('electronic_licences')
    with op.batch_alter_table('licence_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_licence_messages_citizen_id'))

    op.drop_table('licence_messages')
