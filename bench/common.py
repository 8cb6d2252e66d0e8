"""Helpers shared by the benchmark scripts in ``bench/``: one percentile, one timer, one bench database.

The scripts import it as ``from common import …`` (``bench/`` is first on ``sys.path`` when a script is
run; each script also puts it there itself, for runners such as ``runpy.run_path``). The ``geo`` /
``etl`` imports are made inside the functions, after a script has chosen its database.
"""

from __future__ import annotations

import importlib.util
import math
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (``q`` in 0..1) of ``values``.

    The smallest value with at least ``q·n`` of the ``n`` values ≤ it: ``sorted(values)[ceil(q·n) - 1]``,
    clamped to the first and last value (so ``q = 0`` is the minimum, ``q = 1`` the maximum and ``q = 0.5``
    the lower median). The same definition in every bench: a p95 of one is the p95 of another.
    """
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = math.ceil(q * len(ordered) - 1e-9)  # 1e-9: 0.07 * 100 is 7.000000000000001, still rank 7
    return ordered[min(len(ordered), max(1, rank)) - 1]


def timed(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> tuple[float, T]:
    """Call ``fn(*args, **kwargs)`` once; return (milliseconds, its result)."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return (time.perf_counter() - start) * 1000, result


def use_database(name: str | None) -> None:
    """Point the settings at database ``name`` on the project server (no-op for None: settings as they are).

    Call before the first ``geo.settings.get_settings()`` (it is cached). ``SAFEGRID_DATABASE_URL`` is
    dropped: it would name a database of its own and override ``name``.
    """
    if name:
        os.environ["SAFEGRID_PG_DATABASE"] = name
        os.environ.pop("SAFEGRID_DATABASE_URL", None)


def fresh_database(name: str, *, template: str | None = None, reuse: bool = False) -> tuple[str, bool]:
    """Drop and re-create database ``name`` (migrated, or a copy of ``template``); return (its URL, True).

    With ``reuse`` an existing ``name`` is kept and only migrated to the head revision: (URL, False).
    """
    from sqlalchemy import create_engine, text

    from geo import migrate
    from geo.settings import get_settings

    if reuse:
        admin = create_engine(get_settings().url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": name}).first()
        admin.dispose()
        if exists:
            url = get_settings().url(name)
            migrate.upgrade(url)
            return url, False
    return migrate.fresh_database(name, template=template), True


def load_demo(directory: Path, url: str, *, enterprises: int, seed: int, as_of: date) -> dict[str, float]:
    """Build the 许昌 demo in ``directory`` (unless it holds one of this size and seed) and load it into ``url``.

    Every file goes through the loaders (``etl.load.load_file``), one progress line each. Returns seconds
    per step: ``build`` (only when it was built), ``load <file>`` per file and ``load (all files)``.
    """
    import json

    from etl.demo.build import BuildOptions, build
    from etl.demo.records import Scale
    from etl.load import load_file
    from geo.db import engine as pooled_engine

    timings: dict[str, float] = {}
    manifest_path = directory / "manifest.json"
    manifest: dict[str, Any] = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    if manifest.get("enterprises") != enterprises or manifest.get("seed") != seed:
        options = BuildOptions(seed=seed, as_of=as_of, scale=Scale(enterprises=enterprises))
        ms, manifest = timed(build, directory, options)
        timings["build"] = ms / 1000
    start = time.perf_counter()
    for entry in manifest["load_order"]:
        ms, result = timed(load_file, entry["kind"], directory / entry["file"], level=entry.get("level"), url=url)
        step = f"load {entry['file']}"
        timings[step] = ms / 1000
        print(f"{step}: {result.status} {result.rows_loaded}/{result.rows_in} {timings[step]:.1f} s", flush=True)
    timings["load (all files)"] = time.perf_counter() - start
    pooled_engine(url).dispose()  # the loaders' pooled connections would block CREATE DATABASE … TEMPLATE
    return timings


def bench_user(conn: Any, username: str, password: str, *, role: str, scope_code: str,
               display_name: str | None = None) -> int:
    """(Re-)create the account ``username`` with ``password`` for a bench run; return its id."""
    from sqlalchemy import text

    from geo.users import create_user, hash_password

    conn.execute(text("DELETE FROM users WHERE username = :u"), {"u": username})
    return create_user(conn, username=username, password_hash=hash_password(password), role=role,
                       scope_code=scope_code, display_name=display_name)


def sign_in(client: Any, username: str, password: str) -> None:
    """Sign the dashboard's Flask test client in through the login form (CSRF token and all), as a browser does."""
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token, "no CSRF token on the login page"
    resp = client.post("/login", data={"username": username, "password": password, "csrf_token": token.group(1),
                                       "next": "/"})
    assert resp.status_code == 302, resp.status_code


def timed_app() -> tuple[Any, Callable[[], float]]:
    """The dashboard's Dash app with its WSGI call timed to the last body byte; (app, last server time in ms)."""
    from dashboard.app import create_app
    from dashboard.settings import DashboardSettings

    app = create_app(DashboardSettings(secret_key="bench-" + "x" * 40, login_ip_max_failures=10**9))
    served = app.server.wsgi_app
    last = [0.0]

    def timed_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        t0 = time.perf_counter()
        body = b"".join(served(environ, start_response))
        last[0] = (time.perf_counter() - t0) * 1000
        return [body]

    app.server.wsgi_app = timed_wsgi
    return app, lambda: last[0]


def csrf_header(client: Any) -> dict[str, str]:
    """The ``X-CSRFToken`` header Dash's renderer sends with callbacks (read from the ``_csrf_token`` cookie)."""
    cookie = client.get_cookie("_csrf_token")
    return {"X-CSRFToken": cookie.value} if cookie is not None else {}


def machine() -> str:
    """The machine for a result's header, e.g. ``x86_64, 2 CPUs``."""
    return f"{platform.machine()}, {os.cpu_count()} CPUs"


def report(markdown: str, append: Path | None) -> None:
    """Print the Markdown result; with ``append``, also append it to that file as a section of its own."""
    print(markdown)
    if append:
        with append.open("a", encoding="utf-8") as fh:
            fh.write("\n" + markdown.strip("\n") + "\n")


def module_at(rev: str, path: str, name: str) -> ModuleType:
    """Import the project's ``path`` (``geo/todo.py``) as it was at git revision ``rev``, under ``name``."""
    root = Path(__file__).resolve().parent.parent
    source = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=root, check=True, capture_output=True,
                            text=True).stdout
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    exec(compile(source, f"{rev}:{path}", "exec"), module.__dict__)
    return module
