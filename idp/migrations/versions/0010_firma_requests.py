"""Cl@ve Firma: signature requests, clients authorised to make them, signatures in the app

Revision ID: 0010_firma_requests
Revises: 0009_firma_identities
Create Date: 2026-12-06 14:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_firma_requests'
down_revision = '0009_firma_identities'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signature_enabled', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))

    with op.batch_alter_table('mobile_challenges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('document', sa.JSON(), nullable=True))
        batch_op.alter_column('kind', existing_type=sa.String(length=8), type_=sa.String(length=16),
                              existing_nullable=False)

    op.create_table('signature_requests',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('client_name', sa.String(length=200), nullable=False),
    sa.Column('redirect_uri', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=512), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('signer_document', sa.String(length=16), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('page_count', sa.Integer(), nullable=True),
    sa.Column('document', sa.LargeBinary(), nullable=True),
    sa.Column('signature', sa.LargeBinary(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('downloaded_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('signature_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signature_requests_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signature_requests_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('signature_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signature_requests_expires_at'))
        batch_op.drop_index(batch_op.f('ix_signature_requests_client_id'))
    op.drop_table('signature_requests')
    with op.batch_alter_table('mobile_challenges', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=sa.String(length=16), type_=sa.String(length=8),
                              existing_nullable=False)
        batch_op.drop_column('document')
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('signature_enabled')
