"""Department scope (issue 18 part 5): a department account's reads against the same reads of a city account.

    .venv/bin/python bench/bench_department.py --database bench_insp_1m [--repeat 5] [--append docs/benchmarks.md]

On the issue 16 bench database (1,000,000 enterprises, 3,000,000 hazards; migrated to 0012, so ``dept_code`` is
backfilled from the demo's 行业主管部门 texts), each ``geo`` function is called with the city's scope and with the
city's scope limited to the largest, a middle and the smallest department (``geo.scope.Scope``), in turn, and the
median of ``--repeat`` calls is reported with the ratio to the city account's. The city account's statement
carries the department predicate folded away at planning (``NULL IS NULL``): its time is the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import machine, report, timed, use_database

CITY = "411000."
COUNTY_BOX = (113.735903, 33.986217, 113.882097, 34.098406)  # 魏都区's extent
STREET_BOX = (113.80, 34.02, 113.81, 34.03)


def main() -> None:
    """Run the comparison and print (or append) the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="bench_insp_1m")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--append", type=Path)
    args = parser.parse_args()
    use_database(args.database)

    from sqlalchemy import text

    from domain import clock
    from domain.crs import BBox
    from geo.db import connect
    from geo.hazard_ledger import LedgerFilters, hazard_page
    from geo.map_queries import points_geojson
    from geo.scope import Scope
    from geo.search import search_enterprises

    with connect() as conn:
        sizes = conn.execute(text('SELECT "dept_code", count(*) FROM "enterprises" WHERE "dept_code" IS NOT NULL '
                                  'GROUP BY 1 ORDER BY 2 DESC')).all()
        as_of = conn.execute(text("SELECT max(found_at) FROM hazards")).scalar() or clock.today()
    picks = [sizes[0], sizes[len(sizes) // 2], sizes[-1]]
    scopes: list[tuple[str, str]] = [("city account", CITY)] + [
        (f"{code} ({n:,} enterprises)", Scope(CITY, code)) for code, n in picks]
    county, street = BBox(*COUNTY_BOX), BBox(*STREET_BOX)
    reads: dict[str, Callable[[Any, str], Any]] = {
        "hazard ledger, first page + count": lambda c, s: hazard_page(
            c, scope=s, filters=LedgerFilters(open_only=True, today=as_of), limit=100),
        "search “化工”": lambda c, s: search_enterprises(c, scope=s, q="化工"),
        "hazard points, county view (z11, aggregated)": lambda c, s: points_geojson(
            c, scope=s, kind="hazards", bbox=county, zoom=11, limit=3000),
        "enterprise points, street view (z16, raw)": lambda c, s: points_geojson(
            c, scope=s, kind="enterprises", bbox=street, zoom=16, limit=3000),
    }
    times: dict[tuple[str, str], list[float]] = {}
    with connect() as conn:
        for _ in range(args.repeat):
            for read_name, read in reads.items():
                for scope_name, scope in scopes:  # in turn, so drift hits every scope alike
                    ms, _ = timed(read, conn, scope)
                    times.setdefault((read_name, scope_name), []).append(ms)
    head = "| read | " + " | ".join(name for name, _ in scopes) + " |"
    rows = [head, "|---|" + "---|" * len(scopes)]
    for read_name in reads:
        base = statistics.median(times[(read_name, scopes[0][0])])
        medians = [statistics.median(times[(read_name, s)]) for s, _ in scopes[1:]]
        cells = [f"{base:.1f} ms"] + [f"{m:.1f} ms ({m / base:.2f}×)" for m in medians]
        rows.append(f"| {read_name} | " + " | ".join(cells) + " |")
    markdown = (f"\n## Department scope: a department account's reads vs a city account's ({clock.today()}, "
                f"{machine()}, {args.database}, median of {args.repeat})\n\n"
                f"`.venv/bin/python bench/bench_department.py --database {args.database} --repeat {args.repeat}`\n\n"
                + "\n".join(rows) + "\n")
    report(markdown, args.append)


if __name__ == "__main__":
    main()
