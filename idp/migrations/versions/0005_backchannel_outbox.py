"""back-channel logout outbox

Revision ID: 0005_backchannel_outbox
Revises: 0004_mobile_number_matching
Create Date: 2026-12-06 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_backchannel_outbox'
down_revision = '0004_mobile_number_matching'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('backchannel_logouts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('sid', sa.String(length=64), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('backchannel_logouts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_backchannel_logouts_next_attempt_at'), ['next_attempt_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('backchannel_logouts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_backchannel_logouts_next_attempt_at'))
    op.drop_table('backchannel_logouts')
