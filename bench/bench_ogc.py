"""Benchmarks of issue 21 at 1M enterprises: ``/ogc/`` items pages against their bare SQL, and a county's GeoPackage
export against ``ogr2ogr`` of the same query — each measured against its baseline in the same run, interleaved.

    .venv/bin/python bench/bench_ogc.py --database bench_insp_1m [--parts items,gpkg]

The database is any refreshed 1M database (here ``bench_insp_1m``, a ``TEMPLATE`` copy of the issue 15 bench's
``bench_hazard_loop_1000000``: see ``bench/bench_inspections.py``); the bench adds one leader account of the city
(``bench_ogc_lead``) and a personal access token for it (``geo.tokens``), nothing else.

1. **items**: ``GET /ogc/collections/enterprises/items?bbox=<the city's extent>&limit=1000&offset=k·1000`` with
   ``Authorization: Bearer <token>`` through the real Flask app (``dashboard.app.create_app``, the test client;
   server time: from the WSGI call to the last body byte, as ``bench_command_map.py`` measures), against the
   bare SQL of the same page written out by hand (the same features as GeoJSON text, built in SQL, ``ORDER BY id
   LIMIT 1000 OFFSET k·1000``, same scope and bbox conditions, no count) through a plain psycopg2 cursor. Pages
   ``k = 0 … --pages-1``, each ``--repeat`` times, sides alternating which goes first; the features of both are
   compared byte for byte. Bytes per page: as served (identity) and as gzip / zstd when the client accepts them.
2. **gpkg**: ``GET /api/export/gis?layers=enterprises&bbox=<a county's extent>&format=gpkg`` (signed in as the
   leader through the login form) against ``ogr2ogr -f GPKG`` (Debian's ``gdal-bin``, ``make bench-deps``) of the
   same rows: the export's own SELECT (``geo.ogc_queries.export_rows``' statement, written out) run by GDAL's
   PostgreSQL driver into a fresh GeoPackage. Both write a file of the same features; the bench compares counts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url, text

from domain import clock

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py, also when run through runpy
from common import bench_user, machine, percentile, report, sign_in, timed, timed_app, use_database

CITY = "411000"
USER, PASSWORD = "bench_ogc_lead", "Bench-pass-2026"
LIMIT = 1000

# The bare SQL of one items page of ``enterprises``, by hand: the collection's properties (geo.ogc_queries:
# the enterprises point source + TABLE_EXTRAS), the scope as a unit-id subquery, the bbox on the stored point.
BARE_PAGE = """
SELECT count(*), coalesce(json_agg(json_build_object('type', 'Feature', 'id', q.fid,
       'geometry', ST_AsGeoJSON(q.g, 7)::json, 'properties', q.p) ORDER BY q.fid), '[]'::json)::text
FROM (
    SELECT t."id" AS fid, t."geom" AS g, json_build_object(
        'class', coalesce(t."risk_level", 'none'),
        'class_label', CASE WHEN (coalesce(t."risk_level", 'none')) = 'red' THEN '红' END,
        'name', t."name", 'industry', t."industry", 'credit_code', t."credit_code", 'risk_level', t."risk_level",
        'scale', t."scale", 'address', t."address", 'has_major_hazard_source', t."has_major_hazard_source",
        'grid_code', (SELECT g."code" FROM "units" g WHERE g."id" = t."unit_id")) AS p
    FROM "enterprises" t
    WHERE t."unit_id" IN (SELECT "id" FROM "units" WHERE "path" LIKE %(scope)s || '%%')
      AND (t."geom" && ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326) OR t."geom" IS NULL)
    ORDER BY t."id" LIMIT %(limit)s OFFSET %(offset)s
) q
"""


def _class_labels() -> str:
    """The collection's class-label CASE as the record builds it (the labels are the layer record's)."""
    from geo.ogc_queries import point_collection
    from layers.registry import point_layers

    spec = point_layers()["enterprises"]
    return point_collection("enterprises", spec.title, spec.points, class_labels=spec.labels()).prop("class_label").sql


def setup(url: str) -> tuple[str, tuple[float, float, float, float]]:
    """Create the city's leader and a token; return the token and the city's extent."""
    from geo.tokens import create_token

    eng = create_engine(url)
    with eng.begin() as conn:
        user_id = bench_user(conn, USER, PASSWORD, role="leader", scope_code=CITY, display_name="OGC 测试")
        _, token = create_token(conn, user_id=user_id, name="bench", days=1)
        w, s, e, n = conn.execute(text(
            "SELECT ST_XMin(x), ST_YMin(x), ST_XMax(x), ST_YMax(x) FROM (SELECT ST_Extent(geom) AS x FROM units "
            "WHERE level = 1) e")).one()
    eng.dispose()
    return token, (float(w), float(s), float(e), float(n))


def make_app() -> tuple[Any, Callable[[], float]]:
    """The dashboard's Flask app with its WSGI call timed; return (app, last server time in ms)."""
    return timed_app()


