"""SQL of the derived-layer refresh: staging tables, roll-ups, top contributors and the swap.

Everything is computed into session temporary tables (``stage_*``); ``swap`` then replaces the
published rows in one short transaction with UPDATE / DELETE + INSERT, which only take row locks,
so readers keep seeing the previous rows until it commits and never wait (no TRUNCATE, no
ACCESS EXCLUSIVE lock on tables readers use).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from importlib import resources
from typing import Any

import numpy as np
from sqlalchemy import Connection, text

from domain.cadence import CadenceRule, sql_windows
from domain.cadence import rule_from_config as cadence_rule_from_config
from domain.rules_config import DEFAULT_STAFFING, parse_stock_cutoff, staffing_from_config
from geo.models import UnitStats

LOCK_KEY = 4110_0004  # pg advisory lock: one refresh at a time per database
# Sort / hash memory of the refresh transaction: ranks a million enterprises in memory, not on disk.
WORK_MEM = "256MB"
DERIVED = ("units_display", "unit_stats", "h3_stats")  # unit_cadence is published with unit_stats
STAT_INPUTS = (
    "enterprises", "ent_red", "ent_orange", "ent_yellow", "ent_blue", "ent_unassessed", "hazards_open",
    "hazards_overdue", "hazards_major_open", "hazards_supervised", "hazards_stock_open", "hazards_increment_open",
    "sources_g1", "sources_g2", "sources_g3", "sources_g4", "persons_present", "persons_required",
    "vacancies_subtree", "last_inspection_at", "inspection_overdue", "children",
)
H3_COLUMNS = (
    "res", "cell", "enterprises", "ent_red", "ent_orange", "ent_yellow", "ent_blue", "hazards_open",
    "hazards_major_open", "hazards_overdue", "sources", "risk_score", "geom",
)


def _sql(name: str) -> str:
    return resources.files("geo").joinpath("sql", name).read_text(encoding="utf-8")


def _copy_escape(value: str) -> str:
    """Escape a COPY text field (str.replace: ``str.translate`` is ~50× slower on non-ASCII text)."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_in(conn: Connection, statement: str, rows: Iterable[Sequence[Any]]) -> int:
    """COPY rows into a table (text format: backslashes, tabs and newlines escaped, None as NULL)."""
    buf = io.StringIO()
    n = 0
    for row in rows:
        buf.write("\t".join("\\N" if v is None else _copy_escape(str(v)) for v in row))
        buf.write("\n")
        n += 1
    buf.seek(0)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.copy_expert(statement, buf)
    return n


def _copy_out(conn: Connection, query: str, options: str = "") -> bytes:
    buf = io.BytesIO()
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.copy_expert(f"COPY ({query}) TO STDOUT {options}", buf)
    return buf.getvalue()


def _copy_out_floats(conn: Connection, query: str, width: int) -> np.ndarray:
    """Run ``query`` (``width`` float8 columns, no NULLs) as a binary COPY into an (n, width) array.

    Binary rows of fixed-size fields are one numpy record each: no float text formatting on the
    server, no parsing here. Layout: 11-byte signature, int32 flags, int32 extension length + its
    bytes; per row int16 field count, then per field int32 length and the 8-byte big-endian value;
    int16 -1 at the end.
    """
    raw = _copy_out(conn, query, "(FORMAT binary)")
    start = 19 + int.from_bytes(raw[15:19], "big")
    record = np.dtype([("n", ">i2")] + [x for i in range(width) for x in ((f"l{i}", ">i4"), (f"v{i}", ">f8"))])
    count, rest = divmod(len(raw) - start - 2, record.itemsize)
    rows = np.frombuffer(raw, dtype=record, offset=start, count=count)
    if rest or (rows["n"] != width).any() or any((rows[f"l{i}"] != 8).any() for i in range(width)):
        raise ValueError(f"COPY result is not {width} float8 columns without NULLs")
    out = np.empty((len(rows), width))
    for i in range(width):
        out[:, i] = rows[f"v{i}"]
    return out


def try_lock(conn: Connection) -> bool:
    """Take the session-level refresh lock; False when another refresh holds it."""
    return bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar_one())


def unlock(conn: Connection) -> None:
    """Release the refresh lock."""
    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})


