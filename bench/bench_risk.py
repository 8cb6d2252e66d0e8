"""Benchmark of the /risk heatmap route at city zoom against the bare aggregate SQL, in the same run.

    SAFEGRID_PG_DATABASE=<a loaded, refreshed demo database> .venv/bin/python bench/bench_risk.py
    .venv/bin/python bench/bench_risk.py --database bench_risk --template safegrid_demo --synthetic 1000000 \
        --append docs/benchmarks.md

``--template`` copies a loaded demo database into ``--database`` (dropped first) and ``--synthetic N``
adds N enterprises there (jittered copies of the demo's enterprise points, random colours and
industries, same grid cells) and refreshes, so h3_stats and the filtered path see N rows.

Measured through Flask's test client with a signed-in planner (routing, session, scope check,
query, gzip, ETag — everything but the socket), p50 and p95 of ``--repeat`` runs, the route twice:
cold (server-side response cache of ``dashboard/cache.py`` cleared before each request) and warm
(served from that cache):

* both paths against the bare aggregate SQL: ``heat_aggregate_rows``, the GROUP BY of the (filtered,
  scoped) points of the padded view by their stored H3 cells — the aggregate the heatmap shows, computed
  from the ledgers (for the pre-aggregated path: what ``h3_stats`` holds ready);
* pre-aggregated path (no filter, city scope) also against ``bare_h3_stats`` (the plain SELECT of
  cell, value, GeoJSON geometry from h3_stats for the same view) — the stricter baseline;
* filtered path: enterprise colour = red + orange, metric enterprises.

Baselines run on one open autocommit connection (no pool checkout, no transaction). Each round runs
the cold route, the warm route, the route's query alone and every baseline once, in turn, so a load
spike on the shared machine hits all of them alike.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from domain import clock

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py, also when run through runpy
from common import bench_user, fresh_database, machine, percentile, report, sign_in, timed, use_database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.browser

CITY = "411000."
VIEWS = {"city zoom 9 (res 7)": ("112.43,33.36,114.945,34.73", 9),
         "city zoom 8 (res 6)": ("112.0,33.0,115.5,35.0", 8)}
FILTER = {"risk": "red,orange"}


def quantiles_ms(fn: Callable[[], object], repeat: int,
                 before: Callable[[], object] = lambda: None) -> tuple[float, float]:
    """Return p50 and p95 (ms) of ``fn`` over ``repeat`` runs after a warm-up; ``before`` runs untimed first."""
    return interleaved_ms({"fn": (fn, before)}, repeat)["fn"]


def interleaved_ms(fns: dict[str, tuple[Callable[[], object], Callable[[], object]]],
                   repeat: int) -> dict[str, tuple[float, float]]:
    """p50 / p95 (ms) of each ``(fn, before)``, run in turn within each round (a load spike hits all alike)."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn, before in fns.values():
        before()
        fn()  # warm caches and plans
    for _ in range(repeat):
        for name, (fn, before) in fns.items():
            before()
            times[name].append(timed(fn)[0])
    return {k: (percentile(v, 0.5), percentile(v, 0.95)) for k, v in times.items()}


