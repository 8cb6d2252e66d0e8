"""Ledger loads end to end on a real PostGIS: templates, idempotence, updates, history, grid cells, rollback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import shapely
from sqlalchemy import create_engine, text

from domain.crs import wgs84_to_bd09, wgs84_to_gcj02
from etl.load import LoadResult, load_file
from etl.template import write_template
from tests.etl_support import (
    ENTERPRISE_HEADER,
    ETL_DB,
    ROOT,
    cell_points,
    clean_fixture,  # noqa: F401
    counts,
    credit,
    enterprise_rows,
    etl_url_fixture,  # noqa: F401
    query,
    weidu_tree,
    write_csv,
)

KINDS = ("enterprises", "hazard-sources", "hazards", "inspections", "persons")
HAZARD_HEADER = ["隐患编号", "统一社会信用代码", "隐患名称", "隐患等级", "整改状态", "发现日期", "整改期限", "销号日期"]


def _snapshot(url: str, table: str = "enterprises") -> list[tuple[object, ...]]:
    return [tuple(r) for r in query(url, f"SELECT id, xmin::text, updated_at, unit_id FROM {table} ORDER BY id")]


def test_every_template_example_loads(clean: str, tmp_path: Path) -> None:
    for kind in KINDS:
        path = write_template(kind, tmp_path / f"{kind}.xlsx")
        result = load_file(kind, path, url=clean)
        assert result.status == "ok", (kind, result.message, result.rejects)
        assert result.rows_in == 1 and result.rows_loaded == 1
    row = query(clean, "SELECT e.name, u.code, u.level FROM enterprises e LEFT JOIN units u ON u.id = e.unit_id")[0]
    assert row.level == 5
    duty = query(clean, "SELECT d.role, d.seq, p.name, u.code FROM duties d JOIN persons p ON p.id = d.person_id "
                        "JOIN units u ON u.id = d.unit_id")[0]
    assert tuple(duty) == ("supervisor", 1, "王建国", "411002001")


def test_loading_the_same_file_twice_changes_nothing(clean: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "ent.csv", ENTERPRISE_HEADER, enterprise_rows(40))
    first = load_file("enterprises", path, url=clean)
    assert first.status == "ok" and first.counts["inserted"] == 40
    before, history = _snapshot(clean), counts(clean)
    second = load_file("enterprises", path, url=clean)
    assert second.status == "ok"
    assert (second.counts["inserted"], second.counts["updated"], second.unchanged) == (0, 0, 40)
    assert _snapshot(clean) == before  # same xmin and updated_at: no row was rewritten
    assert counts(clean) == history


def test_a_changed_file_updates_only_the_changed_rows(clean: str, tmp_path: Path) -> None:
    rows = enterprise_rows(10)
    load_file("enterprises", write_csv(tmp_path / "a.csv", ENTERPRISE_HEADER, rows), url=clean)
    before = {r[0]: r for r in _snapshot(clean)}
    rows[2][1] = "改名后的企业"
    rows[3][3] = "红"  # 蓝色 → 红: a colour change goes to the risk history
    rows.append(enterprise_rows(1, start=99)[0])
    result = load_file("enterprises", write_csv(tmp_path / "b.csv", ENTERPRISE_HEADER, rows), url=clean)
    assert (result.counts["inserted"], result.counts["updated"]) == (1, 2)
    after = {r[0]: r for r in _snapshot(clean)}
    changed = {i for i in before if before[i] != after[i]}
    assert len(changed) == 2
    history = query(clean, "SELECT e.credit_code, h.risk_level FROM enterprise_risk_history h "
                           "JOIN enterprises e ON e.id = h.enterprise_id WHERE e.credit_code = :c ORDER BY h.id",
                    c=credit(3))
    assert [r.risk_level for r in history] == ["blue", "red"]


def test_hazard_status_changes_are_written_to_hazard_events(clean: str, tmp_path: Path) -> None:
    load_file("enterprises", write_csv(tmp_path / "e.csv", ENTERPRISE_HEADER, enterprise_rows(2)), url=clean)
    rows = [["YH1", credit(0), "消防通道堵塞", "一般隐患", "整改中", "2025-09-01", "2025-10-01", ""],
            ["YH2", credit(1), "液氨储罐未设泄漏报警", "重大", "已上报", "2025-09-02", "2025-12-01", ""]]
    first = load_file("hazards", write_csv(tmp_path / "h1.csv", HAZARD_HEADER, rows), url=clean)
    assert first.status == "ok", first.rejects
    rows[0][4:] = ["已销号", "2025-09-01", "2025-10-01", "2025-09-20"]
    second = load_file("hazards", write_csv(tmp_path / "h2.csv", HAZARD_HEADER, rows), url=clean)
    assert second.counts["status_changes"] == 1
    events = query(clean, "SELECT h.code, e.from_status, e.to_status, e.by FROM hazard_events e "
                          "JOIN hazards h ON h.id = e.hazard_id ORDER BY e.id")
    assert [tuple(e) for e in events] == [
        ("YH1", None, "rectifying", f"etl:{first.run_id}"),
        ("YH2", None, "reported", f"etl:{first.run_id}"),
        ("YH1", "rectifying", "closed", f"etl:{second.run_id}"),
    ]
    # Hazards without coordinates take the location and grid cell of their enterprise.
    same = query(clean, "SELECT bool_and(ST_Equals(h.geom, e.geom) AND h.unit_id = e.unit_id) FROM hazards h "
                        "JOIN enterprises e ON e.id = h.enterprise_id")[0][0]
    assert same is True


def test_loaded_points_carry_their_h3_cells(clean: str, tmp_path: Path) -> None:
    """Enterprises get H3 cells of their (WGS84) point; hazards without a point take their enterprise's."""
    import h3

    load_file("enterprises", write_csv(tmp_path / "e.csv", ENTERPRISE_HEADER, enterprise_rows(5)), url=clean)
    rows = [["YH1", credit(0), "消防通道堵塞", "一般隐患", "整改中", "2025-09-01", "2025-10-01", ""]]
    assert load_file("hazards", write_csv(tmp_path / "h.csv", HAZARD_HEADER, rows), url=clean).status == "ok"
    stored = query(clean, "SELECT ST_Y(geom) AS lat, ST_X(geom) AS lon, h3_r6, h3_r7, h3_r8, h3_r9 FROM enterprises "
                          "UNION ALL SELECT ST_Y(geom), ST_X(geom), h3_r6, h3_r7, h3_r8, h3_r9 FROM hazards")
    assert len(stored) == 6
    for r in stored:
        assert [r.h3_r6, r.h3_r7, r.h3_r8, r.h3_r9] == [
            h3.str_to_int(h3.latlng_to_cell(r.lat, r.lon, res)) for res in (6, 7, 8, 9)]
    # nothing left for the refresh; a reload of rows stored without cells is not a change
    assert query(clean, "SELECT count(*) AS n FROM enterprises WHERE h3_r9 IS NULL")[0].n == 0
    with create_engine(clean).begin() as c:
        c.execute(text("UPDATE enterprises SET h3_r6 = NULL, h3_r7 = NULL, h3_r8 = NULL, h3_r9 = NULL"))
    again = load_file("enterprises", write_csv(tmp_path / "e.csv", ENTERPRISE_HEADER, enterprise_rows(5)), url=clean)
    assert (again.counts["inserted"], again.counts["updated"]) == (0, 0)


