"""Browser benchmark of the command map: click → map and panel settled per drill-down step, against a bare page.

    .venv/bin/python bench/bench_browser_drilldown.py --database safegrid [--rounds 5] [--append docs/benchmarks.md]
    .venv/bin/python bench/bench_browser_drilldown.py --database bench_insp_1m --rounds 3

The database must hold a loaded and refreshed demo (the 20k demo, or a 1M copy as bench_command_map.py
makes with ``--clone-enterprises``). The app is served by gunicorn (one gthread worker, as the browser
tests serve it) through ``bench/browser_bench_server.py``, which adds the floor: ``/bench-bare/``, a
bare Leaflet page on the same origin that shows a unit with the fewest round trips
(``/api/units/<code>`` and the children GeoJSON in parallel, ``fitBounds`` without animation, then
the point bundle of the viewport — the command map's checked layers, the same tile-snapped bbox — and
draws them; ``bench/bare_drilldown.js``). Headless Debian Chromium (Playwright, 1440×900, zh-CN), one
page, signed in as a leader of the city.

Walks: ``--walks`` grid cells in different counties (the one with the most enterprises per county,
then the second, …); each walk opens the city, then clicks the county, the township, the village and
the grid cell polygon on the map (a point of the polygon a click reaches). SafeGrid's and the bare
page's walks alternate walk by walk (the order flips every round); one untimed round first warms the
server's response cache, the browser's HTTP cache and the JIT for both.

Settled (``bench/drilldown_probe.js``, the same code on both pages): the panel shows the new unit
(``[data-unit=CODE]``), the unit polygons drawn are exactly the new unit's (its children, or itself
for a grid cell), a point request made after the click has been answered and read (at the levels
where the warm-up round saw one: none below the layers' min_zoom), no fetch/XHR pending and no DOM
change for ``--quiet`` ms (hover tooltips and tiles aside). The time is taken in the page, from the
click event to the later of the last DOM change and the last answer. First view: the sign-in form
submitted → the map, the panel and the points of the scope's root settled (the bare page is the
sign-in's ``next``), browser cache warm, cookies cleared before each sign-in.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py, also when run through runpy
from common import bench_user, machine, percentile, report, use_database

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
LEVELS = {2: "county", 3: "township", 4: "village", 5: "grid cell"}
SIDES = ("safegrid", "bare")
PANEL = {"safegrid": "#cm-panel .cm-panel-body", "bare": "#bare-panel"}


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(database_url: str) -> tuple[subprocess.Popen[bytes], str]:
    """Serve the app plus the bare page with gunicorn on ``database_url``; return the process and its base URL."""
    port = free_port()
    env = {**os.environ, "SAFEGRID_DATABASE_URL": database_url, "SAFEGRID_SECRET_KEY": "bench-" + "b" * 40,
           "SAFEGRID_LOGIN_IP_MAX_FAILURES": "100000"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--pythonpath", str(HERE), "--bind", f"127.0.0.1:{port}", "--workers",
         "1", "--threads", "8", "--worker-class", "gthread", "--timeout", "120", "browser_bench_server:server"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return proc, base
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
            raise RuntimeError(f"gunicorn did not start: {err}")
        time.sleep(0.3)


def choose_walks(conn: Any, n: int) -> list[list[str]]:
    """``n`` walks city → county → township → village → grid cell, ending in busy grid cells of different counties."""
    from sqlalchemy import text

    rows = conn.execute(text(
        """
        SELECT g.path, row_number() OVER (PARTITION BY split_part(g.path, '.', 2) ORDER BY count(*) DESC, g.path) AS r
        FROM units g JOIN enterprises e ON e.unit_id = g.id
        WHERE g.level = 5 GROUP BY g.path ORDER BY r, g.path
        """)).all()
    return [row.path.rstrip(".").split(".") for row in rows[:n]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--database", default=None, help="database name on the project server (default: settings)")
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds (each: every walk on both pages)")
    ap.add_argument("--walks", type=int, default=6)
    ap.add_argument("--quiet", type=float, default=250.0, help="ms without DOM change or answer that mean settled")
    ap.add_argument("--latency", type=float, default=0.0,
                    help="added round-trip latency in ms per request (Chromium's network emulation), e.g. 100")
    ap.add_argument("--label", default="", help="a word for the heading, e.g. before / after")
    ap.add_argument("--raw", type=Path, default=None, help="write every sample (JSON) to this file")
    ap.add_argument("--append", type=Path, default=None, help="append the Markdown result to this file")
    args = ap.parse_args()
    use_database(args.database)

    from playwright.sync_api import sync_playwright
    from sqlalchemy import text

    from geo import map_queries as mq
    from geo.db import engine
    from geo.settings import get_settings

    load_start = os.getloadavg()
    db = engine()
    with db.begin() as conn:
        counts = conn.execute(text("SELECT (SELECT count(*) FROM enterprises), (SELECT count(*) FROM units), "
                                   "(SELECT count(*) FROM hazards WHERE status <> 'closed')")).one()
        walks = choose_walks(conn, args.walks)
        city = walks[0][0]
        username, password = f"bench_{uuid.uuid4().hex[:8]}", "Bench-pass-2026"
        bench_user(conn, username, password, role="leader", scope_code=city)
        scope = conn.execute(text("SELECT path FROM units WHERE code = :c"), {"c": city}).scalar_one()
        drawn: dict[str, list[str]] = {}
        level: dict[str, int] = {}
        for codes in walks:
            for code in codes:
                fc = json.loads(mq.children_geojson(conn, scope=scope, code=code) or "{}")
                drawn[code] = sorted(f["properties"]["code"] for f in fc["features"]
                                     if f["properties"]["kind"] == "unit")
                level[code] = conn.execute(text("SELECT level FROM units WHERE code = :c"), {"c": code}).scalar_one()
    db.dispose()

    proc, base = start_server(get_settings().url())
    samples: list[dict[str, Any]] = []
    wants_points: dict[str, bool] = {}  # per unit code: the warm-up round saw a point request
    map_size = {"w": 1000, "h": 760}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
            context.add_init_script(path=str(HERE / "drilldown_probe.js"))
            page = context.new_page()
            if args.latency:  # a server across a network: every request waits this long more
                cdp = context.new_cdp_session(page)
                cdp.send("Network.enable")
                cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": args.latency,
                                                              "downloadThroughput": -1, "uploadThroughput": -1})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            def settled(side: str, code: str, *, since: float | None, points: bool | None = None) -> dict[str, Any]:
                want = wants_points.get(code, False) if points is None else points
                return dict(page.evaluate("(o) => window.__probe.settled(o)", {
                    "panel": PANEL[side], "code": code, "units": drawn[code], "points": want, "since": since,
                    "quiet": args.quiet, "timeout": 30_000}))

            def page_url(side: str, code: str) -> str:
                return f"/?unit={code}" if side == "safegrid" else \
                    f"/bench-bare/?unit={code}&w={map_size['w']}&h={map_size['h']}"

            def sign_in(side: str, timed: bool, rnd: int) -> None:
                context.clear_cookies()
                target = "/" if side == "safegrid" else page_url("bare", city)
                page.goto(f"{base}/login?next={requests.utils.quote(target, safe='')}")
                page.fill("#username", username)
                page.fill("#password", password)
                page.click("button[type=submit]")
                page.wait_for_url(lambda u: "/login" not in u, wait_until="commit")
                got = settled(side, city, since=0, points=False)
                submit = float(page.evaluate("() => sessionStorage.getItem('__probeSubmit')") or "nan")
                if timed and got.get("ms") is not None:
                    samples.append({"side": side, "step": "first view", "round": rnd, "code": city,
                                    "ms": got["settledEpoch"] - submit, "requests": len(got["requests"]),
                                    "first": got["first"]})

            def walk(side: str, codes: list[str], timed: bool, rnd: int) -> None:
                page.goto(base + page_url(side, codes[0]))
                got = settled(side, codes[0], since=0, points=False)
                if got.get("ms") is None:  # the machine too busy to open the walk's start: skip this walk
                    print(f"start did not settle: {side} {codes[0]}: {got}", flush=True)
                    return
                for code in codes[1:]:
                    page.evaluate("() => { window.__probe.clickAt = null; }")
                    point = page.evaluate("(c) => window.__probe.clickPoint(c)", code)
                    assert point, ("no clickable point of unit", code, side)
                    page.mouse.click(point["x"], point["y"])
                    page.mouse.move(3, 3)  # off the map: no hover tooltip over the new polygons
                    assert page.evaluate("() => window.__probe.clickAt") is not None, "the click was not seen"
                    got = settled(side, code, since=None, points=None if timed else False)
                    if not timed and side == "safegrid":
                        wants_points[code] = any("/api/map/points" in r["url"] for r in got.get("requests", []))
                    if got.get("ms") is None:
                        print(f"timeout: {side} {code}: {got}", flush=True)
                        if timed:
                            samples.append({"side": side, "step": LEVELS[level[code]], "round": rnd, "code": code,
                                            "ms": None})
                        continue
                    if timed:
                        samples.append({"side": side, "step": LEVELS[level[code]], "round": rnd, "code": code,
                                        "ms": got["ms"], "requests": len(got["requests"]), "first": got["first"],
                                        "chain": got["requests"]})

            # Sign in once to learn the map's size (the bare page gets the same box, so the same zoom and bbox).
            sign_in("safegrid", False, -1)
            box = page.evaluate("() => { const r = document.querySelector('#cm-map').getBoundingClientRect();"
                                " return {w: Math.round(r.width), h: Math.round(r.height)}; }")
            map_size.update(box)
            for rnd in range(-1, args.rounds):  # round -1: the untimed warm-up
                order = SIDES if rnd % 2 == 0 else SIDES[::-1]
                for side in order:
                    sign_in(side, rnd >= 0, rnd)
                for codes in walks:
                    for side in order:
                        walk(side, codes, rnd >= 0, rnd)
                print(f"round {rnd} done, load {os.getloadavg()[0]:.1f}", flush=True)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        with engine().begin() as conn:
            conn.execute(text("DELETE FROM users WHERE username = :u"), {"u": username})
    load_end = os.getloadavg()
    if args.raw:
        args.raw.write_text(json.dumps({"samples": samples, "errors": errors}, ensure_ascii=False, indent=1))

    def stats(side: str, step: str) -> dict[str, float]:
        got = [s["ms"] for s in samples if s["side"] == side and s["step"] == step and s["ms"] is not None]
        missed = sum(1 for s in samples if s["side"] == side and s["step"] == step and s["ms"] is None)
        if not got:
            return {"n": 0, "missed": missed}
        return {"n": len(got), "missed": missed, "p50": percentile(got, .5), "p95": percentile(got, .95)}

    def median_of(side: str, step: str, key: str) -> str:
        got = [s["first"][key] for s in samples if s["side"] == side and s["step"] == step and s.get("first")
               and s["first"].get(key) is not None]
        return f"{percentile(got, .5):.0f}" if got else "–"

    steps = ["first view", *LEVELS.values()]
    label = f", {args.label}" if args.label else ""
    lines = [
        f"## Command map in the browser: click → settled, {counts[0]:,} enterprises{label} "
        f"({time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC)",
        "",
        f"`.venv/bin/python bench/bench_browser_drilldown.py --database {args.database or get_settings().pg_database}"
        f" --rounds {args.rounds} --walks {args.walks}"
        + (f" --latency {args.latency:.0f}" if args.latency else "")
        + f"` on {machine()}, headless Debian Chromium, gunicorn "
        f"(1 worker, 8 threads); load average {load_start[0]:.1f} / {load_start[1]:.1f} at the start and "
        f"{load_end[0]:.1f} / {load_end[1]:.1f} at the end (1 / 5 min; other helpers share the 2 CPUs). "
        f"{len(walks)} walks (grid cells {', '.join(w[-1] for w in walks)}), {args.rounds} timed rounds after one "
        f"untimed, SafeGrid and the bare page alternating walk by walk; settled = panel, unit polygons and points "
        f"drawn, nothing pending, no DOM change for {args.quiet:.0f} ms (bench/drilldown_probe.js). Server caches "
        f"warm. Data: {counts[0]:,} enterprises, {counts[2]:,} open hazards, {counts[1]:,} units. Map box "
        f"{map_size['w']}×{map_size['h']} px.",
        "",
        "| step | SafeGrid p50 ms | SafeGrid p95 ms | bare p50 ms | bare p95 ms | p50 ratio | p95 ratio | n "
        "| SafeGrid panel / units / points first seen (p50 ms) | SafeGrid requests a step (p50) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for step in steps:
        a, b = stats("safegrid", step), stats("bare", step)
        if not a.get("n") or not b.get("n"):
            lines.append(f"| {step} | – | – | – | – | – | – | {a.get('n', 0)}/{b.get('n', 0)} | – | – |")
            continue
        reqs = [s["requests"] for s in samples if s["side"] == "safegrid" and s["step"] == step and s["ms"]]
        missed = f" ({a['missed']}/{b['missed']} timed out)" if a["missed"] or b["missed"] else ""
        lines.append(
            f"| {step} | {a['p50']:.0f} | {a['p95']:.0f} | {b['p50']:.0f} | {b['p95']:.0f} "
            f"| **{a['p50'] / b['p50']:.2f}×** | **{a['p95'] / b['p95']:.2f}×** | {a['n']}{missed} "
            f"| {median_of('safegrid', step, 'panel')} / {median_of('safegrid', step, 'units')} / "
            f"{median_of('safegrid', step, 'points')} | {percentile(reqs, .5) if reqs else '–'} |")
    if errors:
        lines += ["", f"Page errors: {len(errors)} (first: {errors[0][:200]})"]
    report("\n".join(lines) + "\n", args.append)


if __name__ == "__main__":
    main()
