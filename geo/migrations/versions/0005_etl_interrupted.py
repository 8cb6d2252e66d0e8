"""ETL runs can end ``interrupted`` (SIGINT/SIGTERM during a load; issue 19).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
OLD_STATUSES = "'running', 'ok', 'partial', 'rejected', 'failed'"
NEW_STATUSES = OLD_STATUSES + ", 'interrupted'"


def upgrade() -> None:
    """Apply the migration."""
    op.drop_constraint(op.f('ck_etl_runs_status'), 'etl_runs', type_='check')
    op.create_check_constraint(op.f('ck_etl_runs_status'), 'etl_runs', f"status IS NULL OR status IN ({NEW_STATUSES})")


def downgrade() -> None:
    """Revert the migration (interrupted runs become failed ones)."""
    op.execute("UPDATE etl_runs SET status = 'failed' WHERE status = 'interrupted'")
    op.drop_constraint(op.f('ck_etl_runs_status'), 'etl_runs', type_='check')
    op.create_check_constraint(op.f('ck_etl_runs_status'), 'etl_runs', f"status IS NULL OR status IN ({OLD_STATUSES})")
