"""The inspection ledger's first page (issue 16 benchmark): an index in its default order.

At 5.7M inspections the ledger's default ``ORDER BY inspected_at DESC, id DESC LIMIT 100`` sorted every row
in scope (7-10 s); with this index the page reads about 100 index entries (bench/bench_inspections.py).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the migration."""
    op.create_index('ix_inspections_inspected_at', 'inspections', [sa.text('inspected_at DESC'), sa.text('id DESC')],
                    unique=False)


def downgrade() -> None:
    """Revert the migration."""
    op.drop_index('ix_inspections_inspected_at', table_name='inspections')
