"""The accident register (issue 18 part 1): the grade rule, storage in scope, the ledger, the form forged per role."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Connection, Engine, text

from domain import clock
from domain.accidents import grade_conflict, grade_of, parse_grade
from domain.crs import BBox
from domain.labels import ACCIDENT_TYPE
from etl.load import load_file
from geo.accidents import (
    AccidentInputError,
    AccidentNotFoundError,
    NewAccident,
    accident_kpis,
    accidents_of_enterprise,
    record_accident,
)
from geo.enterprise_file import enterprise_file
from geo.map_queries import raw_points
from geo.users import create_user, hash_password
from layers.registry import point_layers
from tests.browser import http_login, make_user
from tests.etl_support import cell_points, credit, enterprise_rows, query, write_csv
from tests.etl_support import etl_url_fixture as etl_url_fixture

WEIDU = "411000.411002."
JIANAN = "411000.411003."
CELL = "41100200100101"
CREDIT = "91411002AC0000001X"

# --- the grade rule (《生产安全事故报告和调查处理条例》第三条: 以上 includes the number, 以下 excludes it) ---------


@pytest.mark.parametrize(("deaths", "injuries", "loss", "grade"), [
    (0, 0, None, "general"), (2, 9, Decimal("999.99"), "general"),
    (3, 0, None, "larger"), (0, 10, None, "larger"), (0, 0, Decimal(1000), "larger"),
    (9, 49, Decimal("4999.99"), "larger"),
    (10, 0, None, "major"), (0, 50, None, "major"), (0, 0, Decimal(5000), "major"),
    (29, 99, Decimal("9999.99"), "major"),
    (30, 0, None, "extra_major"), (0, 100, None, "extra_major"), (0, 0, Decimal(10000), "extra_major"),
    (1, 0, Decimal(6000), "major"),  # the highest grade any of the three reaches
    (None, None, None, "general"),
])
def test_grade_from_the_toll(deaths: int | None, injuries: int | None, loss: Decimal | None, grade: str) -> None:
    assert grade_of(deaths, injuries, loss) == grade


def test_stated_grades_are_parsed_and_checked() -> None:
    assert [parse_grade(g) for g in ("一般", "较大事故", "major", " 特别重大 ", "", None)] == [
        "general", "larger", "major", "extra_major", None, None]
    with pytest.raises(ValueError, match="不是有效的事故等级"):
        parse_grade("严重")
    assert grade_conflict("larger", 3, 0, None) is None and grade_conflict(None, 30, 0, None) is None
    reason = grade_conflict("general", 3, 0, None)
    assert reason is not None and "较大事故" in reason and "第三条" in reason


def test_gb6441_has_its_twenty_classes() -> None:
    assert len(ACCIDENT_TYPE) == 20
    assert list(ACCIDENT_TYPE.values())[:3] == ["物体打击", "车辆伤害", "机械伤害"]
    assert list(ACCIDENT_TYPE.values())[-2:] == ["中毒和窒息", "其他伤害"]


# --- storage (rolled back) ---------------------------------------------------------------------------------------


@pytest.fixture
def ent(conn: Connection, unit_tree: dict[str, str]) -> Connection:
    """An enterprise with a point in 金地社区第1网格 (given a square boundary here) and two accounts (rolled back)."""
    conn.execute(text("UPDATE units SET geom = ST_Multi(ST_MakeEnvelope(113.80, 34.00, 113.82, 34.02, 4326)) "
                      "WHERE code = :cell"), {"cell": CELL})
    conn.execute(text(
        "INSERT INTO enterprises (credit_code, name, industry, risk_level, unit_id, geom) "
        "SELECT :cc, '事故测试机械厂', '机械', 'yellow', id, ST_SetSRID(ST_MakePoint(113.81, 34.01), 4326) "
        "FROM units WHERE code = :cell"),
        {"cc": CREDIT, "cell": CELL})
    pw = hash_password("Test-pass-2026")
    create_user(conn, username="acc_insp", password_hash=pw, role="inspector", scope_code="411002")
    create_user(conn, username="acc_far", password_hash=pw, role="inspector", scope_code="411003")
    return conn


def new(**kw: Any) -> NewAccident:
    values: dict[str, Any] = {"title": "测试机械伤害事故", "occurred_on": clock.today(),
                              "request_key": uuid.uuid4().hex, "credit_code": CREDIT, "accident_type": "machinery",
                              "deaths": "1"} | kw
    return NewAccident(**values)


def test_record_by_enterprise_idempotent_audited_and_in_the_file(ent: Connection) -> None:
    k = uuid.uuid4().hex
    stored, created = record_accident(ent, scope=WEIDU, username="acc_insp", today=clock.today(),
                                      new=new(request_key=k, injuries="10", direct_loss_wan="12.5", report="经过"))
    assert created and (stored.grade, stored.deaths, stored.injuries) == ("larger", 1, 10)
    again, created_again = record_accident(ent, scope=WEIDU, username="acc_insp", today=clock.today(),
                                           new=new(request_key=k))
    assert not created_again and again.id == stored.id
    row = ent.execute(text("SELECT a.industry, u.code AS cell, ST_X(a.geom) AS lon, a.created_by, a.direct_loss_wan "
                           "FROM accidents a JOIN units u ON u.id = a.unit_id WHERE a.id = :i"), {"i": stored.id}).one()
    assert (row.industry, row.cell, round(row.lon, 3), row.created_by) == ("机械", CELL, 113.81, "acc_insp")
    assert row.direct_loss_wan == Decimal("12.50")
    detail = ent.execute(text("SELECT detail FROM audit_log WHERE action = 'accident_recorded' "
                              "AND username = 'acc_insp'")).scalar_one()
    assert detail["grade"] == "larger" and detail["enterprise"] == CREDIT
    f = enterprise_file(ent, scope=WEIDU, credit_code=CREDIT)
    assert f is not None and [a["code"] for a in f.get("accidents", [])] == [stored.code]
    eid = ent.execute(text("SELECT id FROM enterprises WHERE credit_code = :c"), {"c": CREDIT}).scalar_one()
    assert [a.code for a in accidents_of_enterprise(ent, enterprise_id=eid)] == [stored.code]


def test_record_by_point_takes_the_cell_of_the_scope(ent: Connection) -> None:
    stored, _ = record_accident(ent, scope=WEIDU, username="acc_insp", today=clock.today(),
                                new=new(credit_code="", lon=113.805, lat=34.005, road_traffic=True))
    cell = ent.execute(text("SELECT u.code FROM accidents a JOIN units u ON u.id = a.unit_id WHERE a.id = :i"),
                       {"i": stored.id}).scalar_one()
    assert cell == CELL and stored.enterprise_name is None
    with pytest.raises(AccidentNotFoundError):  # the same point is not 建安区's
        record_accident(ent, scope=JIANAN, username="acc_far", today=clock.today(),
                        new=new(credit_code="", lon=113.805, lat=34.005))
    with pytest.raises(AccidentNotFoundError):  # nor the enterprise
        record_accident(ent, scope=JIANAN, username="acc_far", today=clock.today(), new=new())
    assert ent.execute(text("SELECT count(*) FROM accidents WHERE created_by = 'acc_far'")).scalar_one() == 0


@pytest.mark.parametrize(("bad", "message"), [
    ({"grade": "一般"}, "对应“较大事故”"),  # 3 deaths make it 较大
    ({"grade": "严重"}, "不是有效的事故等级"),
    ({"deaths": "-1"}, "死亡人数"), ({"deaths": "两"}, "死亡人数"), ({"direct_loss_wan": "abc"}, "直接经济损失"),
    ({"title": " "}, "事故名称"), ({"occurred_on": clock.today() + timedelta(days=2)}, "发生日期"),
    ({"accident_type": "meteor"}, "事故类型"), ({"investigation": "done"}, "调查处理状态"),
    ({"request_key": "short"}, "页面已过期"), ({"credit_code": ""}, "经纬度"), ({"lon": 500.0, "lat": 1.0}, "经纬度"),
])
def test_bad_input_refused_in_chinese(ent: Connection, bad: dict[str, Any], message: str) -> None:
    base = {"deaths": "3"} if "grade" in bad else {}
    with pytest.raises(AccidentInputError, match=message):
        record_accident(ent, scope=WEIDU, username="acc_insp", today=clock.today(), new=new(**(base | bad)))


def test_kpis_and_the_map_layer_in_scope(ent: Connection) -> None:
    today = clock.today()
    try:
        last_year = today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        last_year = today.replace(year=today.year - 1, day=28)
    days = ((today, 2), (today.replace(day=1), 1), (last_year, 1), (last_year + timedelta(days=1), 4))
    for day, deaths in days:
        record_accident(ent, scope=WEIDU, username="acc_insp", today=today,
                        new=new(occurred_on=day, deaths=str(deaths)))
    k = accident_kpis(ent, scope=WEIDU, today=today)
    assert (k.accidents, k.deaths) == (2, 3)
    assert (k.last_accidents, k.last_deaths) == (1, 1)  # the day after last year's today is not counted
    assert accident_kpis(ent, scope=JIANAN, today=today).accidents == 0
    layer = point_layers()["accidents"]
    assert layer.points is not None and layer.points.classes == ("extra_major", "major", "larger", "general")
    box = BBox(113.0, 33.0, 115.0, 35.0)
    rows = raw_points(ent, scope=WEIDU, kind=layer.points, bbox=box, limit=100)
    assert len(rows) >= 4 and {r["cls"] for r in rows} == {"general", "larger"}
    assert not raw_points(ent, scope=JIANAN, kind=layer.points, bbox=box, limit=100)


# --- the ledgers (a database of their own) ----------------------------------------------------------------------

HEADER = ["事故编号", "事故名称", "发生日期", "统一社会信用代码", "所在单位代码", "事故类型", "道路交通事故",
          "死亡人数", "重伤人数", "直接经济损失(万元)", "事故等级", "调查处理状态", "经度", "纬度"]


def test_accident_and_denominator_ledgers_load_with_rejects(etl_url: str, tmp_path: Path) -> None:
    ents = load_file("enterprises", write_csv(tmp_path / "e.csv", ["统一社会信用代码", "企业名称", "行业", "风险等级",
                                                                    "评估日期", "标准化等级", "重点监管危险化学品",
                                                                    "经度", "纬度"], enterprise_rows(2)), url=etl_url)
    assert ents.status == "ok", ents.message
    (cell, lon, lat) = cell_points()[3]
    rows = [
        ["SG1", "甲厂机械伤害", "2024-05-01", credit(0), "", "机械伤害", "否", "1", "", "30", "一般", "已结案", "", ""],
        ["SG2", "路口车辆伤害", "2025-03-02", "", "", "车辆伤害", "是", "2", "0", "", "", "调查中",
         round(lon, 6), round(lat, 6)],
        ["SG3", "较大事故填成一般", "2025-03-03", credit(1), "", "坍塌", "否", "3", "", "", "一般", "", "", ""],
        ["SG4", "无处可放", "2025-03-04", "", "", "火灾", "", "", "", "", "", "", "", ""],
        ["SG5", "负数", "2025-03-05", credit(1), "", "火灾", "", "-1", "", "", "", "", "", ""],
        ["SG6", "未来", "2999-01-01", credit(1), "", "", "", "", "", "", "", "", "", ""],
        ["SG7", "未知类型", "2025-03-07", credit(1), "", "陨石", "", "", "", "", "", "", "", ""],
        ["SG1", "重复", "2024-05-01", credit(0), "", "", "", "", "", "", "", "", "", ""],
        ["SG8", "按单位", "2023-01-01", "", "411002001", "淹溺", "", "", "", "2000", "", "", "", ""],
    ]
    result = load_file("accidents", write_csv(tmp_path / "accidents.csv", HEADER, rows), url=etl_url)
    assert result.status == "partial", result.message
    assert (result.rows_in, result.rows_loaded, result.rows_rejected) == (9, 3, 6)
    reasons = {n: " ".join(r) for n, r in result.rejects}
    assert "对应“较大事故”" in reasons[4] and "至少填写一项" in reasons[5] and "不能为负数" in reasons[6]
    assert "在未来" in reasons[7] and "陨石" in reasons[8] and "重复" in reasons[9]
    stored = {r.code: r for r in query(etl_url, "SELECT a.code, a.grade, a.deaths, a.injuries, a.road_traffic, "
                                                "u.code AS unit, e.credit_code FROM accidents a "
                                                "LEFT JOIN units u ON u.id = a.unit_id "
                                                "LEFT JOIN enterprises e ON e.id = a.enterprise_id")}
    assert set(stored) == {"SG1", "SG2", "SG8"}
    assert (stored["SG1"].grade, stored["SG1"].injuries, stored["SG1"].credit_code) == ("general", 0, credit(0))
    assert (stored["SG2"].unit, stored["SG2"].road_traffic, stored["SG2"].credit_code) == (cell, True, None)
    assert (stored["SG8"].unit, stored["SG8"].grade) == ("411002001", "larger")  # 2000 万元 → 较大
    again = load_file("accidents", tmp_path / "accidents.csv", url=etl_url)
    assert (again.counts["inserted"], again.counts["updated"]) == (0, 0)

    header = ["单位代码", "单位名称", "年份", "地区生产总值(亿元)", "工矿商贸就业人员(人)", "机动车保有量(辆)"]
    den = [
        ["411002", "魏都区", "2020", "480.5", "150000", "210000"],
        ["411002", "魏都区", "2025", "560", "", "260000"],  # no employees: 缺少分母 later
        ["411002", "魏都区", "2025", "570", "1", "1"],  # the key again
        ["411099", "不存在", "2025", "1", "1", "1"],
        ["411003", "建安区", "1990", "1", "1", "1"],
        ["411003", "建安区", "2024", "-3", "1", "1"],
    ]
    d = load_file("denominators", write_csv(tmp_path / "denominators.csv", header, den), url=etl_url)
    assert (d.rows_loaded, d.rows_rejected) == (2, 4), d.message
    dr = {n: " ".join(r) for n, r in d.rejects}
    assert "重复" in dr[4] and "不存在" in dr[5] and "2000-2100" in dr[6] and "应大于 0" in dr[7]
    got = query(etl_url, "SELECT d.code, u.code AS unit, d.year, d.gdp_yi, d.industrial_employees "
                         "FROM area_denominators d JOIN units u ON u.id = d.unit_id ORDER BY d.year")
    assert [(r.code, r.unit, r.year, r.industrial_employees) for r in got] == [
        ("411002-2020", "411002", 2020, 150000), ("411002-2025", "411002", 2025, None)]


# --- the form's write callback, forged per role --------------------------------------------------------------------


@pytest.fixture(scope="module")
def committed(engine: Engine, unit_tree: dict[str, str]) -> str:
    """A committed enterprise in 金地社区第1网格 for the live server (credit code)."""
    cc = "91411002AC0000009X"
    with engine.begin() as c:
        c.execute(text("INSERT INTO enterprises (credit_code, name, industry, risk_level, unit_id) SELECT :cc, "
                       "'事故表单测试厂', '机械', 'orange', id FROM units WHERE code = :cell "
                       "ON CONFLICT (credit_code) DO NOTHING"), {"cc": cc, "cell": CELL})
    return cc


def submit_request(session: requests.Session, base: str, *, credit_code: str, key: str, deaths: str = "1",
                   grade: str = "") -> requests.Response:
    """POST the /accident/new submit callback as the renderer does."""
    values = [("acc-title", "value", "伪造请求事故"), ("acc-date", "date", clock.today().isoformat()),
              ("acc-credit", "value", credit_code), ("acc-lon", "value", None), ("acc-lat", "value", None),
              ("acc-industry", "value", None), ("acc-type", "value", "fall"), ("acc-road", "value", []),
              ("acc-deaths", "value", deaths), ("acc-injuries", "value", "0"), ("acc-loss", "value", ""),
              ("acc-grade", "value", grade), ("acc-investigation", "value", "reported"),
              ("acc-report", "value", "forged"), ("acc-key", "data", key)]
    payload = {"output": "..acc-message.children...acc-key.data..",
               "outputs": [{"id": "acc-message", "property": "children"}, {"id": "acc-key", "property": "data"}],
               "inputs": [{"id": "acc-submit", "property": "n_clicks", "value": 1}],
               "state": [{"id": i, "property": p, "value": v} for i, p, v in values],
               "changedPropIds": ["acc-submit.n_clicks"], "parsedChangedPropsIds": ["acc-submit.n_clicks"]}
    return session.post(f"{base}/_dash-update-component", json=payload, timeout=30)


def stored_count(engine: Engine, key: str) -> int:
    with engine.connect() as c:
        return int(c.execute(text("SELECT count(*) FROM accidents WHERE request_key = :k"), {"k": key}).scalar_one())


def test_forged_accidents_per_role(live_server: str, engine: Engine, committed: str) -> None:
    for role, scope in (("planner", "411000"), ("grid_manager", "411002001"),
                        ("inspector", "411003")):  # the last: an inspector of 建安区
        session = http_login(live_server, *make_user(engine, role=role, scope=scope))
        k = uuid.uuid4().hex
        r = submit_request(session, live_server, credit_code=committed, key=k)
        body = json.dumps(r.json(), ensure_ascii=False) if r.status_code == 200 else r.text
        assert r.status_code == 403 or any(m in body for m in ("无权使用此功能", "不在您的负责范围内")), (role, body)
        assert stored_count(engine, k) == 0, role
    for role, scope in (("leader", "411000"), ("admin", "411002"), ("inspector", "411002")):
        session = http_login(live_server, *make_user(engine, role=role, scope=scope))
        forged = requests.Session()
        forged.cookies.update(session.cookies)
        k = uuid.uuid4().hex
        assert submit_request(forged, live_server, credit_code=committed, key=k).status_code == 403  # no CSRF token
        bad = submit_request(session, live_server, credit_code=committed, key=k, deaths="3", grade="general")
        assert "对应“较大事故”" in json.dumps(bad.json(), ensure_ascii=False), role
        assert stored_count(engine, k) == 0
        ok = submit_request(session, live_server, credit_code=committed, key=k)
        assert ok.status_code == 200 and "已登记事故" in json.dumps(ok.json(), ensure_ascii=False), role
        assert submit_request(session, live_server, credit_code=committed, key=k).status_code == 200  # double click
        assert stored_count(engine, k) == 1, role
        with engine.begin() as c:
            c.execute(text("DELETE FROM accidents WHERE request_key = :k"), {"k": k})


def test_the_scheduler_knows_the_new_kinds() -> None:
    from etl.schedule import classify

    found = [classify(Path(n)) for n in ("accidents_2025.xlsx", "denominators.csv", "inspections.csv")]
    assert [(f.kind, f.order[0]) for f in found if f] == [("accidents", 6), ("denominators", 7), ("inspections", 5)]