def bench_items(url: str, token: str, bbox: tuple[float, float, float, float], *, pages: int,
                repeat: int) -> dict[str, Any]:
    """Part 1 (see the module docstring): server ms per page request and bare ms, bytes, agreement."""
    import psycopg2

    from geo.db import engine

    app, server_ms = make_app()
    client = app.server.test_client()
    bare_sql = BARE_PAGE.replace(
        "CASE WHEN (coalesce(t.\"risk_level\", 'none')) = 'red' THEN '红' END", _class_labels())
    raw = psycopg2.connect(url.replace("postgresql+psycopg2", "postgresql"))
    raw.autocommit = True
    with raw.cursor() as cur:
        cur.execute("SET TimeZone = 'Asia/Shanghai'")
    headers = {"Authorization": f"Bearer {token}"}
    box = ",".join(f"{v:.6f}" for v in bbox)
    w, s, e, n = (float(v) for v in box.split(","))
    out: dict[str, list[float]] = {"route": [], "route, gzip": [], "bare": []}
    sizes: dict[str, list[int]] = {"identity": [], "gzip": [], "zstd": []}
    agree = total = 0
    matched: Any = "absent"

    def route(offset: int, coding: str | None = None) -> Any:
        return client.get(f"/ogc/collections/enterprises/items?bbox={box}&limit={LIMIT}&offset={offset}",
                          headers={**headers, **({"Accept-Encoding": coding} if coding else {})})

    def bare(offset: int) -> str:
        with raw.cursor() as cur:
            cur.execute(bare_sql, {"scope": CITY + ".", "w": w, "s": s, "e": e, "n": n, "limit": LIMIT,
                                   "offset": offset})
            return str(cur.fetchone()[1])

    route(0)  # warm-up: the app's first request, pools, plans
    bare(0)
    names = list(out)
    for r in range(repeat):
        for k in range(pages):
            offset = k * LIMIT
            turn = (r * pages + k) % 3
            for side in names[turn:] + names[:turn]:
                if side == "bare":
                    ms, features = timed(bare, offset)
                    out["bare"].append(ms)
                    continue
                resp = route(offset, "gzip" if side == "route, gzip" else None)
                assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
                out[side].append(server_ms())
                if side == "route":
                    body = resp.get_data(as_text=True)
                else:
                    assert resp.headers.get("Content-Encoding") == "gzip"
            start = body.index('"features": ') + len('"features": ')
            served_features = body[start: body.index(', "numberMatched"') if '"numberMatched"' in body
                                   else body.index(', "numberReturned"')]
            agree += served_features == features
            total += 1
            if r == 0:
                sizes["identity"].append(len(body.encode()))
                for coding in ("gzip", "zstd"):
                    enc = route(offset, coding)
                    sizes[coding].append(len(enc.data) if enc.headers.get("Content-Encoding") == coding else -1)
                if matched == "absent":
                    matched = json.loads(body).get("numberMatched", "absent")
    raw.close()
    engine().dispose()
    return {**out, "sizes": sizes, "agree": agree, "total": total, "matched": matched}


def pct(values: list[float]) -> str:
    """p50 / p95 in ms."""
    return f"{percentile(values, 0.5):.1f} / {percentile(values, 0.95):.1f}"


