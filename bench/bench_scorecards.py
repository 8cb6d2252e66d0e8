"""Benchmarks of issue 18: the quarterly scorecard of every township and the city's briefing PDF.

    .venv/bin/python bench/bench_scorecards.py --database bench_insp_1m [--parts scorecard,briefing]
    .venv/bin/python bench/bench_scorecards.py --database bench_cards_20k --template bench_loop_base_20k

The 1M database is the issue 16 bench's (``bench_insp_1m``: the 20k demo cloned in SQL to 1,000,000 enterprises,
3M hazards, 5.7M inspections; see ``bench_inspections.py``); with ``--template`` the database is first created as a
copy of that one (``CREATE DATABASE … TEMPLATE``) when it does not exist. Either is migrated to the head revision.
Those databases were cloned before the accident register existed, so the bench adds (again on every run,
idempotent) one accident per ~500 enterprises under codes ``BENCH-ACC-…`` (2020 → the demo's day, 0-3 deaths,
one in ten a road accident) and the counties' denominators 2020-2025 where missing, and a city leader.

1. **scorecard**: ``geo.scorecards.load_scorecard`` of the city's townships for the quarter (what /scorecards and the
   export run: the quarter and the one before, four aggregate statements each, scoring in Python) against the same
   eight aggregate statements bare (psycopg2, literal parameters, no scoring), and the HTTP route
   ``/export/scorecards.xlsx`` (signed in through the login form, the Flask test client: the route's server time),
   rotating which goes first. The hazard counts of both sides are compared.
2. **briefing**: ``GET /export/briefing.pdf?quarter=`` for the city (the response cache emptied before each
   request, so every one is drawn), with its parts timed inside the same requests: each data query of
   ``geo.briefing.load_briefing`` (wrapped where that module calls it) and the drawing
   (``layers.briefing.render_briefing_pdf``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from domain import clock

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py, also when run through runpy
from common import bench_user, fresh_database, machine, percentile, report, sign_in, timed, timed_app, use_database

CITY = "411000"
CITY_PATH = "411000."
USER, PASSWORD = "bench_cards_lead", "Bench-pass-2026"
ACCIDENT_EVERY = 500  # one bench accident per this many enterprises (the demo: a few dozen at 20k)

_ACCIDENTS = """
INSERT INTO "accidents" ("code", "title", "occurred_on", "enterprise_id", "unit_id", "industry", "accident_type",
                         "road_traffic", "deaths", "injuries", "grade", "investigation", "geom")
SELECT 'BENCH-ACC-' || e."id", left(e."name", 150) || '事故',
       DATE '2020-01-01' + abs(hashtext('d' || e."credit_code")) % (CAST(:as_of AS date) - DATE '2020-01-01'),
       e."id", e."unit_id", e."industry", 'machinery', e."id" % 10 = 0, abs(hashtext('k' || e."credit_code")) % 4, 0,
       CASE WHEN abs(hashtext('k' || e."credit_code")) % 4 = 3 THEN 'larger' ELSE 'general' END, 'closed', e."geom"
FROM "enterprises" e WHERE abs(hashtext('a' || e."credit_code")) % :every = 0
"""
_DENOMINATORS = """
INSERT INTO "area_denominators" ("code", "unit_id", "year", "gdp_yi", "industrial_employees", "motor_vehicles")
SELECT u."code" || '-' || y, u."id", y, 300 + 10 * (y - 2020) + u."id" % 97, 80000 + 1000 * (u."id" % 13),
       200000 + 5000 * (y - 2020)