def rebuild_hazard_months(conn: Connection) -> int:
    """Recount ``hazard_months`` from the hazards (migration 0015's function, under its lock); return its rows.

    The triggers keep it exact for every hazard written; an enterprise moved to another cell, or a unit moved
    or deleted, changes where unit-less hazards count without touching a hazard, which this repairs.
    """
    return int(conn.execute(text("SELECT sg_rebuild_hazard_months()")).scalar_one())


def bulk_hazards(conn: Connection) -> None:
    """Switch ``hazard_months``' triggers off for this transaction (migration 0017).

    For a load that writes or moves many hazards: it then recounts the table once with
    :func:`rebuild_hazard_months` before it commits, instead of one trigger call per row.
    """
    conn.execute(text("SELECT set_config('safegrid.bulk_hazards', 'on', true)"))


def app_config(conn: Connection, key: str) -> Any:
    """Return the JSON value of an ``app_config`` key, or None."""
    return conn.execute(text('SELECT "value" FROM "app_config" WHERE "key" = :k'), {"k": key}).scalar_one_or_none()


def stock_cutoff(conn: Connection, *, as_of: date, default: date | None = None) -> date:
    """Return the last day of 存量 (major hazards found on or before it).

    ``app_config`` key ``stock_cutoff``, else ``default``, else 2023-12-31 (the 招贤镇 plan's,
    ``domain.rules_config``); ``as_of`` is kept for the callers' signature.
    """
    return parse_stock_cutoff(app_config(conn, "stock_cutoff"), default)


def staffing(conn: Connection) -> dict[int, dict[str, int]]:
    """Return the duty slots required per level and role (``app_config`` key ``staffing`` over the defaults)."""
    return staffing_from_config(app_config(conn, "staffing"))


def tune(conn: Connection) -> None:
    """Give the refresh transaction its own sort / hash memory (``SET LOCAL``: ends with it)."""
    conn.execute(text("SELECT set_config('work_mem', :v, true)"), {"v": WORK_MEM})


def unit_geometries(conn: Connection) -> list[tuple[int, int, bytes]]:
    """(id, level, WKB) of every unit with a geometry, ordered by level and code."""
    rows = conn.execute(text(
        'SELECT "id", "level", ST_AsBinary("geom") FROM "units" WHERE "geom" IS NOT NULL ORDER BY "level", "code"'
    ))
    return [(int(r[0]), int(r[1]), bytes(r[2])) for r in rows]


def stage_display(conn: Connection, rows: Iterable[tuple[int, str, str]]) -> int:
    """Stage (unit id, display geometry, label point) given as hex EWKB in SRID 4326."""
    conn.execute(text("DROP TABLE IF EXISTS stage_display"))
    conn.execute(text(
        "CREATE TEMP TABLE stage_display (id int PRIMARY KEY, geom_display geometry, label_point geometry)"
    ))
    return _copy_in(conn, "COPY stage_display (id, geom_display, label_point) FROM STDIN", rows)


def stage_open_hazards(conn: Connection, *, as_of: date) -> int:
    """Copy the open hazards (with grid cell and point resolved) into ``stage_open_hazards``; return the count."""
    conn.execute(text("DROP TABLE IF EXISTS stage_open_hazards"))
    conn.execute(text(_sql("refresh_open_hazards.sql")), {"as_of": as_of})
    conn.execute(text("ANALYZE stage_open_hazards"))
    return int(conn.execute(text("SELECT count(*) FROM stage_open_hazards")).scalar_one())


def cadence_rule(conn: Connection) -> CadenceRule:
    """Return the 四查 cadence per level (``app_config`` key ``inspection_cadence`` over the defaults)."""
    return cadence_rule_from_config(app_config(conn, "inspection_cadence"))


