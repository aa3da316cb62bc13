"""wrong SMS codes counted per citizen; activation-code counters of unregistered documents

Revision ID: 0004_otp_guessing
Revises: 0003
Create Date: 2026-12-06 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_otp_guessing'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('unregistered_documents',
    sa.Column('document_hash', sa.String(length=64), nullable=False),
    sa.Column('activation_failures', sa.Integer(), nullable=False),
    sa.Column('activation_code_blocked', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('document_hash')
    )


def downgrade() -> None:
    op.drop_table('unregistered_documents')
