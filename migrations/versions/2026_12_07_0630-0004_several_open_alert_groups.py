"""several alert groups may be open: a new burst no longer joins a group whose newest scope opened long ago

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Detector runs are serialised by an advisory lock; the one-open-group index is no longer a rule to back up.
    op.drop_index('uq_alert_groups_one_open', table_name='alert_groups', postgresql_where=sa.text("status = 'open'"))


def downgrade() -> None:
    open_groups = op.get_bind().scalar(sa.text("SELECT count(*) FROM alert_groups WHERE status = 'open'"))
    if open_groups > 1:
        raise RuntimeError(f"{open_groups} alert groups are open and revision 0003 allows one: resolve all but "
                           "one (or wait until they resolve) before downgrading")
    op.create_index('uq_alert_groups_one_open', 'alert_groups', ['status'], unique=True,
                    postgresql_where=sa.text("status = 'open'"))
