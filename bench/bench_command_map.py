"""Benchmark of the command map: per drill-down step, server time and bytes, against the bare SQL of the same queries.

    .venv/bin/python bench/bench_command_map.py --database safegrid [--repeat 30] [--append docs/benchmarks.md]
    .venv/bin/python bench/bench_command_map.py --database bench_map_1m --clone-enterprises 1000000

The database must hold a loaded and refreshed demo (``make demo`` or ``safegrid demo load``).
``--clone-enterprises N`` first tops the enterprises table up to N rows by copying existing
enterprises with a small random offset (same grid cell) — a load test of the point layers only;
use a scratch copy of the database for it.

For each step city → county → township → village → grid cell (the grid cell with the most open
hazards) the bench makes the requests the browser makes, in process through the Flask test client
with a signed-in admin: the panel callback (which carries the child table; an app whose child
table comes from a second callback on ``cm-state`` gets that request too), the unit GeoJSON, and
the point layers for the viewport the map fits (1100 × 800 px) — as the page asks them: all in one
request (``/api/map/points.json``) when the app has that route, else one request per layer; none
below a layer's ``min_zoom`` when ``dashboard.command_map.layout.POINT_META`` gives it.

Each repeat runs the step's requests in turn, each three times: cold (the server-side response
cache of ``dashboard/cache.py`` cleared first, so the queries run), warm (the same request again at
once: the GeoJSON routes and the side panel answer from the cache; a request the app does not cache
is then just a second cold one — the report says which) and the bare SQL of the same ``geo``
queries on one open connection — after the two requests in even repeats, before them in odd ones (a
query run right after the same query is faster: neither side always gets the second run). Reported
per step (the issue's unit: the sum of the step's requests within one repeat, p50/p95 over
``--repeat`` repeats after 2 warm-ups) and per request (p50/p95 of each, the stricter view), with
the p95 ratios and the response bytes: as sent to a browser (``Accept-Encoding`` as Chromium sends
it; the GeoJSON routes compress themselves, Dash callback JSON is compressed by flask-compress) and
gzipped (level 5, the issue's measure). Then the point layers over the whole city at every zoom 9-18
report their largest response. Server time is taken at the WSGI boundary (the call into the app to
its last body byte, as a WSGI server sees it); the test client's own work around it (building the
request, the cookie jar) is reported once, not counted. The app is set up as the served one
(``create_app``, then ``settle_heap`` when the app has it). The load average is printed at the
start and the end: the machine is shared.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from domain import clock

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py, also when run through runpy
from common import bench_user, csrf_header, machine, percentile, report, sign_in, timed, use_database

MAP_W, MAP_H = 1100, 800
BROWSER_CODINGS = "gzip, deflate, br, zstd"  # Chromium 156 over HTTPS and to localhost (plain HTTP elsewhere: gzip)
StepRequest = tuple[str, Callable[[], Any], Callable[[], Any]]  # what, the request, its bare SQL


def fit_zoom(bounds: list[list[float]]) -> int:
    """Leaflet's fitBounds zoom (integer) for ``bounds`` in a MAP_W × MAP_H map, in Web Mercator."""
    (s, w), (n, e) = bounds

    def merc(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    zx = math.log2(MAP_W * 360 / (256 * max(e - w, 1e-6)))
    zy = math.log2(MAP_H * 2 * math.pi / (256 * max(merc(n) - merc(s), 1e-9)))
    return max(3, min(18, math.floor(min(zx, zy))))


def viewport_bbox(bounds: list[list[float]], zoom: int) -> str:
    """Return the bbox of the MAP_W × MAP_H viewport centred on ``bounds`` at ``zoom``, tile-snapped like map.js."""
    (s, w), (n, e) = bounds
    cx, cy = (w + e) / 2, (s + n) / 2
    deg_x = MAP_W * 360 / (256 * 2**zoom)
    deg_y = deg_x * MAP_H / MAP_W * math.cos(math.radians(cy))
    step = 180 / 2**zoom
    box = [cx - deg_x / 2, cy - deg_y / 2, cx + deg_x / 2, cy + deg_y / 2]
    snapped = [math.floor(box[0] / step) * step, math.floor(box[1] / step) * step,
               math.ceil(box[2] / step) * step, math.ceil(box[3] / step) * step]
    return ",".join(f"{v:.6f}" for v in snapped)


def clone_enterprises(url: str, target: int) -> None:
    """Top the enterprises table up to ``target`` rows with jittered copies (load test only)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        have = conn.execute(text("SELECT count(*) FROM enterprises")).scalar_one()
        if have >= target:
            return
        print(f"cloning enterprises {have} → {target} …", flush=True)
        conn.execute(text(
            """
            INSERT INTO enterprises (credit_code, name, industry, risk_level, unit_id, geom)
            SELECT 'BENCH' || lpad((g * 100000 + e.id)::text, 13, '0'), e.name || '（压测' || g || '）', e.industry,
                   e.risk_level, e.unit_id,
                   ST_SetSRID(ST_MakePoint(ST_X(e.geom) + (random() - 0.5) * 0.004,
                                           ST_Y(e.geom) + (random() - 0.5) * 0.004), 4326)
            FROM generate_series(1, CAST(ceil(:n / CAST(:have AS float)) AS int)) g
            CROSS JOIN (SELECT * FROM enterprises WHERE geom IS NOT NULL AND credit_code NOT LIKE 'BENCH%') e
            LIMIT :n
            """
        ), {"n": target - have, "have": have})
        conn.execute(text("ANALYZE enterprises"))


def decoded(resp: Any) -> bytes:
    """The body of a test-client response without its content coding (zstd, br, gzip or none)."""
    import brotli

    if sys.version_info >= (3, 14):
        from compression import zstd
    else:
        from backports import zstd

    data: bytes = resp.get_data()
    coding = resp.headers.get("Content-Encoding")
    decode = {"zstd": zstd.decompress, "br": brotli.decompress, "gzip": gzip.decompress}.get(coding or "")
    return decode(data) if decode else data


def summary(samples: dict[str, list[float]]) -> dict[str, float]:
    """p50/p95 of the cold, warm and bare samples: keys ``cold_p50``, ``cold_p95``, …"""
    return {f"{k}_{name}": percentile(v, q) for k, v in samples.items() for name, q in (("p50", .5), ("p95", .95))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--database", default=None, help="database name on the project server (default: settings)")
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--clone-enterprises", type=int, default=0)
    ap.add_argument("--append", type=Path, default=None, help="append the Markdown result to this file")
    args = ap.parse_args()
    use_database(args.database)

    from sqlalchemy import text

    from dashboard import app as app_module
    from dashboard.app import create_app
    from dashboard.command_map import layout as command_map
    from dashboard.settings import DashboardSettings
    from geo import map_queries as mq
    from geo.db import engine
    from geo.settings import get_settings
    from layers.registry import POINT_LAYERS as REGISTERED

    # The layers the page opens with (a user's first view); others, like the 四查 unit layer, are off.
    POINT_LAYERS = [s for s in REGISTERED if s.checked]  # noqa: N806 - the registry's name, narrowed

    url = get_settings().url()
    load_start = os.getloadavg()[0]
    if args.clone_enterprises:
        clone_enterprises(url, args.clone_enterprises)
    db = engine()
    with db.begin() as conn:
        counts = conn.execute(text(
            "SELECT (SELECT count(*) FROM enterprises), (SELECT count(*) FROM hazards WHERE status <> 'closed'), "
            "(SELECT count(*) FROM units), (SELECT count(*) FROM hazard_sources)")).one()
        grid_path = conn.execute(text(
            """
            SELECT u.path FROM units u JOIN hazards h ON h.unit_id = u.id AND h.status <> 'closed'
            WHERE u.level = 5 GROUP BY u.path ORDER BY count(*) DESC, u.path LIMIT 1
            """)).scalar_one()
        username, password = f"bench_{uuid.uuid4().hex[:8]}", "Bench-pass-2026"
        bench_user(conn, username, password, role="admin", scope_code=grid_path.split(".")[0])
    scope = grid_path.split(".")[0] + "."
    codes = grid_path.rstrip(".").split(".")

    app = create_app(DashboardSettings(secret_key="bench-" + "x" * 40, login_ip_max_failures=10**9))
    settle_heap = getattr(app_module, "settle_heap", None)
    if settle_heap is not None:  # as the served app (dashboard.app:server) does after start-up
        settle_heap()
    served = app.server.wsgi_app
    last_server_ms = [0.0]

    def timed_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        """The app as a WSGI server calls it, timed from the call to the last body byte (server time)."""
        t0 = time.perf_counter()
        body = b"".join(served(environ, start_response))
        last_server_ms[0] = (time.perf_counter() - t0) * 1000
        return [body]

    app.server.wsgi_app = timed_wsgi
    client_extra: list[float] = []  # what the test client adds around the server (building the request, cookies)

    def served_ms(route: Callable[[], Any]) -> tuple[float, Any]:
        """Server time of one request made by ``route`` (the test client's own work is not counted)."""
        ms, resp = timed(route)
        client_extra.append(ms - last_server_ms[0])
        return last_server_ms[0], resp

    client = app.server.test_client()
    sign_in(client, username, password)
    deps = client.get("/_dash-dependencies").get_json()
    panel_output = next(d["output"] for d in deps if "cm-panel.children" in d["output"])
    # Before the panel carried its child table, a second callback fetched it on every step (cm-state → cm-children).
    children_dep = next((d for d in deps if d["output"] == "cm-children.children"
                         and any(i["id"] == "cm-state" for i in d["inputs"])), None)
    panel_has_children = children_dep is None
    # The page skips the point-layer request below a layer's min_zoom when its point metadata says so (map.js).
    point_meta = getattr(command_map, "POINT_META", None)
    meta_layers = point_meta["layers"] if isinstance(point_meta, dict) else point_meta
    skip_below_min_zoom = bool(meta_layers) and all("min_zoom" in m for m in meta_layers)
    # Since the bundle route, the page asks every point layer of a view in one request (pointData in map.js).
    bundled = "map_api.points_bundle" in app.server.view_functions

    def callback(output: str, values: dict[str, Any]) -> Any:
        """POST the callback of ``output`` as the browser does: ``values`` by "id.prop", other inputs None."""
        dep = next(d for d in deps if d["output"] == output)
        outputs: Any
        if output.startswith(".."):
            outputs = [{"id": o.split(".")[0], "property": o.split(".", 1)[1]} for o in output.strip(".").split("...")]
        else:
            outputs = {"id": output.split(".")[0], "property": output.split(".", 1)[1]}

        def filled(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [{"id": i["id"], "property": i["property"], "value": values.get(f"{i['id']}.{i['property']}")}
                    for i in items]

        inputs = filled(dep["inputs"])
        payload = {"output": output, "outputs": outputs, "inputs": inputs, "state": filled(dep["state"]),
                   "changedPropIds": [f"{i['id']}.{i['property']}" for i in inputs if i["value"] is not None]}
        return client.post("/_dash-update-component", json=payload,
                           headers={"Accept-Encoding": BROWSER_CODINGS, **csrf_header(client)})

    def get(path: str) -> Any:
        return client.get(path, headers={"Accept-Encoding": BROWSER_CODINGS})

    rows: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    warm_cached: set[str] = set()  # requests whose warm repeat was answered from the response cache
    raw_conn = db.connect()
    cache = app.server.extensions["safegrid_cache"]

    def measure_step(step: str, requests: list[StepRequest]) -> None:
        """Time the step's requests in turn, ``--repeat`` times (after 2 warm-ups): per request and per step.

        Each request runs cold (cache cleared), warm (cached), then its bare SQL; a step's sample is the
        sum of its requests' samples within one repeat, so the step p95 is over repeats of the whole step.
        """
        samples = {what: {"cold": [], "warm": [], "bare": []} for what, _, _ in requests}
        sizes: dict[str, tuple[int, int]] = {}
        totals: dict[str, list[float]] = {"cold": [], "warm": [], "bare": []}
        for rep in range(args.repeat + 2):
            step_sum = {"cold": 0.0, "warm": 0.0, "bare": 0.0}
            for what, route, bare in requests:
                # Whichever runs a query right after the same query ran finds it hot (plan, buffers, CPU caches):
                # every other repeat the bare SQL goes first, so neither side always gets the second run.
                ms_b = timed(bare)[0] if rep % 2 else 0.0
                cache.clear()
                ms_c, resp = served_ms(route)
                hits = getattr(cache, "hits", 0)
                ms_w, _ = served_ms(route)
                if getattr(cache, "hits", 0) > hits:
                    warm_cached.add(what)
                if not rep % 2:
                    ms_b, _ = timed(bare)
                assert resp.status_code == 200, (what, resp.status_code, resp.get_data()[:300])
                data = resp.get_data()
                gz = len(gzip.compress(decoded(resp), 5, mtime=0))
                sizes[what] = (len(data), gz)
                for key, ms in (("cold", ms_c), ("warm", ms_w), ("bare", ms_b)):
                    samples[what][key].append(ms)
                    step_sum[key] += ms
            for key in totals:
                totals[key].append(step_sum[key])
        for what, _, _ in requests:
            got = {k: v[2:] for k, v in samples[what].items()}  # two warm-up rounds
            rows.append({"step": step, "what": what, **summary(got), "bytes": sizes[what][0], "gzip": sizes[what][1]})
        steps.append({"step": step, "requests": len(requests), **summary({k: v[2:] for k, v in totals.items()}),
                      "gzip": sum(gz for _, gz in sizes.values())})

    level_names = {1: "市", 2: "县", 3: "乡镇", 4: "村", 5: "网格"}
    for code in codes:
        view = mq.unit_view(raw_conn, scope=scope, code=code)
        assert view is not None
        step = f"{level_names[view['level']]} {view['name']}"
        zoom = fit_zoom(view["bounds"])
        bbox = mq.BBox.parse(viewport_bbox(view["bounds"], zoom))
        has_children = bool(view["child_count"])

        def bare_panel(code: str = code, has_children: bool = has_children) -> None:
            # the queries show_unit runs for ?unit=<code> (no scope_root: the code is given)
            mq.unit_view(raw_conn, scope=scope, code=code)
            mq.breadcrumb(raw_conn, scope=scope, code=code)
            mq.duty_roster(raw_conn, scope=scope, code=code)
            mq.open_hazards(raw_conn, scope=scope, code=code, limit=50)
            if panel_has_children and has_children:
                mq.child_units(raw_conn, scope=scope, code=code)

        requests: list[StepRequest] = [("panel callback", lambda code=code: callback(
            panel_output, {"cm-url.search": f"?unit={code}", "cm-crs.data": "wgs84", "cm-url.pathname": "/"}),
            bare_panel)]
        if has_children and children_dep is not None:
            requests.append(("children callback", lambda code=code: callback(
                children_dep["output"], {"cm-state.data": {"code": code}, "cm-sort.value": "risk"}),
                lambda code=code: mq.child_units(raw_conn, scope=scope, code=code)))
        requests.append(("units GeoJSON", lambda code=code: get(f"/api/map/units/{code}/children.geojson"),
                         lambda code=code: mq.children_geojson(raw_conn, scope=scope, code=code)))
        query = f"bbox={bbox.west},{bbox.south},{bbox.east},{bbox.north}&zoom={zoom}"
        asked = [s.id for s in POINT_LAYERS if zoom >= s.min_zoom or not skip_below_min_zoom]

        def bare_points(kinds: list[str], zoom: int = zoom, bbox: Any = bbox) -> None:
            for spec in POINT_LAYERS:
                if spec.id in kinds and zoom >= spec.min_zoom:
                    mq.points_geojson(raw_conn, scope=scope, kind=spec.id, bbox=bbox, zoom=zoom, limit=2500)

        if bundled and asked:  # one request for every layer of the view
            requests.append((f"points {'+'.join(asked)} (z{zoom})", lambda asked=asked, query=query: get(
                f"/api/map/points.json?kinds={','.join(asked)}&{query}"), lambda asked=asked: bare_points(asked)))
        for kind in [] if bundled else asked:  # one request per layer
            requests.append((f"{kind} (z{zoom})", lambda kind=kind, query=query: get(
                f"/api/map/points/{kind}.geojson?{query}"), lambda kind=kind: bare_points([kind])))
        measure_step(step, requests)

    # Largest point-layer response over the whole city at every zoom.
    city = mq.unit_view(raw_conn, scope=scope, code=codes[0])
    assert city is not None
    largest: dict[str, tuple[int, int, str]] = {}
    layer_ids = {spec.id for spec in POINT_LAYERS}
    for zoom in range(9, 19):
        cx = (city["bounds"][0][1] + city["bounds"][1][1]) / 2
        cy = (city["bounds"][0][0] + city["bounds"][1][0]) / 2
        # the viewport at this zoom around the city's busiest point: the grid cell's centre at high zoom
        centre = mq.unit_view(raw_conn, scope=scope, code=codes[-1]) if zoom >= 13 else None
        if centre:
            cy = (centre["bounds"][0][0] + centre["bounds"][1][0]) / 2
            cx = (centre["bounds"][0][1] + centre["bounds"][1][1]) / 2
        bounds = [[cy - 0.0001, cx - 0.0001], [cy + 0.0001, cx + 0.0001]]
        query = f"bbox={viewport_bbox(bounds, zoom)}&zoom={zoom}"
        paths = {spec.id: f"/api/map/points/{spec.id}.geojson?{query}" for spec in POINT_LAYERS}
        if bundled:
            paths["all three layers in one response"] = \
                f"/api/map/points.json?kinds={','.join(s.id for s in POINT_LAYERS)}&{query}"
        for what, path in paths.items():
            resp = get(path)
            n = len(resp.get_data())
            body = json.loads(decoded(resp))
            features = sum(len(fc["features"]) for fc in body.values()) if what not in layer_ids \
                else len(body["features"])
            if n >= largest.get(what, (0, 0, ""))[0]:
                largest[what] = (n, zoom, f"{features} features")
    raw_conn.close()
    with db.begin() as conn:
        conn.execute(text("DELETE FROM users WHERE username = :u"), {"u": username})

    load_end = os.getloadavg()[0]

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if b > 0.05 else "–"

    design = ("the panel callback carries the child table" if panel_has_children
              else "a second callback fetches the child table")
    design += ("; no point-layer request below a layer's min_zoom" if skip_below_min_zoom
               else "; point layers requested at every zoom (empty below min_zoom)")
    design += ("; the point layers of a view in one request" if bundled else "; one request per point layer")
    panel_cached = "panel callback" in warm_cached
    warm_text = ("answered from the response cache, the panel callback too" if panel_cached
                 else "the GeoJSON routes answered from the response cache, the Dash callbacks not cached")
    lines = [
        f"## Command map drill-down, {counts[0]:,} enterprises ({clock.today().isoformat()})",
        "",
        f"`.venv/bin/python bench/bench_command_map.py --database {args.database or get_settings().pg_database}"
        f" --repeat {args.repeat}"
        + (f" --clone-enterprises {args.clone_enterprises}" if args.clone_enterprises else "")
        + f"` on {machine()}, PostgreSQL on the project-local cluster, "
        f"load average {load_start:.1f} at the start and {load_end:.1f} at the end (other suites share the "
        f"machine). Data: {counts[0]:,} enterprises, {counts[1]:,} open hazards, {counts[3]:,} hazard sources, "
        f"{counts[2]:,} units. Requests per step as the page makes them ({design}). Server time = the request "
        "through Flask/Dash in process, timed at the WSGI boundary (session, account check, scope, queries, JSON, "
        f"compression as for Chromium: zstd; the Flask test client's own work around it, p50 "
        f"{percentile(client_extra, .5):.2f} ms a request, is not counted), cold = response "
        f"cache cleared first, warm = the same request again at once ({warm_text}); bare SQL = the same `geo` query "
        "functions on one open connection. Each repeat runs the step's requests in turn, each cold, warm and "
        f"its bare SQL (the bare SQL last in even repeats, first in odd ones); {args.repeat} repeats after 2 "
        "warm-ups. A step's time is the sum of its requests within "
        f"one repeat (p50/p95 over the repeats). Map viewport {MAP_W}×{MAP_H} px.",
        "",
        "Per drill-down step (all requests of the step):",
        "",
        "| step | requests | cold p50 ms | cold p95 ms | warm p50 ms | warm p95 ms | bare SQL p50 ms "
        "| bare SQL p95 ms | cold p95 ratio | warm p95 ratio | gzip bytes |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in steps:
        lines.append(f"| {r['step']} | {r['requests']} | {r['cold_p50']:.1f} | {r['cold_p95']:.1f} "
                     f"| {r['warm_p50']:.1f} | {r['warm_p95']:.1f} | {r['bare_p50']:.1f} | {r['bare_p95']:.1f} "
                     f"| {ratio(r['cold_p95'], r['bare_p95'])} | {ratio(r['warm_p95'], r['bare_p95'])} "
                     f"| {r['gzip']:,} ({r['gzip'] / 1024:.0f} KB) |")
    lines += [
        "",
        "Per request:",
        "",
        "| step | request | cold p50 ms | cold p95 ms | warm p50 ms | warm p95 ms | bare SQL p50 ms "
        "| bare SQL p95 ms | cold p95 ratio | warm p95 ratio | bytes sent | gzip |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['step']} | {r['what']} | {r['cold_p50']:.1f} | {r['cold_p95']:.1f} | {r['warm_p50']:.1f} "
                     f"| {r['warm_p95']:.1f} | {r['bare_p50']:.1f} | {r['bare_p95']:.1f} "
                     f"| {ratio(r['cold_p95'], r['bare_p95'])} | {ratio(r['warm_p95'], r['bare_p95'])} "
                     f"| {r['bytes']:,} | {r['gzip']:,} |")
    lines += ["", "Largest point-layer response over zoom 9-18 (bytes sent, zstd): "
              + "; ".join(f"{k} {v[0]:,} B at z{v[1]} ({v[2]})" for k, v in largest.items()) + ".", ""]
    report("\n".join(lines), args.append)


if __name__ == "__main__":
    main()
