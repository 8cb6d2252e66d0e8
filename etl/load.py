"""Public entry point of the loaders: ``load_file`` and ``assign_grid_cells``.

A load writes its ``etl_runs`` row in a short transaction of its own (status ``running``), does all
data work in ONE transaction (killing the process leaves the data as before), and then writes the
rejected rows and the final status in another short transaction, so the run log and the reasons
survive a refused or failed load. A data transaction that wrote no row is rolled back (an unchanged
reload leaves ``data_versions`` as it was).

The run's session holds a lock naming the run until its status is written; a run whose process was
killed is closed by ``geo.etl_sql.close_stale_runs`` (at the start and end of every load and in
``safegrid etl runs``). In the main thread SIGINT and SIGTERM cancel the statement in progress, the
run is recorded ``interrupted`` and ``LoadInterrupted`` is raised.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from types import FrameType
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from domain.crs import CrsError, parse_crs
from etl.boundaries import BOUNDARY_COLUMNS, load_boundaries
from etl.columns import Column
from etl.geometry import Repair
from etl.ledger import Outcome, Progress, load_ledger
from etl.mapping import Choice, MappingError, normalise_fields
from etl.read import InputError
from etl.settings import EtlSettings, get_etl_settings
from geo import etl_sql
from geo.db import engine
from geo.ledger_kinds import ledger_kind
from geo.ledger_kinds import names as ledger_kind_names
from geo.refresh import bulk_hazards, rebuild_hazard_months

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
    status: str  # ok | partial | rejected | failed | interrupted
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
    mapping: list[Choice] = field(default_factory=list)  # which file column fed which field, and why
    repairs: list[Repair] = field(default_factory=list)  # boundary geometries repaired, per feature
    encoding: str = ""  # how the file's encoding was decided (shapefiles without .cpg, CSV)

    @property
    def unchanged(self) -> int:
        """Valid rows that were already in the database exactly as in the file."""
        return max(0, self.rows_loaded - self.counts.get("inserted", 0) - self.counts.get("updated", 0))

    @property
    def ok(self) -> bool:
        """Tell whether every row loaded."""
        return self.status == "ok"


class LoadInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a load; its run is recorded (``result``) before this is raised."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.result: LoadResult | None = None


class _SignalGuard:
    """While a load runs in the main thread: SIGINT/SIGTERM cancel the statement in progress and raise.

    A signal's C handler writes its number to the wakeup pipe even while the main thread waits inside
    libpq; a watcher thread reads it and cancels the load connection's statement (``PQcancel``), so
    the main thread gets control back and the Python handler raises ``LoadInterrupted`` (once). While
    ``hold`` is set (the run's result is being written) signals are only noted.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self.dbapi: Any = None  # the load connection's psycopg2 connection, while it may run a statement
        self.hold = False
        self._raised = False
        self._active = False

    def __enter__(self) -> _SignalGuard:
        if threading.current_thread() is not threading.main_thread():
            return self
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._old_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._old = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        self._thread = threading.Thread(target=self._watch, name="etl-signal-watch", daemon=True)
        self._thread.start()
        self._active = True
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._active:
            return
        self._active = False
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self._old_fd)
        os.close(self._write)  # the watcher reads EOF and ends
        self._thread.join(2)
        os.close(self._read)

    def _watch(self) -> None:
        wanted = {int(s) for s in self.SIGNALS}
        while True:
            try:
                data = os.read(self._read, 64)
            except OSError:
                return
            if not data:
                return
            caught = [b for b in data if b in wanted]
            if not caught:
                continue
            if self.signum is None:
                self.signum = caught[0]
            dbapi = self.dbapi
            if dbapi is not None and not self.hold:
                try:
                    dbapi.cancel()
                except Exception:  # closed meanwhile: nothing to cancel
                    log.debug("cancel on signal failed", exc_info=True)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
        if self.hold or self._raised:
            return
        raise self.interruption()

    def interruption(self) -> LoadInterrupted:
        """Return the exception to raise for the signal received (raised at most once)."""
        self._raised = True
        return LoadInterrupted(self.signum or signal.SIGINT)


class _NothingWrittenError(Exception):
    """Raised inside the data transaction to roll it back when it wrote no row (an unchanged file)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__("unchanged")
        self.outcome = outcome


class _StrictRejectedError(Exception):
    """Raised inside the data transaction to roll it back in strict mode."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__("strict")
        self.outcome = outcome


# Loads that write hazards or move what they count in (cells, enterprises): hazard_months' per-row triggers are
# off for their transaction and the table is recounted once before it commits (migration 0017).
MOVES_HAZARDS = frozenset({"boundaries", "enterprises", "hazards"})


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


def columns_of(kind: str) -> tuple[Column, ...]:
    """Return the fields a file of ``kind`` can carry (boundary properties or the ledger kind's columns)."""
    return BOUNDARY_COLUMNS if kind == "boundaries" else ledger_kind(kind).columns


