"""The 待办 badge count and list (geo.todo) per scope level, against the same module at an earlier revision.

    .venv/bin/python bench/bench_todo.py --database bench_insp_1m --before 2649ccf~1 [--rounds 3] \
        [--append docs/benchmarks.md]

The baseline is ``geo/todo.py`` as it stood at ``--before`` (``git show``), run in the same process on the same
database, alternating round by round with today's; both must return the same counts and the same 300 items
(the /todo page's list, timed too) at every level (the run stops otherwise).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, module_at, percentile, report, timed, use_database


def _run(module: Any, engine: Any, path: str, today: Any) -> tuple[float, float, tuple[int, int], list[int]]:
    """Time the count and the /todo page's list (300 rows) of one module; return both, the count and the list."""
    ask = module.TodoAsk(scope=path, username="bench", verify=True, watch=True, public_queue=True, as_of=today)
    with engine.connect() as conn:
        ms, count = timed(module.todo_count, conn, ask)
        items_ms, items = timed(module.todo_items, conn, ask, limit=300)
    return ms, items_ms, (count.hazards, count.reports), [int(i["id"]) for i in items]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", required=True)
    parser.add_argument("--before", required=True, help="git revision of the baseline geo/todo.py")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--append", type=Path)
    args = parser.parse_args()
    use_database(args.database)
    from sqlalchemy import text

    from domain import clock
    from geo import todo
    from geo.db import engine as make_engine

    before = module_at(args.before, "geo/todo.py", "todo_before")
    engine = make_engine()
    with engine.connect() as conn:
        paths = {lvl: conn.execute(text('SELECT "path"::text FROM "units" WHERE "level" = :l ORDER BY "id" LIMIT 1'),
                                   {"l": lvl}).scalar_one() for lvl in (1, 2, 3, 4, 5)}
    today = clock.today()
    rows = []
    for level, path in paths.items():
        times: dict[str, list[float]] = {"before": [], "after": [], "items before": [], "items after": []}
        for _ in range(args.rounds):
            for side, module in (("before", before), ("after", todo)):
                ms, items_ms, count, items = _run(module, engine, path, today)
                times[side].append(ms)
                times[f"items {side}"].append(items_ms)
                if side == "before":
                    expected = (count, items)
                elif (count, items) != expected:
                    raise SystemExit(f"level {level}: results differ: {expected[0]} vs {count}")
        p50b, p50a = percentile(times["before"], 50), percentile(times["after"], 50)
        lb, la = percentile(times["items before"], 50), percentile(times["items after"], 50)
        rows.append(f"| {level} | {count[0]:,} | {p50b:,.0f} | {p50a:,.1f} | {p50a / p50b:.3f}× "
                    f"| {lb:,.0f} | {la:,.1f} | {la / lb:.3f}× |")
    report("\n".join([
        f"\n## 待办 badge count and list per scope level, {args.database} ({today.isoformat()})\n",
        f"Command: `.venv/bin/python bench/bench_todo.py --database {args.database} --before {args.before} "
        f"--rounds {args.rounds}`; {machine()}. Baseline: `geo/todo.py` at `{args.before}`, alternating rounds, "
        "same counts and the same 300 items at every level.\n",
        "| level | hazards awaiting | count before p50 ms | count after p50 ms | after / before "
        "| list before p50 ms | list after p50 ms | after / before |", "|---|---|---|---|---|---|---|---|", *rows,
    ]), args.append)


if __name__ == "__main__":
    main()
