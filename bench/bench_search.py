"""Benchmark of enterprise search: ``geo.search.search_enterprises`` and ``/api/search`` vs the bare SQL.

    .venv/bin/python bench/bench_search.py --enterprises 20000 [--append docs/benchmarks.md]
    .venv/bin/python bench/bench_search.py --enterprises 1000000 --reuse --append docs/benchmarks.md

Builds the 许昌 demo (skipped when the build directory already holds one of the same size and seed; the
refresh benchmark uses the same directories), loads it through the loaders into a database of its own
(``--reuse`` keeps an already loaded one), then times a mix of queries drawn from the data — 2- and
4-character name fragments, full names with one character dropped (fuzzy), full credit codes, 8-character
code prefixes, address fragments — in a city-wide and a county scope, three ways in the same run:

* bare: the very statement ``search_enterprises`` runs, executed with a psycopg2 cursor, rows fetched;
* ours: ``search_enterprises(conn, scope=…, q=…)`` (parameter building, SQLAlchemy, result objects);
* server: ``GET /api/search?q=`` through the Flask app in-process (session, account re-read, scope, JSON).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.dialects import postgresql

from domain import clock

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py, also when run through runpy
from common import bench_user, fresh_database, load_demo, machine, percentile, report, timed, use_database


def clone(conn: Any, target: int) -> None:
    """Copy the loaded enterprises with other brand words in their names until there are ``target`` rows.

    Word frequencies (商贸, 化工, 有限公司 …), grid cells and addresses keep the demo's distribution; codes
    get a fresh 9-digit body (the check character is not recomputed: nothing here validates it).
    """
    base = conn.execute(text("SELECT count(*), max(id) FROM enterprises")).one()
    copies = max(0, (target - base[0]) // base[0])
    conn.execute(text(
        """
        INSERT INTO enterprises (credit_code, name, industry, scale, risk_level, std_grade, address, unit_id, geom)
        SELECT substr(e.credit_code, 1, 8) || lpad(CAST(k * 1000000 + e.id AS text), 9, '0') || 'X',
               replace(e.name, '许昌', (ARRAY['华夏','中原','鑫源','宏达','豫丰','金盛','博远','恒信'])[1 + k % 8]
                                       || (ARRAY['','天','泰','隆','宇','诚','和','辉'])[1 + (k / 8) % 8]),
               e.industry, e.scale, e.risk_level, e.std_grade, e.address, e.unit_id,
               ST_Translate(e.geom, (random() - 0.5) * 0.002, (random() - 0.5) * 0.002)
        FROM enterprises e CROSS JOIN generate_series(1, :copies) AS k
        WHERE e.id <= :max_id
        """
    ), {"copies": copies, "max_id": base[1]})


def queries(conn: Any, rng: random.Random, n: int) -> list[tuple[str, str]]:
    """(kind, q) pairs sampled from the loaded enterprises."""
    rows = conn.execute(text(
        "SELECT name, credit_code, address FROM enterprises TABLESAMPLE SYSTEM (5) LIMIT 2000"
    )).all() or conn.execute(text("SELECT name, credit_code, address FROM enterprises LIMIT 2000")).all()
    out = []
    for _ in range(n):
        name, code, address = rng.choice(rows)
        core = name.replace("有限公司", "").replace("有限责任公司", "")
        i = rng.randrange(max(1, len(core) - 4))
        drop = rng.randrange(len(name))
        addr = address or name
        j = rng.randrange(max(1, len(addr) - 5))
        out += [("name-2", core[i:i + 2]), ("name-4", core[i:i + 4]), ("fuzzy", name[:drop] + name[drop + 1:]),
                ("code", code), ("code-prefix", code[:8]), ("address", addr[j:j + 5])]
    return out


def runs_ms(fn: Callable[[], Any], repeat: int) -> list[float]:
    """Milliseconds of ``repeat`` calls of ``fn``."""
    return [timed(fn)[0] for _ in range(repeat)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--enterprises", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=4110)
    parser.add_argument("--database", default=None)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--samples", type=int, default=40, help="enterprises sampled per scope (6 queries each)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="keep an already loaded bench database")
    parser.add_argument("--scale-to", type=int, default=None,
                        help="after loading, clone the demo enterprises (renamed, codes re-numbered) up to N rows")
    parser.add_argument("--append", type=Path, default=None, help="append a result section to this markdown file")
    args = parser.parse_args()
    name = args.database or f"bench_search_{args.scale_to or args.enterprises}"
    use_database(name)

    from geo.scope import scope_params
    from geo.search import normalize_query, search_enterprises, search_params, search_sql

    as_of = date(2026, 11, 23)
    directory = args.dir or Path(f".local/bench/demo_{args.enterprises}")
    url, must_load = fresh_database(name, reuse=args.reuse)
    if must_load:
        load_demo(directory, url, enterprises=args.enterprises, seed=args.seed, as_of=as_of)
    engine = create_engine(url)
    if must_load and args.scale_to:
        t = time.perf_counter()
        with engine.begin() as conn:
            clone(conn, args.scale_to)
        print(f"cloned up to {args.scale_to:,} enterprises in {time.perf_counter() - t:.1f} s", flush=True)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE enterprises"))
        count = conn.execute(text("SELECT count(*) FROM enterprises")).scalar_one()
        city_path, city_code = conn.execute(text("SELECT path, code FROM units WHERE level = 1 LIMIT 1")).one()
        county_path = conn.execute(text(  # the county with most enterprises: 'city.county.' is 14 characters
            "SELECT left(g.path, 14) FROM enterprises e JOIN units g ON g.id = e.unit_id "
            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )).scalar_one()
        user_id = bench_user(conn, "bench_search", "bench-Search-1", role="admin", scope_code=city_code)
        version = conn.execute(text("SELECT session_version FROM users WHERE id = :i"), {"i": user_id}).scalar_one()

    from dashboard.app import create_app
    from dashboard.settings import DashboardSettings

    client = create_app(DashboardSettings(secret_key="bench-" + "k" * 40)).server.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = f"{user_id}:{version}"
        sess["_fresh"] = True

    compiled = str(text(search_sql()).compile(dialect=postgresql.psycopg2.dialect()))  # type: ignore[attr-defined]
    rng = random.Random(args.seed)
    results: dict[str, dict[str, list[float]]] = {}
    hits: dict[str, list[int]] = {}
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cur = raw.cursor()
        for scope_name, scope in (("city", city_path), ("county", county_path)):
            for kind, q in queries(conn, rng, args.samples):
                params = {**search_params(normalize_query(q), limit=20), **scope_params(scope)}
                search_enterprises(conn, scope=scope, q=q)  # warm the plan and the cache for this query
                bare = runs_ms(lambda params=params: (cur.execute(compiled, params), cur.fetchall()), args.repeat)
                ours = runs_ms(lambda q=q, scope=scope: search_enterprises(conn, scope=scope, q=q), args.repeat)
                if scope_name == "city":
                    server = runs_ms(lambda q=q: client.get("/api/search", query_string={"q": q}), args.repeat)
                    results.setdefault("all", {}).setdefault("server", []).extend(server)
                key = f"{scope_name} {kind}"
                for label, values in (("bare", bare), ("ours", ours)):
                    results.setdefault(key, {}).setdefault(label, []).extend(values)
                    results.setdefault("all", {}).setdefault(label, []).extend(values)
                hits.setdefault(key, []).append(len(search_enterprises(conn, scope=scope, q=q)))
        resp = client.get("/api/search", query_string={"q": "有限公司"})
        assert resp.status_code == 200, resp.status_code

    lines = [
        f"\n## Search, {count:,} enterprises ({clock.today().isoformat()})\n",
        f"`.venv/bin/python bench/bench_search.py --enterprises {args.enterprises}"
        f"{f' --scale-to {args.scale_to}' if args.scale_to else ''}` on {machine()} "
        f"(load average {os.getloadavg()[0]:.1f} at the end: other work shared the machine), "
        f"PostgreSQL on the project-local cluster, {args.samples} sampled enterprises × "
        f"6 query kinds per scope, each timed {args.repeat}× after one warm-up. Times in ms; bare = the same "
        "statement through a psycopg2 cursor; ours = `geo.search.search_enterprises`; server = `GET /api/search` "
        "in-process through Flask (city scope).\n",
        "| queries | bare p50 | bare p95 | ours p50 | ours p95 | ours/bare p95 | mean hits |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, r in results.items():
        if key == "all":
            continue
        lines.append(f"| {key} | {percentile(r['bare'], 0.5):.1f} | {percentile(r['bare'], 0.95):.1f} | "
                     f"{percentile(r['ours'], 0.5):.1f} | {percentile(r['ours'], 0.95):.1f} | "
                     f"{percentile(r['ours'], 0.95) / percentile(r['bare'], 0.95):.2f} | "
                     f"{statistics.mean(hits[key]):.1f} |")
    a = results["all"]
    lines += [
        "",
        f"All queries: bare p95 {percentile(a['bare'], 0.95):.1f} ms, ours p95 {percentile(a['ours'], 0.95):.1f} ms "
        f"(ratio {percentile(a['ours'], 0.95) / percentile(a['bare'], 0.95):.2f}, target ≤ 1.3); "
        f"server p50 {percentile(a['server'], 0.5):.1f} ms, p95 {percentile(a['server'], 0.95):.1f} ms "
        "(target < 100 ms).",
    ]
    report("\n".join(lines) + "\n", args.append)


if __name__ == "__main__":
    main()