@pytest.mark.parametrize(("crs", "forward"), [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_shifted_coordinates_are_stored_in_wgs84(clean: str, tmp_path: Path, crs: str, forward: object) -> None:
    grid, lon, lat = cell_points()[5]
    x, y = forward(lon, lat)  # type: ignore[operator]
    row = [credit(7), "高德坐标企业", "机械", "黄", "", "", "", f"{float(x):.9f}", f"{float(y):.9f}"]
    result = load_file("enterprises", write_csv(tmp_path / "g.csv", ENTERPRISE_HEADER, [row]), crs=crs, url=clean)
    assert result.status == "ok", result.rejects
    stored = query(clean, "SELECT ST_X(e.geom) AS x, ST_Y(e.geom) AS y, u.code FROM enterprises e "
                          "JOIN units u ON u.id = e.unit_id")[0]
    assert stored.x == pytest.approx(lon, abs=1e-6) and stored.y == pytest.approx(lat, abs=1e-6)
    assert stored.code == grid


def test_bad_rows_are_quarantined_with_row_numbers_raw_values_and_reasons(clean: str, tmp_path: Path) -> None:
    rows = enterprise_rows(4)
    rows[1][0] = "91411002MA40AAAA4X"  # wrong check character → spreadsheet row 3
    rows[2][7], rows[2][8] = rows[2][8], rows[2][7]  # swapped lon/lat → row 4
    result = load_file("enterprises", write_csv(tmp_path / "bad.csv", ENTERPRISE_HEADER, rows), url=clean)
    assert result.status == "partial" and result.rows_loaded == 2
    assert [n for n, _ in result.rejects] == [3, 4]
    stored = query(clean, "SELECT row_number, raw, errors FROM etl_rejects WHERE run_id = :r ORDER BY row_number",
                   r=result.run_id)
    assert stored[0].raw["统一社会信用代码"] == "91411002MA40AAAA4X"
    assert "校验位错误" in stored[0].errors[0]
    assert "经纬度可能填反" in stored[1].errors[0]
    run = query(clean, "SELECT status, rows_in, rows_loaded, rows_rejected, sha256 FROM etl_runs WHERE id = :r",
                r=result.run_id)[0]
    assert tuple(run)[:4] == ("partial", 4, 2, 2) and len(run.sha256) == 64


def test_strict_mode_rejects_the_whole_file(clean: str, tmp_path: Path) -> None:
    rows = enterprise_rows(5)
    rows[4][3] = "紫色"
    before = counts(clean)
    result = load_file("enterprises", write_csv(tmp_path / "s.csv", ENTERPRISE_HEADER, rows), strict=True, url=clean)
    assert result.status == "rejected" and "严格模式" in result.message
    assert counts(clean) == before
    assert query(clean, "SELECT count(*) FROM etl_rejects WHERE run_id = :r", r=result.run_id)[0][0] == 1


def test_points_in_no_cell_and_on_borders_are_reported(clean: str, tmp_path: Path) -> None:
    cells = weidu_tree()[5]
    a, b = (shapely.geometry.shape(f["geometry"]) for f in cells[:2])
    shared = {tuple(c) for c in shapely.get_coordinates(a)} & {tuple(c) for c in shapely.get_coordinates(b)}
    border = tuple(float(v) for v in sorted(shared)[0])
    yuzhou = (113.49, 34.14)  # 禹州市: inside the city, outside every generated grid cell
    rows = [[credit(1), "边界企业", "机械", "", "", "", "", repr(border[0]), repr(border[1])],
            [credit(2), "禹州企业", "机械", "", "", "", "", yuzhou[0], yuzhou[1]]]
    result = load_file("enterprises", write_csv(tmp_path / "p.csv", ENTERPRISE_HEADER, rows), url=clean)
    assert result.status == "ok" and result.findings == 2, (result.counts, result.notes)
    findings = {r.entity_key: r for r in query(clean, "SELECT entity_key, kind, detail FROM dq_findings "
                                                      "WHERE run_id = :r", r=result.run_id)}
    assert findings[credit(1)].kind == "on_grid_border"
    assert findings[credit(2)].kind == "no_grid_cell" and "不在任何网格内" in findings[credit(2)].detail
    placed = dict(query(clean, "SELECT e.credit_code, u.code FROM enterprises e LEFT JOIN units u ON u.id = e.unit_id"))
    assert placed[credit(1)] == min(cells[0]["properties"]["code"], cells[1]["properties"]["code"])
    assert placed[credit(2)] is None


@pytest.mark.parametrize("method", ["lateral", "join"])
def test_assign_grid_cells_fixes_moves_clears_and_reports(clean: str, tmp_path: Path, method: str) -> None:
    from etl.load import assign_grid_cells

    cells = weidu_tree()[5]
    a, b = (shapely.geometry.shape(f["geometry"]) for f in cells[:2])
    shared = {tuple(c) for c in shapely.get_coordinates(a)} & {tuple(c) for c in shapely.get_coordinates(b)}
    border = tuple(float(v) for v in sorted(shared)[0])
    inside = cell_points()
    rows = [[credit(1), "边界企业", "机械", "", "", "", "", repr(border[0]), repr(border[1])],
            [credit(2), "禹州企业", "机械", "", "", "", "", 113.49, 34.14],
            [credit(3), "网格企业", "机械", "", "", "", "", inside[0][1], inside[0][2]],
            [credit(4), "移动企业", "机械", "", "", "", "", inside[1][1], inside[1][2]]]
    assert load_file("enterprises", write_csv(tmp_path / "p.csv", ENTERPRISE_HEADER, rows), url=clean).ok
    # Stale cells, as after a grid boundary change: one point moved, one point now outside every cell.
    engine = create_engine(clean)
    with engine.begin() as conn:
        conn.execute(text("UPDATE enterprises SET unit_id = (SELECT id FROM units WHERE code = :c) "
                          "WHERE credit_code IN (:moved, :outside)"),
                     {"c": inside[0][0], "moved": credit(4), "outside": credit(2)})
    engine.dispose()
    counts_ = assign_grid_cells(clean, method=method)["enterprises"]
    assert counts_ == {"in_cell": 3, "changed": 1, "no_cell": 1, "on_border": 1}
    placed = dict(query(clean, "SELECT e.credit_code, u.code FROM enterprises e LEFT JOIN units u ON u.id = e.unit_id"))
    assert placed == {credit(1): min(cells[0]["properties"]["code"], cells[1]["properties"]["code"]),
                      credit(2): None, credit(3): inside[0][0], credit(4): inside[1][0]}
    run = query(clean, "SELECT max(id) FROM etl_runs WHERE job = 'assign'")[0][0]
    found = {r.entity_key: r for r in query(clean, "SELECT entity_key, kind, detail FROM dq_findings WHERE run_id = :r",
                                            r=run)}
    codes = sorted(f["properties"]["code"] for f in cells[:2])
    assert found[credit(1)].kind == "on_grid_border" and all(c in found[credit(1)].detail for c in codes)
    assert found[credit(2)].kind == "no_grid_cell" and set(found) == {credit(1), credit(2)}
    assert assign_grid_cells(clean, method=method)["enterprises"]["changed"] == 0


def test_grid_code_places_an_enterprise_without_coordinates(clean: str, tmp_path: Path) -> None:
    grid = cell_points()[3][0]
    path = write_csv(tmp_path / "g.csv", ["统一社会信用代码", "企业名称", "网格代码"],
                     [[credit(1), "无坐标企业", grid], [credit(2), "错网格企业", "411002001"]])
    result = load_file("enterprises", path, url=clean)
    assert result.status == "partial"
    assert "不是网格代码" in result.rejects[0][1][0]
    assert query(clean, "SELECT u.code FROM enterprises e JOIN units u ON u.id = e.unit_id")[0][0] == grid


def test_persons_fill_duty_slots_in_order(clean: str, tmp_path: Path) -> None:
    header = ["单位代码", "职责", "序号", "姓名", "手机"]
    rows = [["411002001", "分管领导", "", "张三", "13800000001"],
            ["411002001", "安全监管责任人", "", "李四", "13800000002"],
            ["411002001", "监管责任人", "", "王五", "13800000003"],
            ["411002001", "安全监管责任人", "2", "赵六", "13800000004"],
            ["411002999", "网格员", "1", "钱七", "13800000005"]]
    result = load_file("persons", write_csv(tmp_path / "p.csv", header, rows), url=clean)
    assert [n for n, _ in result.rejects] == [5, 6]
    assert "与第 4 行重复" in result.rejects[0][1][0]
    assert "411002999" in result.rejects[1][1][0] and "不存在" in result.rejects[1][1][0]
    duties = [tuple(r) for r in query(clean, "SELECT d.role, d.seq, p.name FROM duties d JOIN persons p "
                                             "ON p.id = d.person_id ORDER BY d.role, d.seq")]
    assert duties == [("leader", 1, "张三"), ("supervisor", 1, "李四"), ("supervisor", 2, "王五")]


def test_loads_of_the_same_table_wait_for_each_other(clean: str, tmp_path: Path) -> None:
    """New rows are inserted without ON CONFLICT: a load waits while another load of the kind is open."""
    import threading

    from geo import etl_sql

    path = write_csv(tmp_path / "e.csv", ENTERPRISE_HEADER, enterprise_rows(3))
    eng = create_engine(clean)
    results: list[LoadResult] = []
    try:
        with eng.connect() as conn:
            trans = conn.begin()
            etl_sql.lock_loads(conn, kind="enterprises")  # another load of enterprises, still open
            waiting = threading.Thread(target=lambda: results.append(load_file("enterprises", path, url=clean)))
            waiting.start()
            waiting.join(1.5)
            assert waiting.is_alive() and counts(clean)["enterprises"] == 0
            trans.rollback()
        waiting.join(30)
        assert not waiting.is_alive()
    finally:
        eng.dispose()
    assert results[0].status == "ok" and results[0].counts["inserted"] == 3


def test_a_database_error_rolls_back_the_whole_load(clean: str, tmp_path: Path) -> None:
    """A real constraint the validator does not know about fails row 4: nothing of the file stays."""
    eng = create_engine(clean)
    with eng.begin() as conn:
        conn.execute(text("ALTER TABLE enterprises ADD CONSTRAINT test_no_fail CHECK (name <> '必败企业')"))
    try:
        rows = enterprise_rows(5)
        rows[2][1] = "必败企业"
        before = counts(clean)
        result = load_file("enterprises", write_csv(tmp_path / "f.csv", ENTERPRISE_HEADER, rows), url=clean)
        assert result.status == "failed" and "数据库未改动" in result.message and "test_no_fail" in result.message
        assert counts(clean) == before
        run = query(clean, "SELECT status, finished_at IS NOT NULL FROM etl_runs WHERE id = :r", r=result.run_id)[0]
        assert tuple(run) == ("failed", True)
    finally:
        with eng.begin() as conn:
            conn.execute(text("ALTER TABLE enterprises DROP CONSTRAINT test_no_fail"))
        eng.dispose()


def _env() -> dict[str, str]:
    return dict(os.environ, SAFEGRID_PG_DATABASE=ETL_DB, PGAPPNAME="etl-kill-test")


def test_killing_a_load_midway_leaves_the_database_as_before(clean: str, tmp_path: Path) -> None:
    load_file("enterprises", write_csv(tmp_path / "base.csv", ENTERPRISE_HEADER, enterprise_rows(10)), url=clean)
    before = _snapshot(clean)
    path = write_csv(tmp_path / "big.csv", ENTERPRISE_HEADER, enterprise_rows(150_000))
    proc = subprocess.Popen([sys.executable, "-m", "safegrid", "etl", "load", "enterprises", str(path)],
                            env=_env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    eng = create_engine(clean)
    try:
        deadline = time.monotonic() + 120
        seen = False
        while time.monotonic() < deadline and proc.poll() is None:
            with eng.connect() as conn:
                # Wait until the load has written into the database inside its transaction (COPY or upsert).
                seen = bool(conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'etl-kill-test' "
                    "AND state = 'active' AND (query ILIKE 'COPY etl_stage%' OR query ILIKE 'WITH src AS%')"
                )).scalar())
            if seen:
                break
            time.sleep(0.01)
        assert seen, "the load never reached the database"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        eng.dispose()
    time.sleep(0.5)
    assert _snapshot(clean) == before
    assert counts(clean)["enterprises"] == 10
    assert query(clean, "SELECT status FROM etl_runs ORDER BY id DESC LIMIT 1")[0][0] == "running"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "safegrid", "etl", *args], env=_env(), cwd=ROOT,
                          capture_output=True, text=True, check=False)


def test_cli_exit_status_and_summary(clean: str, tmp_path: Path) -> None:
    good = write_csv(tmp_path / "ok.csv", ENTERPRISE_HEADER, enterprise_rows(3))
    res = _cli("load", "enterprises", str(good))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "成功" in res.stdout and "导入行数" in res.stdout
    rows = enterprise_rows(3)
    rows[0][0] = "123"
    res = _cli("load", "enterprises", str(write_csv(tmp_path / "bad.csv", ENTERPRISE_HEADER, rows)))
    assert res.returncode == 1 and "应为 18 位" in res.stdout and "被拒绝的行" in res.stdout
    assert _cli("load", "companies", str(good)).returncode == 2
    assert _cli("load", "enterprises", str(tmp_path / "missing.csv")).returncode == 2
    assert _cli("load", "enterprises", str(good), "--crs", "mars").returncode == 2
    assert _cli("load", "enterprises", str(good), "--level", "3").returncode == 2
    assert _cli("template", "boundaries", str(tmp_path / "b.xlsx")).returncode == 2
    runs = _cli("runs", "--limit", "5")
    assert runs.returncode == 0 and "load:enterprises" in runs.stdout
