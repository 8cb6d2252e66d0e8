"""Benchmark of the ETL loaders against their baselines, in one run on one database.

    .venv/bin/pip install -e '.[bench]'          # geopandas, the sjoin baseline
    .venv/bin/python bench/bench_etl.py [--database bench_etl] [--rows 100000] [--points 1000000]

1. Load: a 100k-row enterprise CSV through ``etl.load.load_file`` (full validation, COPY into the
   stage, grid cells, upsert into the indexed ``enterprises`` table, risk history) vs ``psql \\copy``
   of the same file into a bare table of text columns (the issue's target). Ratio = loader rows/s ÷
   \\copy rows/s. A second baseline is apples to apples: ``\\copy`` of the same rows, converted as
   \\copy needs (English enum values, booleans, the grid cell id, the point as hex EWKB, the run id:
   exactly what the loader stored), into a replica of ``enterprises`` with the same indexes, checks
   and foreign keys (``LIKE enterprises INCLUDING ALL`` + the two FKs). The difference between the
   two \\copy rows is the table's own upkeep; the loader's time beyond the replica row is its own work.
   ``--repeat N`` runs the load rows N times (table emptied in between) and reports the best.
2. Grid assignment of 1M points (enterprises loaded through the loader, which is itself timed) in
   ~7k city-wide grid cells: ``geo.etl_sql.assign_grid_cells`` with cells as the outer loop (lateral)
   and with PostgreSQL's default join plan, vs the same job with geopandas: read points and cells
   from PostGIS, ``geopandas.sjoin``, smallest code per point, write the changed cells back. Both
   start and end in the database. Ratio = geopandas seconds ÷ PostGIS seconds. A second row
   compares the join + pick alone (PostGIS into a temp table; geopandas in memory).

The database is dropped and re-created. Results are printed as Markdown and appended to
docs/benchmarks.md with ``--write``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import box, mapping
from sqlalchemy import create_engine, text

from domain import clock
from domain.codes import make_credit_code
from etl.load import load_file
from geo import etl_sql
from geo.localpg import Cluster
from geo.settings import get_settings

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py, also when run through runpy
from common import fresh_database, machine, report, timed, use_database

ROOT = Path(__file__).resolve().parent.parent
COUNTIES = ROOT / "etl" / "demo_data" / "xuchang" / "counties.geojson"
HEADER = ["统一社会信用代码", "企业名称", "行业", "风险等级", "评估日期", "标准化等级", "重点监管危险化学品",
          "经度", "纬度"]


def seconds(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """``common.timed`` in seconds: call ``fn(*args, **kwargs)`` once; return (seconds, its result)."""
    ms, result = timed(fn, *args, **kwargs)
    return ms / 1000, result


def city_grid(folder: Path, nx: int, ny: int) -> tuple[dict[int, Path], Any]:
    """Levels 3-5 over the whole city: one township per county, villages = columns, cells = squares."""
    data = json.loads(COUNTIES.read_text(encoding="utf-8"))
    counties = {f["properties"]["code"]: shapely.geometry.shape(f["geometry"]) for f in data["features"]}
    city = counties.pop("411000")
    xmin, ymin, xmax, ymax = city.bounds
    dx, dy = (xmax - xmin) / nx, (ymax - ymin) / ny
    levels: dict[int, list[dict[str, Any]]] = {3: [], 4: [], 5: []}
    for code, county in sorted(counties.items()):
        town = f"{code}001"
        levels[3].append(_feature(town, f"{code}测试乡镇", county))
        village_no = 0
        for ix in range(nx):
            column = county.intersection(box(xmin + ix * dx, ymin, xmin + (ix + 1) * dx, ymax))
            if column.is_empty or column.area < 1e-10:
                continue
            cells = []
            for iy in range(ny):
                square = box(xmin + ix * dx, ymin + iy * dy, xmin + (ix + 1) * dx, ymin + (iy + 1) * dy)
                cell = column.intersection(square)
                if not cell.is_empty and cell.area > 1e-10:
                    cells.append(cell)
            if not cells:
                continue
            village_no += 1
            village = f"{town}{village_no:03d}"
            levels[4].append(_feature(village, f"{village}村", shapely.union_all(cells)))
            levels[5].extend(_feature(f"{village}{i:02d}", f"{village}网格{i}", c) for i, c in enumerate(cells, 1))
    files = {}
    for level, feats in levels.items():
        files[level] = folder / f"level{level}.geojson"
        files[level].write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    return files, city


def _feature(code: str, name: str, geom: Any) -> dict[str, Any]:
    polys = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "Polygon"]
    return {"type": "Feature", "properties": {"code": code, "name": name, "is_demo_geometry": True},
            "geometry": mapping(shapely.MultiPolygon(polys))}


def points_in(city: Any, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniform random points inside the city polygon."""
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = city.bounds
    shapely.prepare(city)
    xs, ys = [], []
    have = 0
    while have < n:
        x = rng.uniform(xmin, xmax, n)
        y = rng.uniform(ymin, ymax, n)
        keep = shapely.contains_xy(city, x, y)
        xs.append(x[keep])
        ys.append(y[keep])
        have += int(keep.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def write_enterprises(path: Path, x: np.ndarray, y: np.ndarray, offset: int = 0) -> Path:
    """An enterprise CSV with one valid row per point."""
    colours = ["红", "橙", "黄", "蓝", ""]
    industries = ["机械", "危险化学品", "轻工", "纺织", "建材"]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i, (lon, lat) in enumerate(zip(x.tolist(), y.tolist(), strict=True)):
            k = i + offset
            writer.writerow([make_credit_code("91", "411002", f"{k:08d}"), f"企业{k}", industries[k % 5],
                             colours[k % 5], "2025-06-30", "三级", "否", f"{lon:.6f}", f"{lat:.6f}"])
    return path


def psql_copy(database: str, path: Path) -> float:
    """Seconds psql reports for ``\\copy`` of ``path`` into a fresh bare table of text columns."""
    argv = Cluster(get_settings()).psql_argv(database)
    cols = ", ".join(f"c{i} text" for i in range(len(HEADER)))
    script = (f"DROP TABLE IF EXISTS bare; CREATE TABLE bare ({cols});\n\\timing on\n"
              f"\\copy bare FROM '{path}' WITH (FORMAT csv, HEADER)\n")
    out = subprocess.run([*argv, "-X", "-q"], input=script, capture_output=True, text=True, check=True).stdout
    return float(re.findall(r"Time: ([\d.]+) ms", out)[-1]) / 1000


REPLICA_COLUMNS = ("credit_code", "name", "industry", "risk_level", "risk_assessed_at", "std_grade",
                   "key_hazardous_chemical", "unit_id", "geom", "source_run_id")


def export_converted(eng: Any, path: Path) -> Path:
    """Write the rows the loader stored as a CSV that ``\\copy`` takes as it is (the file, converted)."""
    with eng.connect() as conn, path.open("w", encoding="utf-8") as fh:
        cursor = conn.connection.dbapi_connection.cursor()
        cursor.copy_expert(f"COPY (SELECT {', '.join(REPLICA_COLUMNS)} FROM enterprises ORDER BY id) "  # noqa: S608
                           "TO STDOUT WITH (FORMAT csv, HEADER)", fh)
    return path


def psql_copy_replica(database: str, path: Path) -> float:
    """Seconds psql reports for ``\\copy`` of ``path`` into an empty replica of ``enterprises``.

    Same columns, checks, defaults and indexes (``LIKE … INCLUDING ALL``: B-trees, GiST, the trigram
    and bigram GINs) and the same two foreign keys (``source_run_id`` → etl_runs, ``unit_id`` → units).
    """
    argv = Cluster(get_settings()).psql_argv(database)
    script = ("DROP TABLE IF EXISTS replica; CREATE TABLE replica (LIKE enterprises INCLUDING ALL);\n"
              "ALTER TABLE replica ADD FOREIGN KEY (source_run_id) REFERENCES etl_runs (id) ON DELETE SET NULL, "
              "ADD FOREIGN KEY (unit_id) REFERENCES units (id) ON DELETE SET NULL;\n\\timing on\n"
              f"\\copy replica ({', '.join(REPLICA_COLUMNS)}) FROM '{path}' WITH (FORMAT csv, HEADER)\n"
              "\\timing off\nSELECT count(*) FROM replica;\nDROP TABLE replica;\n")
    out = subprocess.run([*argv, "-X", "-q", "-v", "ON_ERROR_STOP=1"], input=script, capture_output=True,
                         text=True, check=True).stdout
    return float(re.findall(r"Time: ([\d.]+) ms", out)[-1]) / 1000


LATERAL_PICK = (
    "CREATE TEMP TABLE bench_pick AS SELECT p.id, min(c.code) AS code, count(*) AS n "
    "FROM units c CROSS JOIN LATERAL (SELECT p.id FROM enterprises p "
    "WHERE p.geom && c.geom AND ST_Intersects(c.geom, p.geom)) p WHERE c.level = 5 AND c.geom IS NOT NULL "
    "GROUP BY p.id"
)


def core_pick(eng: Any) -> float:
    """Seconds of the join + pick alone: each point's cell (smallest code) into a temp table, in PostGIS."""
    with eng.connect() as conn:
        trans = conn.begin()
        conn.execute(text("SET LOCAL work_mem = '128MB'"))
        elapsed, _ = seconds(conn.execute, text(LATERAL_PICK))
        trans.rollback()
    return elapsed


def geopandas_assign(eng: Any) -> dict[str, float]:
    """The same assignment done with geopandas; seconds per step.

    ``read``: points (id, x, y) and cells (id, code, WKB) from PostGIS into GeoDataFrames (COPY TO
    STDOUT + ``pandas.read_csv``: the fastest plain way out, ~5x faster than fetching rows);
    ``sjoin``: ``geopandas.sjoin(points, cells, predicate='intersects')`` (best of 2);
    ``pick``: the smallest cell code per point; ``write``: COPY (id, cell) back into a temp table and
    UPDATE the rows whose cell changed (rolled back, like the PostGIS runs). ``total`` = all four.
    """
    import io

    import geopandas as gpd
    import pandas as pd

    start = time.perf_counter()
    with eng.connect() as conn:  # the fast way out of PostgreSQL: COPY … TO STDOUT, parsed by pandas
        cursor = conn.connection.dbapi_connection.cursor()
        pts_csv, cells_csv = io.StringIO(), io.StringIO()
        cursor.copy_expert("COPY (SELECT id, ST_X(geom), ST_Y(geom) FROM enterprises WHERE geom IS NOT NULL) "
                           "TO STDOUT WITH (FORMAT csv)", pts_csv)
        cursor.copy_expert("COPY (SELECT id, code, ST_AsHEXEWKB(geom) FROM units WHERE level = 5 "
                           "AND geom IS NOT NULL) TO STDOUT WITH (FORMAT csv)", cells_csv)
    pts_csv.seek(0)
    cells_csv.seek(0)
    pts = pd.read_csv(pts_csv, names=["id", "x", "y"])
    cell_rows = pd.read_csv(cells_csv, names=["cell_id", "code", "wkb"], dtype={"code": str})
    points = gpd.GeoDataFrame({"id": pts["id"]}, geometry=gpd.points_from_xy(pts["x"], pts["y"]), crs=4326)
    grid = gpd.GeoDataFrame(cell_rows[["cell_id", "code"]], geometry=shapely.from_wkb(cell_rows["wkb"]), crs=4326)
    steps = {"read": time.perf_counter() - start}
    steps["sjoin"], joined = min((seconds(gpd.sjoin, points, grid, how="inner", predicate="intersects")
                                  for _ in range(2)), key=lambda r: r[0])
    steps["pick"], best = seconds(lambda: joined.sort_values(["id", "code"]).drop_duplicates("id")[["id", "cell_id"]])
    start = time.perf_counter()
    buf = io.StringIO()
    best.to_csv(buf, index=False, header=False)
    buf.seek(0)
    with eng.connect() as conn:
        trans = conn.begin()
        conn.execute(text("CREATE TEMP TABLE gp_best (id int, cell_id int) ON COMMIT DROP"))
        cursor = conn.connection.dbapi_connection.cursor()
        cursor.copy_expert("COPY gp_best FROM STDIN WITH (FORMAT csv)", buf)
        conn.execute(text("ANALYZE gp_best"))
        conn.execute(text("UPDATE enterprises t SET unit_id = b.cell_id FROM gp_best b "
                          "WHERE t.id = b.id AND t.unit_id IS DISTINCT FROM b.cell_id"))
        trans.rollback()
    steps["write"] = time.perf_counter() - start
    steps["total"] = sum(steps.values())
    return steps


def main() -> None:
    """Run both benchmarks and print (and optionally append) the Markdown section."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--database", default="bench_etl")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--nx", type=int, default=120)
    ap.add_argument("--ny", type=int, default=90)
    ap.add_argument("--repeat", type=int, default=1, help="rounds of the 100k load rows (best reported)")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/bench_etl"))
    ap.add_argument("--write", action="store_true", help="append the result to docs/benchmarks.md")
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    use_database(args.database)
    url, _ = fresh_database(args.database)
    lines: list[str] = []
    load_before = os.getloadavg()

    files, city = city_grid(args.dir, args.nx, args.ny)
    t_bounds = {}
    t_bounds[2], _ = seconds(load_file, "boundaries", COUNTIES, url=url)
    for level in (3, 4, 5):
        t_bounds[level], result = seconds(load_file, "boundaries", files[level], url=url)
        assert result.status == "ok", result.message
    eng = create_engine(url)
    with eng.connect() as conn:
        cells = etl_sql.grid_cell_count(conn)

    # 1. load vs \copy (bare table; replica of enterprises), best of --repeat rounds
    x, y = points_in(city, args.rows, seed=1)
    small = write_enterprises(args.dir / "enterprises_100k.csv", x, y)
    converted = args.dir / "enterprises_100k_converted.csv"
    rounds: dict[str, list[float]] = {"copy": [], "replica": [], "load": [], "reload": []}
    phases: list[dict[str, float]] = []
    for round_no in range(args.repeat):
        if round_no:
            with eng.begin() as conn:
                conn.execute(text("TRUNCATE enterprises CASCADE"))
        rounds["copy"].append(psql_copy(args.database, small))
        load_time, first = seconds(load_file, "enterprises", small, url=url)
        assert first.status == "ok" and first.counts["inserted"] == args.rows, first.message
        rounds["load"].append(load_time)
        phases.append(first.timings)
        reload_time, second = seconds(load_file, "enterprises", small, url=url)
        assert second.counts["inserted"] == second.counts["updated"] == 0
        rounds["reload"].append(reload_time)
        if not round_no:
            export_converted(eng, converted)
        rounds["replica"].append(psql_copy_replica(args.database, converted))
    copy_s, replica_s, load_s, reload_s = (min(rounds[k]) for k in ("copy", "replica", "load", "reload"))
    best_phases = phases[rounds["load"].index(load_s)]
    copy_rate, replica_rate, load_rate = args.rows / copy_s, args.rows / replica_s, args.rows / load_s
    with eng.begin() as conn:
        conn.execute(text("TRUNCATE enterprises CASCADE"))

    # 2. 1M points: load through the loader, then assign three ways.
    x, y = points_in(city, args.points, seed=2)
    big = write_enterprises(args.dir / "enterprises_1m.csv", x, y, offset=10_000_000)
    big_s, result = seconds(load_file, "enterprises", big, url=url)
    assert result.status == "ok", result.message
    with eng.begin() as conn:
        conn.execute(text("ANALYZE enterprises"))
    assign: dict[str, float] = {}
    for method in ("lateral", "join", "lateral", "join"):  # second round is the one reported (warm cache)
        with eng.connect() as conn:
            trans = conn.begin()
            assign[method], counts = seconds(etl_sql.assign_grid_cells, conn, table="enterprises", run_id=None,
                                             method=method)
            trans.rollback()
        assert counts["in_cell"] + counts["no_cell"] == args.points, counts

    pick_s = min(core_pick(eng) for _ in range(2))
    gp = geopandas_assign(eng)
    eng.dispose()
    load_after = os.getloadavg()

    today = clock.today().isoformat()
    cmd = (f".venv/bin/python bench/bench_etl.py --database {args.database} --rows {args.rows} "
           f"--points {args.points} --nx {args.nx} --ny {args.ny} --repeat {args.repeat}")
    spread = "; ".join(f"{k} " + ", ".join(f"{v:.2f}" for v in rounds[k])
                       for k in ("copy", "replica", "load", "reload"))
    phase_text = ", ".join(f"{k} {v:.2f}" for k, v in best_phases.items())
    gp_core = gp["sjoin"] + gp["pick"]
    lines += [
        f"## ETL loaders: load vs \\copy, grid assignment vs geopandas.sjoin ({today})",
        "",
        f"`{cmd}` on {machine()}, project-local PostgreSQL 15 + PostGIS; "
        f"{cells} grid cells (level 5) over the real 许昌市 county polygons. Load average (1 min) "
        f"{load_before[0]:.1f} at the start, {load_after[0]:.1f} at the end (other engineers' test suites "
        "share the machine).",
        "",
        "| measurement | seconds | rows/s | ratio | target |",
        "|---|---|---|---|---|",
        f"| `psql \\copy` {args.rows:,} rows into a bare text table | {copy_s:.2f} | {copy_rate:,.0f} | 1 | |",
        f"| `psql \\copy` the same rows, converted, into a replica of `enterprises` (same indexes, checks, "
        f"2 FKs) | {replica_s:.2f} | {replica_rate:,.0f} | {replica_rate / copy_rate:.3f} × bare \\copy | |",
        f"| `safegrid etl load enterprises` same file (validate, stage, grid cells, upsert, history) | {load_s:.2f} "
        f"| {load_rate:,.0f} | **{load_rate / copy_rate:.3f} × bare \\copy**; {load_rate / replica_rate:.2f} × "
        "replica \\copy | ≥ 0.3 × bare |",
        f"| same file again (idempotent: 0 inserted, 0 updated) | {reload_s:.2f} | {args.rows / reload_s:,.0f} "
        f"| {args.rows / reload_s / copy_rate:.3f} × bare \\copy | |",
        f"| load {args.points:,} enterprises through the loader | {big_s:.1f} | {args.points / big_s:,.0f} | "
        "| feasible |",
        f"| **assignment, PostGIS**: `assign_grid_cells` on {args.points:,} points, cells as outer loop (LATERAL): "
        f"join + smallest code per point + UPDATE of changed rows + findings | {assign['lateral']:.2f} | | "
        f"{gp['total'] / assign['lateral']:.2f} × geopandas | ≥ 1.0 |",
        f"| **assignment, geopandas**: read points + cells from PostGIS ({gp['read']:.2f} s), sjoin "
        f"({gp['sjoin']:.2f} s), smallest code per point ({gp['pick']:.2f} s), COPY back + UPDATE of changed rows "
        f"({gp['write']:.2f} s) | {gp['total']:.2f} | | 1 | |",
        f"| · join + pick only, PostGIS (LATERAL + GROUP BY into a temp table) | {pick_s:.2f} | | "
        f"{gp_core / pick_s:.2f} × geopandas sjoin + pick in memory ({gp_core:.2f} s) | |",
        f"| same assignment, PostgreSQL's default join plan (points outer) | {assign['join']:.2f} | | LATERAL is "
        f"{assign['join'] / assign['lateral']:.1f}× faster | |",
        "",
        f"Boundary loads: levels 1-2 {t_bounds[2]:.1f} s, 3 {t_bounds[3]:.1f} s, 4 {t_bounds[4]:.1f} s, "
        f"5 ({cells} cells) {t_bounds[5]:.1f} s. Load rows: best of {args.repeat} (all rounds, s: {spread}); "
        f"phases of the best first load (s, `LoadResult.timings`): {phase_text}. Both assignments start from "
        "the data in PostgreSQL and end with "
        "the cells written back (rolled back; PostGIS: second of two rounds); only PostGIS also writes the "
        "border/no-cell findings. The core row compares the join + pick alone: in PostGIS it includes writing "
        "the result to a temp table, in geopandas the data is already in memory.",
        "",
    ]
    report("\n".join(lines), ROOT / "docs" / "benchmarks.md" if args.write else None)


if __name__ == "__main__":
    main()
