"""Every SQL statement of the ETL loaders: run log, staging with COPY, set-based upserts, grid assignment.

Loads stage validated rows in a temporary table (COPY, CSV format) and then move them with one
``INSERT … ON CONFLICT DO UPDATE … WHERE (old) IS DISTINCT FROM (new)`` per table, so loading the
same file twice writes nothing (``updated_at`` and ``xmin`` stay as they were). Identifiers come
from the ledger kinds' records (``geo.ledger_kinds``) and the whitelists below and are quoted; values
are always bound.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError

from geo.ledger_kinds import LEDGER_KINDS, RegistryView, ledger_kind
from geo.models import H3_CELL_COLUMNS
from geo.refresh import LOCK_KEY as REFRESH_LOCK_KEY
from geo.timing import timed


def _q(name: str) -> str:
    """Quote an identifier (our own whitelisted names only)."""
    return '"' + name.replace('"', '""') + '"'


# --- run log ----------------------------------------------------------------------------------

def start_run(conn: Connection, *, job: str, source: str | None, sha256: str | None,
              options: Mapping[str, Any] | None) -> int:
    """Insert an ``etl_runs`` row with status ``running`` and return its id."""
    stmt = text(
        "INSERT INTO etl_runs (job, source, sha256, options, status) "
        "VALUES (:job, :source, :sha256, :options, 'running') RETURNING id"
    ).bindparams(bindparam("options", type_=JSONB))
    return int(conn.execute(stmt, {"job": job, "source": source, "sha256": sha256, "options": options}).scalar_one())


def finish_run(conn: Connection, *, run_id: int, status: str, rows_in: int, rows_loaded: int,
               rows_rejected: int, message: str | None) -> None:
    """Write the final status, counts and message of a run."""
    conn.execute(
        text(
            "UPDATE etl_runs SET status = :status, finished_at = clock_timestamp(), rows_in = :rows_in, "
            "rows_loaded = :rows_loaded, rows_rejected = :rows_rejected, message = :message WHERE id = :run_id"
        ),
        {"run_id": run_id, "status": status, "rows_in": rows_in, "rows_loaded": rows_loaded,
         "rows_rejected": rows_rejected, "message": message},
    )


# A run of a load (or ``assign``) is alive while its session holds this advisory lock (class, run id):
# taken in the transaction that inserts the run, released after its final status is written, and
# gone with the session when the process dies. ``close_stale_runs`` closes the runs nobody holds.
RUN_LOCK_CLASS = 4110_0019
# Written into the run's message by the data transaction just before it commits.
COMMITTED_MARK = "数据已提交，正在记录结果"
STALE_MESSAGE = "导入进程已终止 (被强制结束或崩溃)，导入未完成：数据库未改动"
STALE_COMMITTED_MESSAGE = "导入进程在数据提交后终止：数据已导入，结果未记录"
STALE_REFRESH_MESSAGE = "刷新进程已终止 (被强制结束或崩溃)，刷新未完成"


def hold_run(conn: Connection, *, run_id: int) -> None:
    """Take the session-level lock that marks ``run_id`` as alive (call in the transaction inserting it)."""
    conn.execute(text("SELECT pg_advisory_lock(:cls, :id)"), {"cls": RUN_LOCK_CLASS, "id": run_id})


def release_run(conn: Connection, *, run_id: int) -> None:
    """Release the run's lock (after its final status is written)."""
    conn.execute(text("SELECT pg_advisory_unlock(:cls, :id)"), {"cls": RUN_LOCK_CLASS, "id": run_id})


def close_stale_runs(conn: Connection) -> list[int]:
    """Close the ``running`` runs whose process is gone (killed, crashed); return their ids.

    A load or ``assign`` run is alive while some session holds its run lock; a refresh while some
    session holds the refresh lock (``geo.refresh.LOCK_KEY``). The others become ``failed`` with a
    message saying whether their data transaction had committed (``COMMITTED_MARK``).
    """
    held = ("EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND l.classid::bigint = {cls} AND l.objid::bigint = {obj} AND l.objsubid = {sub})")
    rows = conn.execute(text(
        "UPDATE etl_runs SET status = 'failed', finished_at = clock_timestamp(), message = CASE "  # noqa: S608
        "WHEN job = 'refresh' THEN :refresh WHEN message = :mark THEN :committed ELSE :stale END "
        "WHERE status = 'running' AND ("
        f"((job LIKE 'load:%' OR job = 'assign') AND NOT {held.format(cls=':cls', obj='etl_runs.id', sub=2)}) OR "
        f"(job = 'refresh' AND NOT {held.format(cls=':rhi', obj=':rlo', sub=1)})) RETURNING id"
    ), {"cls": RUN_LOCK_CLASS, "rhi": REFRESH_LOCK_KEY >> 32, "rlo": REFRESH_LOCK_KEY & 0xFFFFFFFF,
        "mark": COMMITTED_MARK, "committed": STALE_COMMITTED_MESSAGE, "stale": STALE_MESSAGE,
        "refresh": STALE_REFRESH_MESSAGE})
    return sorted(int(r.id) for r in rows)


def mark_data_committed(conn: Connection, *, run_id: int) -> None:
    """Note in the data transaction (just before it commits) that the run's data is in."""
    conn.execute(text("UPDATE etl_runs SET message = :mark WHERE id = :id"), {"mark": COMMITTED_MARK, "id": run_id})


# Tables whose writes are bookkeeping, not data: left out of ``rows_written``.
_BOOKKEEPING = ("data_versions", "etl_runs", "etl_rejects", "hazard_months")  # hazard_months: recounted



