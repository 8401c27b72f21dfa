"""detector checkpoints

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 01:58:35.079623
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('detector_checkpoints',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('evaluated_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_detector_checkpoints'))
    )


def downgrade() -> None:
    op.drop_table('detector_checkpoints')
