"""The reads of open hazards on ``ix_hazards_open`` as migration 0016 built it against 0019's (more columns).

    .venv/bin/python bench/bench_open_index.py --database bench_insp_1m [--rounds 3] [--append docs/benchmarks.md]
    .venv/bin/python bench/bench_open_index.py --url 'postgresql+psycopg2://…' …

Each round builds the index one way in a transaction — 0016's columns, or today's (a fresh build of both, so
neither is bloated by earlier writes) — times the reads below at the city and the county with the most open
hazards, and rolls back; the two ways alternate. The reads: 待办's list (300 rows) and capped badge count
(``geo.todo``), the big screen's ribbon and child summaries (``geo.bigscreen_queries``), the command map's open
list (``geo.map_queries.open_hazards``). Both ways must return the same rows (the run stops otherwise).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, percentile, report, timed, use_database

_MIGRATION = "geo.migrations.versions.0019_open_hazards_todo_columns"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=None, help="a database of the project cluster")
    parser.add_argument("--url", default=None, help="or any SQLAlchemy URL (the stack's own primary)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--append", type=Path)
    args = parser.parse_args()
    use_database(args.database)
    if args.url:
        os.environ["SAFEGRID_DATABASE_URL"] = args.url
    from sqlalchemy import Connection, text

    from domain import clock
    from geo import bigscreen_queries as bq
    from geo import map_queries as mq
    from geo import todo
    from geo.db import engine as make_engine

    migration = importlib.import_module(_MIGRATION)
    today = clock.today()
    engine = make_engine()
    with engine.connect() as conn:
        city = conn.execute(text('SELECT "path", "code" FROM "units" WHERE "level" = 1 ORDER BY "code" LIMIT 1')).one()
        county = conn.execute(text(
            'SELECT u."path", u."code" FROM "unit_stats" s JOIN "units" u ON u."id" = s."unit_id" '
            'WHERE u."level" = 2 ORDER BY s."hazards_open" DESC, u."code" LIMIT 1')).one()
        hazards = conn.execute(text("SELECT count(*) FROM hazards WHERE status <> 'closed'")).scalar_one()

    def ask(path: str) -> Any:
        return todo.TodoAsk(scope=path, username="bench", verify=True, watch=True, public_queue=True, as_of=today)

    reads: dict[str, Callable[[Connection, str, str], Any]] = {
        "待办 list (300)": lambda c, p, _code: [i["id"] for i in todo.todo_items(c, ask(p))],
        "待办 badge count (≤ 1000)": lambda c, p, _code: todo.todo_count(c, ask(p), cap=todo.BADGE_CAP),
        "big screen ribbon": lambda c, p, _code: bq.screen_kpis(c, scope=p, as_of=today),
        "big screen children": lambda c, p, _code: bq.child_summaries(c, scope=p, as_of=today),
        "command map open list": lambda c, _p, code: mq.open_hazards(c, scope=city.path, code=code, limit=10,
                                                                      grouped=None),
    }

    def build(conn: Connection, include: list[str]) -> None:
        cols = ", ".join(f'"{c}"' for c in include)
        conn.execute(text("DROP INDEX ix_hazards_open"))
        conn.execute(text(f'CREATE INDEX ix_hazards_open ON hazards ("unit_id", "deadline") INCLUDE ({cols}) '
                          "WHERE status <> 'closed'"))

    times: dict[tuple[str, str, str], list[float]] = {}
    for rnd in range(args.rounds + 1):  # round 0 warms the caches, untimed
        got: dict[str, dict[tuple[str, str], Any]] = {}
        order = [("0016", migration.BEFORE), ("0019", migration.AFTER)]
        for way, include in order if rnd % 2 else order[::-1]:
            got[way] = {}
            with engine.connect() as conn:
                build(conn, include)
                for name, fn in reads.items():
                    for scope, (path, code) in (("city", city), ("county", county)):
                        ms, got[way][(name, scope)] = timed(fn, conn, path, code)
                        if rnd:
                            times.setdefault((name, scope, way), []).append(ms)
                conn.rollback()
        if got["0016"] != got["0019"]:
            raise SystemExit("the two indexes gave different rows")
    lines = [
        f"## ix_hazards_open: 0016's columns against 0019's ({hazards:,} open hazards, {clock.now():%Y-%m-%d %H:%M})",
        "",
        f"`.venv/bin/python bench/bench_open_index.py {'--url …' if args.url else f'--database {args.database}'} "
        f"--rounds {args.rounds}` on {machine()}; p50 of {args.rounds} rounds after one untimed, each index freshly "
        f"built in a rolled-back transaction, the two alternating; same rows checked. City {city.code}, county "
        f"{county.code} (the most open hazards).", "",
        "| read | scope | 0016 p50 ms | 0019 p50 ms | 0019 / 0016 |", "|---|---|---:|---:|---:|",
    ]
    for name in reads:
        for scope in ("city", "county"):
            before = percentile(times[(name, scope, "0016")], 50)
            after = percentile(times[(name, scope, "0019")], 50)
            lines.append(f"| {name} | {scope} | {before:,.0f} | {after:,.0f} | **{after / before:.2f}×** |")
    report("\n".join(lines) + "\n", args.append)


if __name__ == "__main__":
    main()