def rows_written(conn: Connection) -> int:
    """Count the rows this session inserted, updated or deleted in the data tables (temp tables excluded).

    It includes the earlier transactions whose statistics are not yet flushed (PostgreSQL flushes
    them at most once a second, between transactions), so compare two readings in one transaction:
    equal readings mean the transaction wrote no row. A load that wrote nothing is rolled back, so
    the statement triggers' ``data_versions`` bumps (they fire even for statements that change no
    row) do not reach the readers' caches.
    """
    return int(conn.execute(text(
        "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_xact_user_tables "
        "WHERE schemaname NOT LIKE 'pg\\_temp%' AND relname <> ALL(:skip)"
    ), {"skip": list(_BOOKKEEPING)}).scalar_one())


# SQLSTATEs of failures an operator should read as a reason, not as a program error.
_DB_REASONS = {
    "53100": "数据库磁盘已满", "53200": "数据库内存不足", "53300": "数据库连接数已满", "53400": "超出数据库配置限制",
    "55P03": "等待锁超时", "57014": "语句超时或被取消", "40P01": "与其他事务死锁", "40001": "并发冲突，请重试",
    "57P01": "数据库服务器正在关闭", "57P02": "数据库服务器崩溃重启", "57P03": "数据库服务器尚未就绪",
    "25P03": "事务空闲超时", "58030": "数据库文件读写错误",
}


def describe_db_error(exc: BaseException) -> str:
    """Chinese one-line reason for a database failure, with the server's first line."""
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).strip().splitlines() or [type(orig).__name__])[0][:300]
    code = getattr(orig, "pgcode", None)
    if code in _DB_REASONS:
        return f"{_DB_REASONS[code]} ({first})"
    if code is None and isinstance(exc, DBAPIError) and type(orig).__name__ == "OperationalError":
        return f"数据库连接失败或中断 ({first})"
    return f"{type(orig).__name__}: {first}"


Reject = tuple[int, Mapping[str, Any], Sequence[str]]
Finding = tuple[str, str | None, str, str]