def stage_unit_stats(conn: Connection, *, as_of: date, stock_cutoff: date, cadence: CadenceRule | None = None,
                     staffing: Mapping[int, Mapping[str, int]] | None = None) -> int:
    """Compute every unit's subtree roll-up into ``stage_unit_stats``; return the row count.

    Needs ``stage_open_hazards``. ``staffing``: duty slots required per level and role (default: the
    许昌 plan's, ``domain.rules_config.DEFAULT_STAFFING``); ``cadence``: 四查 by calendar period (default
    ``domain.cadence``'s), whose standing per unit goes to ``stage_unit_cadence``.
    """
    required = DEFAULT_STAFFING if staffing is None else staffing
    conn.execute(text("DROP TABLE IF EXISTS stage_unit_facts"))
    conn.execute(text("DROP TABLE IF EXISTS stage_unit_stats"))
    conn.execute(text('CREATE TEMP TABLE stage_unit_stats (LIKE "unit_stats" INCLUDING DEFAULTS)'))
    params = {"as_of": as_of, "stock_cutoff": stock_cutoff,
              "staffing": json.dumps({str(k): dict(v) for k, v in required.items()}),
              "cadence": json.dumps(sql_windows(cadence or CadenceRule(), as_of))}
    conn.execute(text(_sql("refresh_unit_stats.sql")), params)
    cols = ", ".join(f'"{c}"' for c in ("unit_id", "level", "children", *STAT_INPUTS[:-3], "last_inspection_at",
                                         "inspection_overdue"))
    insert = (f'INSERT INTO stage_unit_stats ({cols}, "risk_score", "risk_class", "risk_explain", "refreshed_at") '  # noqa: S608
              f"SELECT {cols}, 0, NULL, NULL, now() FROM stage_unit_facts")
    conn.execute(text(insert))
    conn.execute(text("DROP TABLE IF EXISTS stage_unit_cadence"))
    conn.execute(text(
        "CREATE TEMP TABLE stage_unit_cadence AS SELECT unit_id, level, cadence, period_start, "
        "cadence_done AS done, cadence_streak AS streak, inspection_overdue AS behind, "
        "last_inspection_at AS last_at FROM stage_unit_facts"))
    return int(conn.execute(text("SELECT count(*) FROM stage_unit_stats")).scalar_one())


def staged_inputs(conn: Connection) -> list[dict[str, Any]]:
    """Return the staged roll-ups (unit id, code, level and every input of the risk rule)."""
    cols = ", ".join(f's."{c}"' for c in STAT_INPUTS)
    rows = conn.execute(text(
        f'SELECT s."unit_id", u."code", s."level", {cols} '  # noqa: S608 - constant column list
        'FROM stage_unit_stats s JOIN "units" u ON u."id" = s."unit_id"'
    )).mappings()
    return [dict(r) for r in rows]


def top_contributors(
    conn: Connection, *, as_of: date, weights: Mapping[str, float], top_n: int
) -> list[dict[str, Any]]:
    """Top enterprises and open hazards by risk points for every unit's subtree (needs ``stage_open_hazards``)."""
    w = weights
    params = {
        "as_of": as_of, "top_n": top_n, "w_red": w["ent_red"], "w_orange": w["ent_orange"],
        "w_yellow": w["ent_yellow"], "w_blue": w["ent_blue"], "w_unassessed": w["ent_unassessed"],
        "w_open": w["hazards_open"], "w_major": w["hazards_major_open"], "w_overdue": w["hazards_overdue"],
        "w_supervised": w["hazards_supervised"], "w_g1": w["sources_g1"], "w_g2": w["sources_g2"],
        "w_g3": w["sources_g3"], "w_g4": w["sources_g4"],
    }
    return [dict(r) for r in conn.execute(text(_sql("refresh_top.sql")), params).mappings()]


def stage_risk(conn: Connection, rows: Iterable[tuple[int, float, str, dict[str, Any]]]) -> None:
    """Write score, class and explanation into the staged unit_stats rows."""
    conn.execute(text("DROP TABLE IF EXISTS stage_risk"))
    conn.execute(text("CREATE TEMP TABLE stage_risk (unit_id int PRIMARY KEY, score float8, cls text, explain jsonb)"))
    _copy_in(conn, "COPY stage_risk (unit_id, score, cls, explain) FROM STDIN",
             ((u, s, c, json.dumps(e, ensure_ascii=False, default=str)) for u, s, c, e in rows))
    conn.execute(text(
        'UPDATE stage_unit_stats s SET "risk_score" = r.score, "risk_class" = r.cls, "risk_explain" = r.explain '
        "FROM stage_risk r WHERE r.unit_id = s.\"unit_id\""
    ))


