"""partition progress: how far each input partition is stored, for the detector's watermark

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('partition_progress',
    sa.Column('topic', sa.String(length=256), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=False),
    sa.Column('event_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stored_offset', sa.BigInteger(), nullable=True),
    sa.Column('stored_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('advanced_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lag', sa.BigInteger(), nullable=True),
    sa.Column('lag_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('announced_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('worker_id', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('topic', 'partition', name=op.f('pk_partition_progress'))
    )


def downgrade() -> None:
    op.drop_table('partition_progress')