def insert_rejects(conn: Connection, *, run_id: int, rejects: Iterable[Reject]) -> int:
    """Store rejected rows (row number as the user sees it, raw cells, Chinese reasons) with COPY."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    count = 0
    for row_number, raw, errors in rejects:
        writer.writerow((run_id, row_number, json.dumps(raw, ensure_ascii=False),
                         json.dumps(list(errors), ensure_ascii=False)))
        count += 1
    if count:
        _copy(conn, "COPY etl_rejects (run_id, row_number, raw, errors) FROM STDIN WITH (FORMAT csv)", buf)
    return count


def recent_runs(conn: Connection, *, limit: int = 20, job: str | None = None) -> list[dict[str, Any]]:
    """Return the most recent runs, newest first, with their duration in seconds."""
    rows = conn.execute(
        text(
            "SELECT id, job, source, sha256, status, started_at, finished_at, rows_in, rows_loaded, rows_rejected, "
            "message, EXTRACT(EPOCH FROM (finished_at - started_at)) AS seconds FROM etl_runs "
            "WHERE CAST(:job AS text) IS NULL OR job = :job ORDER BY id DESC LIMIT :limit"
        ),
        {"limit": limit, "job": job},
    ).mappings()
    return [dict(r) for r in rows]


def run_rejects(conn: Connection, *, run_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """Return the first rejected rows of a run, by row number."""
    rows = conn.execute(
        text("SELECT row_number, raw, errors FROM etl_rejects WHERE run_id = :run_id "
             "ORDER BY row_number, id LIMIT :limit"),
        {"run_id": run_id, "limit": limit},
    ).mappings()
    return [dict(r) for r in rows]


def run_findings(conn: Connection, *, run_id: int) -> list[dict[str, Any]]:
    """Data-quality findings written by a run."""
    rows = conn.execute(
        text("SELECT entity, entity_key, kind, detail FROM dq_findings WHERE run_id = :run_id ORDER BY id"),
        {"run_id": run_id},
    ).mappings()
    return [dict(r) for r in rows]


# A finding is recorded once: not again while an identical one (entity, key, kind, detail) is stored.
_NEW_FINDING = ("NOT EXISTS (SELECT 1 FROM dq_findings d WHERE d.entity = {f}.entity AND d.entity_key = {f}.entity_key "
                "AND d.kind = {f}.kind AND d.detail IS NOT DISTINCT FROM {f}.detail)")


def _insert_new_findings(conn: Connection, select: str, params: Mapping[str, Any], *, once: bool = True) -> int:
    """INSERT the findings that ``select`` yields; return how many were recorded.

    ``select`` has the columns entity, entity_key, kind, detail; with ``once`` only the findings not
    already recorded are inserted.
    """
    where = f"WHERE {_NEW_FINDING.format(f='f')}" if once else ""
    return int(conn.execute(text(
        "INSERT INTO dq_findings (run_id, entity, entity_key, kind, detail) "  # noqa: S608
        f"SELECT :run_id, f.entity, f.entity_key, f.kind, f.detail FROM ({select}) f {where}"
    ), params).rowcount)


def insert_findings(conn: Connection, *, run_id: int | None, findings: Iterable[Finding]) -> int:
    """Store data-quality findings ``(entity, entity_key, kind, detail)`` not already recorded; return how many."""
    added = 0
    for e, k, kind, d in findings:
        added += _insert_new_findings(
            conn, "SELECT CAST(:entity AS text) AS entity, CAST(:key AS text) AS entity_key, "
                  "CAST(:kind AS text) AS kind, CAST(:detail AS text) AS detail",
            {"run_id": run_id, "entity": e, "key": k, "kind": kind, "detail": d})
    return added


# How often the server checks, while a load's statement runs, that the client is still there
# (PostgreSQL 14+): a killed loader's statement is aborted (and its locks freed) within about this long.
CLIENT_CHECK_MS = 1000


def set_load_timeout(conn: Connection, *, ms: int) -> None:
    """Give the load transaction its own statement timeout (0 = none) and the dead-client check."""
    conn.execute(text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": str(int(ms))})
    conn.execute(text("SELECT set_config('client_connection_check_interval', :ms, true) "
                      "WHERE current_setting('server_version_num')::int >= 140000"), {"ms": str(CLIENT_CHECK_MS)})


# --- lookups used by validation ---------------------------------------------------------------

def city_boundary(conn: Connection) -> tuple[bytes | None, str | None]:
    """WKB of the union of the level-1 units (the city) and their names, or (None, None)."""
    row = conn.execute(
        text("SELECT ST_AsBinary(ST_Union(geom)) AS wkb, string_agg(name, '、' ORDER BY code) AS name "
             "FROM units WHERE level = 1 AND geom IS NOT NULL")
    ).one()
    return (bytes(row.wkb) if row.wkb is not None else None), row.name


def units_by_code(conn: Connection, *, codes: Sequence[str]) -> dict[str, int]:
    """Level of each existing unit among ``codes``."""
    rows = conn.execute(text("SELECT code, level FROM units WHERE code = ANY(:codes)"), {"codes": list(codes)})
    return {r.code: int(r.level) for r in rows}


def enterprises_by_credit_code(conn: Connection, *, codes: Sequence[str]) -> set[str]:
    """Return the credit codes among ``codes`` that exist in ``enterprises``."""
    rows = conn.execute(text("SELECT credit_code FROM enterprises WHERE credit_code = ANY(:codes)"),
                        {"codes": list(codes)})
    return {r.credit_code for r in rows}


def count_rows(conn: Connection, *, table: str) -> int:
    """Row count of one of the loaded tables."""
    if table not in TABLES:
        raise ValueError(table)
    return int(conn.execute(text(f"SELECT count(*) FROM {_q(table)}")).scalar_one())  # noqa: S608


TABLES = ("units", "persons", "duties", "enterprises", "enterprise_risk_history", "hazard_sources", "hazards",
          "hazard_events", "inspections", "dq_findings", "etl_rejects", "etl_runs")


# --- staging ----------------------------------------------------------------------------------

STAGE = "etl_stage"


def lock_loads(conn: Connection, *, kind: str) -> None:
    """Serialise loads into the same table for the rest of the transaction (an advisory lock).

    Only the loaders insert ledger rows, so with this lock a row that the upsert's join did not find
    cannot appear before the INSERT: new rows are inserted without ``ON CONFLICT`` (no speculative
    insertion per row). Readers are not blocked; a second load of the same kind waits for the first.
    """
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": ledger_kind(kind).lock_key})


def create_stage(conn: Connection, *, kind: str) -> None:
    """Create the temporary staging table of ``kind`` (dropped at commit or rollback).

    Located kinds get a generated point column, filled while COPY runs.
    """
    record = ledger_kind(kind)
    cols = ", ".join(f"{_q(name)} {pgtype}" for name, pgtype in record.stage_columns.items())
    if record.located:
        cols += (", geom geometry(Point, 4326) GENERATED ALWAYS AS (CASE WHEN lon IS NOT NULL AND lat IS NOT NULL "
                 "THEN ST_SetSRID(ST_MakePoint(lon, lat), 4326) END) STORED")
    conn.execute(text(f"DROP TABLE IF EXISTS {STAGE}"))
    conn.execute(text(f"CREATE TEMP TABLE {STAGE} (row_number int PRIMARY KEY, {cols}) ON COMMIT DROP"))


def _copy(conn: Connection, sql: str, buf: io.StringIO) -> None:
    buf.seek(0)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.copy_expert(sql, buf)
    finally:
        cursor.close()


def _csv_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return "t" if value else "f"
    return value


def copy_stage(conn: Connection, *, kind: str, rows: Sequence[tuple[int, Mapping[str, Any]]],
               columns: Iterable[str] | None = None) -> int:
    """COPY validated rows ``(row_number, values)`` into the staging table.

    ``columns`` (the keys the rows can have) limits the COPY to them; the other columns stay NULL.
    """
    wanted = None if columns is None else set(columns)
    names = [n for n in ledger_kind(kind).stage_columns if wanted is None or n in wanted]
    buf = io.StringIO()
    writer = csv.writer(buf)
    # PostgreSQL reads Python's True/False as booleans and an empty unquoted field as NULL.
    writer.writerows([number, *map(values.get, names)] for number, values in rows)
    cols = ", ".join(["row_number", *(_q(n) for n in names)])
    # Empty fields are NULL in CSV COPY; csv.writer writes None as an empty unquoted field.
    _copy(conn, f"COPY {STAGE} ({cols}) FROM STDIN WITH (FORMAT csv)", buf)
    return len(rows)


# --- upserts ----------------------------------------------------------------------------------

def upsert_sql(kind: str, present: set[str]) -> str:
    """Build the set-based upsert of ``kind`` for the columns present in the file (absent ones are left alone).

    One join finds the staged rows that are new or differ from the stored row; the new ones are
    inserted plainly (the caller holds ``lock_loads``), the stored ones go through
    ``INSERT … ON CONFLICT … DO UPDATE … WHERE (old) IS DISTINCT FROM (new)``.
    """
    record = ledger_kind(kind)
    key, location = record.key[0], record.location
    plain = [c for c in record.copied if c in present]
    # A file without coordinate columns leaves the stored locations alone when the kind's point is its
    # own (enterprises); kinds that take a joined row's point (their enterprise's) recompute it.
    skip_geom = location is not None and location.point_from is None and "lon" not in present
    computed = list(record.computed)
    if location is not None and not skip_geom:
        point = "s.geom" if location.point_from is None else f"COALESCE(s.geom, {location.point_from}.geom)"
        computed.append(("geom", point))
    cols = [*plain, *(c for c, _ in computed)]
    bools = record.not_null_bools
    exprs = [f"COALESCE(s.{_q(c)}, false)" if c in bools else f"s.{_q(c)}" for c in plain]
    exprs += [e for _, e in computed]
    sets = [f"{_q(c)} = EXCLUDED.{_q(c)}" for c in cols]
    old = [f"t.{_q(c)}" for c in cols]
    new = [f"EXCLUDED.{_q(c)}" for c in cols]
    joins = record.joins
    if location is not None:
        # Located rows take the grid cell found for their staged point (locate_stage); rows without a
        # point of their own take the fallback (grid code, unit code or their enterprise's cell).
        joins += f" LEFT JOIN {HITS} h ON h.row_number = s.row_number"
        cols.append("unit_id")
        exprs.append(f"CASE WHEN s.geom IS NOT NULL THEN h.cell_id ELSE {location.fallback_unit} END")
        if skip_geom:
            keep = "CASE WHEN t.geom IS NULL THEN EXCLUDED.unit_id ELSE t.unit_id END"
            sets.append(f"unit_id = {keep}")
            new.append(keep)
        else:
            sets.append("unit_id = EXCLUDED.unit_id")
            new.append("EXCLUDED.unit_id")
        old.append("t.unit_id")
    sets.append("source_run_id = EXCLUDED.source_run_id")
    if record.has_updated_at:
        sets.append("updated_at = now()")
    # H3 cells follow the point but are derived, not data: written with it, never compared, so rows
    # stored before the loaders computed cells are not "changed" by a reload (the refresh fills those).
    derived: list[tuple[str, str]] = []
    if location is not None and not skip_geom:
        own = ("s.{c}" if location.point_from is None
               else f"CASE WHEN s.geom IS NULL THEN {location.point_from}.{{c}} ELSE s.{{c}} END")
        derived = [(c, own.format(c=_q(c))) for c in H3_CELL_COLUMNS]
    sets += [f"{_q(c)} = EXCLUDED.{_q(c)}" for c, _ in derived]
    out_cols = [*cols, *(c for c, _ in derived)]
    table = _q(record.table_name)
    col_list = ", ".join([_q(key), *(_q(c) for c in out_cols), "source_run_id"])
    # Rows already stored exactly as staged are left out before the INSERT (a hash join instead of
    # one speculative insertion + conflict per row); the DO UPDATE … WHERE below stays the rule.
    staged = list(exprs)
    if location is not None and skip_geom:
        staged[-1] = f"CASE WHEN o.geom IS NULL THEN {exprs[-1]} ELSE o.unit_id END"
    unchanged = (f"LEFT JOIN {table} o ON o.{_q(key)} = s.{_q(key)} "
                 f"WHERE o.{_q(key)} IS NULL OR ({', '.join(f'o.{_q(c)}' for c in cols)}) "
                 f"IS DISTINCT FROM ({', '.join(staged)})")
    owned_o = record.app_owned.format(t="o") if record.app_owned else "false"
    # The DO UPDATE re-checks ownership on the latest row: an app transition committed meanwhile wins.
    keep_app = f" AND NOT {record.app_owned.format(t='t')}" if record.app_owned else ""
    conflict = (f"ON CONFLICT ({_q(key)}) DO UPDATE SET {', '.join(sets)} "
                f"WHERE ({', '.join(old)}) IS DISTINCT FROM ({', '.join(new)}){keep_app} "
                "RETURNING (xmax = 0) AS inserted")
    # Rows with no stored row are plain INSERTs: no speculative insertion + conflict check per row
    # (~0.4 s of server CPU per 100k new enterprises); lock_loads keeps other loads out meanwhile.
    names = [key, *out_cols, "source_run_id"]
    picked = ", ".join(f"{e} AS {_q(n)}" for e, n in zip(
        [f"s.{_q(key)}", *exprs, *(e for _, e in derived), "CAST(:run_id AS int)"], names, strict=True))
    listed = ", ".join(_q(n) for n in names)
    return (
        f"WITH src AS MATERIALIZED (SELECT {picked}, o.{_q(key)} IS NOT NULL AS stored, "  # noqa: S608
        f"s.row_number AS sg_row, (o.{_q(key)} IS NOT NULL AND {owned_o}) AS app_kept "
        f"FROM {STAGE} s {joins} {unchanged}), "
        f"ins AS (INSERT INTO {table} ({col_list}) SELECT {listed} FROM src WHERE NOT stored RETURNING 1), "
        f"up AS (INSERT INTO {table} AS t ({col_list}) SELECT {listed} FROM src WHERE stored AND NOT app_kept "
        f"{conflict}) "
        "SELECT (SELECT count(*) FROM ins) + (SELECT count(*) FROM up WHERE inserted) AS inserted, "
        "(SELECT count(*) FROM up WHERE NOT inserted) AS updated, "
        "(SELECT coalesce(array_agg(sg_row ORDER BY sg_row), '{}') FROM src WHERE app_kept) AS app_kept"
    )


def upsert_ledger(conn: Connection, *, kind: str, present: set[str], run_id: int,
                  timings: dict[str, float] | None = None, kept: list[int] | None = None) -> dict[str, int]:
    """Move the staged rows of ``kind`` into their table; return inserted/updated counts.

    ``kept`` (optional) gets the row numbers of staged rows that differ from a row the app owns
    (``LedgerKind.app_owned``): those are not applied.

    ``timings`` (optional) gets the seconds of the upsert and of the history added to ``upsert`` and
    ``history``. The caller holds ``lock_loads`` (the upsert inserts new rows without ON CONFLICT).
    """
    record = ledger_kind(kind)
    if record.upsert != "table":
        with timed(timings, "upsert"):
            return _UPSERTS[record.upsert](conn, present=present, run_id=run_id)
    history = record.history if record.history is not None and record.history.column in present else None
    if history is not None:
        with timed(timings, "history"):
            key = _q(record.key[0])
            conn.execute(text(  # the watched column of the staged rows before the upsert
                f"CREATE TEMP TABLE etl_prev ON COMMIT DROP AS SELECT s.{key} AS key, t.id, "  # noqa: S608
                f"t.{_q(history.column)} AS old FROM {STAGE} s LEFT JOIN {_q(record.table_name)} t ON t.{key} = s.{key}"
            ))
    with timed(timings, "upsert"):
        row = conn.execute(text(upsert_sql(kind, present)), {"run_id": run_id}).one()
    counts = {"inserted": int(row.inserted), "updated": int(row.updated)}
    if kept is not None:
        kept.extend(int(n) for n in row.app_kept)
    if history is not None:
        with timed(timings, "history"):
            changes = conn.execute(text(history.sql), {"by": f"etl:{run_id}"}).rowcount
            conn.execute(text("DROP TABLE etl_prev"))
        counts[history.counted] = int(changes)
    return counts


def staged_keys_of(conn: Connection, *, kind: str, row_numbers: Sequence[int]) -> list[tuple[int, str]]:
    """Return (row number, natural key) of the given staged rows of ``kind``."""
    key = _q(ledger_kind(kind).key[0])
    rows = conn.execute(text(f"SELECT row_number, {key} FROM {STAGE} WHERE row_number = ANY(:rows) "  # noqa: S608
                             "ORDER BY row_number"), {"rows": list(row_numbers)})
    return [(int(n), str(k)) for n, k in rows]


def _upsert_persons(conn: Connection, *, present: set[str], run_id: int) -> dict[str, int]:
    """Persons by ``person_key`` (explicit, or name+phone), then duties by (unit, role, seq)."""
    person_cols = [c for c in ("phone", "org", "title") if c in present]
    sets = ", ".join(["name = EXCLUDED.name", *(f"{_q(c)} = EXCLUDED.{_q(c)}" for c in person_cols)])
    old = ", ".join(["t.name", *(f"t.{_q(c)}" for c in person_cols)])
    new = ", ".join(["EXCLUDED.name", *(f"EXCLUDED.{_q(c)}" for c in person_cols)])
    cols = ", ".join(["person_key", "name", *(_q(c) for c in person_cols)])
    picked = ", ".join(["s.person_key", "s.name", *(f"s.{_q(c)}" for c in person_cols)])
    persons = conn.execute(text(
        f"WITH up AS (INSERT INTO persons AS t ({cols}) "  # noqa: S608 (whitelisted identifiers)
        f"SELECT DISTINCT ON (s.person_key) {picked} FROM {STAGE} s ORDER BY s.person_key, s.row_number DESC "
        f"ON CONFLICT (person_key) DO UPDATE SET {sets} WHERE ({old}) IS DISTINCT FROM ({new}) "
        "RETURNING (xmax = 0) AS inserted) "
        "SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated FROM up"
    )).one()
    since = "s.since" if "since" in present else "NULL::date"
    since_set = ", since = EXCLUDED.since" if "since" in present else ""
    since_cmp = (", t.since", ", EXCLUDED.since") if "since" in present else ("", "")
    duties = conn.execute(text(
        "WITH up AS (INSERT INTO duties AS t (unit_id, person_id, role, seq, since) "  # noqa: S608
        f"SELECT u.id, p.id, s.role, s.seq, {since} FROM {STAGE} s JOIN units u ON u.code = s.unit_code "
        "JOIN persons p ON p.person_key = s.person_key "
        f"ON CONFLICT (unit_id, role, seq) WHERE until IS NULL DO UPDATE SET person_id = EXCLUDED.person_id{since_set} "
        f"WHERE (t.person_id{since_cmp[0]}) IS DISTINCT FROM (EXCLUDED.person_id{since_cmp[1]}) "
        "RETURNING (xmax = 0) AS inserted) "
        "SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated FROM up"
    )).one()
    return {"inserted": int(duties.inserted), "updated": int(duties.updated),
            "persons_inserted": int(persons.inserted), "persons_updated": int(persons.updated)}


# Upserts of kinds whose rows go to more than one table (LedgerKind.upsert names them).
_UPSERTS = {"persons": _upsert_persons}
HITS = "etl_stage_hits"


def locate_stage(conn: Connection, *, kind: str, run_id: int, cells: int | None = None) -> dict[str, int]:
    """Find the grid cell of every staged point before the upsert (cells as the outer loop).

    Writes ``no_grid_cell`` / ``on_grid_border`` findings for the file's rows (not those already
    recorded); the upsert then sets ``unit_id`` in the same write as the row, so no second pass over
    the target table is needed. ``cells``: the number of grid cells when the caller knows it (saves a
    count per batch). Returns the points in a cell, in none, on a border, and the new ``findings``.
    """
    record = ledger_kind(kind)
    entity, key = record.table_name, record.key[0]
    conn.execute(text(f"DROP TABLE IF EXISTS {HITS}"))
    conn.execute(text(f"CREATE TEMP TABLE {HITS} (row_number int, cell_id int, code text, n int) ON COMMIT DROP"))
    if not (grid_cell_count(conn) if cells is None else cells):
        return {"in_cell": 0, "no_cell": 0, "on_border": 0, "findings": 0}
    conn.execute(text(f"CREATE INDEX ON {STAGE} USING gist (geom)"))
    _raise_work_mem(conn)
    # One row per located point: its cell (smallest code on a border, cell id fixed below) and how
    # many cells it touches.
    located = conn.execute(text(
        f"INSERT INTO {HITS} SELECT s.row_number, min(c.id), min(c.code), count(*) "  # noqa: S608
        "FROM units c CROSS JOIN LATERAL ("
        f" SELECT s.row_number FROM {STAGE} s WHERE s.geom && c.geom AND ST_Intersects(c.geom, s.geom)"
        ") s WHERE c.level = 5 AND c.geom IS NOT NULL GROUP BY s.row_number"
    )).rowcount
    conn.execute(text(f"ANALYZE {HITS}"))
    conn.execute(text(f"UPDATE {HITS} h SET cell_id = u.id FROM units u WHERE h.n > 1 AND u.code = h.code"))  # noqa: S608
    params = {"run_id": run_id, "entity": entity}
    points = conn.execute(text(f"SELECT count(*) FROM {STAGE} WHERE geom IS NOT NULL")).scalar_one()  # noqa: S608
    missed = int(points) - int(located)
    added = 0
    if missed:
        added += _insert_new_findings(conn, (
            f"SELECT CAST(:entity AS text) AS entity, s.{_q(key)} AS entity_key, 'no_grid_cell' AS kind, "  # noqa: S608
            "format('坐标 (%s, %s) 不在任何网格内', round(ST_X(s.geom)::numeric, 6), round(ST_Y(s.geom)::numeric, 6)) "
            f"AS detail FROM {STAGE} s LEFT JOIN {HITS} h ON h.row_number = s.row_number "
            "WHERE s.geom IS NOT NULL AND h.row_number IS NULL"
        ), params)
    border = int(conn.execute(text(f"SELECT count(*) FROM {HITS} WHERE n > 1")).scalar_one())  # noqa: S608
    if border:
        added += _insert_new_findings(conn, (
            f"SELECT CAST(:entity AS text) AS entity, s.{_q(key)} AS entity_key, 'on_grid_border' AS kind, "  # noqa: S608
            f"format('位于 %s 个网格的边界上 (%s)，已归入 %s', h.n, ({_BORDER_CODES.format(point='s.geom')}), h.code) "
            f"AS detail FROM {HITS} h JOIN {STAGE} s ON s.row_number = h.row_number WHERE h.n > 1"
        ), params)
    return {"in_cell": int(located), "no_cell": missed, "on_border": border, "findings": added}


# Every cell a border point touches (few points: the same test again, per point).
_BORDER_CODES = ("SELECT string_agg(c.code, '、' ORDER BY c.code) FROM units c "
                 "WHERE c.level = 5 AND c.geom && {point} AND ST_Intersects(c.geom, {point})")


def _raise_work_mem(conn: Connection) -> None:
    """Give this transaction at least ``ASSIGN_WORK_MEM_KB`` of work_mem (never less than configured)."""
    conn.execute(text(
        "SELECT set_config('work_mem', greatest(pg_size_bytes(current_setting('work_mem')) / 1024, :kb) || 'kB', true)"
    ), {"kb": ASSIGN_WORK_MEM_KB})


# --- grid assignment --------------------------------------------------------------------------

# Located tables → their key, following the registry (kinds registered later included).
LOCATED: RegistryView[str] = RegistryView(
    lambda: {k.table_name: k.key[0] for k in LEDGER_KINDS.values() if k.located})

# Polygons as the outer loop: for each grid cell, probe the points' GiST index with the cell's box.
# On 1M points PostGIS' default plan (points outer, one index probe into the cells per point, then a
# full ST_Intersects on the big polygons) is several times slower; bench/bench_etl.py measures both.
_HITS_LATERAL = (
    "SELECT p.id, p.unit_id, c.id AS cell_id, c.code AS cell_code FROM units c CROSS JOIN LATERAL ("
    " SELECT p.id, p.unit_id FROM {table} p WHERE p.geom && c.geom AND ST_Intersects(c.geom, p.geom) {scope}"
    ") p WHERE c.level = 5 AND c.geom IS NOT NULL"
)
_HITS_JOIN = (
    "SELECT p.id, p.unit_id, c.id AS cell_id, c.code AS cell_code FROM {table} p "
    "JOIN units c ON c.level = 5 AND ST_Intersects(c.geom, p.geom) WHERE p.geom IS NOT NULL {scope}"
)
# The per-point aggregate of 1M hits fits in memory with this much (default 4 MB spills to disk).
ASSIGN_WORK_MEM_KB = 128 * 1024


def grid_cell_count(conn: Connection) -> int:
    """How many level-5 units have a geometry."""
    return int(conn.execute(text("SELECT count(*) FROM units WHERE level = 5 AND geom IS NOT NULL")).scalar_one())


def assign_grid_cells(conn: Connection, *, table: str, run_id: int | None, only_run: bool = False,
                      method: str = "lateral", once: bool = True) -> dict[str, int]:
    """Place every located row of ``table`` in its grid cell in set-based statements; report misses.

    Points in no cell get ``unit_id`` NULL and a ``no_grid_cell`` finding; points on a border (in
    several cells) take the cell with the smallest code and get an ``on_grid_border`` finding.
    With ``once`` (a boundary load) findings already recorded are not recorded again; ``safegrid etl
    assign`` passes False and records the whole audit under its own run. ``no_cell``/``on_border``
    count the points either way.
    """
    if table not in LOCATED:
        raise ValueError(table)
    key = LOCATED[table]
    scope = "AND p.source_run_id = :run_id" if only_run else ""
    template = _HITS_LATERAL if method == "lateral" else _HITS_JOIN
    params = {"run_id": run_id}
    conn.execute(text("DROP TABLE IF EXISTS etl_best"))
    _raise_work_mem(conn)
    # One row per located point straight from the join: its cell (smallest code on a border; the cell
    # id is fixed below for those), how many cells it touches, and its current cell.
    located = conn.execute(text(
        "CREATE TEMP TABLE etl_best ON COMMIT DROP AS SELECT h.id, min(h.cell_id) AS cell_id, "  # noqa: S608
        "min(h.cell_code) AS code, count(*) AS n, min(h.unit_id) AS old "
        f"FROM ({template.format(table=_q(table), scope=scope)}) h GROUP BY h.id"
    ), params).rowcount
    conn.execute(text("ANALYZE etl_best"))  # temp tables have no statistics: the joins below need them
    conn.execute(text("UPDATE etl_best b SET cell_id = u.id FROM units u WHERE b.n > 1 AND u.code = b.code"))
    changed = conn.execute(text(
        f"UPDATE {_q(table)} t SET unit_id = b.cell_id FROM etl_best b "  # noqa: S608
        "WHERE b.old IS DISTINCT FROM b.cell_id AND t.id = b.id"
    )).rowcount
    tscope = "AND t.source_run_id = :run_id" if only_run else ""
    with_geom = conn.execute(text(
        f"SELECT count(*) FROM {_q(table)} t WHERE t.geom IS NOT NULL {tscope}"  # noqa: S608
    ), params).scalar_one()
    missed = 0
    if with_geom > located:  # some points are in no cell: find them (anti-join), clear and report them
        new = f"AND {_NEW_FINDING.format(f='f')}" if once else ""
        missed = conn.execute(text(
            f"WITH missed AS (SELECT t.id, t.{_q(key)} AS key, t.geom, t.unit_id FROM {_q(table)} t "  # noqa: S608
            f"WHERE t.geom IS NOT NULL {tscope} AND NOT EXISTS (SELECT 1 FROM etl_best b WHERE b.id = t.id)), "
            f"cleared AS (UPDATE {_q(table)} t SET unit_id = NULL FROM missed m "
            "WHERE t.id = m.id AND m.unit_id IS NOT NULL), "
            "f AS (SELECT CAST(:entity AS text) AS entity, m.key AS entity_key, 'no_grid_cell' AS kind, "
            "format('坐标 (%s, %s) 不在任何网格内', round(ST_X(m.geom)::numeric, 6), round(ST_Y(m.geom)::numeric, 6)) "
            "AS detail FROM missed m), "
            "ins AS (INSERT INTO dq_findings (run_id, entity, entity_key, kind, detail) "
            f"SELECT :run_id, f.entity, f.entity_key, f.kind, f.detail FROM f WHERE true {new}) "
            "SELECT count(*) FROM f"
        ), {**params, "entity": table}).scalar_one()
    # Points on a border are few: their cells are listed again with the same test.
    border = conn.execute(text("SELECT count(*) FROM etl_best WHERE n > 1")).scalar_one()
    if border:
        _insert_new_findings(conn, (
            f"SELECT CAST(:entity AS text) AS entity, t.{_q(key)} AS entity_key, 'on_grid_border' AS kind, "  # noqa: S608
            f"format('位于 %s 个网格的边界上 (%s)，已归入 %s', b.n, ({_BORDER_CODES.format(point='t.geom')}), b.code) "
            f"AS detail FROM etl_best b JOIN {_q(table)} t ON t.id = b.id WHERE b.n > 1"
        ), {**params, "entity": table}, once=once)
    conn.execute(text("DROP TABLE etl_best"))
    return {"in_cell": int(located), "changed": int(changed), "no_cell": int(missed), "on_border": int(border)}


# --- boundaries -------------------------------------------------------------------------------

UNIT_STAGE = "etl_unit_stage"


def create_unit_stage(conn: Connection) -> None:
    """Create the temporary staging table for boundary features."""
    conn.execute(text(f"DROP TABLE IF EXISTS {UNIT_STAGE}"))
    conn.execute(text(
        f"CREATE TEMP TABLE {UNIT_STAGE} (row_number int PRIMARY KEY, code text, name text, level smallint, "
        "kind text, parent_code text, is_statutory bool, is_demo bool, geom geometry) ON COMMIT DROP"
    ))


def copy_unit_stage(conn: Connection, *, rows: Sequence[Mapping[str, Any]]) -> int:
    """COPY boundary features (geometry as hex WKB, lon/lat WGS84) into the staging table."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    names = ("row_number", "code", "name", "level", "kind", "parent_code", "is_statutory", "is_demo", "geom")
    for row in rows:
        writer.writerow([_csv_value(row.get(n)) for n in names])
    _copy(conn, f"COPY {UNIT_STAGE} ({', '.join(names)}) FROM STDIN WITH (FORMAT csv)", buf)
    return len(rows)


