"""Browser bench of /risk and the big screen: a user's action → the page settled, against a bare page (the floor).

    .venv/bin/python bench/bench_browser_risk.py --database safegrid [--rounds 15] [--label before] \
        [--append docs/benchmarks.md]

The app (``create_app``) is served by werkzeug in a thread of this process, as the browser tests serve it;
headless Chromium (Debian's ``/usr/bin/chromium`` through Playwright) opens two pages side by side, signed in
as a city planner (/risk) and a city leader (/bigscreen):

* **the app**: /risk and /bigscreen as users see them;
* **the floor**: bare pages that this script registers on the same Flask server (routes under ``/bench/``,
  never part of the app): plain Leaflet (Debian's ``libjs-leaflet``: ``make bench-deps``) and plotly.js,
  fetching the same data in the fewest round trips, all at once — the heatmap from ``/api/risk/h3``, the
  four-colour units from ``/api/risk/units.geojson``, the charts and the comparison from two bench routes
  that run the page's own queries and figure builders (one request each, in parallel with the heatmap),
  and for the big screen one bench route that runs the refresh's read (``read_screen`` + ``signature``)
  and, when every part changed, its panels as HTML.

Actions on /risk (each page in turn, the same sequence, ``--rounds`` times after one warm-up round):
filters (enterprise colour 红, an industry, hazard level 重大, each set and cleared), the four-colour
layer's level (3 and back to 2) and industry (分行业), zoom in, a pan (a mouse drag) and back,
zoom out (the zoom control). On the big screen: a refresh tick with nothing changed and one where every part changed
(the page's last signature forgotten). The refresh interval is set to a day and ticks are triggered
with ``dash_clientside.set_props`` on the interval's ``n_intervals``, as the interval itself does.

Start and end are read in the page: the start is the ``click`` / ``pointerup`` event of the action (or
the ``set_props`` call of a filter, which is what the dropdown's change does); the page has settled when
no fetch or XHR is pending (fetch and XHR are wrapped by an init script) and the DOM (a
MutationObserver on the whole document, less the clock, the stale warning and the label declutter of
the big screen, and Dash's pending-callback marker, which the big screen's one-second clock callbacks add
and remove) has been quiet for 400 ms; the time is the last mutation or response end after the
start. Each action's end state is checked (the status line names the new zoom, the heatmap has cells,
the charts were redrawn, ...).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py, also when run through runpy
from common import bench_user, machine, percentile, report, use_database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.browser
LEAFLET = Path("/usr/share/javascript/leaflet")
PASSWORD = "Bench-pass-2026"
QUIET_MS = 400
VIEWPORT: Any = {"width": 1440, "height": 900}
SCREEN: Any = {"width": 1920, "height": 1080}

# --- in-page instrumentation (both pages, app and floor) -------------------------------------------

INIT_SCRIPT = """
(() => {
  const S = window.__bench = {pending: 0, lastEnd: 0, lastMut: 0, t0: null, armed: null, requests: 0, first: 0};
  const began = () => { S.pending += 1; S.requests += 1; if (!S.first) { S.first = performance.now(); } };
  const skip = '#bs-clock, #bs-date, #bs-stale, .cm-label, .leaflet-tile-pane';
  // Dash's marker of a pending callback: the big screen's clock callbacks add and remove it every second
  const marker = (n) => n.classList && n.classList.contains('_dash-loading-callback');
  const done = () => { S.pending -= 1; S.lastEnd = performance.now(); };
  const origFetch = window.fetch;
  window.fetch = function (...args) {
    began();
    return origFetch.apply(this, args).then((r) => {
      // the body: wait for it on a clone, so a pending download counts as pending
      r.clone().arrayBuffer().then(done, done);
      return r;
    }, (e) => { done(); throw e; });
  };
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (...args) {
    began();
    this.addEventListener('loadend', done);
    return send.apply(this, args);
  };
  const watch = () => new MutationObserver((records) => {
    for (const r of records) {
      const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
      if (el && el.closest && el.closest(skip)) { continue; }
      if (r.type === 'childList' && [...r.addedNodes, ...r.removedNodes].every(marker)) { continue; }
      S.lastMut = performance.now();
      return;
    }
  }).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  watch();
  for (const kind of ['click', 'pointerup']) {
    document.addEventListener(kind, () => {
      if (S.armed === kind) { S.t0 = performance.now(); S.armed = null; S.requests = 0; S.first = 0; }
    }, true);
  }
  S.arm = (kind) => { S.t0 = null; S.armed = kind; S.lastMut = 0; S.lastEnd = 0; };
  S.start = () => { S.arm(null); S.t0 = performance.now(); S.requests = 0; S.first = 0; };
})();
"""

SETTLED = """([quiet]) => { const S = window.__bench; if (!S || S.t0 == null || S.pending > 0) { return false; }
  return performance.now() - Math.max(S.lastMut, S.lastEnd, S.t0) > quiet; }"""
ELAPSED = """() => { const S = window.__bench; const rel = (t) => (t ? Math.max(t - S.t0, 0) : 0);
  return [Math.max(S.lastMut, S.lastEnd, S.t0) - S.t0, S.requests, rel(S.first), rel(S.lastEnd)]; }"""


# --- the floor: bare pages on the same Flask server ------------------------------------------------


def to_html(node: Any, graphs: list[Any]) -> str:
    """Render a Dash html.* tree as an HTML string (dcc.Graph → an empty div, its figure kept in ``graphs``)."""
    from html import escape

    if node is None:
        return ""
    if isinstance(node, str | int | float):
        return escape(str(node))
    if isinstance(node, list | tuple):
        return "".join(to_html(n, graphs) for n in node)
    props = node.to_plotly_json()["props"]
    if node._type == "Graph":  # dcc.Graph: plotly draws it in the browser
        graphs.append(props.get("figure"))
        return f'<div class="floor-graph" data-graph="{len(graphs) - 1}"></div>'
    tag = node._type.lower() if node._namespace == "dash_html_components" else "div"
    attrs = ""
    if props.get("className"):
        attrs += f' class="{escape(props["className"])}"'
    if props.get("id") and isinstance(props["id"], str):
        attrs += f' id="floor-{escape(props["id"])}"'
    if props.get("style"):
        attrs += ' style="' + ";".join(f"{k}:{v}" for k, v in props["style"].items()) + '"'
    return f"<{tag}{attrs}>{to_html(props.get('children'), graphs)}</{tag}>"


FLOOR_RISK_JS = """
const P = JSON.parse(document.getElementById('cfg').textContent);
const map = L.map('map', {zoomAnimation: false, fadeAnimation: false, markerZoomAnimation: false, inertia: false})
  .setView(P.center, P.zoom);