FROM "units" u CROSS JOIN generate_series(2020, 2025) y WHERE u."level" = 2
ON CONFLICT DO NOTHING
"""


def setup(url: str) -> dict[str, int]:
    """Add the bench accidents and denominators and the leader (idempotent); return the table sizes."""
    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(text("DELETE FROM accidents WHERE code LIKE 'BENCH-ACC-%'"))
        conn.execute(text(_ACCIDENTS), {"as_of": clock.today(), "every": ACCIDENT_EVERY})
        conn.execute(text(_DENOMINATORS))
        bench_user(conn, USER, PASSWORD, role="leader", scope_code=CITY, display_name="考核测试")
        sizes = conn.execute(text(
            "SELECT (SELECT count(*) FROM enterprises) AS enterprises, (SELECT count(*) FROM hazards) AS hazards, "
            "(SELECT count(*) FROM inspections) AS inspections, (SELECT count(*) FROM accidents) AS accidents, "
            "(SELECT count(*) FROM units WHERE level = 3) AS townships")).mappings().one()
    eng.dispose()
    return dict(sizes)


def make_client() -> tuple[Any, Any, Callable[[], float]]:
    """The dashboard's Flask app with its WSGI call timed, signed in as the leader; (app, client, last ms)."""
    app, last_ms = timed_app()
    client = app.server.test_client()
    sign_in(client, USER, PASSWORD)
    return app, client, last_ms


def _psycopg(sql: str) -> str:
    """SQLAlchemy ``text()`` SQL (``:name`` binds) as psycopg2 SQL (``%(name)s``, literal ``%`` doubled)."""
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql.replace("%", "%%"))


