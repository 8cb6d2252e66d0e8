"""Department scope (issue 18 part 5): the catalogue's rules, the Scope value, and every storage read kept to a
department's enterprises and their hazards, inspections and accidents.

The rows are the test's own (inserted in a rolled-back transaction on the shared unit tree): 住建 enterprises in
魏都区 and 建安区, an 应急 enterprise beside the first, a hazard of no enterprise. Assertions look at these rows only.
"""

from __future__ import annotations

import json
import pickle
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, text

from domain import clock
from domain.catalogues import (
    DEFAULT_DEPARTMENTS,
    CatalogueError,
    DepartmentCatalogue,
    departments_from_config,
    departments_from_text,
    departments_text,
)
from domain.crs import BBox
from geo import rule_settings
from geo.accidents import accident_kpis, accidents_in_scope
from geo.around import enterprises_around
from geo.bigscreen_queries import screen_kpis
from geo.coverage import coverage_unit
from geo.departments import assign_departments
from geo.enterprise_file import enterprise_file
from geo.hazard_actions import hazard_record
from geo.hazard_ledger import LedgerFilters, hazard_export_rows, hazard_location, hazard_page
from geo.hazard_view import hazard_view
from geo.inspection_ledger import InspectionFilters, inspection_export_rows, inspection_page, inspection_target
from geo.map_queries import POINT_SOURCES, open_hazards, points_geojson, raw_points, unit_rollup_points
from geo.ogc_queries import ItemsQuery, item, items, point_collection
from geo.risk_queries import industry_units_geojson, risk_units_geojson, unit_explain, unit_kpis
from geo.scope import Scope, ScopeError, narrow, scope_params
from geo.search import search_enterprises
from geo.todo import TodoAsk, todo_items
from geo.users import UserError, create_user, get_user_by_name, hash_password, set_department

pytestmark = pytest.mark.db
CITY = "411000."
ZJ = Scope(CITY, "zhujian")  # 住建局 over the city
ZJ_WEIDU = Scope("411000.411002.", "zhujian")  # 住建局 over 魏都区
YJ = Scope(CITY, "yingji")
# credit code → (name, department, grid cell, lon, lat)
ENTERPRISES = {
    "9141100000DPT0ZJ1A": ("部门测试住建一公司", "zhujian", "41100200100101", 113.8101, 34.0201),
    "9141100000DPT0ZJ2A": ("部门测试住建二公司", "zhujian", "41100310020001", 113.8102, 34.0202),
    "9141100000DPT0YJ1A": ("部门测试应急一公司", "yingji", "41100200100101", 113.8103, 34.0203),
}
ZJ1, ZJ2, YJ1 = ENTERPRISES
BOX = BBox(113.80, 34.01, 113.82, 34.03)


