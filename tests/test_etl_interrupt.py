"""Interrupted and killed loads, unchanged reloads, database failures (issue 19), on a real PostGIS.

Loads run as real subprocesses (``python -m safegrid etl load``). To stop one inside its write the
test holds ``LOCK TABLE enterprises IN SHARE MODE``: the upsert waits for it in the database, where a
killed client used to leave its statement (and the kind's advisory lock) behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import shapely
from sqlalchemy import Connection, create_engine, text

from etl.load import load_file
from geo import etl_sql
from geo.ledger_kinds import ledger_kind
from tests.etl_support import (
    ENTERPRISE_HEADER,
    ETL_DB,
    ROOT,
    clean_fixture,  # noqa: F401
    credit,
    enterprise_rows,
    etl_url_fixture,  # noqa: F401
    query,
    weidu_tree,
    write_boundaries,
    write_csv,
)

APP = "etl-interrupt-test"
LOCK_KEY = ledger_kind("enterprises").lock_key


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "SAFEGRID_PG_DATABASE": ETL_DB, "PGAPPNAME": APP, **extra}


def _start(path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "safegrid", "etl", "load", "enterprises", str(path)],
                            env=_env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "safegrid", "etl", *args], env=_env(**env), cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=120)


def _wait_for(conn: Connection, proc: subprocess.Popen[str], condition: str, timeout: float = 120) -> None:
    """Wait until the loader's session shows ``condition`` in pg_stat_activity."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))  # the holder's transaction would see one snapshot
        if conn.execute(text(f"SELECT count(*) FROM pg_stat_activity WHERE application_name = :app AND {condition}"),
                        {"app": APP}).scalar():
            return
        time.sleep(0.02)
    out = "" if proc.poll() is None else proc.communicate()[1]
    pytest.fail(f"the load never reached {condition!r} {out}")


@contextmanager
def _table_locked(url: str) -> Iterator[Connection]:
    """Hold a SHARE lock on enterprises (a load's INSERT waits for it) until the block ends."""
    eng = create_engine(url)
    conn = eng.connect()
    conn.execute(text("LOCK TABLE enterprises IN SHARE MODE"))
    try:
        yield conn
    finally:
        conn.rollback()
        conn.close()
        eng.dispose()


def _last_run(url: str) -> tuple[int, str, str | None]:
    row = query(url, "SELECT id, status, message FROM etl_runs WHERE job = 'load:enterprises' ORDER BY id DESC LIMIT 1")
    return int(row[0].id), row[0].status, row[0].message