const state = {metric: 'risk_score', filters: {}, level: P.level, industry: ''};
let breaks = [], colours = [];
const spread = (ramp, n) => { if (n <= 1) { return [ramp[ramp.length - 1]]; }
  const out = []; for (let i = 0; i < n; i += 1) { out.push(ramp[Math.round(i * (ramp.length - 1) / (n - 1))]); }
  return out; };
const cls = (v) => { let k = 0;
  for (let i = 1; i < breaks.length - 1; i += 1) { if (v >= breaks[i]) { k = i; } } return k; };
const hex = L.geoJSON(null, {style: (f) => ({color: '#7a2e12', weight: 0.4, opacity: 0.5,
  fillColor: colours[Math.min(cls(f.properties.v || 0), colours.length - 1)] || '#ccc', fillOpacity: 0.7,
  className: 'rk-hex'})}).addTo(map);
const units = L.geoJSON(null, {style: (f) => ({color: P.unitColours[f.properties.risk] || '#8a97a8',
  weight: 2.5, fillOpacity: 0.06, className: 'rk-unit'})}).addTo(map);
const qs = () => { const q = new URLSearchParams({metric: state.metric});
  for (const [k, v] of Object.entries(state.filters)) { if (v.length) { q.set(k, v.join(',')); } }
  return q.toString(); };