@pytest.fixture
def data(conn: Connection, unit_tree: dict[str, str]) -> dict[str, Any]:
    """Insert the test's enterprises, hazards, inspections and accidents; return their ids by code."""
    ids: dict[str, Any] = {}
    today = clock.today()
    for code, (name, dept, cell, lon, lat) in ENTERPRISES.items():
        ids[code] = conn.execute(text(
            "INSERT INTO enterprises (credit_code, name, industry, dept_code, unit_id, geom, risk_level) "
            "SELECT :c, :n, '建筑施工', :d, id, ST_SetSRID(ST_MakePoint(:x, :y), 4326), 'red' FROM units "
            "WHERE code = :u RETURNING id"), {"c": code, "n": name, "d": dept, "u": cell, "x": lon, "y": lat}).scalar()
    for code, ent, cell in (("DPT-H-ZJ1", ZJ1, "41100200100101"), ("DPT-H-YJ1", YJ1, "41100200100101"),
                            ("DPT-H-NONE", None, "41100200100101")):
        ids[code] = conn.execute(text(
            "INSERT INTO hazards (code, title, level, status, found_at, deadline, enterprise_id, unit_id, channel, "
            "geom) "
            "SELECT :c, '部门测试隐患 ' || :c, 'major', 'rectifying', :f, :d, "
            "(SELECT id FROM enterprises WHERE credit_code = :e), u.id, 'inspection', "
            "ST_SetSRID(ST_MakePoint(113.8105, 34.0205), 4326) FROM units u WHERE u.code = :u RETURNING id"),
            {"c": code, "e": ent, "u": cell, "f": today - timedelta(days=20), "d": today - timedelta(days=2)}).scalar()
    for code, ent in (("DPT-X-ZJ1", ZJ1), ("DPT-X-YJ1", YJ1)):
        conn.execute(text(
            "INSERT INTO inspections (code, inspected_at, enterprise_id, unit_id, kind, result, note) "
            "SELECT :c, :d, e.id, e.unit_id, 'routine', 'ordered_rectify', '部门测试检查' FROM enterprises e "
            "WHERE e.credit_code = :e"), {"c": code, "e": ent, "d": today - timedelta(days=3)})
    for code, ent in (("DPT-A-ZJ1", ZJ1), ("DPT-A-YJ1", YJ1)):
        conn.execute(text(
            "INSERT INTO accidents (code, title, occurred_on, enterprise_id, unit_id, deaths, grade, geom) "
            "SELECT :c, '部门测试事故 ' || :c, :d, e.id, e.unit_id, 1, 'general', e.geom FROM enterprises e "
            "WHERE e.credit_code = :e"), {"c": code, "e": ent, "d": today - timedelta(days=4)})
    return ids


# --- the catalogue (pure) --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("written", "code"), [
    ("许昌市应急管理局", "yingji"), ("魏都区住建局", "zhujian"), ("许昌市住房和城乡建设局", "zhujian"),
    ("禹州市交通运输局", "jiaotong"), ("市场监管局", "shichang"), ("许昌市消防救援支队", "xiaofang"),
    ("建安区安监局", "yingji"), ("长葛市教体局", "jiaoyu"), ("许昌市城市管理局", "chengguan"),
    ("ｚｈｕｊｉａｎ", "zhujian"), ("某某办公室", None), ("", None), (None, None),
])
def test_free_text_names_a_department(written: str | None, code: str | None) -> None:
    assert DepartmentCatalogue().match(written) == code


def test_an_unnamed_text_falls_back_to_the_industry() -> None:
    catalogue = DepartmentCatalogue()
    assert catalogue.assign("某某办公室", "建筑施工") == ("zhujian", False)
    assert catalogue.assign(None, "民用爆炸物品") == ("gongxin", False)
    assert catalogue.assign("", "餐饮") == ("yingji", False)  # no department lists it: 应急 (综合监管)
    assert catalogue.assign("许昌市商务局", "建筑施工") == ("shangwu", True)  # the text wins over the industry


def test_the_catalogue_as_text_and_its_errors() -> None:
    catalogue = departments_from_text("rfang | 人民防空办公室 | 有限空间 | 人防办\nzhujian | 住建局 | 建筑施工 | 建委")
    assert catalogue.get("rfang") is not None and catalogue.match("许昌市人防办") == "rfang"
    assert catalogue.label("zhujian") == "住建局" and catalogue.match("建委") == "zhujian"
    assert len(catalogue.departments) == len(DEFAULT_DEPARTMENTS) + 1
    assert departments_from_text(departments_text(catalogue)) == catalogue
    assert departments_from_config(catalogue.config()) == catalogue
    for bad, message in (("Bad | 名称", "部门代码“Bad”无效"), ("xx | 新部门 | 餐饮", "行业不在行业目录中：餐饮"),
                         ("xx | 新部门 | | 住建局", "同时是部门"), ("onlycode", "第 1 行")):
        with pytest.raises(CatalogueError, match=message):
            departments_from_text(bad)


