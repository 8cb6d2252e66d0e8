"""Benchmark of the big screen's refresh: each geo/bigscreen_queries.py query and the whole read, city and county.

    .venv/bin/python bench/bench_bigscreen.py --database safegrid [--repeat 20]

``monthly_trend`` reads ``hazard_months`` (migration 0015); the row after it times the same months
counted from the hazards, as before, in the same run. The database must hold a loaded and refreshed
demo (``make demo`` or ``safegrid demo load``). Every query runs ``--repeat`` times (after one warm-up)
on one open connection for the city scope and for the county with the most hazards; p50 / p95 in
milliseconds are printed as a Markdown table, with the row counts the screen reads, and the JSON size
of what one refresh would send when every part changed (the upper bound: unchanged parts are not sent).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from domain import clock

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py, also when run through runpy
from common import percentile, timed, use_database

BEFORE = "monthly_trend counted live (before 0015)"


def main() -> None:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--database", default=None, help="database name on the project server (default: settings)")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    use_database(args.database)

    from sqlalchemy import text

    from dashboard.bigscreen import data as bs
    from dashboard.bigscreen.panels import ticker_items
    from geo import bigscreen_queries as bq
    from geo.db import engine
    from geo.scope import scope_params

    today = clock.today()
    with engine().connect() as conn:
        counts = conn.execute(text(
            "SELECT (SELECT count(*) FROM enterprises), (SELECT count(*) FROM hazards), "
            "(SELECT count(*) FROM units)")).one()
        county = conn.execute(text(
            "SELECT u.path FROM units u JOIN unit_stats s ON s.unit_id = u.id WHERE u.level = 2 "
            "ORDER BY s.hazards_open DESC LIMIT 1")).scalar_one()
        city = county.split(".")[0] + "."
        queries: dict[str, Callable[[str], Any]] = {
            "screen_kpis": lambda s: bq.screen_kpis(conn, scope=s, as_of=today),
            "child_summaries": lambda s: bq.child_summaries(conn, scope=s, as_of=today),
            "monthly_trend": lambda s: bq.monthly_trend(conn, scope=s, as_of=today),
            # the baseline: the same 12 months counted from the hazards, as before migration 0015 (not in "all")
            BEFORE: lambda s: conn.execute(text(bq._TREND_LIVE), dict(zip(
                ("first", "last", "next"), bq._trend_window(today, bq.TREND_MONTHS), strict=True))
                | {"as_of": today, **scope_params(s)}).all(),
            "alarms": lambda s: bq.alarms(conn, scope=s, as_of=today),
            "grid_overview": lambda s: bq.grid_overview(conn, scope=s),
            "fill_classes": lambda s: bq.fill_classes(conn, scope=s),
        }
        print(f"{counts[0]:,} enterprises, {counts[1]:,} hazards, {counts[2]:,} units; repeat {args.repeat}\n")
        print("| query | city p50 ms | city p95 ms | county p50 ms | county p95 ms |")
        print("|---|---:|---:|---:|---:|")
        totals = {city: [0.0] * args.repeat, county: [0.0] * args.repeat}
        for name, fn in queries.items():
            cells = []
            for scope in (city, county):
                fn(scope)  # warm-up
                times = []
                for i in range(args.repeat):
                    ms, _ = timed(fn, scope)
                    times.append(ms)
                    if name != BEFORE:
                        totals[scope][i] += ms
                cells += [f"{percentile(times, 0.5):.1f}", f"{percentile(times, 0.95):.1f}"]
            print(f"| {name} | " + " | ".join(cells) + " |")
        print("| **all (one refresh)** | " + " | ".join(
            f"{percentile(totals[s], q):.1f}" for s in (city, county) for q in (0.5, 0.95)) + " |")
    for scope in (city, county):
        data = bs.read_screen(scope, today)
        size = len(json.dumps(bs.signature(data, today)))
        print(f"\n{scope}: {len(data['children'])} children, {len(ticker_items(data['alarms'], as_of=today))} "
              f"ticker entries; refresh signature store {size:,} bytes")


if __name__ == "__main__":
    main()
