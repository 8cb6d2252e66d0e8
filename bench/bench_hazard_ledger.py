"""The hazard ledger's first page (geo.hazard_ledger.hazard_page) now against one ORDER BY and an exact count.

    .venv/bin/python bench/bench_hazard_ledger.py --database bench_insp_1m [--rounds 5] [--append docs/benchmarks.md]

What the grid asks for when /hazards opens (the first 100 rows, default order) and with 未销号 ticked, per scope
(city, a county, a township), three ways alternating round by round in one process: "before" (one ORDER BY over
every match in the default order and an exact count(*), as the page did), "exact" (today's page read with an exact
count) and "now" (today's page with ``count_cap=COUNT_CAP``, as /hazards asks). All must return the same rows;
the capped total must equal the exact one or be -1 with the exact one past the cap.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, percentile, report, timed, use_database


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database", default=None)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--append", type=Path, default=None)
    args = ap.parse_args()
    use_database(args.database)

    from sqlalchemy import text

    from domain import clock
    from geo import hazard_ledger as hl
    from geo.db import engine as get_engine
    from geo.hazard_ledger import LedgerFilters
    from geo.paging import COUNT_CAP

    engine = get_engine()
    with engine.connect() as conn:
        county, township = conn.execute(text(
            "SELECT (SELECT path FROM units WHERE level = 2 ORDER BY code LIMIT 1),"
            " (SELECT path FROM units WHERE level = 3 ORDER BY code LIMIT 1)")).one()
        city = county.split(".")[0] + "."
        hazards = conn.execute(text("SELECT count(*) FROM hazards")).scalar_one()
    today = clock.today()
    cases = [(f"{level}, {label}", path, LedgerFilters(today=today, open_only=open_only))
             for level, path in (("city", city), ("county", county), ("township", township))
             for label, open_only in (("all", False), ("未销号", True))]
    def before(conn: Any, *, scope: str, filters: Any) -> tuple[list[str], int]:
        """The page as it was read before: one ORDER BY over every match, an exact count."""
        params = hl._params(scope, filters)
        total = int(conn.execute(text(f"SELECT count(*) {hl._FROM} {hl._WHERE}"), params).scalar_one())
        sql = f"{hl._SELECT} {hl._FROM} {hl._WHERE} {hl.order_by(None)} OFFSET 0 LIMIT 100"
        return [r["code"] for r in conn.execute(text(sql), params).mappings()], total

    def page(conn: Any, *, scope: str, filters: Any, cap: int | None) -> tuple[list[str], int]:
        rows, total = hl.hazard_page(conn, scope=scope, filters=filters, limit=100, count_cap=cap)
        return [r["code"] for r in rows], total

    ways = [("before", lambda c, p, f: before(c, scope=p, filters=f)),
            ("exact", lambda c, p, f: page(c, scope=p, filters=f, cap=None)),
            ("now", lambda c, p, f: page(c, scope=p, filters=f, cap=COUNT_CAP))]
    times: dict[tuple[str, str], list[float]] = {}
    totals: dict[str, int] = {}
    with engine.connect() as conn:
        for rnd in range(args.rounds + 1):  # round 0 warms the caches, untimed
            for name, path, filters in cases:
                got = {}
                for way, fn in ways[rnd % 3:] + ways[:rnd % 3]:
                    ms, got[way] = timed(fn, conn, path, filters)
                    if rnd:
                        times.setdefault((name, way), []).append(ms)
                (rows_before, exact), (rows_exact, exact2), (rows_now, capped) = (got[w] for w, _ in ways)
                if not rows_before == rows_exact == rows_now or exact != exact2 \
                        or not (capped == exact or (capped == -1 and exact > 100 + COUNT_CAP)):
                    raise SystemExit(f"{name}: different rows, or totals {exact} / {exact2} / {capped}")
                totals[name] = exact
    lines = [
        f"## Hazard ledger: first page now vs one ORDER BY and an exact count ({hazards:,} hazards, "
        f"{clock.now():%Y-%m-%d %H:%M})", "",
        f"`.venv/bin/python bench/bench_hazard_ledger.py --database {args.database} --rounds {args.rounds}` on "
        f"{machine()}; {args.rounds} rounds after one untimed, the three ways alternating; first 100 rows in the "
        "ledger's default order (overdue first by days, then newest); count_cap = 10,000.", "",
        "| scope, rows | matches | before p50 ms | page now, exact count p50 ms | page now, capped count (as "
        "/hazards) p50 ms | now / before |",
        "|---|---|---|---|---|---|",
    ]
    for name, _, _ in cases:
        ms = {w: percentile(times[(name, w)], 50) for w, _ in ways}
        lines.append(f"| {name} | {totals[name]:,} | {ms['before']:,.0f} | {ms['exact']:,.0f} | {ms['now']:,.0f} | "
                     f"**{ms['now'] / ms['before']:.2f}×** |")
    report("\n".join(lines) + "\n", args.append)


if __name__ == "__main__":
    main()