def check_args(kind: str, *, level: int | None, crs: str | None,
               fields: Mapping[str, str | None] | None = None) -> dict[str, str | None]:
    """Validate the arguments of a load; raise ``UsageError`` (Chinese message); return the fields by key."""
    if kind not in kinds():
        raise UsageError(f"未知的数据类型“{kind}”：可用 {'、'.join(kinds())}")
    if level is not None and (kind != "boundaries" or not 1 <= level <= 5):
        raise UsageError("--level 只用于 boundaries，取值 1-5")
    try:
        parse_crs(crs)
    except CrsError as exc:
        raise UsageError(str(exc)) from exc
    try:
        return normalise_fields(fields or {}, columns_of(kind))
    except MappingError as exc:
        raise UsageError(str(exc)) from exc


@contextmanager
def _held_run(eng: Engine, *, job: str, source: str | None, sha256: str | None,
              options: dict[str, Any]) -> Iterator[tuple[Connection, int]]:
    """One connection for a whole run: close stale runs, insert ours and hold its lock until the end."""
    conn = eng.connect()
    run_id: int | None = None
    try:
        with conn.begin():
            closed = etl_sql.close_stale_runs(conn)
            run_id = etl_sql.start_run(conn, job=job, source=source, sha256=sha256, options=options)
            etl_sql.hold_run(conn, run_id=run_id)
        if closed:
            log.info("closed stale runs %s", closed)
        yield conn, run_id
    finally:
        try:
            if not conn.invalidated and not conn.closed and run_id is not None:
                conn.rollback()
                etl_sql.release_run(conn, run_id=run_id)
                conn.commit()
        except DBAPIError:
            log.debug("releasing run %s failed", run_id, exc_info=True)
        conn.close()


def load_file(kind: str, path: Path, *, level: int | None = None, crs: str | None = None, strict: bool = False,
              url: str | None = None, progress: Progress | None = None,
              settings: EtlSettings | None = None, fields: Mapping[str, str | None] | None = None) -> LoadResult:
    """Load one file of ``kind``; never raises for bad input (see ``LoadResult.status``).

    ``fields`` maps a field (key or Chinese header) to the file's column (``--field``, ``etl.mapping``).
    Raises ``LoadInterrupted`` (after recording the run) on SIGINT/SIGTERM, and the database's error
    (``sqlalchemy.exc.DBAPIError``) when not even the run could be recorded.
    """
    by_key = check_args(kind, level=level, crs=crs, fields=fields)
    with _SignalGuard() as guard:
        return _load(kind, Path(path), level=level, crs=crs, strict=strict, eng=engine(url), progress=progress,
                     settings=settings or get_etl_settings(), guard=guard, fields=by_key)


def _load(kind: str, path: Path, *, level: int | None, crs: str | None, strict: bool, eng: Engine,
          progress: Progress | None, settings: EtlSettings, guard: _SignalGuard,
          fields: dict[str, str | None]) -> LoadResult:
    started = perf_counter()
    options: dict[str, Any] = {"level": level, "crs": crs, "strict": strict, "fields": fields or None}
    with _held_run(eng, job=f"load:{kind}", source=str(path), sha256=file_sha256(path),
                   options={k: v for k, v in options.items() if v not in (None, False)}) as (conn, run_id):
        result = LoadResult(run_id=run_id, kind=kind, source=str(path), status="failed")
        outcome = Outcome()
        data_started = perf_counter()
        failure: BaseException | None = None
        guard.dbapi = conn.connection.dbapi_connection
        try:
            with conn.begin():
                etl_sql.set_load_timeout(conn, ms=settings.statement_timeout_ms)
                moves_hazards = kind in MOVES_HAZARDS
                if moves_hazards:
                    bulk_hazards(conn)
                written = etl_sql.rows_written(conn)
                if kind == "boundaries":
                    outcome = load_boundaries(conn, path, level=level, crs=crs, run_id=run_id, settings=settings,
                                              progress=progress, fields=fields)
                else:
                    outcome = load_ledger(conn, kind, path, crs=parse_crs(crs), run_id=run_id, settings=settings,
                                          progress=progress, fields=fields)
                if strict and outcome.rejects:
                    raise _StrictRejectedError(outcome)
                if etl_sql.rows_written(conn) == written:
                    raise _NothingWrittenError(outcome)
                if moves_hazards:
                    rebuild_hazard_months(conn)
                etl_sql.mark_data_committed(conn, run_id=run_id)
        except BaseException as exc:  # every way out is recorded in the run (below)
            guard.hold = True  # from here on a signal is only noted: the run's result is written first
            failure = exc
        guard.hold = True
        guard.dbapi = None
        if guard.signum is not None and not isinstance(failure, LoadInterrupted) and failure is not None \
                and not isinstance(failure, _NothingWrittenError | _StrictRejectedError | InputError):
            failure = guard.interruption()  # a statement cancelled by the signal: an interruption
        outcome.add_time("transaction", perf_counter() - data_started)
        if failure is None:
            _summarise(result, outcome)
        elif isinstance(failure, _NothingWrittenError):
            _summarise(result, failure.outcome)
            result.message += "；内容与数据库一致，未写入 (数据版本不变)"
        elif isinstance(failure, _StrictRejectedError):
            _summarise(result, failure.outcome)
            result.status, result.rows_loaded, result.counts = "rejected", 0, {}
            result.message = f"严格模式：{len(failure.outcome.rejects)} 行有错误，整个文件未导入 (数据库未改动)"
        elif isinstance(failure, InputError):
            result.status, result.message = "rejected", f"文件被拒绝：{failure}"
        elif isinstance(failure, KeyboardInterrupt):
            conn.invalidate()  # the session ends: its transaction is rolled back and its locks are freed
            signum = getattr(failure, "signum", signal.SIGINT)
            result.status, result.rows_loaded, result.counts = "interrupted", 0, {}
            result.rows_in = outcome.rows_in
            result.message = f"导入被中断 ({signal.Signals(signum).name})，数据库未改动"
        elif isinstance(failure, Exception):  # a database error: the data transaction was rolled back
            if isinstance(failure, DBAPIError):
                log.debug("load %s %s failed", kind, path, exc_info=failure)
                reason = etl_sql.describe_db_error(failure)
            else:
                log.exception("load %s %s failed", kind, path, exc_info=failure)
                reason = f"{type(failure).__name__}: {(str(failure).splitlines() or [''])[0][:300]}"
            result.status, result.rows_loaded, result.counts = "failed", 0, {}
            result.rows_in = outcome.rows_in
            result.message = f"导入失败，数据库未改动：{reason}"
        else:  # SystemExit and the like: leave the run to close_stale_runs
            raise failure
        result.seconds = perf_counter() - started
        _record(eng, conn, result, outcome.rejects)
    if guard.signum is not None:  # interrupted (or a signal arrived while the result was written)
        interrupted = failure if isinstance(failure, LoadInterrupted) else LoadInterrupted(guard.signum)
        interrupted.result = result
        raise interrupted
    return result


