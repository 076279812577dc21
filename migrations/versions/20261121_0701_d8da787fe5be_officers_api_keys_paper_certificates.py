"""officers, API keys (hash only) and paper certificates (new tables only; nothing existing changes)

Revision ID: d8da787fe5be
Revises: 614811371eda
Create Date: 2026-11-21 07:01:21.104538

Review before committing: every migration must keep the previous release working (add NOT NULL columns
with a temporary server_default; backfill with op.execute(SQL), never with app models).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


import webapp.db

revision = 'd8da787fe5be'
down_revision = '614811371eda'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('created_at', webapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', webapp.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    op.create_table('officers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=32), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', webapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', webapp.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_officers')),
    sa.UniqueConstraint('username', name=op.f('uq_officers_username'))
    )
    op.create_table('paper_certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=24), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=True),
    sa.Column('issuing_station', sa.String(length=64), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=False),
    sa.Column('issued_at', webapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], name=op.f('fk_paper_certificates_citizen_id_citizens')),
    sa.ForeignKeyConstraint(['officer_id'], ['officers.id'], name=op.f('fk_paper_certificates_officer_id_officers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_paper_certificates')),
    sa.UniqueConstraint('serial', name=op.f('uq_paper_certificates_serial'))
    )
    with op.batch_alter_table('paper_certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_paper_certificates_citizen_id'), ['citizen_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_paper_certificates_id_number'), ['id_number'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('paper_certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_paper_certificates_id_number'))
        batch_op.drop_index(batch_op.f('ix_paper_certificates_citizen_id'))

    op.drop_table('paper_certificates')
    op.drop_table('officers')
    op.drop_table('api_keys')
