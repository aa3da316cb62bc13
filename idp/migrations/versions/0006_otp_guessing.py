"""wrong SMS codes counted per citizen; activation-code counters of unregistered documents

Revision ID: 0006_otp_guessing
Revises: 0005_backchannel_outbox
Create Date: 2026-12-06 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_otp_guessing'
down_revision = '0005_backchannel_outbox'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('citizens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('otp_failures', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('otp_failures_since', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('otp_locked_until', sa.DateTime(), nullable=True))
    op.create_table('unregistered_documents',
    sa.Column('document_hash', sa.String(length=64), nullable=False),
    sa.Column('activation_failures', sa.Integer(), nullable=False),
    sa.Column('activation_code_blocked', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('document_hash')
    )


def downgrade() -> None:
    op.drop_table('unregistered_documents')
    with op.batch_alter_table('citizens', schema=None) as batch_op:
        batch_op.drop_column('otp_locked_until')
        batch_op.drop_column('otp_failures_since')
        batch_op.drop_column('otp_failures')