def bare_statements(quarter: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """The eight aggregate statements ``load_scorecard`` runs for the city's townships, with their parameters."""
    from datetime import timedelta

    from domain.cadence import shift
    from domain.scorecards import cadence_periods
    from geo import scorecards as sc
    from geo.db import engine
    from geo.refresh import cadence_rule
    from geo.scope import scope_params

    with engine().connect() as conn:
        cadence = cadence_rule(conn).of(sc.TOWNSHIP_LEVEL)
    out = []
    for q in (quarter, quarter.previous()):
        base = {**scope_params(CITY_PATH), "lvl": 3, "depth": 2, "q0": q.start, "q1": q.end}
        out += [("rows", sc._ROWS, base), ("hazards", sc._HAZARDS, base), ("accidents", sc._ACCIDENTS, base)]
        if cadence is not None:
            periods = cadence_periods(q, cadence)
            out.append(("cadence", sc._CADENCE, {
                **base, "p0": periods[0], "p1": shift(periods[-1], cadence, 1) - timedelta(days=1),
                "field": cadence.value, "every": False, "patrols": False}))
    return [(name, _psycopg(sql), params) for name, sql, params in out]


def bench_scorecard(url: str, quarter: Any, *, repeat: int) -> dict[str, Any]:
    """Part 1: ms per side (load_scorecard, bare statements, the xlsx route) and the statements' own ms."""
    import psycopg2

    from geo.db import engine
    from geo.scorecards import load_scorecard

    statements = bare_statements(quarter)
    raw = psycopg2.connect(url.replace("postgresql+psycopg2", "postgresql"))
    raw.autocommit = True
    _, client, server_ms = make_client()
    out: dict[str, list[float]] = {"load_scorecard": [], "bare SQL": [], "route": []}
    per_statement: dict[str, list[float]] = defaultdict(list)
    seen: dict[str, Any] = {}

    def app_side() -> None:
        with engine().connect() as conn:
            card = load_scorecard(conn, scope=CITY_PATH, code=None, quarter=quarter)
        assert card is not None
        seen["app"] = {r.kpis.code: (r.kpis.found, r.kpis.closed, r.kpis.overdue_end, r.kpis.accidents)
                       for r in card.rows}

    def bare_side() -> None:
        got: dict[str, Any] = {}
        with raw.cursor() as cur:
            for i, (name, sql, params) in enumerate(statements):
                t0 = time.perf_counter()
                cur.execute(sql, params)
                rows = cur.fetchall()
                per_statement[name].append((time.perf_counter() - t0) * 1000)
                if i < 3:  # this quarter's rows, hazards, accidents
                    got[name] = rows
        hazards = {r[0]: r for r in got["hazards"]}
        accidents = {r[0]: r[1] for r in got["accidents"]}
        seen["bare"] = {code: (hazards[code][1], hazards[code][3], hazards[code][5]) if code in hazards
                        else (0, 0, 0) for code, *_ in got["rows"]}
        seen["bare_acc"] = accidents

    def route_side() -> None:
        resp = client.get(f"/export/scorecards.xlsx?quarter={quarter.key}")
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        out["route"].append(server_ms())

    for warm in (app_side, bare_side, route_side):  # warm-up: pools, plans, the app's first request
        warm()
    out["route"].clear()
    per_statement.clear()
    sides = {"load_scorecard": app_side, "bare SQL": bare_side, "route": route_side}
    names = list(sides)
    for r in range(repeat):
        turn = r % len(names)
        for name in names[turn:] + names[:turn]:
            if name == "route":
                route_side()
            else:
                ms, _ = timed(sides[name])
                out[name].append(ms)
    raw.close()
    app_counts = {code: v[:3] for code, v in seen["app"].items()}
    agree = app_counts == seen["bare"] and all(
        seen["app"][code][3] == seen["bare_acc"].get(code, 0) for code in seen["app"])
    return {**out, "statements": dict(per_statement), "rows": len(seen["app"]), "agree": agree}


def bench_briefing(quarter: Any, *, repeat: int) -> dict[str, Any]:
    """Part 2: the route's server ms per request, each data query's ms and the drawing's ms inside it."""
    import pypdfium2  # a dev dependency (the briefing tests read the PDF with it)

    import geo.briefing as gb
    from dashboard import briefing_routes
    from dashboard.cache import response_cache

    app, client, server_ms = make_client()
    parts: dict[str, list[float]] = defaultdict(list)
    current: dict[str, float] = defaultdict(float)

    def wrap(module: Any, name: str, label: str) -> None:
        fn = getattr(module, name)

        def timed_fn(*args: Any, **kwargs: Any) -> Any:
            ms, result = timed(fn, *args, **kwargs)
            current[label] += ms
            return result

        setattr(module, name, timed_fn)

    for name, label in (("screen_kpis", "KPIs (screen_kpis)"), ("grid_overview", "grid (grid_overview)"),
                        ("risk_units_geojson", "map units (risk_units_geojson)"),
                        ("load_scorecard", "ranking (load_scorecard)"),
                        ("hazard_export_rows", "overdue + 督办 lists (hazard_export_rows ×2)"),
                        ("accidents_in_scope", "accidents (accidents_in_scope)"),
                        ("area_figures", "targets (area_figures)"), ("area_in_scope", "area (area_in_scope ×2)")):
        wrap(gb, name, label)
    wrap(briefing_routes, "area_in_scope", "area (area_in_scope ×2)")
    wrap(briefing_routes, "load_briefing", "data (load_briefing)")
    wrap(briefing_routes, "render_briefing_pdf", "drawing (render_briefing_pdf)")
    sizes, pages = [], 0
    for r in range(repeat + 1):  # the first: warm-up
        with app.server.app_context():
            response_cache().clear()
        current.clear()
        resp = client.get(f"/export/briefing.pdf?quarter={quarter.key}")
        assert resp.status_code == 200 and resp.data[:5] == b"%PDF-", resp.get_data(as_text=True)[:300]
        if r == 0:
            pages = len(pypdfium2.PdfDocument(resp.data))
            continue
        parts["route (server time)"].append(server_ms())
        for label, ms in current.items():
            parts[label].append(ms)
        sizes.append(len(resp.data))
    return {"parts": dict(parts), "bytes": sizes, "pages": pages}


def pct(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    """p50 / p95 (ms, or seconds with ``scale`` 1000)."""
    return f"{percentile(values, 0.5) / scale:.{digits}f} / {percentile(values, 0.95) / scale:.{digits}f}"


def main() -> None:
    """Run the parts asked for and print (or append) the Markdown result."""
    from domain.scorecards import last_complete_quarter, parse_quarter

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="bench_insp_1m")
    parser.add_argument("--template", default=None, help="create --database as a copy of this one if it is absent")
    parser.add_argument("--parts", default="scorecard,briefing")
    parser.add_argument("--quarter", default=None, help="default: the last complete quarter (business clock)")
    parser.add_argument("--repeat", type=int, default=15, help="rounds of the scorecard part")
    parser.add_argument("--briefing-repeat", type=int, default=5)
    parser.add_argument("--append", type=Path, default=None)
    args = parser.parse_args()
    use_database(args.database)
    url, _ = fresh_database(args.database, template=args.template, reuse=True)
    from geo import migrate

    migrate.upgrade(url)  # a copy of an older template is not migrated by fresh_database
    quarter = parse_quarter(args.quarter) if args.quarter else last_complete_quarter(clock.today())
    assert quarter is not None, "--quarter like 2026Q3"
    sizes = setup(url)
    parts = set(args.parts.split(","))
    command = f"`.venv/bin/python bench/bench_scorecards.py --database {args.database}" + (
        f" --template {args.template}" if args.template else "") + f" --parts {args.parts}`"
    lines = [f"\n## Issue 18 benchmarks, {sizes['enterprises']:,} enterprises ({clock.today().isoformat()})\n",
             f"{command} on {machine()}; data: {sizes['enterprises']:,} enterprises, {sizes['hazards']:,} hazards, "
             f"{sizes['inspections']:,} inspections, {sizes['accidents']:,} accidents, {sizes['townships']:,} "
             f"townships; quarter {quarter.key}.\n"]
    if "scorecard" in parts:
        r = bench_scorecard(url, quarter, repeat=args.repeat)
        base = r["bare SQL"]
        lines += [f"**1. Scorecard of the city's {r['rows']} townships**, {args.repeat} rounds, rotating, ms p50 / p95 "
                  f"(hazard and accident counts of load_scorecard = bare: {r['agree']}):\n",
                  "| side | p50 / p95 | ratio to bare p50 / p95 |", "|---|---|---|"]
        for name in ("load_scorecard", "route", "bare SQL"):
            label = "`/export/scorecards.xlsx` (server time)" if name == "route" else name
            lines.append(f"| {label} | {pct(r[name])} | {percentile(r[name], 0.5) / percentile(base, 0.5):.2f} / "
                         f"{percentile(r[name], 0.95) / percentile(base, 0.95):.2f} |")
        lines.append("\nThe bare statements one by one (both quarters), ms p50 / p95: " + "; ".join(
            f"{name} {pct(v)}" for name, v in r["statements"].items()) + "\n")
        lines.append(f"load average at the end of part 1: {' / '.join(f'{v:.1f}' for v in os.getloadavg())}\n")
        print("\n".join(lines[-6:]), flush=True)
    if "briefing" in parts:
        b = bench_briefing(quarter, repeat=args.briefing_repeat)
        total = b["parts"]["route (server time)"]
        lines += [f"**2. Briefing PDF of the city**, {quarter.key}, {args.briefing_repeat} requests (+1 warm-up), "
                  f"each drawn (cache emptied), {b['pages']} pages, {percentile(b['bytes'], 0.5) / 1024:.0f} KB; "
                  f"seconds p50 / p95 (target ≤ 5 s: {'met' if percentile(total, 0.95) <= 5000 else 'missed'}):\n",
                  "| part | s p50 / p95 |", "|---|---|"]
        for label, values in b["parts"].items():
            lines.append(f"| {label} | {pct(values, 1000, 2)} |")
        lines.append(f"\nload average at the end of part 2: {' / '.join(f'{v:.1f}' for v in os.getloadavg())}\n")
    report("\n".join(lines) + "\n", args.append)


if __name__ == "__main__":
    main()