def _until(predicate: object, timeout: float = 15.0) -> float:
    """Seconds until ``predicate()`` is true (fails after ``timeout``)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():  # type: ignore[operator]
            return time.monotonic() - start
        time.sleep(0.05)
    pytest.fail(f"not within {timeout} s")


def _kind_lock_free(url: str) -> bool:
    rows = query(url, "SELECT pg_try_advisory_lock(hashtext(:k)) AS got, pg_advisory_unlock_all() AS _", k=LOCK_KEY)
    return bool(rows[0].got)


def _closed(url: str, run_id: int) -> bool:
    eng = create_engine(url)
    with eng.begin() as conn:
        etl_sql.close_stale_runs(conn)
        status = conn.execute(text("SELECT status FROM etl_runs WHERE id = :r"), {"r": run_id}).scalar_one()
    eng.dispose()
    return status != "running"


def _report(name: str, **numbers: float) -> None:
    print(f"\n[{name}] " + ", ".join(f"{k} = {v:.2f} s" for k, v in numbers.items()))


def test_sigkill_inside_the_write_closes_the_run_and_frees_the_lock(clean: str, tmp_path: Path) -> None:
    assert load_file("enterprises", write_csv(tmp_path / "base.csv", ENTERPRISE_HEADER, enterprise_rows(10)),
                     url=clean).ok
    path = write_csv(tmp_path / "more.csv", ENTERPRISE_HEADER, enterprise_rows(2000, start=10))
    with _table_locked(clean) as holder:
        proc = _start(path)
        try:
            _wait_for(holder, proc, "wait_event_type = 'Lock' AND query LIKE 'WITH src AS%'")
            run_id, status, _ = _last_run(clean)
            assert status == "running"
            proc.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            proc.wait(10)
            closed = _until(lambda: _closed(clean, run_id))
            free = _until(lambda: _kind_lock_free(clean))
        finally:
            if proc.poll() is None:
                proc.kill()
    # The killed backend left while the test still held the table: nothing of the file was written.
    assert query(clean, "SELECT count(*) FROM enterprises")[0][0] == 10
    _, status, message = _last_run(clean)
    assert status == "failed" and message == etl_sql.STALE_MESSAGE
    started = time.monotonic()
    nxt = load_file("enterprises", path, url=clean)
    _report("sigkill", closed=closed, kind_lock_free=free, next_load=time.monotonic() - started,
            since_kill=time.monotonic() - killed)
    assert nxt.ok and nxt.counts["inserted"] == 2000
    assert closed < 5 and free < 5


def test_sigkill_during_a_busy_upsert_frees_the_lock_within_seconds(clean: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "big.csv", ENTERPRISE_HEADER, enterprise_rows(150_000))
    eng = create_engine(clean)
    proc = _start(path)
    try:
        with eng.connect() as conn:
            _wait_for(conn, proc, "state = 'active' AND wait_event_type IS NULL AND query LIKE 'WITH src AS%'",
                      timeout=180)
        run_id, _, _ = _last_run(clean)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        free = _until(lambda: _kind_lock_free(clean))
        closed = _until(lambda: _closed(clean, run_id))
    finally:
        if proc.poll() is None:
            proc.kill()
        eng.dispose()
    _report("sigkill busy upsert", kind_lock_free=free, closed_after_that=closed)
    assert free < 5
    assert query(clean, "SELECT count(*) FROM enterprises")[0][0] == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_cancel_the_write_and_record_an_interrupted_run(clean: str, tmp_path: Path,
                                                                         sig: signal.Signals) -> None:
    path = write_csv(tmp_path / "e.csv", ENTERPRISE_HEADER, enterprise_rows(500))
    with _table_locked(clean) as holder:
        proc = _start(path)
        try:
            _wait_for(holder, proc, "wait_event_type = 'Lock' AND query LIKE 'WITH src AS%'")
            proc.send_signal(sig)
            sent = time.monotonic()
            out, err = proc.communicate(timeout=20)
            exited = time.monotonic() - sent
            # The test still holds the table: the statement was cancelled, not finished.
            free = _until(lambda: _kind_lock_free(clean))
        finally:
            if proc.poll() is None:
                proc.kill()
    _report(f"{sig.name}", exited=exited, kind_lock_free=free)
    assert proc.returncode == 128 + sig, (out, err)
    assert "Traceback" not in out + err and "已中断" in err
    _, status, message = _last_run(clean)
    assert status == "interrupted" and sig.name in (message or "")
    assert exited < 5 and free < 5
    assert query(clean, "SELECT count(*) FROM enterprises")[0][0] == 0
    assert load_file("enterprises", path, url=clean).ok


def test_etl_runs_closes_runs_whose_process_is_gone(clean: str) -> None:
    eng = create_engine(clean)
    with eng.begin() as conn:
        dead = etl_sql.start_run(conn, job="load:enterprises", source="x.csv", sha256=None, options=None)
        committed = etl_sql.start_run(conn, job="load:hazards", source="y.csv", sha256=None, options=None)
        etl_sql.mark_data_committed(conn, run_id=committed)
        refresh = etl_sql.start_run(conn, job="refresh", source=None, sha256=None, options=None)
    live = eng.connect()
    with live.begin():  # a live load: its session holds the run lock
        alive = etl_sql.start_run(live, job="load:persons", source="z.csv", sha256=None, options=None)
        etl_sql.hold_run(live, run_id=alive)
    try:
        res = _cli("runs")
        assert res.returncode == 0, res.stdout + res.stderr
        status = dict(query(clean, "SELECT id, status FROM etl_runs WHERE id IN (:a, :b, :c, :d)",
                            a=dead, b=committed, c=refresh, d=alive))
        assert status == {dead: "failed", committed: "failed", refresh: "failed", alive: "running"}
        message = dict(query(clean, "SELECT id, message FROM etl_runs WHERE id IN (:a, :b)", a=dead, b=committed))
        assert message == {dead: etl_sql.STALE_MESSAGE, committed: etl_sql.STALE_COMMITTED_MESSAGE}
    finally:
        with live.begin():
            etl_sql.finish_run(live, run_id=alive, status="ok", rows_in=0, rows_loaded=0, rows_rejected=0, message="")
            etl_sql.release_run(live, run_id=alive)
        live.close()
        eng.dispose()


def _versions(url: str) -> dict[str, int]:
    return {r.name: int(r.version) for r in query(url, "SELECT name, version FROM data_versions")}


def test_an_unchanged_reload_changes_no_data_version_and_repeats_no_finding(clean: str, tmp_path: Path) -> None:
    cells = weidu_tree()[5]
    a, b = (shapely.geometry.shape(f["geometry"]) for f in cells[:2])
    shared = {tuple(c) for c in shapely.get_coordinates(a)} & {tuple(c) for c in shapely.get_coordinates(b)}
    border = tuple(float(v) for v in sorted(shared)[0])
    rows = [*enterprise_rows(30),
            [credit(901), "边界企业", "机械", "", "", "", "", repr(border[0]), repr(border[1])],
            [credit(902), "禹州企业", "机械", "", "", "", "", 113.49, 34.14]]
    path = write_csv(tmp_path / "e.csv", ENTERPRISE_HEADER, rows)
    first = load_file("enterprises", path, url=clean)
    assert first.ok and first.findings == 2
    versions, findings = _versions(clean), query(clean, "SELECT count(*) FROM dq_findings")[0][0]
    again = load_file("enterprises", path, url=clean)
    assert again.ok and again.findings == 0 and "未写入" in again.message
    assert again.counts["inserted"] == again.counts["updated"] == 0 and again.counts["grid_on_border"] == 1
    assert _versions(clean) == versions
    assert query(clean, "SELECT count(*) FROM dq_findings")[0][0] == findings
    # A changed row is written (and bumps the version); the findings still are not repeated.
    rows[0][1] = "改名企业"
    changed = load_file("enterprises", write_csv(tmp_path / "c.csv", ENTERPRISE_HEADER, rows), url=clean)
    assert changed.ok and changed.counts["updated"] == 1 and changed.findings == 0
    assert _versions(clean)["enterprises"] > versions["enterprises"]
    assert query(clean, "SELECT count(*) FROM dq_findings")[0][0] == findings
    # Boundaries too: reloading the grid cells as they are writes nothing.
    versions = _versions(clean)
    grid = load_file("boundaries", write_boundaries(tmp_path / "b")[5], url=clean)
    assert grid.ok and "未写入" in grid.message
    assert _versions(clean) == versions


def test_a_database_failure_prints_one_line_and_no_traceback(clean: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "e.csv", ENTERPRISE_HEADER, enterprise_rows(5))
    eng = create_engine(clean)
    with eng.begin() as conn:
        conn.execute(text(
            "CREATE FUNCTION test_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'could not extend file \"base/1/2\": No space left on device' "
            "USING ERRCODE = 'disk_full'; END $$"))
        conn.execute(text("CREATE TRIGGER test_disk_full BEFORE INSERT ON enterprises FOR EACH ROW "
                          "EXECUTE FUNCTION test_disk_full()"))
    try:
        res = _cli("load", "enterprises", str(path))
    finally:
        with eng.begin() as conn:
            conn.execute(text("DROP FUNCTION test_disk_full() CASCADE"))
        eng.dispose()
    output = res.stdout + res.stderr
    assert res.returncode == 1, output
    assert "Traceback" not in output and "数据库磁盘已满" in output and "数据库未改动" in output
    _, status, message = _last_run(clean)
    assert status == "failed" and "数据库磁盘已满" in (message or "")
    # No database at all: the run cannot even be recorded; still one line, exit 1.
    for args in (("load", "enterprises", str(path)), ("runs",)):
        res = _cli(*args, SAFEGRID_PG_DATABASE="safegrid_no_such_db")
        output = res.stdout + res.stderr
        assert res.returncode == 1, output
        assert "Traceback" not in output and "失败：" in output and len(res.stderr.strip().splitlines()) == 1, output
