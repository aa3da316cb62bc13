"""Cl@ve Firma: citizens' signing certificates, their sealed keys and revocations

Revision ID: 0009_firma_identities
Revises: 0008_passkeys
Create Date: 2026-12-06 15:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_firma_identities'
down_revision = '0008_passkeys'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('firma_certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=False),
    sa.Column('live_citizen_id', sa.Integer(), nullable=True),
    sa.Column('serial', sa.String(length=40), nullable=False),
    sa.Column('certificate', sa.LargeBinary(), nullable=False),
    sa.Column('sealed_key', sa.LargeBinary(), nullable=False),
    sa.Column('key_type', sa.String(length=16), nullable=False),
    sa.Column('not_after', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.Column('revocation_reason', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('live_citizen_id'),
    sa.UniqueConstraint('serial')
    )
    with op.batch_alter_table('firma_certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_firma_certificates_citizen_id'), ['citizen_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_firma_certificates_revoked_at'), ['revoked_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('firma_certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_firma_certificates_revoked_at'))
        batch_op.drop_index(batch_op.f('ix_firma_certificates_citizen_id'))
    op.drop_table('firma_certificates')
