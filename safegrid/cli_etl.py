"""``safegrid etl load|template|runs|assign|refresh|schedule``: the loaders on the command line."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from domain import labels
from etl import schedule as inbox_schedule
from etl.geometry import Repair
from etl.load import LoadResult, UsageError, assign_grid_cells, check_args, kinds, load_file
from etl.mapping import Choice, MappingError, read_mapping, write_mapping
from etl.preview import Preview, preview_file
from etl.read import InputError
from etl.settings import get_etl_settings
from etl.template import write_template
from geo import etl_sql
from geo.db import engine

app = typer.Typer(help="台账与边界导入 (ETL)", no_args_is_help=True, pretty_exceptions_enable=False)
console = Console()
STATUS_STYLE = {"ok": "green", "partial": "yellow", "rejected": "red", "failed": "red bold", "running": "cyan",
                "interrupted": "magenta"}
STATUS_LABEL = labels.ETL_STATUS


def _usage(message: str) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(2)


def _database_failed(what: str, exc: DBAPIError) -> typer.Exit:
    """One Chinese line for a database failure (details in the log at debug level), exit status 1."""
    logging.getLogger(__name__).debug("%s failed", what, exc_info=exc)
    typer.secho(f"{what}失败：{etl_sql.describe_db_error(exc)}", fg=typer.colors.RED, err=True)
    return typer.Exit(1)


def _interrupted(exc: KeyboardInterrupt) -> typer.Exit:
    """One line for an interrupted command; exit 128 + the signal (130 for Ctrl-C, 143 for SIGTERM)."""
    result = getattr(exc, "result", None)
    run = f" (run {result.run_id}：{result.message})" if result is not None else ""
    typer.secho(f"已中断{run}", fg=typer.colors.YELLOW, err=True)
    return typer.Exit(128 + int(getattr(exc, "signum", 2)))


def _verbose(on: bool) -> None:
    if on:
        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(levelname)s %(name)s %(message)s")


def print_mapping(choices: list[Choice]) -> None:
    """Print the fields and the file columns that feed them (and why)."""
    if not choices:
        return
    table = Table(title="字段对应 (文件列 → 系统字段)")
    for name in ("字段", "系统列名", "文件中的列", "依据"):
        table.add_column(name)
    for c in choices:
        column = c.column or ("[red]未找到[/]" if c.required else "[dim]—[/]")
        table.add_row(c.key, c.header + (" *" if c.required else ""), column, c.how)
    console.print(table)


def print_repairs(repairs: list[Repair], *, limit: int = 20) -> None:
    """Per repaired feature: what was wrong, parts and area before and after."""
    if not repairs:
        return
    table = Table(title=f"几何修复 (共 {len(repairs)} 个要素，前 {min(limit, len(repairs))} 个)")
    for name in ("要素", "代码", "问题", "部件", "面积 (km²)"):
        table.add_column(name)
    for r in repairs[:limit]:
        dropped = f" (丢弃 {r.dropped})" if r.dropped else ""
        table.add_row(str(r.row_number), r.code or "", r.problem, f"{r.parts_before} → {r.parts_after}{dropped}",
                      r.area_change)
    console.print(table)


def print_preview(preview: Preview) -> None:
    """Print the dry run: mapping, the first rows as they would be written, repairs, notes."""
    print_mapping(preview.mapping)
    keys = [k for k in preview.labels if any(k in r.values for r in preview.rows)]
    table = Table(title=f"前 {len(preview.rows)} 行 (将写入的值；试运行，未写入任何数据)")
    table.add_column("行号", justify="right")
    for key in keys:
        table.add_column(preview.labels[key], overflow="fold")
    table.add_column("错误", overflow="fold")
    for row in preview.rows:
        cells = ["" if row.values.get(k) is None else str(row.values[k]) for k in keys]
        table.add_row(str(row.number), *cells, "[red]" + "；".join(row.errors) + "[/]" if row.errors else "")
    Console(width=max(console.width, 160)).print(table)
    print_repairs(preview.repairs)
    total = f"共 {preview.rows_in} 个要素，" if preview.rows_in is not None else ""
    console.print(f"{total}其中 {preview.rejected} 个将被拒绝" if preview.rows_in is not None
                  else f"已检查前 {len(preview.rows)} 行，{preview.rejected} 行有错误")
    for note in preview.notes:
        console.print(f"· {note}")


def print_result(result: LoadResult, *, max_rejects: int) -> None:
    """Summary table and the first rejected rows with their reasons."""
    table = Table(title=f"导入 {result.kind} · run {result.run_id}", show_header=False)
    table.add_row("状态", _status(result.status))
    table.add_row("文件", result.source)
    table.add_row("读入行数", str(result.rows_in))
    table.add_row("导入行数", f"{result.rows_loaded} (新增 {result.counts.get('inserted', 0)}，"
                  f"更新 {result.counts.get('updated', 0)}，未变 {result.unchanged})")
    table.add_row("拒绝行数", str(result.rows_rejected))
    for key, value in result.counts.items():
        if key not in ("inserted", "updated"):
            table.add_row(key, str(value))
    if result.findings:
        table.add_row("数据质量提示", f"{result.findings} 条 (表 dq_findings)")
    table.add_row("用时", f"{result.seconds:.2f} 秒")
    table.add_row("说明", result.message)
    console.print(table)
    if any(c.how not in ("同名", "") for c in result.mapping):
        print_mapping(result.mapping)
    print_repairs(result.repairs)
    if result.rejects:
        shown = min(max_rejects, len(result.rejects))
        rejects = Table(title=f"被拒绝的行 (前 {shown} 条，共 {len(result.rejects)} 条)")
        rejects.add_column("行号", justify="right")
        rejects.add_column("原因")
        for number, errors in result.rejects[:max_rejects]:
            rejects.add_row(str(number), "；".join(errors))
        console.print(rejects)


@app.command()
def load(
    kind: Annotated[str, typer.Argument(help=f"数据类型：{'、'.join(kinds())}")],
    file: Annotated[Path, typer.Argument(help="CSV/XLSX 台账，或 GeoJSON/Shapefile/GeoPackage 边界")],
    level: Annotated[int | None, typer.Option(help="边界级别 1-5 (boundaries)")] = None,
    crs: Annotated[str | None, typer.Option(help="坐标系：wgs84、cgcs2000、gcj02、bd09 或 EPSG:n")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="任何一行有错就拒绝整个文件")] = False,
    field: Annotated[list[str] | None, typer.Option(
        "--field", help="字段=文件中的列名，如 --field code=XZQDM (可多次；字段可写英文键或中文列名；列名留空即不导入)",
    )] = None,
    mapping: Annotated[Path | None, typer.Option(
        "--mapping", help="映射文件：--save-mapping 保存的 .json，或含“字段对应”工作表的 .xlsx")] = None,
    save_mapping: Annotated[Path | None, typer.Option(
        "--save-mapping", help="把选定的字段对应保存为 .json 或 .xlsx，下次用 --mapping 直接导入")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="试运行：只显示字段对应和前几行，不写入任何数据")] = False,
    rows: Annotated[int, typer.Option("--rows", help="试运行显示的行数")] = 5,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="输出调试日志 (含数据库错误详情)")] = False,
) -> None:
    """Load one file; exit 0 when every row loaded, 1 when rows or the file were rejected or the load failed.

    --dry-run shows the mapping and the first rows as they would be written, writes nothing, exit 0
    (1 when the file would be refused). Ctrl-C / SIGTERM cancel the load (the run is recorded 已中断): exit 130 / 143.
    """
    _verbose(verbose)
    try:
        fields = _fields(kind, mapping, field or [])
        check_args(kind, level=level, crs=crs, fields=fields)
    except UsageError as exc:
        raise _usage(str(exc)) from exc
    if not file.exists():
        raise _usage(f"文件不存在：{file}")
    settings = get_etl_settings()
    if dry_run:
        try:
            preview = preview_file(kind, file, level=level, crs=crs, fields=fields, rows=max(1, rows),
                                   settings=settings)
        except InputError as exc:
            typer.secho(f"文件将被拒绝 (试运行，未写入)：{exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None
        print_preview(preview)
        _save(save_mapping, kind, preview.mapping)
        return
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed} 行"),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            task = bar.add_task(f"导入 {file.name}", total=None)
            result = load_file(kind, file, level=level, crs=crs, strict=strict, fields=fields,
                               progress=lambda n: bar.update(task, completed=n))
    except KeyboardInterrupt as exc:
        raise _interrupted(exc) from None
    except DBAPIError as exc:  # not even the run could be recorded (database down, disk full…)
        raise _database_failed("导入", exc) from None
    print_result(result, max_rejects=settings.max_rejects_shown)
    if result.mapping:
        _save(save_mapping, kind, result.mapping)
    elif save_mapping is not None:
        typer.secho("文件被拒绝，字段对应未保存", fg=typer.colors.YELLOW, err=True)
    if result.status != "ok":
        raise typer.Exit(1)


def _fields(kind: str, mapping: Path | None, options: list[str]) -> dict[str, str | None]:
    """Return the saved mapping (if any) overridden by each ``--field KEY=COLUMN``; ``UsageError`` if malformed."""
    fields: dict[str, str | None] = {}
    if kind not in kinds():
        return fields
    if mapping is not None:
        try:
            fields.update(read_mapping(mapping, kind=kind))
        except MappingError as exc:
            raise UsageError(str(exc)) from exc
    for option in options:
        key, sep, column = option.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--field 应写作 字段=列名 (如 code=XZQDM)，实际为“{option}”")
        fields[key.strip()] = column.strip() or None
    return fields


def _save(path: Path | None, kind: str, choices: list[Choice]) -> None:
    if path is None:
        return
    write_mapping(path, kind=kind, choices=choices)
    typer.echo(f"字段对应已保存到 {path}：下次用 --mapping {path} 导入")


@app.command()
def template(
    kind: Annotated[str, typer.Argument(help=f"台账类型：{'、'.join(kinds()[1:])}")],
    out: Annotated[Path, typer.Argument(help="输出 .xlsx 文件")],
) -> None:
    """Write the XLSX template of a ledger: header, note row, one example row; a 字段对应 sheet for --mapping."""
    if kind == "boundaries":
        raise _usage("边界请用 GeoJSON/Shapefile/GeoPackage，属性 code、name、is_demo_geometry (见 docs/etl.md)；"
                     "字段名不同时用 --field code=列名 --field name=列名，并可用 --dry-run --save-mapping 保存")
    if kind not in kinds():
        raise _usage(f"未知的台账类型“{kind}”：可用 {'、'.join(kinds()[1:])}")
    write_template(kind, out)
    typer.echo(f"模板已写入 {out}")


def _status(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, '')}]{STATUS_LABEL.get(status, status)}[/]"


@app.command()
def runs(limit: Annotated[int, typer.Option(help="显示条数")] = 20) -> None:
    """Print the most recent ETL runs (runs whose process is gone are closed first)."""
    try:
        with engine().begin() as conn:
            etl_sql.close_stale_runs(conn)
            rows = etl_sql.recent_runs(conn, limit=limit)
    except DBAPIError as exc:
        raise _database_failed("读取导入记录", exc) from None
    table = Table(title="最近的导入记录 (etl_runs)")
    for name in ("id", "任务", "状态", "开始", "秒", "读入/导入/拒绝"):
        table.add_column(name, no_wrap=True)
    table.add_column("文件 · 说明", overflow="fold")
    for r in rows:
        seconds = "" if r["seconds"] is None else f"{float(r['seconds']):.1f}"
        source = Path(r["source"]).name if r["source"] else ""
        table.add_row(
            str(r["id"]), r["job"], _status(r["status"]), r["started_at"].strftime("%m-%d %H:%M:%S"), seconds,
            f"{r['rows_in']}/{r['rows_loaded']}/{r['rows_rejected']}", f"{source} · {(r['message'] or '')[:120]}",
        )
    Console(width=max(console.width, 160)).print(table)


@app.command()
def assign(method: Annotated[str, typer.Option(help="lateral (网格为外层循环) 或 join")] = "lateral") -> None:
    """Re-place every enterprise, hazard source and hazard in its grid cell."""
    if method not in ("lateral", "join"):
        raise _usage("--method 只能是 lateral 或 join")
    try:
        assigned = assign_grid_cells(method=method)
    except DBAPIError as exc:
        raise _database_failed("落格", exc) from None
    for table, counts in assigned.items():
        typer.echo(f"{table}: 落格 {counts['in_cell']}，变更 {counts['changed']}，"
                   f"不在任何网格 {counts['no_cell']}，位于边界 {counts['on_border']}")


@app.command()
def refresh() -> None:
    """Refresh the derived tables (etl.refresh.refresh_all)."""
    hook = inbox_schedule.refresh_hook()
    if hook is None:
        typer.secho("派生表刷新 (etl.refresh) 尚未安装。", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    try:
        result = hook(url=None)
    except Exception as exc:  # RefreshBusyError, a bad risk rule, a failed refresh (recorded in etl_runs)
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    typer.echo(getattr(result, "message", None) or "派生表已刷新。")


@app.command()
def schedule(
    inbox: Annotated[Path | None, typer.Option(help="收件目录 (默认 SAFEGRID_ETL_INBOX)")] = None,
    once: Annotated[bool, typer.Option("--once", help="只处理一轮后退出")] = False,
) -> None:
    """Watch the inbox: load arriving files, move them to done/ or failed/, refresh after loads."""
    settings = get_etl_settings()
    folder = inbox or settings.inbox
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        if once:
            results = inbox_schedule.run_once(folder, settle_seconds=0)
        else:
            typer.echo(f"监视收件目录 {folder.resolve()} (每 {settings.poll_seconds:g} 秒)")
            inbox_schedule.run_forever(folder, poll_seconds=settings.poll_seconds)
            return
    except KeyboardInterrupt as exc:  # the file being loaded stays in the inbox
        raise _interrupted(exc) from None
    except DBAPIError as exc:
        raise _database_failed("收件目录处理", exc) from None
    for r in results:
        typer.echo(f"{Path(r.source).name}: {STATUS_LABEL[r.status]} · {r.message}")
    if any(r.status in ("rejected", "failed") for r in results):
        raise typer.Exit(1)