def test_the_scope_value_carries_the_department() -> None:
    assert ZJ == "411000.@zhujian" and ZJ.path == CITY and ZJ.department == "zhujian"
    assert ZJ != CITY and Scope(CITY) == CITY and Scope.of(str(ZJ)) == ZJ
    assert scope_params(ZJ) == {"scope": CITY, "scope_dept": "zhujian"}
    assert scope_params(CITY) == {"scope": CITY, "scope_dept": None}
    assert pickle.loads(pickle.dumps(ZJ)).department == "zhujian"
    assert narrow(ZJ, "411000.411002.") == ZJ_WEIDU
    with pytest.raises(ScopeError):
        narrow(ZJ_WEIDU, "411000.411003.")
    for path, dept in ((CITY, "Zhu jian"), (CITY, "x' OR 1=1"), ("x.", "zhujian")):
        with pytest.raises(ScopeError):
            Scope(path, dept)


def test_a_raw_bind_of_a_department_scope_matches_no_path(conn: Connection, unit_tree: dict[str, str]) -> None:
    # A query that bound the scope's text instead of scope_params would read nothing: it fails closed.
    assert conn.execute(text("SELECT count(*) FROM units WHERE path LIKE :s || '%'"), {"s": ZJ}).scalar() == 0


# --- storage: each list, file and layer ----------------------------------------------------------------------

def _codes(rows: list[Any], key: str) -> set[str]:
    return {r[key] for r in rows if str(r[key] or "").startswith(("DPT-", "9141100000DPT"))}


def test_search_and_nearby(conn: Connection, data: dict[str, Any]) -> None:
    assert {h.credit_code for h in search_enterprises(conn, scope=ZJ, q="部门测试")} == {ZJ1, ZJ2}
    assert {h.credit_code for h in search_enterprises(conn, scope=ZJ_WEIDU, q="部门测试")} == {ZJ1}
    assert {h.credit_code for h in search_enterprises(conn, scope=CITY, q="部门测试")} == {ZJ1, ZJ2, YJ1}
    assert not search_enterprises(conn, scope=ZJ, q=YJ1)
    near = enterprises_around(conn, scope=ZJ, lat=34.0201, lon=113.8101, radius_m=500)
    assert _codes(near, "credit_code") == {ZJ1, ZJ2}  # not YJ1, beside them: another department's


def test_enterprise_file_of_another_department_is_absent(conn: Connection, data: dict[str, Any]) -> None:
    assert enterprise_file(conn, scope=YJ, credit_code=ZJ1) is None
    assert enterprise_file(conn, scope=ZJ_WEIDU, credit_code=ZJ2) is None  # the department, but outside the area
    found = enterprise_file(conn, scope=ZJ, credit_code=ZJ1)
    assert found is not None and [h["code"] for h in found["hazards"]] == ["DPT-H-ZJ1"]
    assert _codes(found["nearby"], "credit_code") == {ZJ2}


def test_hazard_ledger_view_locate_and_write_path(conn: Connection, data: dict[str, Any]) -> None:
    mine = LedgerFilters(text="部门测试")
    rows, _ = hazard_page(conn, scope=ZJ, filters=mine)
    assert _codes(rows, "code") == {"DPT-H-ZJ1"}
    assert _codes(hazard_export_rows(conn, scope=ZJ, filters=mine), "code") == {"DPT-H-ZJ1"}
    assert _codes(hazard_page(conn, scope=CITY, filters=mine)[0], "code") == {"DPT-H-ZJ1", "DPT-H-YJ1", "DPT-H-NONE"}
    assert hazard_location(conn, scope=ZJ, code="DPT-H-YJ1") is None
    assert hazard_view(conn, scope=ZJ, hazard_id=data["DPT-H-YJ1"]) is None
    assert hazard_view(conn, scope=ZJ, hazard_id=data["DPT-H-NONE"]) is None
    assert hazard_view(conn, scope=ZJ, hazard_id=data["DPT-H-ZJ1"]) is not None
    assert hazard_record(conn, scope=ZJ, hazard_id=data["DPT-H-YJ1"]) is None
    assert hazard_record(conn, scope=YJ, hazard_id=data["DPT-H-YJ1"]) is not None