def h3_points(conn: Connection) -> dict[str, np.ndarray]:
    """Point inputs of the heatmaps as arrays: lon, lat and attribute codes (needs ``stage_open_hazards``).

    ``enterprises``: lon, lat, colour (0 red, 1 orange, 2 yellow, 3 blue, 4 not assessed);
    ``hazards`` (open ones): lon, lat, major, overdue, supervised; ``sources``: lon, lat, grade (0 = unknown).
    """
    ent = _copy_out_floats(conn, (
        'SELECT ST_X("geom"), ST_Y("geom"), CAST(CASE "risk_level" WHEN \'red\' THEN 0 WHEN \'orange\' THEN 1 '
        "WHEN 'yellow' THEN 2 WHEN 'blue' THEN 3 ELSE 4 END AS float8) FROM \"enterprises\" WHERE \"geom\" IS NOT NULL"
    ), 3)
    haz = _copy_out_floats(conn, (
        'SELECT ST_X("geom"), ST_Y("geom"), CAST(("level" = \'major\')::int AS float8), '
        "CAST(coalesce(overdue, false)::int AS float8), CAST((\"supervision_level\" IS NOT NULL)::int AS float8) "
        'FROM stage_open_hazards WHERE "geom" IS NOT NULL'
    ), 5)
    src = _copy_out_floats(conn, (
        'SELECT ST_X(g), ST_Y(g), CAST(coalesce("grade", 0) AS float8) FROM (SELECT s."grade", coalesce(s."geom", '
        '(SELECT e."geom" FROM "enterprises" e WHERE e."id" = s."enterprise_id")) AS g '
        'FROM "hazard_sources" s WHERE s."enterprise_id" IS NOT NULL) t WHERE g IS NOT NULL'
    ), 3)
    return {"enterprises": ent, "hazards": haz, "sources": src}


POINT_H3_TABLES = ("enterprises", "hazard_sources", "hazards")  # tables with h3_r6..h3_r9 (migration 0002)


def points_missing_h3(conn: Connection, table: str) -> np.ndarray:
    """Rows of ``table`` with a point but no H3 cells yet, as an (n, 3) array: id, lon, lat.

    Closed hazards are left out: no heatmap counts them (a reopened one is filled by the next refresh).
    """
    if table not in POINT_H3_TABLES:
        raise ValueError(table)
    only_open = " AND \"status\" <> 'closed'" if table == "hazards" else ""
    return _copy_out_floats(conn, (
        f'SELECT CAST("id" AS float8), ST_X("geom"), ST_Y("geom") FROM "{table}" '  # noqa: S608 - whitelisted table
        f'WHERE "geom" IS NOT NULL AND "h3_r9" IS NULL{only_open}'
    ), 3)


def store_point_h3(conn: Connection, table: str, rows: Iterable[Sequence[Any]]) -> int:
    """Write (id, lon, lat, r6, r7, r8, r9) cells to ``table``; a row whose point moved meanwhile is skipped."""
    if table not in POINT_H3_TABLES:
        raise ValueError(table)
    conn.execute(text("DROP TABLE IF EXISTS stage_point_h3"))
    conn.execute(text("CREATE TEMP TABLE stage_point_h3 (id bigint, x float8, y float8, "
                      "r6 bigint, r7 bigint, r8 bigint, r9 bigint)"))
    if not _copy_in(conn, "COPY stage_point_h3 FROM STDIN", rows):
        return 0
    return int(conn.execute(text(
        f'UPDATE "{table}" t SET "h3_r6" = s.r6, "h3_r7" = s.r7, "h3_r8" = s.r8, "h3_r9" = s.r9 '  # noqa: S608
        'FROM stage_point_h3 s WHERE t."id" = s.id AND ST_X(t."geom") = s.x AND ST_Y(t."geom") = s.y'
    )).rowcount)


