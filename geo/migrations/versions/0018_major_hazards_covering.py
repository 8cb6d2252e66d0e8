"""A covering index of the MAJOR hazards by date found: /risk's trend and the big screen's alarm read them alone (issue 20).

/risk's trend and the comparison's trends count the major hazards found and closed per month (存量 / 增量);
they were one scan of every hazard of the scope with the other charts (6.1 s city-wide at 3M hazards). Now
each chart reads only the hazards it counts: the trend the 248,800 majors of 3M through this index, index-only
(170-220 ms city-wide, ~900 ms as a bitmap heap scan through an index of the key alone, measured in a rolled-back
transaction on the load test's database). Keyed by ``found_at``, not the unit: keyed by unit, PostgreSQL ANDed
the whole index into the big screen's "majors found this week" bitmap (45 ms of a 52 ms statement); by date
that alarm is a range scan of this index (0.02 ms), and a township's trend reads all majors (35-45 ms, was
16-20). The included columns are those the scope's hazard CTE selects (``geo.risk_queries._hazards_cte``):
PostgreSQL does not drop a UNION ALL branch's unused outputs.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MAJOR = sa.text("level = 'major'")
INCLUDE = ['unit_id', 'level', 'status', 'closed_at', 'deadline', 'enterprise_id']


def upgrade() -> None:
    """Apply the migration."""
    op.create_index('ix_hazards_major', 'hazards', ['found_at'], unique=False, postgresql_where=MAJOR,
                    postgresql_include=INCLUDE)


def downgrade() -> None:
    """Revert the migration."""
    op.drop_index('ix_hazards_major', table_name='hazards', postgresql_where=MAJOR)
