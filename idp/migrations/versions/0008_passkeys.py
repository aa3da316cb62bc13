"""passkeys (WebAuthn) and their answered challenges

Revision ID: 0008_passkeys
Revises: 0007_client_disabled
Create Date: 2026-12-07 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_passkeys'
down_revision = '0007_client_disabled'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('passkeys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=False),
    sa.Column('credential_id', sa.String(length=1364), nullable=False),
    sa.Column('user_handle', sa.String(length=128), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('sign_count', sa.BigInteger(), nullable=False),
    sa.Column('backup_eligible', sa.Boolean(), nullable=False),
    sa.Column('backed_up', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('credential_id')
    )
    with op.batch_alter_table('passkeys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_passkeys_citizen_id'), ['citizen_id'], unique=False)

    op.create_table('used_passkey_challenges',
    sa.Column('challenge_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('challenge_hash')
    )
    with op.batch_alter_table('used_passkey_challenges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_passkey_challenges_expires_at'), ['expires_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('used_passkey_challenges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_passkey_challenges_expires_at'))
    op.drop_table('used_passkey_challenges')
    with op.batch_alter_table('passkeys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_passkeys_citizen_id'))
    op.drop_table('passkeys')
