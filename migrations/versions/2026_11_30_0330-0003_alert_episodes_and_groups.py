"""alert episodes and groups: opening, peak and resolution figures; one group per notification

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Alerts written before this revision kept only their latest figures: those become each moment's figures.
FIGURES = """jsonb_build_object(
    'window_minutes', round(extract(epoch FROM window_end - window_start) / 60)::int,
    'window_start', window_start, 'window_end', window_end,
    'window_count', window_count, 'window_negative', window_negative,
    'baseline_start', baseline_start, 'baseline_end', window_start,
    'baseline_count', baseline_count, 'baseline_negative', baseline_negative,
    'observed_share', observed_share, 'baseline_share', baseline_share,
    'rise', observed_share - baseline_share, 'statistic', statistic, 'p_value', p_value)"""


def upgrade() -> None:
    op.create_table('alert_groups',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_groups'))
    )
    op.create_index('uq_alert_groups_one_open', 'alert_groups', ['status'], unique=True,
                    postgresql_where=sa.text("status = 'open'"))
    op.add_column('alerts', sa.Column('group_id', sa.BigInteger(), nullable=True))
    op.add_column('alerts', sa.Column('window_minutes', sa.Integer(), nullable=True))
    op.add_column('alerts', sa.Column('opening', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('alerts', sa.Column('peak', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('alerts', sa.Column('resolution', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.execute(f"""UPDATE alerts SET
        window_minutes = round(extract(epoch FROM window_end - window_start) / 60)::int,
        opening = {FIGURES}, peak = {FIGURES},
        resolution = CASE WHEN status = 'resolved' THEN {FIGURES} END""")
    for column in ('window_minutes', 'opening', 'peak'):
        op.alter_column('alerts', column, nullable=False)
    op.create_index(op.f('ix_alerts_group_id'), 'alerts', ['group_id'], unique=False)
    op.create_foreign_key(op.f('fk_alerts_group_id_alert_groups'), 'alerts', 'alert_groups', ['group_id'], ['id'],
                          ondelete='SET NULL')


def downgrade() -> None:
    op.drop_constraint(op.f('fk_alerts_group_id_alert_groups'), 'alerts', type_='foreignkey')
    op.drop_index(op.f('ix_alerts_group_id'), table_name='alerts')
    for column in ('resolution', 'peak', 'opening', 'window_minutes', 'group_id'):
        op.drop_column('alerts', column)
    op.drop_index('uq_alert_groups_one_open', table_name='alert_groups', postgresql_where=sa.text("status = 'open'"))
    op.drop_table('alert_groups')
