"""Benchmarks of issue 16 at 1M enterprises, 500 inspectors, ~5.7M inspections: the 双随机 draw, the 四查 part of the
refresh, the inspection ledger's first page — each against a baseline measured in the same run, interleaved.

    .venv/bin/python bench/bench_inspections.py --database bench_insp_1m [--parts draw,cadence,ledger]

The database is a copy of the issue 15 bench's 1M database (``bench_hazard_loop_1000000``: the 20k demo cloned in
SQL by ``bench_refresh.clone`` to 1,000,000 enterprises, 3M hazards and 5,704,889 inspections, refreshed)::

    .venv/bin/safegrid db psql -c "CREATE DATABASE bench_insp_1m TEMPLATE bench_hazard_loop_1000000"

The bench adds (again on every run, idempotent) 500 inspector accounts ``bench_insp_NNN`` — 50 with the city as
scope, 450 spread over the 7 counties; the first 150 carry the display name of a current duty holder of some grid
cell, so that the draw's own-grid exclusion has work — and one leader.

1. **draw**: ``geo.draws.make_draw`` of ``--n`` enterprises city-wide (read the pool, draw, store the draw, its
   items and the audit row; commit included) against the bare SQL of the same sample: the ``ORDER BY`` of the same
   keys ``LIMIT n`` (with a minimum 红/橙 share: the 红/橙 part first, then the rest without them — two
   statements), same seed, its own transaction. Sides alternate which goes first; the drawn enterprises of both
   are compared.
2. **cadence**: the 四查 computation of the refresh. The unit roll-up statement (``geo/sql/refresh_unit_stats.sql``,
   ``CREATE TEMP TABLE stage_unit_facts AS …``) as it is now, as first built (``e70c74c``), the same statement
   before 四查 by calendar period (``git show e70c74c^:geo/sql/refresh_unit_stats.sql``: the rolling 92/31/7/1-day
   reading) and that old statement without its inspection CTEs (no 四查 at all: the floor), in one transaction
   after staging the open hazards once, rotating the order.
3. **ledger**: the inspection ledger's first page (``geo.inspection_ledger.inspection_page``: the count and the
   newest 100 rows, city scope, no filter — what the grid's first ``getRowsRequest`` runs) against the bare SQL of
   the same 100 rows, then again after creating the index a migration would add (dropped at the end).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from domain import clock

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py, also when run through runpy
from common import fresh_database, machine, percentile, report, timed, use_database

AS_OF = date(2026, 11, 23)  # the demo's reference day, as in bench_refresh.py
CITY = "411000"
CITY_PATH = "411000."
BEFORE_PERIODS = "e70c74c^"  # the commit before 四查 by calendar period (issue 16 part 1)
FIRST_PERIODS = "e70c74c"  # 四查 by calendar period as first built (records taken up the tree one by one)
ROLLING_DAYS = {"cad1": 92, "cad2": 31, "cad3": 7, "cad4": 1}

# The bare SQL of a draw's sample: the same keys as domain.draws.sample_key, in SQL.
_KEY = {
    "none": 'hashtextextended(e."credit_code", CAST(:seed AS bigint)) DESC, e."credit_code"',
    "risk": ('-ln((CAST(hashtextextended(e."credit_code", CAST(:seed AS bigint)) AS float8) + 9223372036854775808.0 '
             "+ 0.5) / 18446744073709551616.0) / CASE e.\"risk_level\" WHEN 'red' THEN 4.0 WHEN 'orange' THEN 3.0 "
             "WHEN 'yellow' THEN 2.0 ELSE 1.0 END, e.\"credit_code\""),
}
BARE_FIRST = ('SELECT e."id" FROM "enterprises" e JOIN "units" u ON u."id" = e."unit_id" '
              "WHERE u.\"path\" LIKE :area || '%' AND e.\"risk_level\" IN ('red', 'orange') ORDER BY {key} LIMIT :k")
BARE_REST = ('SELECT e."id" FROM "enterprises" e JOIN "units" u ON u."id" = e."unit_id" '
             "WHERE u.\"path\" LIKE :area || '%' AND e.\"id\" <> ALL(CAST(:first AS int[])) ORDER BY {key} LIMIT :n")


def setup_accounts(url: str) -> None:
    """(Re-)create the 500 inspectors and the leader (see the module docstring)."""
    from geo.users import create_user, hash_password

    eng = create_engine(url)
    secret = hash_password("Bench-pass-2026")
    with eng.begin() as conn:
        conn.execute(text("DELETE FROM users WHERE username LIKE 'bench\\_insp\\_%' OR username = 'bench_lead'"))
        counties = [r[0] for r in conn.execute(text("SELECT code FROM units WHERE level = 2 ORDER BY code"))]
        names = [r[0] for r in conn.execute(text(
            "SELECT p.name FROM duties d JOIN persons p ON p.id = d.person_id JOIN units u ON u.id = d.unit_id "
            "WHERE d.until IS NULL AND u.level = 5 ORDER BY md5(CAST(d.id AS text)) LIMIT 150"))]
        for i in range(500):
            scope = CITY if i % 10 == 0 else counties[i % len(counties)]
            create_user(conn, username=f"bench_insp_{i:03d}", password_hash=secret, role="inspector",
                        scope_code=scope, display_name=names[i] if i < len(names) else f"执法人员{i:03d}")
        create_user(conn, username="bench_lead", password_hash=secret, role="leader", scope_code=CITY)
    eng.dispose()


def bench_draw(url: str, *, n: int, weighting: str, share: float, repeat: int, warmup: int) -> dict[str, Any]:
    """Part 1: ``make_draw`` vs the bare sample SQL, alternating, same seeds; returns ms per side and agreement."""
    from domain.draws import DrawOptions
    from geo.db import engine as app_engine
    from geo.draws import PoolFilter, make_draw

    eng = app_engine(url)
    options = DrawOptions(n=n, weighting=weighting, min_high_share=share)
    key = _KEY[weighting]
    out: dict[str, list[float]] = {"app": [], "bare": []}
    agree = 0
    drawn: dict[str, list[int]] = {}

    def app(seed: int) -> None:
        with eng.begin() as conn:
            draw_id, _ = make_draw(conn, scope=CITY_PATH, username="bench_lead", title=f"bench {seed}",
                                   filters=PoolFilter(CITY), options=options, request_key=uuid.uuid4().hex,
                                   seed=seed)
        drawn["app"] = [draw_id]

    def bare(seed: int) -> None:
        with eng.begin() as conn:
            k = math.ceil(share * n - 1e-9)  # domain.draws.wanted (the pool is larger than n)
            first = [r[0] for r in conn.execute(text(BARE_FIRST.format(key=key)),
                                                {"area": CITY_PATH, "seed": seed, "k": k})] if k else []
            rest = [r[0] for r in conn.execute(text(BARE_REST.format(key=key)),
                                               {"area": CITY_PATH, "seed": seed, "first": first,
                                                "n": n - len(first)})]
        drawn["bare"] = first + rest

    for i in range(warmup + repeat):
        seed = 7_000_000 + i
        sides = [("app", app), ("bare", bare)]
        if i % 2:
            sides.reverse()
        for side, fn in sides:
            ms, _ = timed(fn, seed)
            if i >= warmup:
                out[side].append(ms)
        with eng.connect() as conn:
            ids = [r[0] for r in conn.execute(text(
                'SELECT "enterprise_id" FROM "draw_items" WHERE "draw_id" = :d ORDER BY "seq"'),
                {"d": drawn["app"][0]})]
        agree += ids == drawn["bare"]
    eng.dispose()
    return {**out, "agree": agree, "runs": warmup + repeat}


def _sql_at(commit: str) -> str:
    return subprocess.run(["git", "show", f"{commit}:geo/sql/refresh_unit_stats.sql"], check=True,
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1]).stdout


def _without_inspections(sql: str) -> str:
    """The old statement with its inspection CTEs emptied (no 四查 reading at all)."""
    start, end = sql.index("), insp AS ("), sql.index("), kids AS (")
    return (sql[:start] + "), insp_up AS (SELECT CAST(NULL AS int) AS anc_id, CAST(NULL AS date) AS last_at "
            "WHERE false\n" + sql[end:])


def bench_cadence(url: str, *, repeat: int) -> dict[str, Any]:
    """Part 2: the roll-up statement now / before 四查 by period / without any 四查, in one transaction."""
    from domain.cadence import CadenceRule, sql_windows
    from domain.rules_config import DEFAULT_STAFFING
    from geo import refresh

    now_sql = refresh._sql("refresh_unit_stats.sql")
    before = _sql_at(BEFORE_PERIODS)
    variants = {"periods (now)": now_sql, f"periods as first built ({FIRST_PERIODS})": _sql_at(FIRST_PERIODS),
                "rolling window (before)": before, "no 四查": _without_inspections(before)}
    eng = create_engine(url)
    out: dict[str, list[float]] = {k: [] for k in variants}
    with eng.begin() as conn:
        refresh.tune(conn)
        cutoff = refresh.stock_cutoff(conn, as_of=AS_OF)
        staged, _ = timed(refresh.stage_open_hazards, conn, as_of=AS_OF)
        params = {"as_of": AS_OF, "stock_cutoff": cutoff,
                  "staffing": json.dumps({str(k): dict(v) for k, v in DEFAULT_STAFFING.items()}),
                  "cadence": json.dumps(sql_windows(refresh.cadence_rule(conn) or CadenceRule(), AS_OF)),
                  **ROLLING_DAYS}
        names = list(variants)
        for i in range(repeat + 1):
            order = names[i % len(names):] + names[: i % len(names)]
            for name in order:
                sql = variants[name]
                binds = set(re.findall(r"(?<!:):([a-z_0-9]+)", sql))
                conn.execute(text("DROP TABLE IF EXISTS stage_unit_facts"))
                ms, _ = timed(conn.execute, text(sql), {k: v for k, v in params.items() if k in binds})
                if i:
                    out[name].append(ms)
                if name == "periods (now)":
                    behind = conn.execute(text(
                        "SELECT count(*) FILTER (WHERE inspection_overdue), count(*) FROM stage_unit_facts")).one()
        counts = conn.execute(text(
            "SELECT (SELECT count(*) FROM inspections), (SELECT count(*) FROM patrols)")).one()
        conn.rollback()
    eng.dispose()
    return {"ms": out, "stage_open_hazards_ms": staged, "behind": behind, "inspections": counts[0],
            "patrols": counts[1]}


BARE_LEDGER_PAGE = """
SELECT x."code", x."inspected_at", x."kind", x."result", x."inspector_level", x."inspectors", x."document_no",
       x."penalty_yuan", x."hazards_found", x."note",
       CASE WHEN x."created_by" IS NOT NULL THEN 'app' ELSE 'import' END AS "source",
       e."credit_code", e."name" AS "enterprise_name", u."code" AS "unit_code", u."name" AS "unit_name",
       d."code" AS "draw_code"
