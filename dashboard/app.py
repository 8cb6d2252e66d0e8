"""Entry module: compose the Flask server and the Dash app (``gunicorn dashboard.app:server``)."""

from __future__ import annotations

import gc
import importlib
from pathlib import Path
from typing import Any

from dash import Dash
from flask import Flask, Response, request

from dashboard import (
    auth,
    briefing_routes,
    cache,
    inspector_routes,
    map_routes,
    risk_routes,
    routes,
    scorecard_routes,
    shell,
    websec,
)
from dashboard.basemaps import available_basemaps, get_map_settings
from dashboard.dash_internals import setup_server
from dashboard.pages import registered_pages
from dashboard.settings import PROJECT_ROOT, DashboardSettings, get_settings


def create_app(settings: DashboardSettings | None = None) -> Dash:
    """Build a new app: server config and auth, data routes, the shell and every registered page."""
    settings = settings or get_settings()
    server = Flask("dashboard", static_folder=None)
    auth.init_app(server, settings)
    cache.init_app(server, settings)
    routes.init_app(server)
    map_routes.init_app(server)
    inspector_routes.init_app(server)
    risk_routes.init_app(server)
    scorecard_routes.init_app(server)
    briefing_routes.init_app(server)
    # flask-compress (Dash compress=True) for callback JSON and assets: gzip level 5 (zstd 3 when accepted);
    # the map and risk routes compress their cached bodies themselves (dashboard/cache.py)
    server.config["COMPRESS_LEVEL"] = 5
    # Dash's hints omit Flask for ``server`` and None for ``update_title``.
    app = Dash(
        "dashboard", server=server, title=settings.app_title, update_title=None,  # type: ignore[arg-type]
        assets_folder=str(PROJECT_ROOT / "assets"), suppress_callback_exceptions=True,
        serve_locally=True, on_error=shell.callback_error, compress=True,
    )
    pages = registered_pages()
    shell.init_app(app, pages, settings)
    for page in pages:
        if page.register:
            page.register(app)
    _setup_eagerly(app)
    _preload_lazy_code(app)
    # CSP: hashes of Dash's inline scripts, tile hosts of the configured basemaps; callback bodies checked
    websec.init_dash(app, websec.tile_sources(
        t["url"] for m in available_basemaps(get_map_settings()) for t in m.tiles))
    return app


def _setup_eagerly(app: Dash) -> None:
    """Run Dash's first-request setup now, not on the first request.

    Dash registers its component-suite paths in ``_setup_server`` on the first request and marks
    it done before it finishes: under gunicorn's threaded workers the browser's parallel script
    requests then race it and get 500 "not a registered library" until the setup completes.
    """
    setup_server(app)


# Lazily loaded component code a page renders at once (module, file): on every page dash-extensions' Purify (the
# header menu and other HTML blocks, dashboard.dry) and the header search's dcc.Dropdown, on the command map (the
# landing page) dash-leaflet's GeoJSON layer. dash-renderer runs no callback before a lazy component's code has
# arrived, and asks for it only when it renders one: a round trip after the page's layout, before the router.
_LAZY_EVERYWHERE = (("dash_extensions", "async-Purify.js"), ("dash.dcc", "async-dropdown.js"))
_LAZY_ON_MAP = (("dash_leaflet", "async-GeoJSON.js"),)


def _preload_lazy_code(app: Dash) -> None:
    """Have the browser fetch the lazy component code a page renders with the page (``Link: rel=preload``)."""
    prefix = app.config.requests_pathname_prefix

    def links(lazy: tuple[tuple[str, str], ...]) -> list[str]:
        for package, name in lazy:
            if not (Path(importlib.import_module(package).__file__ or "").parent / name).is_file():
                raise RuntimeError(f"{package} has no {name}: update _LAZY_EVERYWHERE / _LAZY_ON_MAP for this version")
        return [f"<{prefix}_dash-component-suites/{package.replace('.', '/')}/{name}>; rel=preload; as=script"
                for package, name in lazy]

    everywhere, on_map = links(_LAZY_EVERYWHERE), links(_LAZY_ON_MAP)
    pages = {app.config.routes_pathname_prefix, app.config.routes_pathname_prefix + "<path:path>"}  # Dash's index

    @app.server.after_request
    def preload(response: Response) -> Response:
        if request.method == "GET" and request.endpoint in pages and response.mimetype == "text/html":
            response.headers["Link"] = ", ".join(on_map + everywhere if request.path == prefix else everywhere)
        return response


def settle_heap() -> None:
    """Move everything built so far (modules, the app, its layouts) out of the garbage collector's sight.

    A full collection otherwise walks all ~160,000 start-up objects and stops the worker for ~70-90 ms
    every few hundred requests; frozen, it walks only what requests created since (~3 ms). Call once,
    after the server is built (gunicorn imports ``dashboard.app:server`` in each worker).
    """
    gc.collect()
    gc.freeze()


_app: Dash | None = None


def __getattr__(name: str) -> Any:
    """Build the default app lazily, so importing this module in tests does not."""
    global _app
    if name in ("app", "server"):
        if _app is None:
            _app = create_app()
            settle_heap()
        return _app if name == "app" else _app.server
    raise AttributeError(name)