const json = (url) => fetch(url, {credentials: 'same-origin'}).then((r) => r.json());
function heat() {
  const b = map.getBounds(), z = map.getZoom();
  const r = (v, up) => (up ? Math.ceil(v * 200) : Math.floor(v * 200)) / 200;
  const bbox = [r(b.getWest(), false), r(b.getSouth(), false), r(b.getEast(), true), r(b.getNorth(), true)];
  return json('/api/risk/h3?bbox=' + bbox.join(',') + '&zoom=' + Math.round(z) + '&' + qs()).then((fc) => {
    breaks = fc.breaks || []; colours = spread(P.ramp, Math.max(breaks.length - 1, 1));
    hex.clearLayers(); hex.addData(fc);
    document.getElementById('bar').textContent = breaks.join(' · ');
    document.getElementById('info').textContent = '缩放 ' + Math.round(z) + ' · H3 分辨率 ' + fc.res + ' · ' +
      fc.features.length + ' 个六边形';
  });
}
function graphs(box, figures) {
  box.querySelectorAll('.floor-graph').forEach((d) => { const f = figures[+d.dataset.graph];
    Plotly.react(d, f.data, f.layout, {displaylogo: false}); });
}
function charts() {
  return json('/bench/floor/risk/charts.json?' + qs()).then((out) => {
    out.figures.forEach((f, i) => Plotly.react('chart' + i, f.data, f.layout, {displaylogo: false}));
  });
}
function compare() {
  return json('/bench/floor/risk/compare.json?' + qs()).then((out) => {
    const box = document.getElementById('compare'); box.innerHTML = out.html; graphs(box, out.figures);
  });
}
function unitsLoad() {
  const q = new URLSearchParams({level: state.level}); if (state.industry) { q.set('industry', state.industry); }
  return json('/api/risk/units.geojson?' + q).then((fc) => { units.clearLayers(); units.addData(fc); });
}
map.on('moveend', heat);
window.floor = {
  filter: (key, values) => { state.filters[key] = values; return Promise.all([heat(), charts(), compare()]); },
  level: (level) => { state.level = level; return unitsLoad(); },
  industry: (name) => { state.industry = name || ''; return unitsLoad(); },
};
Promise.all([heat(), charts(), compare(), unitsLoad()]).then(() => { document.body.dataset.ready = '1'; });
"""

FLOOR_BS_JS = """
const P = JSON.parse(document.getElementById('cfg').textContent);
let sig = null;
window.floor = {
  tick: (all) => fetch('/bench/floor/bigscreen/data.json' + (all ? '?all=1' : ''), {credentials: 'same-origin'})
    .then((r) => r.json()).then((out) => {
      const old = sig || {}; sig = out.sig;
      for (const [k, v] of Object.entries(out.values)) {
        const el = document.getElementById('kpi-' + k); if (el.textContent !== v) { el.textContent = v; } }
      for (const [k, html] of Object.entries(out.parts || {})) {
        if (all || out.sig[k] !== old[k]) { document.getElementById(k).innerHTML = html; } }
      if (out.trend && (all || out.sig.trend !== old.trend)) {
        Plotly.react('trend', out.trend.data, out.trend.layout, {displayModeBar: false}); }
    }),
};
window.floor.tick(true).then(() => { document.body.dataset.ready = '1'; });
"""


FLOOR_CSP = "default-src 'self' data: blob:; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'"


def _page(title: str, body: str, script: str, cfg: dict[str, Any], head: str = "") -> Any:
    """A bare page (its own CSP: the app's refuses inline scripts, and only the app's pages need it)."""
    from flask import Response

    return Response(f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>'
            '<link rel="stylesheet" href="/bench/leaflet/leaflet.css"><script src="/bench/leaflet/leaflet.js"></script>'
            f'<script src="/bench/plotly.min.js"></script>{head}</head><body>{body}'
            f'<script id="cfg" type="application/json">{json.dumps(cfg)}</script><script>{script}</script>'
            '</body></html>', headers={"Content-Security-Policy": FLOOR_CSP})


def register_floor(server: Any) -> None:
    """Add the bare pages and their data routes to the app's Flask server (this process only)."""
    import plotly
    from flask import Response, abort, request, send_file
    from plotly.io.json import to_json_plotly

    from dashboard.bigscreen import panels as bp
    from dashboard.bigscreen.data import read_screen, signature
    from dashboard.pages import risk as rp
    from dashboard.scope import current_account
    from domain import clock
    from domain.labels import LEVEL
    from geo import risk_queries as rq
    from geo.db import connect
    from layers.risk import HEAT_COLOURS, RISK_UNITS

    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

    def figure(fig: Any) -> Any:
        return json.loads(to_json_plotly(fig))

    def as_json(value: Any) -> Response:
        return Response(to_json_plotly(value), mimetype="application/json")

    def filters() -> rq.RiskFilters:
        return rq.RiskFilters.from_args(request.args.to_dict(flat=False))

    @server.get("/bench/leaflet/<path:name>")
    def bench_leaflet(name: str) -> Any:
        path = (LEAFLET / name).resolve()
        if LEAFLET not in path.parents:
            abort(404)
        return send_file(path)

    @server.get("/bench/plotly.min.js")
    def bench_plotly() -> Any:
        return send_file(plotly_js)

    @server.get("/bench/floor/risk")
    def bench_floor_risk() -> Any:
        account = current_account()
        with connect() as conn:
            level = rq.scope_level(conn, scope=account.scope)
            children = [c["code"] for c in rq.compare_candidates(conn, scope=account.scope) if c["level"] == level + 1]
        cfg = {"center": [float(request.args["lat"]), float(request.args["lng"])], "zoom": int(request.args["zoom"]),
               "level": min(level + 1, 4), "ramp": list(HEAT_COLOURS), "unitColours": RISK_UNITS.hideout()["colours"],
               "compare": children[:2]}
        size = f"width:{int(request.args['w'])}px;height:{int(request.args['h'])}px"
        body = (f'<div id="map" style="{size}"></div><div id="info"></div><div id="bar"></div>'
                + "".join(f'<div id="chart{i}" style="width:600px;height:300px"></div>' for i in range(5))
                + '<div id="compare"></div>')
        return _page("floor /risk", body, FLOOR_RISK_JS, cfg)

    @server.get("/bench/floor/risk/charts.json")
    def bench_floor_charts() -> Response:
        scope, f, as_of = current_account().scope, filters(), clock.today()
        with connect() as conn:
            cutoff = rq.stock_cutoff(conn, as_of=as_of)
            parts = rq.breakdowns(conn, scope=scope, filters=f, as_of=as_of, cutoff=cutoff)
            trend, industries, areas, ageing = (parts[p] for p in ("trend", "industries", "areas", "ageing"))
            child = LEVEL.get(min(rq.scope_level(conn, scope=scope) + 1, 5), "下级单位")
        return as_json({"figures": [figure(x) for x in (
            rp.trend_figure(trend, cutoff), rp.industry_figure(industries), rp.area_figure(areas, child),
            rp.ageing_figure(ageing), rp.closure_figure(areas, child))]})

    @server.get("/bench/floor/risk/compare.json")
    def bench_floor_compare() -> Response:
        scope, f, as_of = current_account().scope, filters(), clock.today()
        with connect() as conn:
            level = rq.scope_level(conn, scope=scope)
            codes = [c["code"] for c in rq.compare_candidates(conn, scope=scope) if c["level"] == level + 1][:2]
            units = [rq.unit_kpis(conn, scope=scope, code=c) for c in codes]
            cutoff = rq.stock_cutoff(conn, as_of=as_of)
            trends = tuple(rq.monthly_found_closed(conn, scope=u["path"], filters=f, as_of=as_of, cutoff=cutoff)
                           for u in units if u)
        a, b = units[0], units[1]
        assert a is not None and b is not None
        if hasattr(rp, "compare_block"):  # before issue 22: one block (table and chart)
            graphs: list[Any] = []
            html = to_html(rp.compare_block(a, b, trends), graphs)
            return as_json({"html": html, "figures": [figure(g) for g in graphs]})
        return as_json({"html": to_html(rp.compare_table(a, b), []) + '<div class="floor-graph" data-graph="0"></div>',
                        "figures": [figure(rp.compare_figure(a, b, trends))]})

    @server.get("/bench/floor/bigscreen")
    def bench_floor_bigscreen() -> Any:
        kpis = "".join(f'<div><span>{label}</span><b id="kpi-{k}"></b></div>' for k, label, _ in bp.KPI_TILES)
        body = (f'<div id="kpis">{kpis}<b id="kpi-closure_hint"></b></div>'
                + "".join(f'<div id="{k}"></div>' for k in ("rank_risk", "rank_overdue", "dist", "grid", "legend",
                                                           "fresh", "ticker", "acc"))
                + '<div id="trend" style="width:560px;height:300px"></div>')
        return _page("floor /bigscreen", body, FLOOR_BS_JS, {})

    @server.get("/bench/floor/bigscreen/data.json")
    def bench_floor_bigscreen_data() -> Response:
        scope, today = current_account().scope, clock.today()
        data = read_screen(scope, today)
        sig = signature(data, today)
        out: dict[str, Any] = {"sig": {k: v for k, v in sig.items() if k != "values"}, "values": sig["values"]}
        if request.args.get("all"):
            head = data["head"]
            child_level = head["level"] + 1 if data["children"] else None
            graphs: list[Any] = []
            parts = {
                "rank_risk": bp.rank_rows(data["children"], by="risk", thresholds=data["thresholds"]),
                "rank_overdue": bp.rank_rows(data["children"], by="overdue", thresholds=data["thresholds"]),
                "dist": bp.distribution(data["kpis"]), "grid": bp.grid_block(data["grid"], data["enforcement"]),
                "legend": bp.legend(data["fill"][0], data["fill"][1], child_level),
                "fresh": bp.freshness_text(data["fresh"]),
                "ticker": bp.ticker(bp.ticker_items(data["alarms"], as_of=today), data["alarms"]["counts"]),
                "acc": bp.accident_block(data["accidents"]),
            }
            out["parts"] = {k: to_html(v, graphs) for k, v in parts.items()}
            out["trend"] = figure(bp.trend_figure(data["trend"]))
        return as_json(out)


