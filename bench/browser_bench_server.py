"""gunicorn entry of bench/bench_browser_drilldown.py: the served app plus the bare Leaflet page, bench only.

    gunicorn --pythonpath bench browser_bench_server:server

``/bench-bare/`` (signed-in, like every page) serves the floor of the browser bench: a plain HTML page
that loads Leaflet from the app's own dash-leaflet bundle (with the React it needs, the same files
the command map loads, so the browser caches them alike) and ``bare_drilldown.js``. The routes are
added to the app's server in this process only; the app's code carries none of them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from flask import Response

from dashboard.app import app, server
from layers.registry import POINT_LAYERS

HERE = Path(__file__).resolve().parent
# The layers the command map opens with (checked), as its POINT_META gives them to the page.
KINDS = [{"id": s.id, "min_zoom": s.min_zoom} for s in POINT_LAYERS if s.checked]
_WANTED = ("/deps/react@", "/deps/react-dom@", "/dash_leaflet/dash_leaflet.")


def _leaflet_scripts() -> str:
    """The ``<script>`` tags of React, ReactDOM and the dash-leaflet bundle, as the Dash page has them."""
    page = app._generate_scripts_html()  # a private Dash method: bench only (dashboard/ uses dash_internals)
    tags = re.findall(r'<script src="([^"]+)"></script>', page)
    chosen = [src for src in tags if any(w in src for w in _WANTED)]
    return "\n".join(f'<script src="{src}"></script>' for src in chosen)


def bare_page() -> Response:
    """The bare page: map box, panel, scripts; the scope root and the point kinds in ``data-`` attributes."""
    html = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>bare Leaflet floor</title></head>
<body data-kinds='{json.dumps(KINDS)}' data-scope="">
<div id="bare-map"></div><aside id="bare-panel"></aside>
{_leaflet_scripts()}
<script src="/bench-bare/bare_drilldown.js"></script>
</body></html>"""
    return Response(html, mimetype="text/html")


def bare_script() -> Response:
    """The bare page's script (no cache: the bench may change it between runs)."""
    return Response((HERE / "bare_drilldown.js").read_text(encoding="utf-8"), mimetype="text/javascript",
                    headers={"Cache-Control": "no-cache"})


server.add_url_rule("/bench-bare/", "bench_bare_page", bare_page)
server.add_url_rule("/bench-bare/bare_drilldown.js", "bench_bare_script", bare_script)
