import re

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from geo import migrate

CORE_TABLES = {
    "units", "persons", "duties", "enterprises", "hazard_sources", "hazards", "hazard_events",
    "inspections", "users", "audit_log", "etl_runs", "etl_rejects", "unit_stats",
}


def test_migrated_to_head(conn: Connection) -> None:
    assert migrate.current(conn) == migrate.head()


def test_no_drift_between_models_and_migrations(conn: Connection) -> None:
    assert migrate.drift(conn) == []


def test_core_tables_exist(conn: Connection) -> None:
    names = set(conn.execute(text(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    )).scalars())
    assert names >= CORE_TABLES


def test_every_geometry_column_has_a_gist_index(conn: Connection) -> None:
    cols = conn.execute(text("SELECT f_table_name, f_geometry_column, srid FROM geometry_columns")).all()
    assert len(cols) >= 7
    for table, column, srid in cols:
        assert srid == 4326, (table, column)
        n = conn.execute(text(
            """
            SELECT count(*) FROM pg_index i
            JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = CAST(:t AS regclass) AND a.attname = :c AND am.amname = 'gist'
            """
        ), {"t": table, "c": column}).scalar()
        assert n == 1, f"{table}.{column} has no GiST index"


def _unit(conn: Connection, code: str, level: int, path: str, parent: int | None = None) -> int:
    return conn.execute(text(
        "INSERT INTO units (code, name, level, path, parent_id) VALUES (:c, :n, :l, :p, :parent) RETURNING id"
    ), {"c": code, "n": code, "l": level, "p": path, "parent": parent}).scalar_one()


def test_subtree_query_uses_the_path_index(conn: Connection) -> None:
    city = _unit(conn, "418000", 1, "418000.")
    county = _unit(conn, "418002", 2, "418000.418002.", city)
    _unit(conn, "418002001", 3, "418000.418002.418002001.", county)
    _unit(conn, "418003", 2, "418000.418003.", city)
    rows = conn.execute(text("SELECT code FROM units WHERE path LIKE '418000.418002.%' ORDER BY code")).scalars()
    assert list(rows) == ["418002", "418002001"]
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(conn.execute(text(
        "EXPLAIN SELECT id FROM units WHERE path LIKE '418000.418002.%'"
    )).scalars())
    assert "ix_units_path_prefix" in plan


def test_enum_checks_reject_bad_values_but_allow_nulls(conn: Connection) -> None:
    city = _unit(conn, "418000", 1, "418000.")
    conn.execute(text(
        "INSERT INTO enterprises (credit_code, name, unit_id) VALUES ('91350100M000100Y43', '未评估企业', :u)"
    ), {"u": city})
    with pytest.raises(IntegrityError), conn.begin_nested():
        conn.execute(text(
            "INSERT INTO enterprises (credit_code, name, risk_level) VALUES ('91110108551385082Q', 'x', 'purple')"
        ))
    with pytest.raises(IntegrityError), conn.begin_nested():
        _unit(conn, "418002", 6, "418000.418002.", city)


def test_vacancy_is_allowed_but_a_slot_holds_one_person(conn: Connection) -> None:
    unit = _unit(conn, "418000", 1, "418000.")
    p1, p2 = (conn.execute(text("INSERT INTO persons (name) VALUES (:n) RETURNING id"), {"n": n}).scalar_one()
              for n in ("张伟", "王芳"))
    conn.execute(text("INSERT INTO duties (unit_id, person_id, role, seq) VALUES (:u, :p, 'supervisor', 1)"),
                 {"u": unit, "p": p1})
    with pytest.raises(IntegrityError), conn.begin_nested():
        conn.execute(text(
            "INSERT INTO duties (unit_id, person_id, role, seq) VALUES (:u, :p, 'supervisor', 1)"
        ), {"u": unit, "p": p2})
    # A former holder (until set) does not block the slot.
    conn.execute(text("UPDATE duties SET until = current_date WHERE unit_id = :u"), {"u": unit})
    conn.execute(text("INSERT INTO duties (unit_id, person_id, role, seq) VALUES (:u, :p, 'supervisor', 1)"),
                 {"u": unit, "p": p2})


