"""Hazards found and closed per month in every unit's subtree, kept by triggers (issue 20: the big screen's trend).

The big screen's 12-month trend read every hazard of the scope found or closed in the window on every refresh
(city 1.5 s idle at 3M hazards, 4.7 s under the load test, and it ran after every write). ``hazard_months``
holds the counts per unit and month for the unit's whole subtree, so the trend reads 12 rows.

Kept exact in the writing transaction: statement triggers with transition tables for INSERT and DELETE (a
load of 3M hazards is one aggregate, not 3M calls), a row trigger for UPDATE firing only when the attribution
or a date it counts changed (a statement trigger would copy every updated row, e.g. the refresh's H3 fill, into
its transition tables). Lock order: every hazards writer first takes the ``data_versions`` row of ``hazards``
(``sg_data_version``, a statement trigger, fires before ``sg_hazard_months_*`` by name), then month rows — so the
UPDATE trigger is deferred to the commit (as a row trigger it fired before the statement's ``sg_data_version``,
and a 验收通过 and a report in one township deadlocked, tests/test_hazard_actions.py). ``sg_rebuild_hazard_months()`` recounts from the hazards under a lock that keeps
writers' deltas in order (the refresh calls it: an enterprise moved to another grid cell moves its unit-less
hazards, which no hazard trigger sees). ``ix_hazards_closed_at`` serves "closed after ``as_of``" reads.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Add the counts of the hazards in ``{source}`` (unit_id, enterprise_id, found_at, closed_at, sign) to the
# rows of their unit (own, else the enterprise's) and every ancestor, in key order (no deadlock between writers).
# Columns are qualified: ``found`` alone would be PL/pgSQL's FOUND variable.
_ADD = """
WITH d (unit_id, enterprise_id, found_at, closed_at, sign) AS ({source}),
leaf AS (
  SELECT coalesce(d.unit_id, (SELECT e.unit_id FROM enterprises e WHERE e.id = d.enterprise_id)) AS uid,
         m.month, sum(m.found * d.sign) AS found, sum(m.closed * d.sign) AS closed
  FROM d CROSS JOIN LATERAL (VALUES (date_trunc('month', d.found_at::timestamp)::date, 1, 0),
                                    (date_trunc('month', d.closed_at::timestamp)::date, 0, 1)) AS m (month, found, closed)
  WHERE m.month IS NOT NULL GROUP BY 1, 2),
up AS (
  SELECT a.id AS unit_id, leaf.month, sum(leaf.found) AS found, sum(leaf.closed) AS closed
  FROM leaf JOIN units u ON u.id = leaf.uid JOIN units a ON a.code = ANY (string_to_array(rtrim(u.path, '.'), '.'))
  GROUP BY 1, 2 HAVING sum(leaf.found) <> 0 OR sum(leaf.closed) <> 0)
INSERT INTO hazard_months (unit_id, month, found, closed)
SELECT up.unit_id, up.month, up.found, up.closed FROM up ORDER BY up.unit_id, up.month
ON CONFLICT (unit_id, month) DO UPDATE
SET found = hazard_months.found + EXCLUDED.found, closed = hazard_months.closed + EXCLUDED.closed
"""
_COLUMNS = "unit_id, enterprise_id, found_at, closed_at"
_INSERTED = _ADD.format(source=f"SELECT {_COLUMNS}, 1 FROM new_rows")  # noqa: S608 - constant fragments
_DELETED = _ADD.format(source=f"SELECT {_COLUMNS}, -1 FROM old_rows")  # noqa: S608
_UPDATED = _ADD.format(source="VALUES (OLD.unit_id, OLD.enterprise_id, OLD.found_at, OLD.closed_at, -1), "
                              "(NEW.unit_id, NEW.enterprise_id, NEW.found_at, NEW.closed_at, 1)")
_ALL = _ADD.format(source=f"SELECT {_COLUMNS}, 1 FROM hazards")  # noqa: S608
_CHANGED = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in _COLUMNS.split(", "))


def upgrade() -> None:
    """Apply the migration."""
    op.create_table(
        'hazard_months',
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('found', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('closed', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_hazard_months_unit_id_units'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('unit_id', 'month', name=op.f('pk_hazard_months')),
    )
    op.create_index('ix_hazards_closed_at', 'hazards', ['closed_at'], unique=False,
                    postgresql_where=sa.text('closed_at IS NOT NULL'))
    op.execute(f"CREATE FUNCTION sg_hazard_months_statement() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "  # noqa: S608
               f"IF TG_OP = 'INSERT' THEN {_INSERTED}; ELSIF TG_OP = 'DELETE' THEN {_DELETED}; "
               f"ELSE DELETE FROM hazard_months; END IF; RETURN NULL; END $$")
    op.execute(f"CREATE FUNCTION sg_hazard_months_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
               f"{_UPDATED}; RETURN NULL; END $$")
    op.execute("CREATE FUNCTION sg_rebuild_hazard_months() RETURNS bigint LANGUAGE plpgsql AS $$ "  # noqa: S608
               "DECLARE n bigint; BEGIN LOCK TABLE hazard_months IN EXCLUSIVE MODE; DELETE FROM hazard_months; "
               f"{_ALL}; GET DIAGNOSTICS n = ROW_COUNT; RETURN n; END $$")
    op.execute("CREATE TRIGGER sg_hazard_months_insert AFTER INSERT ON hazards REFERENCING NEW TABLE AS new_rows "
               "FOR EACH STATEMENT EXECUTE FUNCTION sg_hazard_months_statement()")
    op.execute("CREATE TRIGGER sg_hazard_months_delete AFTER DELETE ON hazards REFERENCING OLD TABLE AS old_rows "
               "FOR EACH STATEMENT EXECUTE FUNCTION sg_hazard_months_statement()")
    op.execute("CREATE TRIGGER sg_hazard_months_truncate AFTER TRUNCATE ON hazards "
               "FOR EACH STATEMENT EXECUTE FUNCTION sg_hazard_months_statement()")
    op.execute(f"CREATE CONSTRAINT TRIGGER sg_hazard_months_update AFTER UPDATE ON hazards "
               f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN ({_CHANGED}) EXECUTE FUNCTION sg_hazard_months_row()")
    op.execute("SELECT sg_rebuild_hazard_months()")


def downgrade() -> None:
    """Revert the migration."""
    for trigger in ("insert", "delete", "truncate", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS sg_hazard_months_{trigger} ON hazards")
    op.execute("DROP FUNCTION IF EXISTS sg_rebuild_hazard_months()")
    op.execute("DROP FUNCTION IF EXISTS sg_hazard_months_row()")
    op.execute("DROP FUNCTION IF EXISTS sg_hazard_months_statement()")
    op.drop_index('ix_hazards_closed_at', table_name='hazards')
    op.drop_table('hazard_months')
