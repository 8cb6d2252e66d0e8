"""Serve the app with gunicorn (one worker, its own process) on a given database, for browser tests on the demo.

    with gunicorn_app(demo_db.url, SAFEGRID_BIGSCREEN_REFRESH_SECONDS="2") as base_url:
        ...

The live_server fixture in tests/browser.py serves the session test database in a thread; a demo
database needs its own process because ``geo.db`` reads the database from the settings once.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.browser import TEST_SECRET

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def gunicorn_app(database_url: str, **env: str) -> Iterator[str]:
    """Run ``dashboard.app:server`` on ``database_url`` (extra ``SAFEGRID_*`` settings in ``env``); yield its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    environ = {**os.environ, "SAFEGRID_DATABASE_URL": database_url, "SAFEGRID_SECRET_KEY": TEST_SECRET,
               "SAFEGRID_LOGIN_IP_MAX_FAILURES": "100000", **env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "8",
         "--worker-class", "gthread", "--timeout", "120", "dashboard.app:server"],
        cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or still building the app
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                raise RuntimeError(f"gunicorn did not start: {err}")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
