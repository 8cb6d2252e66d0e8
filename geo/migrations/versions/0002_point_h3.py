"""H3 cells of every enterprise, hazard source and hazard point (resolutions 6-9), kept by the refresh.

The /risk heatmap groups filtered points by these columns in SQL instead of fetching every point and
indexing it in Python. A move of the point (``geom`` updated without new cells) clears them through a
row trigger, so a stale cell is never used; ``safegrid etl refresh`` fills the missing ones.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
POINT_TABLES = ("enterprises", "hazard_sources", "hazards")
RESOLUTIONS = (6, 7, 8, 9)


def upgrade() -> None:
    """Apply the migration."""
    for table in POINT_TABLES:
        for res in RESOLUTIONS:
            op.add_column(table, sa.Column(f"h3_r{res}", sa.BigInteger(), nullable=True))
    # Rows still waiting for their cells, so the refresh finds them without scanning the tables (empty
    # once filled; closed hazards never get cells and are left out).
    for table in POINT_TABLES:
        only_open = " AND status <> 'closed'" if table == "hazards" else ""
        op.create_index(f"ix_{table}_h3_missing", table, ["id"],
                        postgresql_where=sa.text(f"h3_r9 IS NULL AND geom IS NOT NULL{only_open}"))
    op.execute(
        "CREATE OR REPLACE FUNCTION sg_clear_h3() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "NEW.h3_r6 := NULL; NEW.h3_r7 := NULL; NEW.h3_r8 := NULL; NEW.h3_r9 := NULL; RETURN NEW; END $$"
    )
    for table in POINT_TABLES:
        op.execute(
            f'CREATE TRIGGER sg_clear_h3 BEFORE UPDATE OF geom ON "{table}" FOR EACH ROW '
            "WHEN (NEW.geom IS DISTINCT FROM OLD.geom AND NEW.h3_r9 IS NOT DISTINCT FROM OLD.h3_r9) "
            "EXECUTE FUNCTION sg_clear_h3()"
        )


def downgrade() -> None:
    """Revert the migration."""
    op.execute("DROP FUNCTION IF EXISTS sg_clear_h3() CASCADE")
    for table in POINT_TABLES:
        op.drop_index(f"ix_{table}_h3_missing", table_name=table)
        for res in RESOLUTIONS:
            op.drop_column(table, f"h3_r{res}")
