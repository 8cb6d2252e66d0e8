"""The open-hazard index carries what the scope counts read, so they never visit the table (issue 20).

The big screen's child summaries and KPI ribbon count every open hazard of the scope (318k city-wide at 3M
hazards) by level, deadline, 督办 and found / closed dates: read through ``ix_hazards_open (unit_id, deadline)``
they fetched ~137k heap pages a call (689 ms for the city's children at 1M / 3M, cold), as an index-only scan of
this index 191 ms (measured in a rolled-back transaction on bench_insp_1m after a VACUUM: index-only scans need
the visibility map). ``id`` too: the command map panel's list of a subtree's open hazards sorts (id, level,
deadline). Same key, so every plan that used the old index still can.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 07:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status <> 'closed'")
INCLUDE = ['id', 'level', 'supervision_level', 'enterprise_id', 'found_at', 'closed_at']


def upgrade() -> None:
    """Apply the migration."""
    op.drop_index('ix_hazards_open', table_name='hazards', postgresql_where=OPEN)
    op.create_index('ix_hazards_open', 'hazards', ['unit_id', 'deadline'], unique=False, postgresql_where=OPEN,
                    postgresql_include=INCLUDE)


def downgrade() -> None:
    """Revert the migration."""
    op.drop_index('ix_hazards_open', table_name='hazards', postgresql_where=OPEN)
    op.create_index('ix_hazards_open', 'hazards', ['unit_id', 'deadline'], unique=False, postgresql_where=OPEN)
