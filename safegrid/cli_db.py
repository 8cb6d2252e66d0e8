"""``safegrid db start|stop|status|migrate|psql``: the project-local PostGIS cluster."""

from __future__ import annotations

import os
import subprocess
from typing import Annotated

import typer
from sqlalchemy import make_url, text

from geo import migrate
from geo.db import check, describe_failure, engine
from geo.localpg import Cluster, ClusterError
from geo.settings import get_settings

EXIT_MISCONFIGURED = 3  # `safegrid db status`: wrong account, database name or host (1: down or not answering)

app = typer.Typer(
    help="项目本地数据库 (PostgreSQL 15 + PostGIS 3)", no_args_is_help=True, pretty_exceptions_enable=False
)


def _cluster() -> Cluster:
    return Cluster(get_settings())


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code)


@app.command()
def start() -> None:
    """Create (first time) and start the project-local cluster; idempotent."""
    settings = get_settings()
    if not settings.uses_local_cluster:
        typer.echo("已配置 SAFEGRID_DATABASE_URL，使用外部数据库，不启动本地集群。")
        return
    cluster = _cluster()
    try:
        cluster.ensure_packages()
        created = cluster.init()
        cluster.start()
        cluster.ensure_database(settings.pg_database)
    except ClusterError as exc:
        raise _fail(str(exc)) from exc
    what = "已创建并启动" if created else "已启动"
    typer.echo(f"本地数据库{what}：{settings.socket_dir} (数据库 {settings.pg_database})")


@app.command()
def stop() -> None:
    """Stop the project-local cluster."""
    stopped = _cluster().stop()
    typer.echo("本地数据库已停止。" if stopped else "本地数据库未在运行。")


@app.command()
def status() -> None:
    """Print server and PostGIS versions and the migration revision; say whether a failure is misconfiguration."""
    settings = get_settings()
    if settings.uses_local_cluster and not _cluster().is_running():
        raise _fail("本地数据库未在运行：请先执行 safegrid db start")
    health = check()  # bounded by SAFEGRID_HEALTHZ_TIMEOUT_MS, whatever the server does
    shown = make_url(settings.url()).render_as_string(hide_password=True)
    if not health.ok:
        if health.misconfigured:
            raise _fail(f"{health.describe()}\n请检查 SAFEGRID_DATABASE_URL / SAFEGRID_PG_DATABASE / SAFEGRID_PG_USER"
                        f"（当前：{shown}）。", code=EXIT_MISCONFIGURED)
        raise _fail(f"{health.describe()}\n数据库未运行、网络不通或无响应：{shown}")
    try:
        with engine().connect() as conn:
            server = conn.execute(text("SHOW server_version")).scalar()
            postgis = conn.execute(
                text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
            ).scalar()
            rev = migrate.current(conn)
    except Exception as exc:
        raise _fail(describe_failure(exc)) from exc
    head = migrate.head()
    typer.echo(f"server:     PostgreSQL {server}")
    typer.echo(f"postgis:    {postgis or '未安装 (执行 safegrid db migrate)'}")
    typer.echo(f"migration:  {rev or '无'} (head {head}{'，已是最新' if rev == head else '，需要 migrate'})")
    typer.echo(f"database:   {settings.url()}")


@app.command(name="migrate")
def migrate_cmd() -> None:
    """Upgrade the schema to the newest migration."""
    try:
        migrate.upgrade()
    except Exception as exc:
        raise _fail(f"迁移失败：{exc}") from exc
    typer.echo(f"数据库结构已升级到 {migrate.head()}。")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def psql(
    ctx: typer.Context,
    database: Annotated[str | None, typer.Option(help="数据库名")] = None,
) -> None:
    """Open psql on the project database; extra arguments after ``--`` go to psql."""
    argv = [*_cluster().psql_argv(database), *ctx.args]
    res = subprocess.run(argv, check=False, env=dict(os.environ, PGCLIENTENCODING="UTF8"))
    raise typer.Exit(res.returncode)
