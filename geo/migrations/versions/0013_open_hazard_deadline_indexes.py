"""City-wide lists of open hazards in deadline order (the briefing's 逾期 and 挂牌督办 lists, issue 18 benchmark).

At 3M hazards the two lists sorted every open hazard of the scope (3.4 s and 3.1 s for the city); with these
partial indexes in the lists' order each reads its first rows from the index (2.7 ms and 0.25 ms, measured by
helper q18 in a rolled-back transaction on bench_insp_1m). ``ix_hazards_open (unit_id, deadline)`` serves one
unit, not a city-wide deadline order.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the migration."""
    op.create_index('ix_hazards_open_deadline', 'hazards', ['deadline', 'code'], unique=False,
                    postgresql_where=sa.text("status <> 'closed'"))
    op.create_index('ix_hazards_open_supervised', 'hazards', ['supervision_level', 'deadline', 'code'], unique=False,
                    postgresql_where=sa.text("status <> 'closed' AND supervision_level IS NOT NULL"))


def downgrade() -> None:
    """Revert the migration."""
    op.drop_index('ix_hazards_open_supervised', table_name='hazards')
    op.drop_index('ix_hazards_open_deadline', table_name='hazards')
