"""The open-hazard index also carries what 待办 decides on: status, submitted_by, supervision_at (issue 20).

待办's badge and list (``geo.todo``) test every open hazard of the scope for its reasons (待验收: status and who
submitted it; newly 督办: supervision_at; overdue: deadline) and were the largest statement time left in the load
test at 1M / 3M (a city's list read 318k hazards from the heap). With these columns in ``ix_hazards_open`` both
are index-only. ``bench/bench_open_index.py`` on the load test's (vacuumed) database, each index freshly built:
the list city 254 → 119 ms, county 235 → 49; the capped badge count 0.77-0.86×; the command map's open list
0.85-0.90×; the big screen's ribbon and children unchanged (0.91-1.14×, noise). 18 → 21 MB.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status <> 'closed'")
BEFORE = ['id', 'level', 'supervision_level', 'enterprise_id', 'found_at', 'closed_at']
AFTER = [*BEFORE, 'status', 'submitted_by', 'supervision_at']


def _rebuild(include: list[str]) -> None:
    op.drop_index('ix_hazards_open', table_name='hazards', postgresql_where=OPEN)
    op.create_index('ix_hazards_open', 'hazards', ['unit_id', 'deadline'], unique=False, postgresql_where=OPEN,
                    postgresql_include=include)


def upgrade() -> None:
    """Apply the migration."""
    _rebuild(AFTER)


def downgrade() -> None:
    """Revert the migration."""
    _rebuild(BEFORE)