def stage_h3(conn: Connection, rows: Iterable[Sequence[Any]]) -> int:
    """Stage H3 cells (columns as ``H3_COLUMNS``, geometry as hex EWKB)."""
    conn.execute(text("DROP TABLE IF EXISTS stage_h3"))
    conn.execute(text('CREATE TEMP TABLE stage_h3 (LIKE "h3_stats" INCLUDING DEFAULTS)'))
    cols = ", ".join(f'"{c}"' for c in H3_COLUMNS)
    return _copy_in(conn, f"COPY stage_h3 ({cols}) FROM STDIN", rows)


def swap(conn: Connection, *, run_id: int | None) -> dict[str, int]:
    """Publish the staged rows (call inside one short transaction); return rows written per table."""
    out = {}
    out["units_display"] = conn.execute(text(
        'UPDATE "units" u SET "geom_display" = ST_Multi(s.geom_display), "label_point" = s.label_point, '
        '"area_km2" = coalesce(u."area_km2", ST_Area(u."geom"::geography) / 1e6) '
        "FROM stage_display s WHERE u.\"id\" = s.id AND (u.\"geom_display\" IS DISTINCT FROM ST_Multi(s.geom_display) "
        'OR u."label_point" IS DISTINCT FROM s.label_point OR u."area_km2" IS NULL)'
    )).rowcount
    conn.execute(text('DELETE FROM "unit_stats"'))
    cols = ", ".join(f'"{c.name}"' for c in UnitStats.__table__.columns)
    insert = f'INSERT INTO "unit_stats" ({cols}) SELECT {cols} FROM stage_unit_stats'  # noqa: S608 - model columns
    out["unit_stats"] = conn.execute(text(insert)).rowcount
    conn.execute(text('DELETE FROM "unit_cadence"'))  # after the units: their label points are current
    out["unit_cadence"] = conn.execute(text(
        'INSERT INTO "unit_cadence" ("id", "unit_id", "level", "cadence", "period_start", "done", "streak", "behind", '
        '"last_at", "geom") SELECT s.unit_id, s.unit_id, s.level, s.cadence, s.period_start, s.done, s.streak, '
        's.behind, s.last_at, u."label_point" FROM stage_unit_cadence s JOIN "units" u ON u."id" = s.unit_id'
    )).rowcount
    conn.execute(text('DELETE FROM "h3_stats"'))
    h3cols = ", ".join(f'"{c}"' for c in H3_COLUMNS)
    insert = f'INSERT INTO "h3_stats" ({h3cols}) SELECT {h3cols} FROM stage_h3'  # noqa: S608 - constant columns
    out["h3_stats"] = conn.execute(text(insert)).rowcount
    conn.execute(
        text(
            'INSERT INTO "refresh_state" ("name", "refreshed_at", "run_id") '
            "SELECT n, now(), :run_id FROM unnest(CAST(:names AS text[])) AS n "
            'ON CONFLICT ("name") DO UPDATE SET "refreshed_at" = EXCLUDED."refreshed_at", "run_id" = EXCLUDED."run_id"'
        ),
        {"run_id": run_id, "names": list(DERIVED)},
    )
    return out


# What the app's scope reads count through covering indexes (ix_hazards_open, 0016): an index-only scan visits
# the heap for every page the visibility map does not mark all-visible, and only VACUUM marks them. A database
# copied from a template or loaded in bulk had 11 % of the hazards' pages marked (docs/benchmarks.md, stop 28).
VACUUMED = ("hazards", "enterprises", "hazard_sources", "inspections", "hazard_months", "unit_stats")


def vacuum_ledgers(conn: Connection) -> None:
    """``VACUUM (ANALYZE)`` the ledgers and roll-ups (``conn`` in AUTOCOMMIT: VACUUM runs outside a transaction).

    Pages VACUUM already marked are skipped, so after the first run it reads what was written since.
    """
    for table in VACUUMED:
        conn.execute(text(f'VACUUM (ANALYZE) "{table}"'))


def display_geojson_bytes(conn: Connection, *, level: int, decimals: int = 6) -> int:
    """Size of the level's display polygons as a GeoJSON FeatureCollection of bare geometries."""
    return int(conn.execute(text(
        'SELECT coalesce(sum(length(ST_AsGeoJSON(coalesce("geom_display", "geom"), :d)) + 40), 0) '
        'FROM "units" WHERE "level" = :level'
    ), {"level": level, "d": decimals}).scalar_one())