def test_migrations_ignore_the_apps_statement_timeout() -> None:
    """A migration rewrites whole tables (0012 backfills every enterprise: minutes at 1M); with the app's timeout
    at 5 ms a fresh database still migrates to head (it failed before ``geo.migrate.upgrade`` cleared it)."""
    import os
    import subprocess
    import sys
    name = f"{os.environ.get('SAFEGRID_TEST_DB', 'safegrid_test')}_mig_timeout"
    code = ("from geo import migrate; from geo.db import engine; from sqlalchemy import text; "
            f"url = migrate.fresh_database({name!r}); e = engine(url); c = e.connect(); "
            "t = c.execute(text('SHOW statement_timeout')).scalar(); "
            # the probe's own reads may take more than 5 ms on a busy machine: only the SHOW runs under it
            "c.execute(text('SET statement_timeout = 0')); "
            "print(migrate.current(c) == migrate.head(), t); c.close(); e.dispose()")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "SAFEGRID_STATEMENT_TIMEOUT_MS": "5"})
    from sqlalchemy import create_engine

    from geo.settings import get_settings
    admin = create_engine(get_settings().url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {migrate.quote_ident(name)}"))
    admin.dispose()
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split() == ["True", "5ms"]  # at head; the app's own connections keep their timeout


def test_a_scopes_units_are_estimated_near_their_number(conn: Connection) -> None:
    """Migration 0014: enough statistics on units.path that a township's units are not estimated as one."""
    target = conn.execute(text(
        "SELECT attstattarget FROM pg_attribute WHERE attrelid = 'units'::regclass AND attname = 'path'")).scalar()
    assert target == 1000
    city = _unit(conn, "417000", 1, "417000.")
    # 7 counties × 15 townships × 24 villages × 3 grid cells, as 许昌's tree (7 / 105 / 2,505 / 6,860):
    # 10,185 units, 97 in a township
    conn.execute(text(
        "INSERT INTO units (code, name, level, path, parent_id) "
        "SELECT code, 'u', level, '417000.' || path, :city FROM ("
        "  SELECT c, t, v, g, CASE WHEN v IS NULL THEN 3 WHEN g IS NULL THEN 4 ELSE 5 END AS level, "
        "    c || '.' || c || t || '.' || coalesce(c || t || v || '.', '') || coalesce(c || t || v || g || '.', '') "
        "      AS path, c || t || coalesce(v, '') || coalesce(g, '') AS code "
        "  FROM (SELECT '417' || lpad(i::text, 3, '0') AS c FROM generate_series(1, 7) i) cs "
        "  CROSS JOIN (SELECT lpad(i::text, 3, '0') AS t FROM generate_series(1, 15) i) ts "
        "  CROSS JOIN (SELECT NULL AS v UNION ALL SELECT lpad(i::text, 3, '0') FROM generate_series(1, 24) i) vs "
        "  CROSS JOIN (SELECT NULL AS g UNION ALL SELECT lpad(i::text, 2, '0') FROM generate_series(1, 3) i) gs "
        "  WHERE v IS NOT NULL OR g IS NULL) x"), {"city": city})
    conn.execute(text("ANALYZE units"))
    off = []
    for path, n in conn.execute(text(
            "SELECT path, (SELECT count(*) FROM units x WHERE x.path LIKE u.path || '%') FROM units u "
            "WHERE level = 3 AND path LIKE '417000.%'")).all():
        plan = conn.execute(text(f"EXPLAIN SELECT id FROM units WHERE path LIKE '{path}' || '%'")).scalars().first()
        rows = int(re.search(r"rows=(\d+)", plan or "").group(1))  # type: ignore[union-attr]
        if not n / 2 <= rows <= n * 2:
            off.append((path, n, rows))
    assert len(off) <= 1, off  # of 105; with PostgreSQL's default 100 buckets: 6 here, 27 of 许昌's 105 (sg_l20)
