"""Benchmark of ``safegrid etl refresh`` on the 许昌 demo, with the H3 step against a plain h3 + pandas baseline.

    .venv/bin/python bench/bench_refresh.py --enterprises 20000 [--database bench_refresh] [--dir .local/bench]
    .venv/bin/python bench/bench_refresh.py --enterprises 1000000 --hazards 3000000 [--base-database DB]

Builds the demo (skipped when DIR already holds a build of the same size and seed) and loads it into a
fresh database of its own through the loaders (``--base`` enterprises, 20,000 by default). Beyond that
size the loaded demo is the template of a second database that ``clone`` scales up in SQL (loading
a million rows through the loaders would take most of an hour): ``--base-database`` names an already
loaded demo to use as the template instead. Then it runs the refresh twice (cold, warm) and times the
H3 aggregation of the same points with ``aggregate_h3`` and with the baseline in the same run.
The baseline needs pandas (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from domain import clock

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py, also when run through runpy
from common import fresh_database, load_demo, machine, report, timed

CLONE_INDEXED = ("enterprises", "hazards", "hazard_sources", "inspections")


def _clone_table(conn: Any, table: str, overrides: dict[str, str], source: str, params: dict[str, Any]) -> int:
    """INSERT INTO ``table`` every column of the aliased source row ``t``, with ``overrides`` by column."""
    columns = conn.execute(text(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = :t "
        "ORDER BY ordinal_position"
    ), {"t": table}).scalars().all()
    names = ", ".join(f'"{c}"' for c in columns)
    # a copy stands on a new point: its H3 cells (migration 0002) are left for the refresh to fill
    values = ", ".join(overrides.get(c, "NULL" if c.startswith("h3_r") else f't."{c}"') for c in columns)
    insert = f'INSERT INTO "{table}" ({names}) SELECT {values} FROM {source}'  # noqa: S608 - constant SQL parts
    return int(conn.execute(text(insert), params).rowcount)


def clone(conn: Any, *, enterprises: int, hazards: int) -> dict[str, int]:
    """Scale a loaded demo up in SQL: copies of enterprises (with their sources and inspections) and hazards.

    Copy ``k`` of enterprise ``e`` gets id ``k * stride + e.id``, the same grid cell and a point drawn
    with ``ST_GeneratePoints(cell, n, seed = cell id)`` inside that cell, so every clone stays in its
    cell and the build is reproducible. Hazard copy ``m`` goes to enterprise copy ``1 + (m - 1) % copies``
    of its enterprise, at that copy's point (hazards without an enterprise keep their point); dates,
    levels and statuses are copied, so the open / overdue / major shares stay those of the demo.
    Unit-level patrol inspections (no enterprise) are not copied: their number follows the units.
    Secondary indexes are dropped during the insert and re-created after; FK triggers are skipped
    (``session_replication_role = replica``: the ids are consistent by construction).
    """
    base_e, max_e = conn.execute(text("SELECT count(*), max(id) FROM enterprises")).one()
    base_h, max_h = conn.execute(text("SELECT count(*), max(id) FROM hazards")).one()
    copies = max(0, round(enterprises / base_e) - 1)
    h_copies = max(0, round(hazards / base_h) - 1)
    stride = 10 ** len(str(max_e))
    h_stride = 10 ** len(str(max_h))
    if (copies + 1) * stride >= 2**31 or (h_copies + 1) * h_stride >= 2**31:
        raise SystemExit("too many copies for int ids")
    conn.execute(text("SET session_replication_role = replica"))
    indexes = conn.execute(text(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' AND i.tablename = ANY(:t) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
    ), {"t": list(CLONE_INDEXED)}).all()
    for name, _ in indexes:
        conn.execute(text(f'DROP INDEX "{name}"'))
    rows: dict[str, int] = {}
    conn.execute(text(
        "CREATE TEMP TABLE clone_points AS "
        "SELECT n.unit_id, d.path[1] - 1 AS j, d.geom FROM "
        "(SELECT unit_id, count(*) AS n FROM enterprises WHERE unit_id IS NOT NULL GROUP BY 1) n "
        "JOIN units u ON u.id = n.unit_id "
        "CROSS JOIN LATERAL ST_Dump(ST_GeneratePoints(u.geom, CAST(n.n * :copies AS int), u.id)) d"
    ), {"copies": copies})
    rows["enterprises"] = _clone_table(conn, "enterprises", {
        "id": "k * :stride + t.id",
        "credit_code": "substr(t.credit_code, 1, 8) || lpad(CAST(k * :stride + t.id AS text), 9, '0') || 'Z'",
        "geom": "coalesce(p.geom, t.geom)",
    }, (
        "(SELECT e.*, row_number() OVER (PARTITION BY e.unit_id ORDER BY e.id) - 1 AS i, "
        "count(*) OVER (PARTITION BY e.unit_id) AS n FROM enterprises e) t "
        "CROSS JOIN generate_series(1, :copies) AS k "
        "LEFT JOIN clone_points p ON p.unit_id = t.unit_id AND p.j = (k - 1) * t.n + t.i"
    ), {"copies": copies, "stride": stride})
    copy_of = "(1 + (m - 1) % :copies)" if copies else "0"
    rows["hazards"] = _clone_table(conn, "hazards", {
        "id": "m * :h_stride + t.id",
        "code": "t.code || '-' || m",
        "enterprise_id": "ce.id",
        "geom": "coalesce(ce.geom, t.geom)",
    }, (
        "hazards t CROSS JOIN generate_series(1, :h_copies) AS m "
        f"LEFT JOIN enterprises ce ON ce.id = {copy_of} * :stride + t.enterprise_id WHERE t.id <= :max_h"
    ), {"copies": copies, "h_copies": h_copies, "stride": stride, "h_stride": h_stride, "max_h": max_h})
    clone_child = {"id": "k * :stride2 + t.id", "code": "t.code || '-' || k",
                   "enterprise_id": "k * :stride + t.enterprise_id"}
    for table in ("hazard_sources", "inspections"):
        max_id = conn.execute(text(f'SELECT max(id) FROM "{table}"')).scalar_one() or 0  # noqa: S608
        overrides = clone_child | ({"geom": "ce.geom"} if table == "hazard_sources" else {})
        rows[table] = _clone_table(conn, table, overrides, (
            f'"{table}" t CROSS JOIN generate_series(1, :copies) AS k '
            "JOIN enterprises ce ON ce.id = k * :stride + t.enterprise_id WHERE t.id <= :max_id"
        ), {"copies": copies, "stride": stride, "stride2": 10 ** len(str(max_id)), "max_id": max_id})
    conn.execute(text("SET session_replication_role = DEFAULT"))
    for table in CLONE_INDEXED:
        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                          f'(SELECT max(id) FROM "{table}"))'))
    for _, definition in indexes:
        conn.execute(text(definition))
    for table in CLONE_INDEXED:
        conn.execute(text(f'ANALYZE "{table}"'))
    return rows


def h3_baseline(lon, lat, resolutions):  # type: ignore[no-untyped-def]
    """Plain h3-py + pandas: index every point at every resolution, group-by count."""
    import h3
    import pandas as pd

    df = pd.DataFrame({"lon": lon, "lat": lat})
    out = {}
    for res in resolutions:
        df["cell"] = [h3.latlng_to_cell(la, lo, res) for la, lo in zip(df["lat"].to_numpy(), df["lon"].to_numpy(),
                                                                        strict=True)]
        out[res] = df.groupby("cell").size()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--enterprises", type=int, default=20_000)
    parser.add_argument("--hazards", type=int, default=None, help="clone hazards up to this many (default: in step)")
    parser.add_argument("--base", type=int, default=20_000, help="enterprises of the demo loaded through the loaders")
    parser.add_argument("--base-database", default=None, help="already loaded demo to clone from (no build, no load)")
    parser.add_argument("--seed", type=int, default=4110)
    parser.add_argument("--database", default=None)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="keep the already loaded bench database")
    parser.add_argument("--append", type=Path, default=None, help="append a result section to this markdown file")
    args = parser.parse_args()

    from domain.risk_rule import RiskRule
    from etl.refresh import aggregate_h3, h3_measures, refresh_all
    from geo import refresh as refresh_sql
    from geo.settings import get_settings

    as_of = date(2026, 11, 23)
    base_n = min(args.enterprises, args.base)
    timings: dict[str, float] = {}
    name = args.database or f"bench_refresh_{args.enterprises}"
    base_db = args.base_database or (name if base_n == args.enterprises else f"bench_refresh_{base_n}")
    if not args.reuse and not args.base_database:
        base_url, _ = fresh_database(base_db)
        timings |= load_demo(args.dir or Path(f".local/bench/demo_{base_n}"), base_url, enterprises=base_n,
                             seed=args.seed, as_of=as_of)
    url = get_settings().url(name)
    if not args.reuse and base_db != name:
        t = time.perf_counter()
        fresh_database(name, template=base_db)
        engine = create_engine(url)
        with engine.begin() as conn:
            hazards = args.hazards or conn.execute(text("SELECT count(*) FROM hazards")).scalar_one() * round(
                args.enterprises / conn.execute(text("SELECT count(*) FROM enterprises")).scalar_one())
            cloned = clone(conn, enterprises=args.enterprises, hazards=hazards)
        engine.dispose()
        timings[f"clone {base_db} in SQL (+{', +'.join(f'{v:,} {k}' for k, v in cloned.items())})"] = (
            time.perf_counter() - t)
        print(f"cloned in {time.perf_counter() - t:.1f} s: {cloned}", flush=True)
    cold = refresh_all(url, as_of=as_of)
    warm = refresh_all(url, as_of=as_of)
    engine = create_engine(url)
    with engine.connect() as conn:
        refresh_sql.stage_open_hazards(conn, as_of=as_of)
        points = refresh_sql.h3_points(conn)
        sizes = {lvl: refresh_sql.display_geojson_bytes(conn, level=lvl) for lvl in (1, 2, 3, 4, 5)}
        counts = dict(conn.execute(text(
            "SELECT 'hazards', count(*) FROM hazards UNION ALL SELECT 'open', count(*) FROM hazards "
            "WHERE status <> 'closed' UNION ALL SELECT 'enterprises', count(*) FROM enterprises UNION ALL "
            "SELECT 'inspections', count(*) FROM inspections UNION ALL SELECT 'units', count(*) FROM units UNION ALL "
            "SELECT 'sources', count(*) FROM hazard_sources")).all())
    engine.dispose()
    lon, lat, measures = h3_measures(points, RiskRule())
    resolutions = (6, 7, 8, 9)
    ms_ours, ours = timed(aggregate_h3, lon, lat, measures, resolutions)
    ms_base, base = timed(h3_baseline, lon, lat, resolutions)
    t_ours, t_base = ms_ours / 1000, ms_base / 1000
    assert all(len(ours[r][0]) == len(base[r]) for r in resolutions)

    command = " ".join(["--enterprises", str(args.enterprises)]
                       + (["--hazards", str(args.hazards)] if args.hazards else []))
    load = os.getloadavg()
    lines = [
        f"\n## Refresh, {args.enterprises:,} enterprises ({clock.today().isoformat()})\n",
        f"`.venv/bin/python bench/bench_refresh.py {command}` on {machine()}, "
        f"PostgreSQL on the project-local cluster, load average {load[0]:.1f} / "
        f"{load[1]:.1f} / {load[2]:.1f} (1/5/15 min) at the end. Data: {counts['enterprises']:,} "
        f"enterprises, {counts['hazards']:,} hazards ({counts['open']:,} open), {counts['sources']:,} hazard "
        f"sources, {counts['inspections']:,} inspections, {counts['units']:,} units.\n",
        "| step | seconds |", "|---|---|",
    ]
    lines += [f"| {k} | {v:.1f} |" for k, v in timings.items()]
    lines += [f"| refresh (cold) total | {cold.seconds['total']:.1f} |",
              f"| refresh (warm) total | {warm.seconds['total']:.1f} |"]
    worker = {"display", "h3_aggregate", "h3_rows"}  # etl.refresh runs these in a thread beside the SQL steps
    lines += [f"| · warm {k}{' (worker thread, overlaps unit_stats + risk)' if k in worker else ''} | {v:.2f} |"
              for k, v in warm.seconds.items() if k != "total"]
    lines += [
        "",
        f"H3 aggregation of the same {len(lon):,} points at resolutions 6-9 in the same run: "
        f"`aggregate_h3` {t_ours:.2f} s, plain h3 + pandas group-by {t_base:.2f} s "
        f"(ratio {t_ours / t_base:.2f}).",
        "",
        "Display geometry as GeoJSON (6 decimals, geometry + 40 bytes per feature): "
        + ", ".join(f"level {lvl} {size / 1024:,.0f} KB" for lvl, size in sizes.items()) + ".",
    ]
    report("\n".join(lines) + "\n", args.append)


if __name__ == "__main__":
    main()