# --- driving the pages -----------------------------------------------------------------------------


def settle(page: Any, action: Callable[[], Any], timeout_ms: int = 60_000) -> list[float]:
    """Run ``action`` (which arms or starts the clock), wait until the page settled.

    Returns [settled ms, requests, first request's start ms, last response's end ms] after the start.
    """
    action()
    page.wait_for_function(SETTLED, arg=[QUIET_MS], timeout=timeout_ms, polling=50)
    return [float(v) for v in page.evaluate(ELAPSED)]


def click(page: Any, selector: str) -> Callable[[], Any]:
    def run() -> None:
        page.evaluate("window.__bench.arm('click')")
        page.click(selector)
    return run


def drag(page: Any, selector: str, dx: int, dy: int) -> Callable[[], Any]:
    def run() -> None:
        box = page.locator(selector).bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + dx, y + dy, steps=6)
        page.evaluate("window.__bench.arm('pointerup')")
        page.mouse.up()
    return run


def js(page: Any, script: str) -> Callable[[], Any]:
    def run() -> None:
        page.evaluate(f"() => {{ window.__bench.start(); {script}; }}")
    return run


def app_set(component: str, prop: str, value: Any) -> str:
    return f"window.dash_clientside.set_props({json.dumps(component)}, {{{json.dumps(prop)}: {json.dumps(value)}}})"


