"""``safegrid stack up|down|status``: nginx → several app instances, Redis and a streaming replica (docs/stack.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from safegrid.stack import Stack, StackConfig, StackError

app = typer.Typer(
    help="本地多实例部署：nginx + 多个应用实例 + Redis + 流复制副本（均在 .local/ 下）", no_args_is_help=True,
    pretty_exceptions_enable=False,
)

DirOption = Annotated[Path | None, typer.Option("--dir", help="stack 目录（默认 .local/stack）")]


def _config(directory: Path | None, **kwargs: object) -> StackConfig:
    cfg = StackConfig(**kwargs)  # type: ignore[arg-type]
    if directory is not None:
        cfg.root = directory
    return cfg


@app.command()
def up(
    directory: DirOption = None,
    port: Annotated[int, typer.Option(help="nginx 端口（应用实例用其后的端口）")] = 8060,
    instances: Annotated[int, typer.Option(min=1, max=8, help="应用实例数")] = 2,
    workers: Annotated[int, typer.Option(min=1, help="每个实例的工作进程数")] = 2,
    threads: Annotated[int, typer.Option(min=1, help="每个进程的线程数")] = 4,
    database: Annotated[str, typer.Option(help="数据库名（默认 SAFEGRID_PG_DATABASE）")] = "",
    own_primary: Annotated[bool, typer.Option(help="在 stack 目录中新建主库集群（测试用），而非项目集群")] = False,
    migrate: Annotated[bool, typer.Option(help="启动应用前先迁移数据库结构")] = False,
    access_log: Annotated[bool, typer.Option(help="nginx 访问日志")] = True,
    replica_delay_ms: Annotated[int, typer.Option(min=0, help="副本故意延迟回放的毫秒数（测试读己之写）")] = 0,
) -> None:
    """Start (idempotently) the primary, the replica, Redis, the app instances and nginx; print the state."""
    stack = Stack(_config(directory, port=port, instances=instances, workers=workers, threads=threads,
                          database=database, own_primary=own_primary, migrate=migrate, access_log=access_log,
                          replica_delay_ms=replica_delay_ms))
    try:
        state = stack.up()
    except StackError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"stack 已启动：{state['base_url']}/ （{len(state['app_ports'])} 个实例，副本与 Redis 已就绪）")
    typer.echo(json.dumps(state, ensure_ascii=False, indent=2))


@app.command()
def down(
    directory: DirOption = None,
    purge: Annotated[bool, typer.Option(help="同时删除 stack 目录（含副本数据）")] = False,
) -> None:
    """Stop everything ``up`` started (the project cluster keeps running; ``safegrid db stop`` stops it)."""
    stopped = Stack(_config(directory)).down(purge=purge)
    typer.echo(f"已停止：{', '.join(stopped)}" if stopped else "stack 未在运行。")


@app.command()
def status(directory: DirOption = None) -> None:
    """Print each part's state; exit 1 when a part is not running."""
    parts = Stack(_config(directory)).status()
    if not parts:
        typer.echo("stack 未启动过（无 stack.json）。")
        raise typer.Exit(1)
    for name, what in parts.items():
        typer.echo(f"{name:8} {what}")
    if any(what.startswith("未运行") for what in parts.values()):
        raise typer.Exit(1)