def repair_unit_geometries(conn: Connection) -> list[dict[str, Any]]:
    """Make staged geometries valid 2D MultiPolygons in EPSG:4326; return what was repaired and why."""
    repaired = conn.execute(text(
        f"WITH bad AS (SELECT row_number, ST_IsValidReason(geom) AS reason FROM {UNIT_STAGE} "  # noqa: S608
        "WHERE NOT ST_IsValid(geom)) "
        f"UPDATE {UNIT_STAGE} s SET geom = ST_CollectionExtract(ST_MakeValid(s.geom), 3) FROM bad "
        "WHERE s.row_number = bad.row_number RETURNING s.row_number, s.code, bad.reason, ST_IsEmpty(s.geom) AS empty"
    )).mappings().all()
    conn.execute(text(f"UPDATE {UNIT_STAGE} SET geom = ST_SetSRID(ST_Multi(ST_Force2D(geom)), 4326)"))  # noqa: S608
    return [dict(r) for r in repaired]


def delete_unit_stage_rows(conn: Connection, *, row_numbers: Sequence[int]) -> None:
    """Drop rejected features from the staging table."""
    conn.execute(text(f"DELETE FROM {UNIT_STAGE} WHERE row_number = ANY(:rows)"), {"rows": list(row_numbers)})  # noqa: S608