def risk_info(page: Any) -> str:
    return str(page.inner_text("#risk-hex-info") if page.locator("#risk-hex-info").count() else
               page.inner_text("#info"))


def risk_actions(app: Any, floor: Any, industry: str) -> list[tuple[str, Callable[[], Any], Callable[[], Any],
                                                                      Callable[[Any], bool]]]:
    """(name, app action, floor action, end-state check) in the order a round runs them."""
    def filt(key: str, comp: str, values: list[str]) -> tuple[Callable[[], Any], Callable[[], Any]]:
        return (js(app, app_set(comp, "value", values)), js(floor, f"floor.filter({json.dumps(key)}, "
                                                                    f"{json.dumps(values)})"))

    def has_cells(page: Any) -> bool:
        return page.locator("path.rk-hex").count() > 0

    def zoom_is(delta: int) -> Callable[[Any], bool]:
        return lambda page: f"缩放 {page.__bench_zoom + delta} " in risk_info(page)

    actions: list[Any] = []
    for name, key, comp, values in (("filter colour 红", "risk", "risk-colour", ["red"]),
                                    ("filter industry", "industry", "risk-industry", [industry]),
                                    ("filter hazard level 重大", "level", "risk-hlevel", ["major"])):
        actions.append((f"{name}: set", *filt(key, comp, values), has_cells))
        actions.append((f"{name}: clear", *filt(key, comp, []), has_cells))
    actions.append(("four-colour level → 3", js(app, app_set("risk-overlay-level", "value", 3)),
                    js(floor, "floor.level(3)"), lambda p: p.locator("path.rk-unit").count() > 20))
    actions.append(("four-colour level → 2", js(app, app_set("risk-overlay-level", "value", 2)),
                    js(floor, "floor.level(2)"), lambda p: 0 < p.locator("path.rk-unit").count() < 20))
    actions.append(("four-colour by industry", js(app, app_set("risk-overlay-industry", "value", industry)),
                    js(floor, f"floor.industry({json.dumps(industry)})"), lambda p: p.locator("path.rk-unit").count()))
    actions.append(("four-colour all industries", js(app, app_set("risk-overlay-industry", "value", None)),
                    js(floor, "floor.industry('')"), lambda p: p.locator("path.rk-unit").count()))
    actions.append(("zoom in", click(app, ".leaflet-control-zoom-in"), click(floor, ".leaflet-control-zoom-in"),
                    zoom_is(1)))
    actions.append(("pan (drag)", drag(app, "#risk-map", -220, -120), drag(floor, "#map", -220, -120), has_cells))
    actions.append(("pan back", drag(app, "#risk-map", 220, 120), drag(floor, "#map", 220, 120), has_cells))
    actions.append(("zoom out", click(app, ".leaflet-control-zoom-out"), click(floor, ".leaflet-control-zoom-out"),
                    zoom_is(0)))
    return actions