def test_inspections_accidents_and_todo(conn: Connection, data: dict[str, Any]) -> None:
    mine = InspectionFilters(text="DPT-X")
    assert _codes(inspection_page(conn, scope=ZJ, filters=mine)[0], "code") == {"DPT-X-ZJ1"}
    assert _codes(inspection_export_rows(conn, scope=ZJ, filters=mine), "code") == {"DPT-X-ZJ1"}
    assert inspection_target(conn, scope=ZJ, code="DPT-X-YJ1") is None
    today = clock.today()
    got = accidents_in_scope(conn, scope=ZJ, start=today - timedelta(days=30), end=today + timedelta(days=1))
    assert {a.code for a in got if a.code.startswith("DPT-")} == {"DPT-A-ZJ1"}
    assert accident_kpis(conn, scope=ZJ_WEIDU, today=today).accidents <= accident_kpis(conn, scope=CITY,
                                                                                     today=today).accidents
    ask = TodoAsk(scope=ZJ, username="dpt-nobody", watch=True, public_queue=True, as_of=today)
    assert _codes(todo_items(conn, ask), "code") == {"DPT-H-ZJ1"}


def test_map_points_and_ogc(conn: Connection, data: dict[str, Any]) -> None:
    ents = raw_points(conn, scope=ZJ, kind="enterprises", bbox=BOX, limit=1000)
    assert {p["id"] for p in ents} & {data[c] for c in ENTERPRISES} == {data[ZJ1], data[ZJ2]}
    hz = raw_points(conn, scope=ZJ, kind="hazards", bbox=BOX, limit=1000)
    mine = {data[c] for c in ("DPT-H-ZJ1", "DPT-H-YJ1", "DPT-H-NONE")}
    assert {p["id"] for p in hz} & mine == {data["DPT-H-ZJ1"]}
    # no unit_stats roll-ups (they count every department): aggregated points come from the rows
    assert unit_rollup_points(conn, scope=ZJ, kind="hazards", bbox=BBox(100, 20, 130, 50), level=2) == []
    body = json.loads(points_geojson(conn, scope=ZJ, kind="hazards", bbox=BOX, zoom=16, limit=1000))
    assert {f["properties"]["id"] for f in body["features"]} & mine == {data["DPT-H-ZJ1"]}
    open_list = open_hazards(conn, scope=ZJ, code="411000")
    assert open_list is not None and {h["code"] for h in open_list["items"]} & {"DPT-H-YJ1", "DPT-H-NONE"} == set()
    collection = point_collection("hazards", "隐患", POINT_SOURCES["hazards"], class_labels={"major": "重大"})
    _, _, features, _ = items(conn, scope=ZJ, collection=collection, query=ItemsQuery(limit=1000, boxes=(
        (BOX.west, BOX.south, BOX.east, BOX.north),)))
    assert {f["id"] for f in json.loads(features)} & mine == {data["DPT-H-ZJ1"]}
    assert item(conn, scope=ZJ, collection=collection, feature_id=data["DPT-H-YJ1"]) is None
    assert item(conn, scope=CITY, collection=collection, feature_id=data["DPT-H-YJ1"]) is not None


