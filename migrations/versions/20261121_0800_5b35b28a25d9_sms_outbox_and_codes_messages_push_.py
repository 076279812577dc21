"""sms outbox and codes, messages, push subscriptions, identity reviews

Revision ID: 5b35b28a25d9
Revises: c5a0a641cdfa
Create Date: 2026-11-21 08:00:59.914824

Review before committing: every migration must keep the previous release working (add NOT NULL columns
with a temporary server_default; backfill with op.execute(SQL), never with app models).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


import webapp.db

revision = '5b35b28a25d9'
down_revision = 'c5a0a641cdfa'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sms_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', webapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', webapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('used_at', webapp.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_codes'))
    )
    with op.batch_alter_table('sms_codes', schema=None) as batch_op:
        batch_op.create_index('ix_sms_codes_phone_purpose_created', ['phone', 'purpose', 'created_at'], unique=False)

    op.create_table('sms_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('created_at', webapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('gateway', sa.String(length=32), nullable=False),
    sa.Column('gateway_ref', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_messages'))
    )
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.create_index('ix_sms_messages_phone_created', ['phone', 'created_at'], unique=False)

    op.create_table('messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('url', sa.String(length=200), nullable=True),
    sa.Column('created_at', webapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', webapp.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], name=op.f('fk_messages_citizen_id_citizens')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages'))
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_messages_citizen_id'), ['citizen_id'], unique=False)

    op.create_table('identity_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('front', sa.LargeBinary(), nullable=False),
    sa.Column('back', sa.LargeBinary(), nullable=False),
    sa.Column('face_distance', sa.Float(), nullable=True),
    sa.Column('submitted_at', webapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', webapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', webapp.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reviewer_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['reviewer_id'], ['officers.id'], name=op.f('fk_identity_reviews_reviewer_id_officers')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_identity_reviews_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_reviews')),
    sa.UniqueConstraint('public_id', name=op.f('uq_identity_reviews_public_id'))
    )
    with op.batch_alter_table('identity_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_reviews_user_id'), ['user_id'], unique=False)
        batch_op.create_index('uq_identity_reviews_one_pending', ['user_id'], unique=True, sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))

    op.create_table('push_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('endpoint', sa.String(length=1000), nullable=False),
    sa.Column('p256dh', sa.String(length=200), nullable=False),
    sa.Column('auth', sa.String(length=64), nullable=False),
    sa.Column('created_at', webapp.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_push_subscriptions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_subscriptions')),
    sa.UniqueConstraint('endpoint', name=op.f('uq_push_subscriptions_endpoint'))
    )
    with op.batch_alter_table('push_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_push_subscriptions_user_id'), ['user_id'], unique=False)

    # In-app messages moved to the notify domain: keep every message the holders already have.
    op.execute("INSERT INTO messages (citizen_id, phone, body, url, created_at, read_at) "
               "SELECT citizen_id, phone, body, '/licence/', created_at, read_at FROM licence_messages ORDER BY id")
    with op.batch_alter_table('licence_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_licence_messages_citizen_id'))

    op.drop_table('licence_messages')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verified_by', sa.String(length=16), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('verified_by')

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
    op.execute("INSERT INTO licence_messages (citizen_id, phone, body, created_at, read_at) "
               "SELECT citizen_id, phone, body, created_at, read_at FROM messages ORDER BY id")

    with op.batch_alter_table('push_subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_push_subscriptions_user_id'))

    op.drop_table('push_subscriptions')
    with op.batch_alter_table('identity_reviews', schema=None) as batch_op:
        batch_op.drop_index('uq_identity_reviews_one_pending', sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
        batch_op.drop_index(batch_op.f('ix_identity_reviews_user_id'))

    op.drop_table('identity_reviews')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_citizen_id'))

    op.drop_table('messages')
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_messages_phone_created')

    op.drop_table('sms_messages')
    with op.batch_alter_table('sms_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_codes_phone_purpose_created')

    op.drop_table('sms_codes')