def bs_actions(app: Any, floor: Any) -> list[tuple[str, Callable[[], Any], Callable[[], Any],
                                                    Callable[[Any], bool]]]:
    tick = ("(() => { const n = (window.__bench.tick = (window.__bench.tick || 0) + 1);"
            " window.dash_clientside.set_props('bs-tick', {n_intervals: 1000 + n}); })()")
    forget = "window.dash_clientside.set_props('bs-sig', {data: null});"
    return [
        ("refresh, nothing changed", js(app, tick), js(floor, "floor.tick(false)"), lambda p: True),
        ("refresh, every part changed", lambda: (app.evaluate(forget), js(app, tick)()),
         js(floor, "floor.tick(true)"), lambda p: True),
    ]


def run_rounds(actions: list[Any], app: Any, floor: Any, rounds: int,
               log: Callable[[str], None]) -> dict[str, dict[str, list[float]]]:
    """Run every action ``rounds`` times after one warm-up round, app and floor in turn (first alternating)."""
    times: dict[str, dict[str, list[float]]] = {
        a[0]: {f"{who}{part}": [] for who in ("app", "floor") for part in ("", "_req", "_first", "_last")}
        for a in actions}
    for r in range(rounds + 1):
        for name, app_action, floor_action, check in actions:
            order = [("app", app, app_action), ("floor", floor, floor_action)]
            for who, page, action in order if r % 2 else reversed(order):
                ms, requests, first, last = settle(page, action)
                if not check(page):
                    raise AssertionError(f"{who}: {name}: end state not reached ({risk_info(page)!r})")
                if r:
                    for part, value in (("", ms), ("_req", requests), ("_first", first), ("_last", last)):
                        times[name][who + part].append(value)
        log(f"round {r}/{rounds} done")
    return times


