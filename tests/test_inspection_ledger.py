"""检查台账 and 检查执法统计 storage (geo.inspection_ledger) on PostGIS, and the reporting periods (domain.enforcement).

The storage tests build their own township (units, enterprises, inspections of both sources) inside a rolled-back
transaction and read only inside it, so rows other tests commit into the session database are never counted.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, text

from dashboard.bigscreen.panels import enforcement_lines
from domain import clock
from domain.enforcement import EnforcementCounts, PeriodError, StatsPeriod, parse_period, period_range, yuan_text
from geo.bigscreen_queries import enforcement_kpis
from geo.inspection_ledger import (
    InspectionFilters,
    InspectionLedgerError,
    area_choices,
    enforcement_by_area,
    enforcement_total,
    inspection_export_rows,
    inspection_page,
    inspection_target,
    order_by,
)
from geo.inspections_app import NewInspection, record_inspection
from geo.users import create_user, hash_password

TOWN = "411003950"
V1, V2 = "411003950001", "411003950002"
C1, C2 = "41100395000101", "41100395000201"
TOWN_PATH = f"411000.411003.{TOWN}."
UNITS = [(TOWN, "台账测试镇", 3, "town", "411003"), (V1, "台账一村", 4, "village", TOWN),
         (C1, "台账一村第1网格", 5, "grid", V1), (V2, "台账二村", 4, "village", TOWN),
         (C2, "台账二村第1网格", 5, "grid", V2)]
E1, E2 = "91411003IL0000001X", "91411003IL0000002X"
pytestmark = pytest.mark.db


# --- the reporting periods (pure) ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "as_of", "start", "label"), [
    (StatsPeriod.MONTH, date(2026, 12, 2), date(2026, 12, 1), "2026年12月"),
    (StatsPeriod.MONTH, date(2026, 3, 1), date(2026, 3, 1), "2026年3月"),
    (StatsPeriod.QUARTER, date(2026, 11, 20), date(2026, 10, 1), "2026年第4季度"),
    (StatsPeriod.QUARTER, date(2026, 3, 31), date(2026, 1, 1), "2026年第1季度"),
    (StatsPeriod.QUARTER, date(2026, 4, 1), date(2026, 4, 1), "2026年第2季度"),
    (StatsPeriod.YEAR, date(2026, 12, 31), date(2026, 1, 1), "2026年"),
    (StatsPeriod.YEAR, date(2027, 1, 1), date(2027, 1, 1), "2027年"),
])
def test_period_range(kind: StatsPeriod, as_of: date, start: date, label: str) -> None:
    p = period_range(kind, as_of)
    assert (p.start, p.end, p.label) == (start, as_of, label)


def test_parse_period_and_amounts() -> None:
    assert parse_period("quarter") is StatsPeriod.QUARTER
    for bad in ("week", "", None, "<script>"):
        with pytest.raises(PeriodError, match="统计周期无效"):
            parse_period(bad)
    a, b = EnforcementCounts(2, 3, 1, 0, 1, 500.0), EnforcementCounts(1, 0, 0, 1, 2, 1000.5)
    assert a + b == EnforcementCounts(3, 3, 1, 1, 3, 1500.5)
    assert [yuan_text(v) for v in (0, 12500, 1500.5, 250_000)] == ["0 元", "12,500 元", "1,500.50 元", "25.0 万元"]


# --- storage --------------------------------------------------------------------------------------------------------

def _insert(c: Connection, code: str, unit: str, day: date, *, kind: str | None = "routine", result: str | None =
            "passed", enterprise: str | None = None, found: int | None = 0, doc: str | None = None,
            penalty: float | None = None, level: int = 3, inspectors: str = "导入人员", draw_id: int | None = None,
            created_by: str | None = None) -> None:
    c.execute(text(
        "INSERT INTO inspections (code, unit_id, enterprise_id, inspector_level, kind, inspected_at, inspectors, "
        "result, hazards_found, document_no, penalty_yuan, draw_id, created_by) SELECT :code, u.id, "
        "(SELECT id FROM enterprises WHERE credit_code = :cc), :lvl, :kind, :day, :who, :result, :found, :doc, "
        ":penalty, :draw, :by FROM units u WHERE u.code = :unit"),
        {"code": code, "unit": unit, "cc": enterprise, "lvl": level, "kind": kind, "day": day, "who": inspectors,
         "result": result, "found": found, "doc": doc, "penalty": penalty, "draw": draw_id, "by": created_by})


@pytest.fixture
def town(conn: Connection, unit_tree: dict[str, str]) -> dict[str, Any]:
    """A township of two villages with an enterprise each; imported rows, app-recorded rows and a 双随机 row."""
    for code, name, level, kind, parent in UNITS:
        conn.execute(text(
            "INSERT INTO units (code, name, level, kind, parent_id, path) SELECT :code, :name, :level, :kind, p.id, "
            "p.path || :code || '.' FROM units p WHERE p.code = :parent"),
            {"code": code, "name": name, "level": level, "kind": kind, "parent": parent})
    for cc, name, cell in ((E1, "台账测试化工厂", C1), (E2, "台账测试面粉厂", C2)):
        conn.execute(text("INSERT INTO enterprises (credit_code, name, industry, risk_level, unit_id) "
                          "SELECT :cc, :name, '轻工', 'red', id FROM units WHERE code = :cell"),
                     {"cc": cc, "name": name, "cell": cell})
    today = clock.today()
    old = today - timedelta(days=400)  # outside this year whatever today is
    _insert(conn, "ILT-1", C1, today, enterprise=E1, found=2, kind="special", result="ordered_rectify",
            doc="（台）应急责改〔2026〕1号")
    _insert(conn, "ILT-2", C2, today, enterprise=E2, found=1, result="closed_down", doc="（台）停〔2026〕2号")
    _insert(conn, "ILT-3", V1, today, kind="unannounced", level=4, found=None)  # a village's own inspection
    _insert(conn, "ILT-4", TOWN, today, level=3)  # the township's own: 本级
    _insert(conn, "ILT-OLD", C1, old, enterprise=E1, result="penalized", doc="（台）罚〔2020〕9号", penalty=9999)
    create_user(conn, username="il_insp", password_hash=hash_password("Test-pass-2026"), role="inspector",
                scope_code=TOWN, display_name="台账检查员")
    recorded, _ = record_inspection(conn, scope=TOWN_PATH, username="il_insp", new=NewInspection(
        credit_code=E2, kind="routine", result="penalized", request_key=uuid.uuid4().hex, inspected_at=today,
        document_no="（台）应急罚〔2026〕3号", penalty_yuan="12500"), today=today)
    draw_id = conn.execute(text(
        "INSERT INTO inspection_draws (code, unit_id, title, filters, options, seed, pool_size, inspector_pool, "
        "created_by) SELECT 'SJ-ILT', id, '台账测试抽查', '{}', '{}', 1, 2, 2, 'il_insp' FROM units WHERE code = :t "
        "RETURNING id"), {"t": TOWN}).scalar_one()
    _insert(conn, "ILT-DR", C1, today, enterprise=E1, kind="double_random", inspectors="甲、乙", draw_id=draw_id,
            created_by="il_insp")
    return {"conn": conn, "today": today, "old": old, "recorded": recorded.code}


def _codes(rows: list[Any]) -> list[str]:
    return [r["code"] for r in rows]


def test_the_grid_counts_only_as_far_as_it_needs(town: dict[str, Any]) -> None:
    """count_cap: exact while at most cap rows lie past the page, -1 ("超过", unknown to the grid) beyond."""
    c = town["conn"]
    page = {"scope": TOWN_PATH, "filters": InspectionFilters(), "limit": 2}
    assert inspection_page(c, **page, count_cap=5)[1] == 7  # 7 <= 2 + 5: exact
    assert inspection_page(c, **page, count_cap=4)[1] == -1  # 7 > 2 + 4: more
    rows, more = inspection_page(c, **page, offset=4, count_cap=1)  # 7 <= 4 + 2 + 1: exact again
    assert more == 7 and len(rows) == 2
    assert _codes(inspection_page(c, **page, count_cap=0)[0]) == _codes(inspection_page(c, **page)[0])


def test_both_sources_in_scope_only(town: dict[str, Any]) -> None:
    c, recorded = town["conn"], town["recorded"]
    rows, total = inspection_page(c, scope=TOWN_PATH, filters=InspectionFilters())
    assert total == 7 and set(_codes(rows)) == {"ILT-1", "ILT-2", "ILT-3", "ILT-4", "ILT-OLD", "ILT-DR", recorded}
    assert _codes(rows)[-1] == "ILT-OLD"  # newest first
    by = {r["code"]: r for r in rows}
    assert by[recorded]["source"] == "app" and by["ILT-1"]["source"] == "import"
    assert by[recorded]["penalty_yuan"] == 12500.0 and by[recorded]["inspectors"] == "台账检查员"
    assert by[recorded]["enterprise_name"] == "台账测试面粉厂" and by[recorded]["unit_name"] == "台账二村第1网格"
    assert by["ILT-DR"]["draw_code"] == "SJ-ILT" and by["ILT-3"]["credit_code"] is None
    app_rows, n_app = inspection_page(c, scope=TOWN_PATH, filters=InspectionFilters(sources=("app",)))
    assert n_app == 2 and set(_codes(app_rows)) == {recorded, "ILT-DR"}
    assert inspection_page(c, scope=TOWN_PATH, filters=InspectionFilters(sources=("import",)))[1] == 5
    assert inspection_page(c, scope=TOWN_PATH, filters=InspectionFilters(sources=("app", "import")))[1] == 7
    # another district and a sibling village see none of them
    other, _ = inspection_page(c, scope="411000.411002.", filters=InspectionFilters(), limit=500)
    assert not set(_codes(other)) & {"ILT-1", "ILT-2", recorded}
    v2, n_v2 = inspection_page(c, scope=f"{TOWN_PATH}{V2}.", filters=InspectionFilters())
    assert n_v2 == 2 and set(_codes(v2)) == {"ILT-2", recorded}
    assert inspection_target(c, scope=TOWN_PATH, code="ILT-1") == (E1, C1)
    assert inspection_target(c, scope=TOWN_PATH, code="ILT-3") == (None, V1)
    assert inspection_target(c, scope=f"{TOWN_PATH}{V2}.", code="ILT-1") is None
    assert inspection_target(c, scope="411000.411002.", code=recorded) is None


def test_filters(town: dict[str, Any]) -> None:
    c, today, recorded = town["conn"], town["today"], town["recorded"]

    def codes(**kw: Any) -> set[str]:
        return set(_codes(inspection_page(c, scope=TOWN_PATH, filters=InspectionFilters(**kw))[0]))

    assert codes(kinds=("special", "unannounced")) == {"ILT-1", "ILT-3"}
    assert codes(results=("penalized",)) == {"ILT-OLD", recorded}
    assert codes(results=("penalized",), date_from=today - timedelta(days=30)) == {recorded}
    assert codes(date_to=today - timedelta(days=1)) == {"ILT-OLD"}
    assert codes(area=V1) == {"ILT-1", "ILT-3", "ILT-OLD", "ILT-DR"}
    assert codes(area=C2, results=("closed_down",)) == {"ILT-2"}
    assert codes(area="411002") == set()  # an area outside the scope matches nothing
    assert codes(text="应急罚") == {recorded}
    assert codes(text="甲") == {"ILT-DR"}
    assert codes(text="%") == set()  # literal, not a pattern
    for bad, message in (({"kinds": ("weekly",)}, "检查方式取值无效"), ({"results": ("ok",)}, "检查结果取值无效"),
                         ({"sources": ("x",)}, "来源取值无效"), ({"area": "41'--"}, "区域代码格式错误"),
                         ({"date_from": today, "date_to": today - timedelta(days=1)}, "起始日期不能晚于结束日期")):
        with pytest.raises(InspectionLedgerError, match=message):
            InspectionFilters(**bad)


def test_sorting_paging_and_export(town: dict[str, Any]) -> None:
    c = town["conn"]
    rows, _ = inspection_page(c, scope=TOWN_PATH, filters=InspectionFilters(), sort=[("penalty_yuan", "desc")])
    assert [r["penalty_yuan"] for r in rows[:2]] == [12500.0, 9999.0] and rows[2]["penalty_yuan"] is None
    by_name, _ = inspection_page(c, scope=TOWN_PATH, filters=InspectionFilters(), sort=[("unit_name", "asc")])
    assert by_name[0]["unit_name"] == "台账一村"
    first, total = inspection_page(c, scope=TOWN_PATH, filters=InspectionFilters(), offset=0, limit=3)
    second, _ = inspection_page(c, scope=TOWN_PATH, filters=InspectionFilters(), offset=3, limit=3)
    third, _ = inspection_page(c, scope=TOWN_PATH, filters=InspectionFilters(), offset=6, limit=3)
    assert total == 7 and len(first) == 3 and len(third) == 1
    export = inspection_export_rows(c, scope=TOWN_PATH, filters=InspectionFilters())
    assert _codes(export) == _codes(first + second + third)
    assert len(inspection_export_rows(c, scope=TOWN_PATH, filters=InspectionFilters(), max_rows=2)) == 2
    with pytest.raises(InspectionLedgerError, match="不能按"):
        order_by([("x.id; DROP TABLE inspections", "asc")])
    with pytest.raises(InspectionLedgerError):
        order_by([("code", "sideways")])


def test_enforcement_by_area_hand_counted(town: dict[str, Any]) -> None:
    c, today = town["conn"], town["today"]
    year = period_range(StatsPeriod.YEAR, today)
    areas = enforcement_by_area(c, scope=TOWN_PATH, start=year.start, end=year.end)
    assert [(a.code, a.name) for a in areas] == [(V1, "台账一村"), (V2, "台账二村"), (None, "本级")]
    v1, v2, own = (a.counts for a in areas)
    # V1: ILT-1 (special, 责令整改, 2 found), ILT-3 (village's own, no count of findings), ILT-DR; ILT-OLD is older
    assert v1 == EnforcementCounts(inspections=3, hazards_found=2, ordered_rectify=1, closed_down=0, penalties=0,
                                   penalty_yuan=0.0)
    # V2: ILT-2 (停产整顿, 1 found) and the recorded 行政处罚 of 12,500 元
    assert v2 == EnforcementCounts(2, 1, 0, 1, 1, 12500.0)
    assert own == EnforcementCounts(1, 0, 0, 0, 0, 0.0)
    assert enforcement_total(c, scope=TOWN_PATH, start=year.start, end=year.end) == EnforcementCounts(
        6, 3, 1, 1, 1, 12500.0)
    # a period holding only the old row, and a village scope: its grid cell, its own row as 本级
    old = enforcement_total(c, scope=TOWN_PATH, start=town["old"], end=town["old"])
    assert old == EnforcementCounts(1, 0, 0, 0, 1, 9999.0)
    village = enforcement_by_area(c, scope=f"{TOWN_PATH}{V1}.", start=year.start, end=year.end)
    assert [(a.code, a.counts.inspections) for a in village] == [(C1, 2), (None, 1)]
    # the district's table has the township as one child with the same counts
    district = {a.code: a.counts for a in enforcement_by_area(c, scope="411000.411003.", start=year.start,
                                                               end=year.end)}
    assert district[TOWN] == EnforcementCounts(6, 3, 1, 1, 1, 12500.0)


def test_big_screen_month_lines(town: dict[str, Any]) -> None:
    kpis = enforcement_kpis(town["conn"], scope=TOWN_PATH, as_of=town["today"])
    assert kpis == {"inspections": 6, "hazards_found": 3, "ordered_rectify": 1, "closed_down": 1, "penalties": 1,
                    "penalty_yuan": 12500.0}
    text_of = " ".join(str(line) for line in enforcement_lines(kpis))
    assert "本月检查" in text_of and "发现隐患 3 · 责令整改 1 · 停产整顿 1" in text_of and "罚款 12,500 元" in text_of
    before = enforcement_kpis(town["conn"], scope=TOWN_PATH, as_of=town["old"])  # that month: the old penalty only
    assert before["inspections"] == 1 and before["penalty_yuan"] == 9999.0


def test_area_choices_two_levels_down(town: dict[str, Any]) -> None:
    c = town["conn"]
    assert [a[0] for a in area_choices(c, scope=TOWN_PATH)] == [TOWN, V1, C1, V2, C2]
    county = {code: level for code, _, level in area_choices(c, scope="411000.411003.")}
    assert county[TOWN] == 3 and county[V1] == 4 and C1 not in county and "411002" not in county
