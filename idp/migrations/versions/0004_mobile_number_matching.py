"""cl@ve mobile number matching: one typed code on both paths, no numbers to pick from

Revision ID: 0004_mobile_number_matching
Revises: 0003
Create Date: 2026-12-06 08:20:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_mobile_number_matching'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Push requests now use verification_code too: the number and its decoys are gone.
    with op.batch_alter_table('mobile_challenges', schema=None) as batch_op:
        batch_op.drop_column('expected_number')
        batch_op.drop_column('numbers')


def downgrade() -> None:
    with op.batch_alter_table('mobile_challenges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('numbers', sa.JSON(), nullable=False,
                                      server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('expected_number', sa.Integer(), nullable=True))