def sign_in(context: Any, base: str, user: str, target: str) -> Any:
    page = context.new_page()
    page.goto(f"{base}/login?next={target}")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{target}")
    return page


def table(times: dict[str, dict[str, list[float]]]) -> list[str]:
    lines = ["| action | app p50 / p95 ms | floor p50 / p95 ms | p50 ratio (≤ 1.5) | p95 ratio (≤ 2) "
             "| requests app / floor | app: 1st request starts / last response ends (p50 ms) | floor: same |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, t in times.items():
        a50, a95 = percentile(t["app"], 0.5), percentile(t["app"], 0.95)
        f50, f95 = percentile(t["floor"], 0.5), percentile(t["floor"], 0.95)
        med = {k: statistics.median(v) for k, v in t.items()}
        lines.append(f"| {name} | {a50:.0f} / {a95:.0f} | {f50:.0f} / {f95:.0f} | {a50 / f50:.2f} | {a95 / f95:.2f} "
                     f"| {med['app_req']:g} / {med['floor_req']:g} | {med['app_first']:.0f} / {med['app_last']:.0f} "
                     f"| {med['floor_first']:.0f} / {med['floor_last']:.0f} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--database", default=os.environ.get("SAFEGRID_PG_DATABASE", "safegrid"))
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--label", default="", help="a word for the result's heading, e.g. before / after")
    ap.add_argument("--only", choices=("risk", "bigscreen"), default=None)
    ap.add_argument("--append", type=Path, default=None, help="append a result section to this markdown file")
    args = ap.parse_args()
    if not (LEAFLET / "leaflet.js").exists():
        sys.exit("需要 Debian 的 libjs-leaflet（make bench-deps）：the floor draws with plain Leaflet")
    use_database(args.database)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    os.environ["SAFEGRID_BIGSCREEN_REFRESH_SECONDS"] = "86400"  # ticks come from the bench only

    from playwright.sync_api import sync_playwright
    from sqlalchemy import text
    from werkzeug.serving import make_server

    from dashboard.app import create_app
    from domain import clock
    from geo.db import connect
    from tests.browser import CHROMIUM, CHROMIUM_ARGS, app_settings

    with connect() as conn:
        bench_user(conn, "bench_browser_planner", PASSWORD, role="planner", scope_code="411000")
        bench_user(conn, "bench_browser_leader", PASSWORD, role="leader", scope_code="411000")
        n_ent = conn.execute(text("SELECT count(*) FROM enterprises")).scalar_one()
        n_haz = conn.execute(text("SELECT count(*) FROM hazards")).scalar_one()
        industry = conn.execute(text("SELECT industry FROM enterprises WHERE industry IS NOT NULL GROUP BY 1 "
                                     "ORDER BY count(*) DESC LIMIT 1")).scalar_one()
    app = create_app(app_settings())
    register_floor(app.server)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {msg}", flush=True)

    results: dict[str, dict[str, dict[str, list[float]]]] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        if args.only in (None, "risk"):
            ctx_app = browser.new_context(locale="zh-CN", viewport=VIEWPORT)
            ctx_floor = browser.new_context(locale="zh-CN", viewport=VIEWPORT)
            for ctx in (ctx_app, ctx_floor):
                ctx.add_init_script(INIT_SCRIPT)
            app_page = sign_in(ctx_app, base, "bench_browser_planner", "/risk")
            app_page.wait_for_function("() => (document.querySelector('#risk-hex-info') || {}).textContent"
                                       "?.includes('分辨率')",
                                       timeout=60_000)
            app_page.wait_for_selector("path.rk-unit", state="attached", timeout=60_000)
            app_page.wait_for_timeout(1000)
            href = app_page.get_attribute("#risk-export-xlsx", "href") or ""
            from urllib.parse import parse_qs, urlparse
            q = parse_qs(urlparse(href).query)
            w, s, e, n = (float(v) for v in q["bbox"][0].split(","))
            zoom = int(q["zoom"][0])
            box = app_page.locator("#risk-map").bounding_box()
            floor_page = sign_in(ctx_floor, base, "bench_browser_planner", "/risk")
            floor_page.goto(f"{base}/bench/floor/risk?lat={(s + n) / 2}&lng={(w + e) / 2}&zoom={zoom}"
                            f"&w={int(box['width'])}&h={int(box['height'])}")
            floor_page.wait_for_selector("body[data-ready='1']", timeout=60_000)
            for page in (app_page, floor_page):
                page.__bench_zoom = zoom
            log(f"/risk open at zoom {zoom}: app {risk_info(app_page)!r}, floor {risk_info(floor_page)!r}")
            results["/risk"] = run_rounds(risk_actions(app_page, floor_page, industry), app_page, floor_page,
                                          args.rounds, log)
            ctx_app.close()
            ctx_floor.close()
        if args.only in (None, "bigscreen"):
            ctx_app = browser.new_context(locale="zh-CN", viewport=SCREEN)
            ctx_floor = browser.new_context(locale="zh-CN", viewport=SCREEN)
            for ctx in (ctx_app, ctx_floor):
                ctx.add_init_script(INIT_SCRIPT)
            app_page = sign_in(ctx_app, base, "bench_browser_leader", "/bigscreen")
            app_page.wait_for_selector("#bs-trend .bars .point", timeout=60_000)
            app_page.wait_for_timeout(1500)
            floor_page = sign_in(ctx_floor, base, "bench_browser_leader", "/bigscreen")
            floor_page.goto(f"{base}/bench/floor/bigscreen")
            floor_page.wait_for_selector("body[data-ready='1']", timeout=60_000)
            results["/bigscreen"] = run_rounds(bs_actions(app_page, floor_page), app_page, floor_page,
                                               args.rounds, log)
        browser.close()
    server.shutdown()

    load = os.getloadavg()
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    cmd = "`.venv/bin/python bench/bench_browser_risk.py " + " ".join(sys.argv[1:]).replace(
        f"--append {args.append}", "").strip() + "`"
    label = f" — {args.label}" if args.label else ""
    lines = [f"\n## Browser: /risk and the big screen, action → settled vs a bare page{label} "
             f"({clock.today()}, {commit})\n",
             f"{cmd} on {machine()}, load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min); "
             f"database `{args.database}`: {n_ent:,} enterprises, {n_haz:,} hazards; headless Chromium, "
             f"/risk at {VIEWPORT['width']}×{VIEWPORT['height']} as a city planner, the big screen at "
             f"{SCREEN['width']}×{SCREEN['height']} as a city leader; p50 / p95 of {args.rounds} rounds after a "
             f"warm-up, app and floor in turn; industry = {industry}.\n"]
    for name, times in results.items():
        lines += [f"\n**{name}**\n", *table(times)]
    report("\n".join(lines) + "\n", args.append)


if __name__ == "__main__":
    main()