def main() -> None:
    """Run the parts asked for; print (or append) the Markdown result."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="bench_insp_1m")
    parser.add_argument("--parts", default="items,gpkg")
    parser.add_argument("--pages", type=int, default=10, help="items pages (offsets 0, 1000, …)")
    parser.add_argument("--repeat", type=int, default=4, help="rounds over the pages")
    parser.add_argument("--gpkg-repeat", type=int, default=5)
    parser.add_argument("--county", default="411082", help="county of the GeoPackage export (长葛市)")
    parser.add_argument("--append", type=Path, default=None)
    args = parser.parse_args()
    use_database(args.database)
    from geo.settings import get_settings

    url = get_settings().url()
    token, city_bbox = setup(url)
    parts = set(args.parts.split(","))
    eng = create_engine(url)
    with eng.connect() as conn:
        n_ent = conn.execute(text("SELECT count(*) FROM enterprises")).scalar_one()
    eng.dispose()
    lines = [f"\n## Issue 21 benchmarks, {n_ent:,} enterprises ({clock.today().isoformat()})\n",
             f"`.venv/bin/python bench/bench_ogc.py --database {args.database} --parts {args.parts}` on {machine()}.\n"]
    if "items" in parts:
        r = bench_items(url, token, city_bbox, pages=args.pages, repeat=args.repeat)
        sz = r["sizes"]
        lines += [
            f"**1. `/ogc/` items of enterprises, city-wide bbox ({', '.join(f'{v:.3f}' for v in city_bbox)}), "
            f"{LIMIT} per page**, pages at offsets 0–{(args.pages - 1) * LIMIT:,}, {args.repeat} rounds "
            f"({len(r['route'])} requests a side), Flask test client with a bearer token, server time; "
            f"numberMatched in the answer: {r['matched']}:\n",
            "| side | p50 / p95 ms | ratio to the bare SQL, p50 / p95 |", "|---|---|---|",
            *[f"| {name} | {pct(v)} | {percentile(v, 0.5) / percentile(r['bare'], 0.5):.2f} / "
              f"{percentile(v, 0.95) / percentile(r['bare'], 0.95):.2f} |" for name, v in (
                  ("route, identity", r["route"]), ("route, `Accept-Encoding: gzip` (QGIS)", r["route, gzip"]),
                  ("bare SQL of the same page (psycopg2)", r["bare"]))], "",
            f"Same features byte for byte: {r['agree']}/{r['total']}. Bytes per page (mean over the pages): "
            + ", ".join(f"{k} {sum(v) / len(v):,.0f}" if min(v) >= 0 else f"{k}: not offered"
                        for k, v in sz.items()) + ".",
            f"\nload average at the end of part 1: {' / '.join(f'{v:.1f}' for v in os.getloadavg())}\n"]
        print("\n".join(lines[-9:]), flush=True)
    if "gpkg" in parts:
        lines += bench_gpkg(url, args.county, repeat=args.gpkg_repeat)
    report("\n".join(lines) + "\n", args.append)


def bench_gpkg(url: str, county: str, *, repeat: int) -> list[str]:
    """Part 2: the export route vs ogr2ogr of the same SELECT (see the module docstring)."""
    import psycopg2

    ogr2ogr = shutil.which("ogr2ogr")
    if ogr2ogr is None:
        raise SystemExit("ogr2ogr not found: run `make bench-deps` (Debian's gdal-bin)")
    version = subprocess.run([ogr2ogr, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    eng = create_engine(url)
    with eng.begin() as conn:
        bench_user(conn, USER + "_county", PASSWORD, role="leader", scope_code=county)
        name, scope_path, bbox, n = conn.execute(text(
            "SELECT u.name, u.path, ARRAY[ST_XMin(u.geom), ST_YMin(u.geom), ST_XMax(u.geom), ST_YMax(u.geom)], "
            "(SELECT s.enterprises FROM unit_stats s WHERE s.unit_id = u.id) FROM units u WHERE u.code = :c"),
            {"c": county}).one()
    box = ",".join(f"{v:.6f}" for v in bbox)
    bbox = [float(v) for v in box.split(",")]
    app, server_ms = make_app()
    client = app.server.test_client()
    sign_in(client, USER + "_county", PASSWORD)
    path = f"/api/export/gis?layers=enterprises&bbox={box}&format=gpkg"
    first = client.get(path)  # warm-up
    assert first.status_code == 200, first.get_data(as_text=True)[:300]
    # The route's own SELECT (geo.ogc_queries builds it from the collection record, as the route does), with the
    # geometry column itself for GDAL (its PostgreSQL driver reads PostGIS geometries), not its WKB.
    from geo import ogc_queries
    from geo.scope import scope_params
    from layers.registry import point_layers

    spec = point_layers()["enterprises"]
    collection = ogc_queries.point_collection("enterprises", spec.title, spec.points, class_labels=spec.labels())
    params: dict[str, Any] = {"limit": 200_000, **scope_params(scope_path)}
    where = ogc_queries._conditions(collection, ogc_queries.ItemsQuery(limit=200_000, boxes=(tuple(bbox),)), params)
    statement = text(ogc_queries._export_sql(collection, where)).compile(dialect=eng.dialect)
    raw = psycopg2.connect(url.replace("postgresql+psycopg2", "postgresql"))
    sql = raw.cursor().mogrify(str(statement), params).decode().replace('ST_AsBinary(t."geom") AS wkb', 't."geom"')
    raw.close()
    parts = make_url(url)
    pg = f"PG:dbname={parts.database} host={parts.query.get('host', '')} user={parts.username}"
    out: dict[str, list[float]] = {"route": [], "ogr2ogr": []}
    sizes: dict[str, int] = {}
    features: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="bench-gpkg-") as tmp:
        target = Path(tmp) / "ogr.gpkg"

        def gdal() -> None:
            target.unlink(missing_ok=True)
            subprocess.run([ogr2ogr, "-f", "GPKG", str(target), pg, "-sql", sql, "-nln", "enterprises",
                            "-a_srs", "EPSG:4490", "-lco", "SPATIAL_INDEX=YES"], check=True, capture_output=True)

        for i in range(repeat):
            for side in (("route", "ogr2ogr") if i % 2 == 0 else ("ogr2ogr", "route")):
                if side == "route":
                    resp = client.get(path)
                    assert resp.status_code == 200
                    out["route"].append(server_ms())
                    sizes["route"] = len(resp.data)
                    (Path(tmp) / "route.gpkg").write_bytes(resp.data)
                else:
                    ms, _ = timed(gdal)
                    out["ogr2ogr"].append(ms)
                    sizes["ogr2ogr"] = target.stat().st_size
        import pyogrio

        for side, file in (("route", Path(tmp) / "route.gpkg"), ("ogr2ogr", target)):
            features[side] = int(pyogrio.read_info(str(file), layer="enterprises")["features"])
    eng.dispose()
    r, o = out["route"], out["ogr2ogr"]
    return [
        f"**2. GeoPackage export of {name}** ({county}; {n:,} enterprises by the last refresh), signed in as a "
        f"leader of the county, bbox = its extent, `{path.split('?')[0]}?layers=enterprises&format=gpkg`, "
        f"{repeat} runs a side, alternating; ogr2ogr: {version}, the route's own SELECT (captured) with the "
        "geometry column instead of its WKB, `-a_srs EPSG:4490`, wall time of the process:\n",
        "| side | p50 / p95 ms | features | bytes |", "|---|---|---|---|",
        f"| route (server time) | {pct(r)} | {features['route']:,} | {sizes['route']:,} |",
        f"| ogr2ogr | {pct(o)} | {features['ogr2ogr']:,} | {sizes['ogr2ogr']:,} |",
        f"| **ratio** p50 / p95 | **{percentile(r, 0.5) / percentile(o, 0.5):.2f} / "
        f"{percentile(r, 0.95) / percentile(o, 0.95):.2f}** | | |",
        f"\nload average at the end of part 2: {' / '.join(f'{v:.1f}' for v in os.getloadavg())}\n"]


if __name__ == "__main__":
    main()
