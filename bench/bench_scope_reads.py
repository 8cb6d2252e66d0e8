"""Three reads of a scope at 1M / 3M, each against the way it was read before, alternating in one process.

    .venv/bin/python bench/bench_scope_reads.py --url postgresql+psycopg2://safegrid@/sg_l20?host=… [--rounds 3]
    .venv/bin/python bench/bench_scope_reads.py --database bench_insp_1m [--append docs/benchmarks.md]

* **ledger**: the hazard ledger's first page (``geo.hazard_ledger.hazard_page`` as /hazards asks it) with
  PostgreSQL's default 100 statistics buckets on ``units.path`` against migration 0014's 1,000 (switched with
  ``ALTER TABLE … SET STATISTICS`` + ``ANALYZE units`` inside one transaction, rolled back at the end: it locks
  ``units``, so run it on an idle database);
* **panel**: the command map's open-hazard list (``geo.map_queries.open_hazards``, 10 a page) sorted whole with
  an exact count against as the app reads it now (six groups and a capped count from 100,000 open hazards in the
  subtree, else sorted whole);
* **badge**: the 待办 count (``geo.todo.todo_count``) in full against capped at ``BADGE_CAP``;
* **risk**: /risk's four charts (trend, industries, areas, ageing) as four statements
  (``tests/risk_charts_oracle.py``, as read before stop 27), or ``breakdowns`` as it was at ``--risk-before``,
  against ``geo.risk_queries.breakdowns`` (the majors, the open hazards and hazard_months, stop 29), no filter.

Scopes: the city, the county and township with the most open hazards, a village and a grid cell of that township.
Every pair must return the same rows (the counts: equal, or the capped one past its cap). Each part runs on a
connection of its own: the panel's and the badge's reads, run in the transaction that had altered ``units``,
took up to 10x longer (the city's panel 451 ms instead of 48-86 ms).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.risk_charts_oracle
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, module_at, percentile, report, timed, use_database


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database", default=None, help="a database of the project cluster")
    ap.add_argument("--url", default=None, help="or any SQLAlchemy URL (the stack's own primary)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--parts", default="ledger,panel,badge,risk", help="which reads, comma-separated")
    ap.add_argument("--risk-before", default=None, metavar="REV",
                    help="/risk's baseline: geo/risk_queries.py at this git revision (default: the four statements)")
    ap.add_argument("--append", type=Path, default=None)
    args = ap.parse_args()
    use_database(args.database)
    if args.url:
        os.environ["SAFEGRID_DATABASE_URL"] = args.url

    from sqlalchemy import Connection, text

    from domain import clock
    from geo import map_queries as mq
    from geo import risk_queries as rq
    from geo.db import engine as get_engine
    from geo.hazard_ledger import LedgerFilters, hazard_page
    from geo.paging import COUNT_CAP
    from geo.todo import BADGE_CAP, TodoAsk, todo_count
    from tests import risk_charts_oracle as oracle

    engine = get_engine()
    today = clock.today()
    busiest = text("SELECT u.path, u.code FROM unit_stats s JOIN units u ON u.id = s.unit_id WHERE u.level = :l "
                   "AND u.path LIKE :p || '%' ORDER BY s.hazards_open DESC, u.code LIMIT 1")
    with engine.connect() as conn:
        city = conn.execute(text("SELECT path, code FROM units WHERE level = 1 ORDER BY code LIMIT 1")).one()
        county = conn.execute(busiest, {"l": 2, "p": city.path}).one()
        township = conn.execute(busiest, {"l": 3, "p": city.path}).one()
        below = {level: conn.execute(busiest, {"l": level, "p": township.path}).one() for level in (4, 5)}
        hazards = conn.execute(text("SELECT count(*) FROM hazards")).scalar_one()
    scopes = [("city", city), ("county", county), ("township", township), ("village", below[4]),
              ("grid cell", below[5])]

    def stats(conn: Connection, buckets: int) -> Connection:
        """Set the units' path statistics to ``buckets``; return the connection."""
        conn.execute(text(f"ALTER TABLE units ALTER COLUMN path SET STATISTICS {buckets}"))
        conn.execute(text("ANALYZE units"))
        return conn

    def ledger(conn: Connection, path: str) -> tuple[list[str], int]:
        rows, total = hazard_page(conn, scope=path, filters=LedgerFilters(today=today), limit=100,
                                  count_cap=COUNT_CAP)
        return [r["code"] for r in rows], total

    def panel(grouped: bool | None) -> Callable[[Connection, str, str], tuple[list[int], int]]:
        def read(conn: Connection, path: str, code: str) -> tuple[list[int], int]:
            got = mq.open_hazards(conn, scope=city.path, code=code, limit=10, grouped=grouped)
            assert got is not None
            return [h["id"] for h in got["items"]], got["total"]
        return read

    def badge(cap: int | None) -> Callable[[Connection, str, str], tuple[list[int], int]]:
        def read(conn: Connection, path: str, code: str) -> tuple[list[int], int]:
            ask = TodoAsk(scope=path, username="bench", verify=True, watch=True, public_queue=True, as_of=today)
            return [], todo_count(conn, ask, cap=cap).hazards
        return read

    risk_before = module_at(args.risk_before, "geo/risk_queries.py", "risk_before") if args.risk_before else None

    def charts(one: bool) -> Callable[[Connection, str, str], tuple[list[Any], int]]:
        def read(conn: Connection, path: str, code: str) -> tuple[list[Any], int]:
            f = rq.RiskFilters()
            cutoff = rq.stock_cutoff(conn, as_of=today)
            module: Any = rq if one else risk_before
            if module is not None:
                got = module.breakdowns(conn, scope=path, filters=f, as_of=today, cutoff=cutoff)
                return [got["trend"], got["industries"], got["areas"], got["ageing"]], 0
            return [oracle.monthly_found_closed(conn, scope=path, filters=f, as_of=today, cutoff=cutoff),
                    oracle.open_by_industry(conn, scope=path, filters=f, as_of=today),
                    oracle.by_child_unit(conn, scope=path, filters=f, as_of=today),
                    oracle.overdue_ageing(conn, scope=path, filters=f, as_of=today)], 0
        return read

    parts: list[tuple[str, str, str, Any, Any]] = [
        ("ledger first page", "100 buckets", "1,000 buckets (0014)",
         lambda c, p, _code: ledger(stats(c, 100), p), lambda c, p, _code: ledger(stats(c, 1000), p)),
        ("panel's open hazards", "sorted whole, exact count", "as the app reads it now", panel(False), panel(None)),
        ("待办 badge count", "full count", f"up to {BADGE_CAP + 1}", badge(None), badge(BADGE_CAP)),
        ("/risk charts", f"breakdowns of {args.risk_before}" if risk_before else "four statements",
         "majors, open hazards, hazard_months", charts(False), charts(True)),
    ]
    keys = {"ledger": 0, "panel": 1, "badge": 2, "risk": 3}
    parts = [parts[keys[k]] for k in args.parts.split(",")]
    times: dict[tuple[str, str, int], list[float]] = {}
    for part, _, _, old, new in parts:  # each part on a connection of its own: the ledger's ALTER locks units
        with engine.connect() as conn:
            for rnd in range(args.rounds + 1):  # round 0 warms the caches, untimed
                for name, (path, code) in scopes:
                    order = [(0, old), (1, new)] if rnd % 2 else [(1, new), (0, old)]
                    got = {}
                    for way, fn in order:
                        ms, got[way] = timed(fn, conn, path, code)
                        if rnd:
                            times.setdefault((part, name, way), []).append(ms)
                    (rows0, n0), (rows1, n1) = got[0], got[1]
                    if rows0 != rows1 or not (n0 == n1 or n1 == -1 or (n1 == BADGE_CAP + 1 and n0 > BADGE_CAP)):
                        raise SystemExit(f"{part}, {name}: different rows or counts ({n0} / {n1})")
            conn.rollback()  # the statistics as they were
    risk_flag = f" --risk-before {args.risk_before}" if args.risk_before else ""
    lines = [
        f"## Scope reads before / after (issue 20; {hazards:,} hazards, {clock.now():%Y-%m-%d %H:%M})", "",
        f"`.venv/bin/python bench/bench_scope_reads.py {'--url …' if args.url else f'--database {args.database}'} "
        f"--rounds {args.rounds} --parts {args.parts}{risk_flag}` on {machine()}; p50 of {args.rounds} rounds "
        "after one untimed, the two ways alternating; same rows checked.", "",
        "| read | scope | before | p50 ms | after | p50 ms | after / before |",
        "|---|---|---|---|---|---|---|",
    ]
    for part, before, after, _, _ in parts:
        for name, (_, code) in scopes:
            ms0, ms1 = (percentile(times[(part, name, w)], 50) for w in (0, 1))
            lines.append(f"| {part} | {name} {code} | {before} | {ms0:,.0f} | {after} | {ms1:,.0f} | "
                         f"**{ms1 / ms0:.2f}×** |")
    report("\n".join(lines) + "\n", args.append)


if __name__ == "__main__":
    main()