def test_area_aggregates_for_a_department(conn: Connection, data: dict[str, Any]) -> None:
    # The four-colour units are recomputed over the department's enterprises (every industry), not unit_stats.
    units = json.loads(risk_units_geojson(conn, scope=ZJ, level=2))
    same = json.loads(industry_units_geojson(conn, scope=ZJ, level=2, industries=None,
                                             rule=rule_settings_rule(conn), as_of=clock.today()))
    assert units == same
    kpis_zj, kpis_all = screen_kpis(conn, scope=ZJ, as_of=clock.today()), screen_kpis(conn, scope=CITY,
                                                                                      as_of=clock.today())
    assert kpis_zj["enterprises"] < kpis_all["enterprises"]
    explain = unit_explain(conn, scope=ZJ, code="411002")
    assert explain is not None and not {"top_enterprises", "top_hazards"} & set(explain["risk_explain"] or {})
    kpis = unit_kpis(conn, scope=ZJ, code="411002")
    assert kpis is not None and kpis["path"] == ZJ_WEIDU  # a path to narrow with keeps the department
    assert coverage_unit(conn, scope=ZJ, code=None) is None  # the grid's data quality is not a department's view
    assert coverage_unit(conn, scope=CITY, code=None) is not None


def rule_settings_rule(conn: Connection) -> Any:
    """The four-colour rule in force."""
    from geo.risk_queries import current_rule

    return current_rule(conn)


# --- accounts and the enterprises' department ---------------------------------------------------------------

def test_an_account_takes_a_catalogue_department(conn: Connection, unit_tree: dict[str, str]) -> None:
    catalogue = DepartmentCatalogue()
    create_user(conn, username="dpt_user", password_hash=hash_password("Aa-123456789"), role="inspector",
                scope_code="411000", dept_code="zhujian")
    user = get_user_by_name(conn, username="dpt_user")
    assert user is not None and user.dept_code == "zhujian"
    set_department(conn, username="dpt_user", dept_code=None, catalogue=catalogue)
    user2 = get_user_by_name(conn, username="dpt_user")
    assert user2 is not None and user2.dept_code is None and user2.session_version == user.session_version + 1
    with pytest.raises(UserError, match="不在部门目录中"):
        set_department(conn, username="dpt_user", dept_code="nosuch", catalogue=catalogue)


def test_departments_are_assigned_from_the_text_and_the_catalogue_is_versioned(
        conn: Connection, data: dict[str, Any]) -> None:
    conn.execute(text("UPDATE enterprises SET supervising_dept = '魏都区交通局', dept_code = NULL "
                      "WHERE credit_code = :c"), {"c": YJ1})
    conn.execute(text("UPDATE enterprises SET supervising_dept = '部门测试某某中心' WHERE credit_code = :c"),
                 {"c": ZJ2})
    catalogue, version = rule_settings.department_state(conn)
    _, unnamed = assign_departments(conn, catalogue, loaded=False)
    sql = "SELECT credit_code, dept_code FROM enterprises WHERE credit_code = ANY(:c)"
    got: dict[str, str | None] = dict(conn.execute(text(sql), {"c": list(ENTERPRISES)}).all())
    assert got == {ZJ1: "zhujian", ZJ2: "zhujian", YJ1: "jiaotong"}  # ZJ2: 建筑施工's default
    assert any(u.text == "部门测试某某中心" for u in unnamed)
    extended = departments_from_text("zhongxin | 部门测试中心 | | 部门测试某某中心")
    new_version, changed = rule_settings.save_departments(conn, extended, username="dpt-test", version=version)
    assert changed and new_version != version
    assert rule_settings.save_departments(conn, extended, username="dpt-test", version=version) == (new_version, False)
    with pytest.raises(CatalogueError, match="已被他人修改"):
        rule_settings.save_departments(conn, DepartmentCatalogue(), username="dpt-test", version=version)
    with pytest.raises(CatalogueError, match="不能删除"):
        rule_settings.save_departments(conn, DepartmentCatalogue(), username="dpt-test", version=new_version)
    assign_departments(conn, rule_settings.department_catalogue(conn), loaded=False)
    assert conn.execute(text("SELECT dept_code FROM enterprises WHERE credit_code = :c"), {"c": ZJ2}).scalar() \
        == "zhongxin"
