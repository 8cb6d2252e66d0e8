"""``safegrid serve``: run the app under gunicorn (the same server docker-compose uses)."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer


def serve(
    host: Annotated[str, typer.Option(help="监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口")] = 8050,
    workers: Annotated[int, typer.Option(help="工作进程数")] = 2,
    threads: Annotated[int, typer.Option(help="每个进程的线程数")] = 4,
) -> None:
    """Serve the web app with gunicorn (``dashboard.app:server``, settings in ``safegrid/gunicorn_conf.py``)."""
    argv = [
        sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers),
        "--threads", str(threads), "--worker-class", "gthread", "--timeout", "120", "--preload",
        # JSON logs with request ids, access lines without query strings, no Server banner
        "--config", "python:safegrid.gunicorn_conf", "--no-control-socket", "dashboard.app:server",
    ]
    typer.echo(f"SafeGrid 服务地址：http://{host}:{port}/ （Ctrl+C 停止）")
    sys.stdout.flush()
    os.execv(sys.executable, argv)