def prepare(database: str, template: str, synthetic: int) -> None:
    from sqlalchemy import create_engine, text

    url, _ = fresh_database(database, template=template)
    if synthetic:
        engine = create_engine(url)
        t = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO enterprises (credit_code, name, industry, risk_level, unit_id, geom) "
                "SELECT 'B' || lpad(g::text, 17, '0'), '合成企业' || g, "
                "(ARRAY['机械','商贸','建材','轻工','危险化学品','建筑施工'])[1 + g % 6], "
                "(ARRAY['red','orange','yellow','blue','blue','blue',NULL])[1 + g % 7], "
                "e.unit_id, ST_SetSRID(ST_MakePoint(ST_X(e.geom) + (random() - 0.5) * 0.01, "
                "ST_Y(e.geom) + (random() - 0.5) * 0.01), 4326) "
                "FROM generate_series(1, :n) g JOIN LATERAL (SELECT unit_id, geom FROM enterprises "
                "WHERE geom IS NOT NULL AND credit_code NOT LIKE 'B%' OFFSET g % 1000 LIMIT 1) e ON true"
            ), {"n": synthetic})
            conn.execute(text("ANALYZE enterprises"))
        print(f"synthetic enterprises: {synthetic} in {time.perf_counter() - t:.1f} s", flush=True)
        engine.dispose()
    from etl.refresh import refresh_all

    ms, result = timed(refresh_all, url)
    print(f"refresh: {ms / 1000:.1f} s ({result.message})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default=os.environ.get("SAFEGRID_PG_DATABASE", "safegrid"))
    parser.add_argument("--template", default=None, help="copy this loaded demo database into --database first")
    parser.add_argument("--synthetic", type=int, default=0, help="add this many enterprises (needs --template)")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--append", type=Path, default=None, help="append a result section to this markdown file")
    args = parser.parse_args()
    use_database(args.database)
    if args.template:
        prepare(args.database, args.template, args.synthetic)

    from sqlalchemy import text

    from dashboard.app import create_app
    from dashboard.readdb import read_engine
    from domain.crs import BBox
    from geo import risk_queries as rq
    from geo.db import connect
    from tests.browser import app_settings

    with connect() as conn:
        bench_user(conn, "bench_risk_planner", "Bench-pass-2026", role="planner", scope_code="411000",
                   display_name="bench")
        n_ent = conn.execute(text("SELECT count(*) FROM enterprises")).scalar_one()
        n_cells = dict(conn.execute(text('SELECT "res", count(*) FROM h3_stats GROUP BY 1')).all())
    app = create_app(app_settings())
    cache = app.server.extensions["safegrid_cache"]
    client = app.server.test_client()
    sign_in(client, "bench_risk_planner", "Bench-pass-2026")

    rows = []
    # Baselines run on one open autocommit connection: the bare SQL without pool or transaction overhead.
    bare_conn = read_engine().connect()
    for name, (bbox, zoom) in VIEWS.items():
        box = BBox.parse(bbox)
        res = rq.resolution_for_zoom(zoom)
        for label, extra in (("pre-aggregated", {}), ("filtered", FILTER)):
            query = {"bbox": bbox, "zoom": str(zoom), "metric": "risk_score" if not extra else "enterprises", **extra}

            def route(q: dict[str, str] = query) -> bytes:
                resp = client.get("/api/risk/h3", query_string=q, headers={"Accept-Encoding": "gzip"})
                assert resp.status_code == 200, resp.status_code
                return resp.get_data()

            body = route()
            filters = rq.RiskFilters.from_args({k: [v] for k, v in extra.items()})
            pad = 2 * rq._EDGE_DEG[res]
            padded = BBox(box.west - pad, box.south - pad, box.east + pad, box.north + pad)

            def aggregate(b: BBox = padded, f: rq.RiskFilters = filters, m: str = query["metric"],
                          r: int = res) -> object:
                return rq.heat_aggregate_rows(bare_conn, scope=CITY, metric=m, filters=f, bbox=b, res=r,  # type: ignore[arg-type]
                                              as_of=clock.today())

            baselines: list[tuple[str, Callable[[], object]]] = [("bare aggregate SQL", aggregate)]
            if not extra:
                def stats(b: BBox = box, r: int = res) -> object:
                    return rq.bare_h3_stats(bare_conn, metric="risk_score", res=r, bbox=b)
                baselines.append(("bare h3_stats SELECT", stats))

            def query_only(b: BBox = box, q: dict[str, str] = query, z: float = zoom) -> str:
                return rq.heatmap_geojson(bare_conn, scope=CITY, metric=q["metric"], zoom=z, bbox=b,
                                          filters=rq.RiskFilters.from_args({k: [v] for k, v in q.items()}),
                                          as_of=clock.today())

            def nothing() -> None:
                return None

            measured = interleaved_ms({"cold": (route, cache.clear), "warm": (route, nothing),
                                       "query": (query_only, nothing),
                                       **{b: (fn, nothing) for b, fn in baselines}}, args.repeat)
            cold, warm, query_ms = measured["cold"], measured["warm"], measured["query"]
            features = len(json.loads(zlib.decompress(body, 16 + zlib.MAX_WBITS))["features"])
            for baseline, _ in baselines:
                bare_ms = measured[baseline]
                rows.append((name, label, features, cold, warm, query_ms, baseline, bare_ms, len(body)))
                print(f"{name:22} {label:15} cells {features:5}  p50/p95 ms: cold {cold[0]:6.1f}/{cold[1]:6.1f}  "
                      f"warm {warm[0]:5.1f}/{warm[1]:5.1f}  query {query_ms[0]:6.1f}/{query_ms[1]:6.1f}  "
                      f"{baseline} {bare_ms[0]:6.1f}/{bare_ms[1]:6.1f}  p95 ratio cold {cold[1] / bare_ms[1]:4.2f} "
                      f"warm {warm[1] / bare_ms[1]:4.2f}  gzip {len(body) / 1024:6.1f} KB", flush=True)

    def empty() -> bytes:
        return client.get("/api/risk/h3", query_string={"bbox": "100,10,100.01,10.01", "zoom": "9"}).get_data()

    overhead_cold = quantiles_ms(empty, args.repeat, cache.clear)
    overhead_warm = quantiles_ms(empty, args.repeat)
    print(f"fixed request cost (empty view through the same route), p50/p95 ms: cold {overhead_cold[0]:.1f}/"
          f"{overhead_cold[1]:.1f}, warm {overhead_warm[0]:.1f}/{overhead_warm[1]:.1f}")

    cmd = "`.venv/bin/python bench/bench_risk.py " + " ".join(sys.argv[1:]).replace(
        f"--append {args.append}", "").strip() + "`"
    lines = [
        f"\n## /risk heatmap route vs bare aggregate SQL ({clock.today()})\n",
        f"{cmd} on {machine()}, project-local PostgreSQL; "
        f"{n_ent:,} enterprises; h3_stats cells per resolution {dict(sorted(n_cells.items()))}. "
        f"Flask test client with a signed-in planner (city scope), p50 / p95 of {args.repeat} runs; cold = "
        "response cache cleared before each request, warm = served from it; "
        "filtered = enterprise colour red + orange, metric enterprises.\n",
        "| view | path | cells | cold ms | warm ms | route query ms | baseline | baseline ms "
        "| p95 cold / baseline (≤ 1.3) | p95 warm / baseline | p95 query / baseline | gzip KB (≤ 300) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {v} | {p} | {c} | {r[0]:.1f} / {r[1]:.1f} | {w[0]:.1f} / {w[1]:.1f} | {q[0]:.1f} / {q[1]:.1f} "
              f"| {b} | {bm[0]:.1f} / {bm[1]:.1f} | {r[1] / bm[1]:.2f} | {w[1] / bm[1]:.2f} | {q[1] / bm[1]:.2f} "
              f"| {size / 1024:.1f} |" for v, p, c, r, w, q, b, bm, size in rows]
    lines.append(f"\nFixed cost of one request through the route (session, account check, scope, empty view), "
                 f"p50 / p95: cold {overhead_cold[0]:.1f} / {overhead_cold[1]:.1f} ms, warm {overhead_warm[0]:.1f} "
                 f"/ {overhead_warm[1]:.1f} ms.")
    report("\n".join(lines) + "\n", args.append)


if __name__ == "__main__":
    main()