FROM "inspections" x JOIN "units" u ON u."id" = x."unit_id"
LEFT JOIN "enterprises" e ON e."id" = x."enterprise_id" LEFT JOIN "inspection_draws" d ON d."id" = x."draw_id"
WHERE u."path" LIKE %(scope)s || '%%' ORDER BY x."inspected_at" DESC, x."id" DESC LIMIT 100
"""
BARE_CAPPED_COUNT = (
    'SELECT count(*) FROM (SELECT 1 FROM "inspections" x JOIN "units" u ON u."id" = x."unit_id" '
    "WHERE u.\"path\" LIKE %(scope)s || '%%' LIMIT %(cap)s) t"
)


def bench_ledger(url: str, *, repeat: int) -> dict[str, dict[str, list[float]]]:
    """Part 3: the ledger's first page as the grid asks it (``inspection_page`` with ``count_cap``: a count that stops
    10,000 rows past the page, + 100 rows, on migration 0011's index) vs the same two statements bare, city scope;
    the exact count beside them for what it would cost."""
    import psycopg2

    from geo.db import engine as app_engine
    from geo.inspection_ledger import InspectionFilters, inspection_page
    from geo.paging import COUNT_CAP

    eng = app_engine(url)
    raw = psycopg2.connect(url.replace("postgresql+psycopg2", "postgresql"))
    raw.autocommit = True

    def app() -> int:
        with eng.begin() as conn:
            _rows, total = inspection_page(conn, scope=CITY_PATH, filters=InspectionFilters(), offset=0, limit=100,
                                           count_cap=COUNT_CAP)
        return total

    def bare() -> None:
        with raw.cursor() as cur:
            cur.execute(BARE_CAPPED_COUNT, {"scope": CITY_PATH, "cap": 100 + COUNT_CAP + 1})
            cur.fetchall()
            cur.execute(BARE_LEDGER_PAGE, {"scope": CITY_PATH})
            cur.fetchall()

    def count() -> None:
        with raw.cursor() as cur:
            cur.execute('SELECT count(*) FROM "inspections" x JOIN "units" u ON u."id" = x."unit_id" '
                        "WHERE u.\"path\" LIKE %(scope)s || '%%'", {"scope": CITY_PATH})

    sides: dict[str, list[float]] = {"app": [], "bare": [], "count alone": []}
    fns = {"app": app, "bare": bare, "count alone": count}
    for i in range(repeat + 1):
        names = list(fns)
        for name in names[i % 3:] + names[: i % 3]:
            ms, _ = timed(fns[name])
            if i:
                sides[name].append(ms)
    raw.close()
    return {"migrated (0011), capped count": sides}


def pct(values: list[float]) -> str:
    """p50 / p95 of ``values`` in ms."""
    return f"{percentile(values, 0.5):.1f} / {percentile(values, 0.95):.1f}"


def main() -> None:
    """Run the parts asked for and print (or append) the Markdown result."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="bench_insp_1m")
    parser.add_argument("--parts", default="draw,cadence")
    parser.add_argument("--n", type=int, default=200, help="enterprises per draw")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--cadence-repeat", type=int, default=5)
    parser.add_argument("--ledger-repeat", type=int, default=5)
    parser.add_argument("--append", type=Path, default=None)
    args = parser.parse_args()
    use_database(args.database)
    url, _ = fresh_database(args.database, reuse=True)
    parts = set(args.parts.split(","))
    eng = create_engine(url)
    with eng.connect() as conn:
        sizes = conn.execute(text(
            "SELECT (SELECT count(*) FROM enterprises), (SELECT count(*) FROM inspections), "
            "(SELECT count(*) FROM units)")).one()
    eng.dispose()
    lines = [f"\n## Issue 16 benchmarks, {sizes[0]:,} enterprises ({clock.today().isoformat()})\n",
             f"`.venv/bin/python bench/bench_inspections.py --database {args.database} --parts {args.parts}` on "
             f"{machine()}; data: {sizes[0]:,} enterprises, {sizes[1]:,} inspections, {sizes[2]:,} units.\n"]
    if "draw" in parts:
        setup_accounts(url)
        lines += [f"**1. Draw of {args.n} city-wide**, 500 inspectors, {args.repeat} draws a side (+{args.warmup} "
                  "warm-up), ms p50 / p95, commit included:\n",
                  "| options | make_draw | bare sample SQL | ratio p50 / p95 | same enterprises, same order |",
                  "|---|---|---|---|---|"]
        for weighting, share in (("none", 0.0), ("risk", 0.3)):
            r = bench_draw(url, n=args.n, weighting=weighting, share=share, repeat=args.repeat, warmup=args.warmup)
            lines.append(f"| weighting {weighting}, 红/橙 ≥ {share:.0%} | {pct(r['app'])} | {pct(r['bare'])} | "
                         f"{percentile(r['app'], 0.5) / percentile(r['bare'], 0.5):.2f} / "
                         f"{percentile(r['app'], 0.95) / percentile(r['bare'], 0.95):.2f} | {r['agree']}/{r['runs']} |")
            print(lines[-1], flush=True)
        lines.append(f"\nload average at the end of part 1: {' / '.join(f'{v:.1f}' for v in os.getloadavg())}\n")
    if "cadence" in parts:
        r = bench_cadence(url, repeat=args.cadence_repeat)
        base = r["ms"]["rolling window (before)"]
        lines += [f"**2. 四查 in the refresh**: the unit roll-up statement, {args.cadence_repeat} runs each, rotating "
                  f"({r['inspections']:,} inspections, {r['patrols']:,} patrols; open hazards staged once in "
                  f"{r['stage_open_hazards_ms'] / 1000:.1f} s; units behind now: {r['behind'][0]:,} of "
                  f"{r['behind'][1]:,}), ms:\n",
                  "| statement | p50 / p95 | ratio to the rolling window, p50 / p95 |", "|---|---|---|"]
        for name, values in r["ms"].items():
            lines.append(f"| {name} | {pct(values)} | {percentile(values, 0.5) / percentile(base, 0.5):.2f} / "
                         f"{percentile(values, 0.95) / percentile(base, 0.95):.2f} |")
        lines.append(f"\nload average at the end of part 2: {' / '.join(f'{v:.1f}' for v in os.getloadavg())}\n")
    if "ledger" in parts:
        r3 = bench_ledger(url, repeat=args.ledger_repeat)
        lines += [f"**3. Inspection ledger, first page** (100 rows, city scope, no filter, newest first: "
                  f"`geo.inspection_ledger.inspection_page(count_cap=COUNT_CAP)` = a count stopping 10,000 rows past "
                  f"the page + the page, in a transaction) against the same two statements bare (psycopg2), "
                  f"{args.ledger_repeat} runs each, rotating, ms:\n",
                  "| database | inspection_page p50 / p95 | bare SQL | an exact count alone | ratio p50 / p95 |",
                  "|---|---|---|---|---|"]
        for label, v in r3.items():
            lines.append(f"| {label} | {pct(v['app'])} | {pct(v['bare'])} | {pct(v['count alone'])} | "
                         f"{percentile(v['app'], 0.5) / percentile(v['bare'], 0.5):.2f} / "
                         f"{percentile(v['app'], 0.95) / percentile(v['bare'], 0.95):.2f} |")
        lines.append(f"\nload average at the end of part 3: {' / '.join(f'{v:.1f}' for v in os.getloadavg())}\n")
    report("\n".join(lines) + "\n", args.append)


if __name__ == "__main__":
    main()
