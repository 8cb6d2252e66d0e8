"""Finer statistics on ``units.path``: the planner's estimate of a scope's units (``path LIKE 'x.%'``).

With PostgreSQL's default 100 histogram buckets over 9,478 units, a township's 73 units were estimated as 1,
so the hazard ledger's "newest first" read of a dense township (430k hazards at 1M / 3M) ran as a nested loop
over every hazard of the scope and a sort: 1.7 s. With 1,000 buckets the estimate is 76 and the plan reads the
``found_at`` index instead: 0.13 s, same rows. Planning a scope condition costs 0.14 ms instead of 0.10 ms
(10,000 buckets: exact, but 0.7 ms). Townships estimated off by more than 2x: 27 of 105 → 1 of 105.
Measured on the load test's database (sg_l20) in a rolled-back transaction.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 04:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PATH_STATISTICS = 1000


def upgrade() -> None:
    """Apply the migration."""
    op.execute(f'ALTER TABLE "units" ALTER COLUMN "path" SET STATISTICS {PATH_STATISTICS}')
    op.execute('ANALYZE "units"')


def downgrade() -> None:
    """Revert the migration."""
    op.execute('ALTER TABLE "units" ALTER COLUMN "path" SET STATISTICS -1')
    op.execute('ANALYZE "units"')