def staged_levels(conn: Connection) -> list[int]:
    """Distinct levels in the boundary staging table, top-down."""
    return [int(r[0]) for r in conn.execute(text(f"SELECT DISTINCT level FROM {UNIT_STAGE} ORDER BY 1"))]  # noqa: S608


def orphan_units(conn: Connection, *, level: int) -> list[dict[str, Any]]:
    """Staged features of ``level`` whose parent code is neither in ``units`` nor loaded before them."""
    rows = conn.execute(text(
        f"SELECT s.row_number, s.code, s.parent_code FROM {UNIT_STAGE} s "  # noqa: S608
        "LEFT JOIN units p ON p.code = s.parent_code "
        "WHERE s.level = :level AND s.parent_code IS NOT NULL AND p.id IS NULL ORDER BY s.row_number"
    ), {"level": level}).mappings()
    return [dict(r) for r in rows]


def upsert_units(conn: Connection, *, level: int, run_id: int, edition: str) -> dict[str, int]:
    """Insert or update the staged units of one level under their (already loaded) parents."""
    row = conn.execute(text(
        "WITH up AS (INSERT INTO units AS t (code, code_edition, name, level, kind, is_statutory, parent_id, path, "  # noqa: S608
        "geom, label_point, area_km2, is_demo_geometry, source_run_id) "
        "SELECT s.code, :edition, s.name, s.level, s.kind, s.is_statutory, p.id, "
        "COALESCE(p.path, '') || s.code || '.', "
        "s.geom, ST_PointOnSurface(s.geom), ST_Area(s.geom::geography) / 1e6, COALESCE(s.is_demo, false), :run_id "
        f"FROM {UNIT_STAGE} s LEFT JOIN units p ON p.code = s.parent_code WHERE s.level = :level "
        "ON CONFLICT (code) DO UPDATE SET code_edition = EXCLUDED.code_edition, name = EXCLUDED.name, "
        "level = EXCLUDED.level, kind = EXCLUDED.kind, is_statutory = EXCLUDED.is_statutory, "
        "parent_id = EXCLUDED.parent_id, path = EXCLUDED.path, geom = EXCLUDED.geom, "
        "label_point = EXCLUDED.label_point, area_km2 = EXCLUDED.area_km2, "
        "is_demo_geometry = EXCLUDED.is_demo_geometry, source_run_id = EXCLUDED.source_run_id, updated_at = now() "
        "WHERE (t.code_edition, t.name, t.level, t.kind, t.is_statutory, t.parent_id, t.path, t.geom, "
        "t.is_demo_geometry) "
        "IS DISTINCT FROM (EXCLUDED.code_edition, EXCLUDED.name, EXCLUDED.level, EXCLUDED.kind, EXCLUDED.is_statutory, "
        "EXCLUDED.parent_id, EXCLUDED.path, EXCLUDED.geom, EXCLUDED.is_demo_geometry) "
        "RETURNING (xmax = 0) AS inserted) "
        "SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated FROM up"
    ), {"level": level, "run_id": run_id, "edition": edition}).one()
    return {"inserted": int(row.inserted), "updated": int(row.updated)}


def units_outside_parent(conn: Connection, *, min_share: float) -> list[dict[str, Any]]:
    """Staged units with less than ``min_share`` of their area inside their parent's polygon."""
    rows = conn.execute(text(
        "SELECT c.code, c.name, p.code AS parent_code, p.name AS parent_name, share FROM ("  # noqa: S608
        " SELECT u.code, u.name, u.parent_id, "
        " ST_Area(ST_Intersection(u.geom, pu.geom)::geography) / NULLIF(ST_Area(u.geom::geography), 0) AS share "
        f" FROM {UNIT_STAGE} s JOIN units u ON u.code = s.code JOIN units pu ON pu.id = u.parent_id "
        " WHERE u.geom IS NOT NULL AND pu.geom IS NOT NULL AND NOT ST_Within(u.geom, pu.geom)"
        ") c JOIN units p ON p.id = c.parent_id WHERE share < :min_share ORDER BY c.code"
    ), {"min_share": min_share}).mappings()
    return [dict(r) for r in rows]
