"""a flow state names the pending authorization request it serves, and ends with it

Revision ID: 0011_flow_state_pending_request
Revises: 0010_firma_requests
Create Date: 2026-12-06 18:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_flow_state_pending_request'
down_revision = '0010_firma_requests'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite adds a foreign key only by rebuilding the table (PostgreSQL alters it).
    with op.batch_alter_table('flow_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending_request_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_flow_states_pending_request_id'), ['pending_request_id'], unique=False)
        batch_op.create_foreign_key('fk_flow_states_pending_request_id', 'authorization_requests',
                                    ['pending_request_id'], ['id'], ondelete='CASCADE')
    # Flows under way keep their request: it was kept in their data under "ir".
    ir = "json_extract(data, '$.ir')" if op.get_bind().dialect.name == 'sqlite' else "data ->> 'ir'"
    op.execute(f"UPDATE flow_states SET pending_request_id = {ir} "  # noqa: S608 - no value is interpolated
               f"WHERE EXISTS (SELECT 1 FROM authorization_requests WHERE id = {ir})")


def downgrade() -> None:
    with op.batch_alter_table('flow_states', schema=None) as batch_op:
        batch_op.drop_constraint('fk_flow_states_pending_request_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_flow_states_pending_request_id'))
        batch_op.drop_column('pending_request_id')
