"""A covering index of the MAJOR hazards: /risk's trend reads them alone (issue 20).

/risk's trend and the comparison's trends count the major hazards found and closed per month (存量 / 增量);
they were one scan of every hazard of the scope with the other charts (6.1 s city-wide at 3M hazards). Now
each chart reads only the hazards it counts: the trend the 248,800 majors of 3M through this index, index-only
(215-275 ms city-wide, was ~900 ms as a bitmap heap scan through an index of the key alone, measured in a
rolled-back transaction on the load test's database). The included columns are those the scope's hazard CTE
selects (``geo.risk_queries._hazards_cte``): PostgreSQL does not drop a UNION ALL branch's unused outputs.

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
INCLUDE = ['level', 'status', 'found_at', 'closed_at', 'deadline', 'enterprise_id']


def upgrade() -> None:
    """Apply the migration."""
    op.create_index('ix_hazards_major', 'hazards', ['unit_id'], unique=False, postgresql_where=MAJOR,
                    postgresql_include=INCLUDE)


def downgrade() -> None:
    """Revert the migration."""
    op.drop_index('ix_hazards_major', table_name='hazards', postgresql_where=MAJOR)
