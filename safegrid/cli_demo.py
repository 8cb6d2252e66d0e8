"""``safegrid demo build|load``: the 许昌市 demo dataset."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from domain import clock
from etl.demo.activity import record_activity
from etl.demo.build import BuildOptions, build
from etl.demo.load import DemoLoadError, load_demo, read_manifest
from etl.demo.records import Scale
from etl.refresh import RefreshResult
from geo.db import connect
from safegrid.cli_users import ensure_demo_accounts

app = typer.Typer(help="许昌市演示数据 (市、县边界为真实数据；乡镇以下边界为示意)", no_args_is_help=True,
                  pretty_exceptions_enable=False)


def _as_of(value: str | None) -> date:
    if value is None:
        return clock.today()
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        typer.secho(f"--as-of 应为 YYYY-MM-DD 格式的日期：{value}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc


@app.command("build")
def build_cmd(
    directory: Annotated[Path, typer.Argument(help="输出目录")],
    seed: Annotated[int, typer.Option(help="随机种子 (同一种子生成相同文件)")] = 4110,
    enterprises: Annotated[int, typer.Option(min=100, help="企业数 (隐患、危险源、检查按比例缩放)")] = 20_000,
    as_of: Annotated[str | None, typer.Option(help="数据基准日 YYYY-MM-DD (默认今天)")] = None,
) -> None:
    """Write the demo ledgers (GeoJSON, xlsx, csv) and manifest.json into DIRECTORY."""
    started = time.perf_counter()
    manifest = build(directory, BuildOptions(seed=seed, as_of=_as_of(as_of), scale=Scale(enterprises=enterprises)))
    for entry in manifest["load_order"]:
        typer.echo(f"{entry['file']}: {entry['rows']} 行")
    typer.echo(f"演示数据已生成：{directory} (种子 {seed}，基准日 {manifest['as_of']}，"
               f"用时 {time.perf_counter() - started:.1f} 秒)")


def _progress(name: str, outcome: Any) -> None:
    if isinstance(outcome, RefreshResult):
        typer.echo(outcome.message)
        return
    typer.echo(f"{name}: {getattr(outcome, 'status', '?')} · {getattr(outcome, 'message', '')}")


@app.command("load")
def load_cmd(
    directory: Annotated[Path, typer.Argument(help="demo build 的输出目录")],
    activity: Annotated[bool, typer.Option(help="导入后创建演示账户，并以其身份记录巡查、检查和双随机抽查")] = True,
) -> None:
    """Load a built demo through the loaders (manifest order), record the demo's app work, then refresh."""
    try:
        result = load_demo(directory, progress=_progress,
                           before_refresh=(lambda m: _record(int(m["seed"]))) if activity else None)
    except DemoLoadError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    if not result.ok:
        typer.secho("部分文件有被拒绝的行，详见 safegrid etl runs", fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(1)
    typer.echo("演示数据已导入并刷新。")


def _record(seed: int) -> None:
    """Create the demo accounts and record the demo's app work as them; print the summary."""
    ensure_demo_accounts()
    with connect() as conn:
        message = record_activity(conn, seed=seed, today=clock.today()).message()
    typer.echo(message)


@app.command("activity")
def activity_cmd(directory: Annotated[Path, typer.Argument(help="demo build 的输出目录 (读取种子)")]) -> None:
    """Create the demo accounts and record, as them, patrols, inspections and 双随机 draws (issue 16)."""
    try:
        seed = int(read_manifest(directory)["seed"])
    except DemoLoadError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    _record(seed)
    typer.echo("四查统计在下次 safegrid etl refresh 后计入新的巡查和检查。")
