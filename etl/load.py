"""Public entry point of the loaders: ``load_file`` and ``assign_grid_cells``.

A load writes its ``etl_runs`` row in a short transaction of its own (status ``running``), does all
data work in ONE transaction (killing the process leaves the data as before), and then writes the
rejected rows and the final status in another short transaction, so the run log and the reasons
survive a refused or failed load.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any

from domain.crs import CrsError, parse_crs
from etl.boundaries import load_boundaries
from etl.ledger import Outcome, Progress, load_ledger
from etl.read import InputError
from etl.settings import EtlSettings, get_etl_settings
from geo import etl_sql
from geo.db import engine
from geo.ledger_kinds import names as ledger_kind_names

log = logging.getLogger(__name__)


def kinds() -> tuple[str, ...]:
    """Return what ``load_file`` loads: boundaries, then the registered ledger kinds in loading order."""
    return ("boundaries", *ledger_kind_names())


class UsageError(ValueError):
    """A wrong argument (unknown kind, bad --crs, bad --level): exit status 2 on the command line."""


@dataclass
class LoadResult:
    """Outcome of one load, as recorded in ``etl_runs``."""

    run_id: int
    kind: str
    source: str
    status: str  # ok | partial | rejected | failed
    rows_in: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rejects: list[tuple[int, list[str]]] = field(default_factory=list)
    message: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    findings: int = 0
    seconds: float = 0.0
    # Seconds per phase of a ledger load: ``parse`` (reading, validating, coordinates), ``rows``
    # (references, duplicates, rejects), ``copy`` (into the stage), ``locate`` (grid cells), ``upsert``,
    # ``history`` (risk colours, hazard events), ``transaction`` (the whole data transaction, commit included).
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def unchanged(self) -> int:
        """Valid rows that were already in the database exactly as in the file."""
        return max(0, self.rows_loaded - self.counts.get("inserted", 0) - self.counts.get("updated", 0))

    @property
    def ok(self) -> bool:
        """Tell whether every row loaded."""
        return self.status == "ok"


class _StrictRejectedError(Exception):
    """Raised inside the data transaction to roll it back in strict mode."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__("strict")
        self.outcome = outcome


def file_sha256(path: Path) -> str | None:
    """SHA-256 of a file (None when it cannot be read)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def check_args(kind: str, *, level: int | None, crs: str | None) -> None:
    """Validate the arguments of a load; raise ``UsageError`` (Chinese message)."""
    if kind not in kinds():
        raise UsageError(f"未知的数据类型“{kind}”：可用 {'、'.join(kinds())}")
    if level is not None and (kind != "boundaries" or not 1 <= level <= 5):
        raise UsageError("--level 只用于 boundaries，取值 1-5")
    try:
        parse_crs(crs)
    except CrsError as exc:
        raise UsageError(str(exc)) from exc


def load_file(kind: str, path: Path, *, level: int | None = None, crs: str | None = None, strict: bool = False,
              url: str | None = None, progress: Progress | None = None,
              settings: EtlSettings | None = None) -> LoadResult:
    """Load one file of ``kind``; never raises for bad input (see ``LoadResult.status``)."""
    check_args(kind, level=level, crs=crs)
    settings = settings or get_etl_settings()
    path = Path(path)
    started = perf_counter()
    eng = engine(url)
    options = {"level": level, "crs": crs, "strict": strict}
    with eng.begin() as conn:
        run_id = etl_sql.start_run(conn, job=f"load:{kind}", source=str(path), sha256=file_sha256(path),
                                   options={k: v for k, v in options.items() if v not in (None, False)})
    result = LoadResult(run_id=run_id, kind=kind, source=str(path), status="failed")
    outcome = Outcome()
    data_started = perf_counter()
    try:
        with eng.begin() as conn:
            etl_sql.set_load_timeout(conn, ms=settings.statement_timeout_ms)
            if kind == "boundaries":
                outcome = load_boundaries(conn, path, level=level, crs=crs, run_id=run_id, settings=settings,
                                          progress=progress)
            else:
                outcome = load_ledger(conn, kind, path, crs=parse_crs(crs), run_id=run_id, settings=settings,
                                      progress=progress)
            if strict and outcome.rejects:
                raise _StrictRejectedError(outcome)
        outcome.add_time("transaction", perf_counter() - data_started)
        _summarise(result, outcome)
    except _StrictRejectedError as exc:
        _summarise(result, exc.outcome)
        result.status, result.rows_loaded, result.counts = "rejected", 0, {}
        result.message = f"严格模式：{len(exc.outcome.rejects)} 行有错误，整个文件未导入 (数据库未改动)"
    except InputError as exc:
        result.status, result.message = "rejected", f"文件被拒绝：{exc}"
    except Exception as exc:  # a database error: the data transaction was rolled back
        log.exception("load %s %s failed", kind, path)
        result.status, result.rows_loaded, result.counts = "failed", 0, {}
        result.rows_in = outcome.rows_in
        result.message = f"导入失败，数据库未改动：{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
    result.seconds = perf_counter() - started
    with eng.begin() as conn:
        etl_sql.insert_rejects(conn, run_id=run_id, rejects=outcome.rejects)
        etl_sql.finish_run(conn, run_id=run_id, status=result.status, rows_in=result.rows_in,
                           rows_loaded=result.rows_loaded, rows_rejected=result.rows_rejected, message=result.message)
    return result


def _summarise(result: LoadResult, outcome: Outcome) -> None:
    result.rows_in = outcome.rows_in
    result.rows_loaded = outcome.rows_loaded
    result.rows_rejected = len(outcome.rejects)
    result.rejects = sorted((n, errors) for n, _raw, errors in outcome.rejects)
    result.counts = outcome.counts
    result.notes = outcome.notes
    result.findings = outcome.findings
    result.timings = {k: round(v, 3) for k, v in outcome.timings.items()}
    if not outcome.rejects:
        result.status = "ok"
    elif outcome.rows_loaded:
        result.status = "partial"
    else:
        result.status = "rejected"
    parts = [f"读入 {outcome.rows_in} 行，导入 {outcome.rows_loaded} 行，拒绝 {len(outcome.rejects)} 行"]
    if outcome.counts:
        parts.append(f"新增 {outcome.counts.get('inserted', 0)}，更新 {outcome.counts.get('updated', 0)}")
    if outcome.findings:
        parts.append(f"数据质量提示 {outcome.findings} 条")
    result.message = "；".join(parts + outcome.notes)


def assign_grid_cells(url: str | None = None, *, method: str = "lateral") -> dict[str, dict[str, int]]:
    """Re-place every enterprise, hazard source and hazard in its grid cell (one transaction, own run)."""
    eng = engine(url)
    with eng.begin() as conn:
        run_id = etl_sql.start_run(conn, job="assign", source=None, sha256=None, options={"method": method})
    counts: dict[str, dict[str, int]] = {}
    with eng.begin() as conn:
        etl_sql.set_load_timeout(conn, ms=get_etl_settings().statement_timeout_ms)
        for table in etl_sql.LOCATED:
            counts[table] = etl_sql.assign_grid_cells(conn, table=table, run_id=run_id, method=method)
    total: dict[str, Any] = {k: sum(c[k] for c in counts.values()) for k in ("in_cell", "changed", "no_cell")}
    with eng.begin() as conn:
        etl_sql.finish_run(conn, run_id=run_id, status="ok", rows_in=total["in_cell"] + total["no_cell"],
                           rows_loaded=total["in_cell"], rows_rejected=0,
                           message=f"落格 {total['in_cell']}，变更 {total['changed']}，不在任何网格 {total['no_cell']}")
    return counts