def _record(eng: Engine, conn: Connection, result: LoadResult, rejects: list[tuple[int, dict[str, Any], list[str]]],
            ) -> None:
    """Write the rejected rows and the final status (on a new connection when the load's is gone)."""
    try:
        if conn.invalidated:
            with eng.begin() as other:
                _write_result(other, result, rejects)
        else:
            with conn.begin():
                _write_result(conn, result, rejects)
    except DBAPIError as exc:  # the database went away: close_stale_runs closes the run later
        log.debug("recording run %s failed", result.run_id, exc_info=True)
        result.message += f"；运行记录未能写入：{etl_sql.describe_db_error(exc)}"


def _write_result(conn: Connection, result: LoadResult, rejects: list[tuple[int, dict[str, Any], list[str]]]) -> None:
    etl_sql.insert_rejects(conn, run_id=result.run_id, rejects=rejects)
    etl_sql.finish_run(conn, run_id=result.run_id, status=result.status, rows_in=result.rows_in,
                       rows_loaded=result.rows_loaded, rows_rejected=result.rows_rejected, message=result.message)
    etl_sql.close_stale_runs(conn)


def _summarise(result: LoadResult, outcome: Outcome) -> None:
    result.rows_in = outcome.rows_in
    result.rows_loaded = outcome.rows_loaded
    result.rows_rejected = len(outcome.rejects)
    result.rejects = sorted((n, errors) for n, _raw, errors in outcome.rejects)
    result.counts = outcome.counts
    result.notes = outcome.notes
    result.findings = outcome.findings
    result.mapping = outcome.mapping
    result.repairs = outcome.repairs
    result.encoding = outcome.encoding
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
    counts: dict[str, dict[str, int]] = {}
    with _held_run(eng, job="assign", source=None, sha256=None, options={"method": method}) as (conn, run_id):
        try:
            with conn.begin():
                etl_sql.set_load_timeout(conn, ms=get_etl_settings().statement_timeout_ms)
                bulk_hazards(conn)
                for table in etl_sql.LOCATED:
                    counts[table] = etl_sql.assign_grid_cells(conn, table=table, run_id=run_id, method=method,
                                                              once=False)
                rebuild_hazard_months(conn)
        except Exception as exc:
            with conn.begin():
                etl_sql.finish_run(conn, run_id=run_id, status="failed", rows_in=0, rows_loaded=0, rows_rejected=0,
                                   message=f"落格失败，数据库未改动：{etl_sql.describe_db_error(exc)}")
            raise
        total: dict[str, Any] = {k: sum(c[k] for c in counts.values()) for k in ("in_cell", "changed", "no_cell")}
        with conn.begin():
            etl_sql.finish_run(conn, run_id=run_id, status="ok", rows_in=total["in_cell"] + total["no_cell"],
                               rows_loaded=total["in_cell"], rows_rejected=0,
                               message=f"落格 {total['in_cell']}，变更 {total['changed']}，"
                                       f"不在任何网格 {total['no_cell']}")
    return counts
