"""Benchmark of ``safegrid etl refresh`` on the 许昌 demo, with the H3 step against a plain h3 + pandas baseline.

    .venv/bin/python bench/bench_refresh.py --enterprises 20000 [--database bench_refresh] [--dir .local/bench]
    .venv/bin/python bench/bench_refresh.py --enterprises 1000000 --append docs/benchmarks.md

Builds the demo (skipped when DIR already holds a build of the same size and seed), loads it into a
fresh database of its own through the loaders, runs the refresh twice (cold, warm) and times the
H3 aggregation of the same points with ``aggregate_h3`` and with the baseline in the same run.
The baseline needs pandas (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, text


def fresh_database(name: str) -> str:
    from geo import migrate
    from geo.settings import get_settings

    admin = create_engine(get_settings().url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = get_settings().url(name)
    migrate.upgrade(url)
    return url


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
    parser.add_argument("--seed", type=int, default=4110)
    parser.add_argument("--database", default=None)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="keep the already loaded bench database")
    parser.add_argument("--append", type=Path, default=None, help="append a result section to this markdown file")
    args = parser.parse_args()

    from etl.demo.build import BuildOptions, build
    from etl.demo.records import Scale
    from etl.load import load_file
    from etl.refresh import aggregate_h3, h3_measures, refresh_all
    from geo import refresh as refresh_sql
    from geo.risk_rule import RiskRule
    from geo.settings import get_settings

    as_of = date(2026, 11, 23)
    directory = args.dir or Path(f".local/bench/demo_{args.enterprises}")
    timings: dict[str, float] = {}
    manifest_path = directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    if not manifest or manifest["enterprises"] != args.enterprises or manifest["seed"] != args.seed:
        t = time.perf_counter()
        options = BuildOptions(seed=args.seed, as_of=as_of, scale=Scale(enterprises=args.enterprises))
        manifest = build(directory, options)
        timings["build"] = time.perf_counter() - t
    name = args.database or f"bench_refresh_{args.enterprises}"
    url = get_settings().url(name) if args.reuse else fresh_database(name)
    t = time.perf_counter()
    for entry in [] if args.reuse else manifest["load_order"]:
        t1 = time.perf_counter()
        result = load_file(entry["kind"], directory / entry["file"], level=entry.get("level"), url=url)
        step = f"load {entry['file']}"
        timings[step] = time.perf_counter() - t1
        print(f"{step}: {result.status} {result.rows_loaded}/{result.rows_in} {timings[step]:.1f} s", flush=True)
    if not args.reuse:
        timings["load (all files)"] = time.perf_counter() - t
    cold = refresh_all(url, as_of=as_of)
    warm = refresh_all(url, as_of=as_of)
    engine = create_engine(url)
    with engine.connect() as conn:
        points = refresh_sql.h3_points(conn, as_of=as_of)
        sizes = {lvl: refresh_sql.display_geojson_bytes(conn, level=lvl) for lvl in (1, 2, 3, 4, 5)}
        counts = dict(conn.execute(text("SELECT 'hazards', count(*) FROM hazards UNION ALL "
                                        "SELECT 'enterprises', count(*) FROM enterprises")).all())
    engine.dispose()
    lon, lat, measures = h3_measures(points, RiskRule())
    resolutions = (6, 7, 8, 9)
    t = time.perf_counter()
    ours = aggregate_h3(lon, lat, measures, resolutions)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    base = h3_baseline(lon, lat, resolutions)
    t_base = time.perf_counter() - t
    assert all(len(ours[r][0]) == len(base[r]) for r in resolutions)

    lines = [
        f"\n## Refresh, {args.enterprises:,} enterprises ({date.today().isoformat()})\n",
        f"`.venv/bin/python bench/bench_refresh.py --enterprises {args.enterprises}` on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, PostgreSQL on the project-local cluster. Data: {counts['enterprises']:,} "
        f"enterprises, {counts['hazards']:,} hazards, {manifest['counts']['inspections']:,} inspections, "
        f"{sum(manifest['counts'][f'units_level{lvl}'] for lvl in range(1, 6)):,} units.\n",
        "| step | seconds |", "|---|---|",
    ]
    lines += [f"| {k} | {v:.1f} |" for k, v in timings.items()]
    lines += [f"| refresh (cold) total | {cold.seconds['total']:.1f} |",
              f"| refresh (warm) total | {warm.seconds['total']:.1f} |"]
    lines += [f"| · warm {k} | {v:.2f} |" for k, v in warm.seconds.items() if k != "total"]
    lines += [
        "",
        f"H3 aggregation of the same {len(lon):,} points at resolutions 6-9 in the same run: "
        f"`aggregate_h3` {t_ours:.2f} s, plain h3 + pandas group-by {t_base:.2f} s "
        f"(ratio {t_ours / t_base:.2f}).",
        "",
        "Display geometry as GeoJSON (6 decimals, geometry + 40 bytes per feature): "
        + ", ".join(f"level {lvl} {size / 1024:,.0f} KB" for lvl, size in sizes.items()) + ".",
    ]
    text_out = "\n".join(lines) + "\n"
    print(text_out)
    if args.append:
        with args.append.open("a", encoding="utf-8") as fh:
            fh.write(text_out)


if __name__ == "__main__":
    main()
