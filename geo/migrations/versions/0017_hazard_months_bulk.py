"""``hazard_months`` in bulk: a load skips the per-row triggers and recounts once (issue 20, review of 0015).

0015's UPDATE trigger queues one deferred call per changed row: a boundary load or ``safegrid etl assign`` that
moves hazards to other cells (``UPDATE hazards SET unit_id``, up to 3M rows), or a ledger reload that changes many
dates, would run the roll-up's statement once per row at commit while holding the hazards' ``data_versions`` row.
And a load that moves enterprises changes where their unit-less hazards count without writing one of them. So a
load sets ``safegrid.bulk_hazards = 'on'`` for its transaction (``geo.etl_sql.bulk_hazards``): the triggers then do
nothing, and the load recounts the table once before it commits (``sg_rebuild_hazard_months()``, 4 s at 3M).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 08:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BULK = "current_setting('safegrid.bulk_hazards', true) IS NOT DISTINCT FROM 'on'"
_CHANGED = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in ("unit_id", "enterprise_id", "found_at", "closed_at"))


def _triggers(*, bulk_aware: bool) -> None:
    """(Re)create 0015's INSERT, DELETE and UPDATE triggers, with or without the bulk condition."""
    skip = f" AND NOT ({_BULK})" if bulk_aware else ""
    for event, table in (("insert", "NEW TABLE AS new_rows"), ("delete", "OLD TABLE AS old_rows")):
        op.execute(f"DROP TRIGGER IF EXISTS sg_hazard_months_{event} ON hazards")
        op.execute(f"CREATE TRIGGER sg_hazard_months_{event} AFTER {event.upper()} ON hazards REFERENCING {table} "
                   f"FOR EACH STATEMENT WHEN (true{skip}) EXECUTE FUNCTION sg_hazard_months_statement()")
    op.execute("DROP TRIGGER IF EXISTS sg_hazard_months_update ON hazards")
    op.execute("CREATE CONSTRAINT TRIGGER sg_hazard_months_update AFTER UPDATE ON hazards DEFERRABLE INITIALLY "
               f"DEFERRED FOR EACH ROW WHEN (({_CHANGED}){skip}) EXECUTE FUNCTION sg_hazard_months_row()")


def upgrade() -> None:
    """Apply the migration."""
    _triggers(bulk_aware=True)


def downgrade() -> None:
    """Revert the migration."""
    _triggers(bulk_aware=False)
