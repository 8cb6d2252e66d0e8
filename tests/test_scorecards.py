"""季度考核 (issue 18 part 3): the scoring as a table of cases, each KPI against hand counts on the refresh test's
hand-built world (own database), the xlsx export with its audit, and forged requests per role."""

from __future__ import annotations

import io
import json
import os
import uuid
from collections.abc import Iterator
from datetime import date

import pytest
import requests
from openpyxl import load_workbook
from sqlalchemy import Connection, Engine, create_engine, text

from domain.cadence import Cadence
from domain.scorecards import (
    DEFAULT_WEIGHTS,
    TABLE_HEADER,
    Quarter,
    Ranked,
    RowKpis,
    ScorecardSettingsError,
    cadence_periods,
    goodness,
    last_complete_quarter,
    parse_quarter,
    rank_rows,
    ranks,
    score,
    table_header,
    table_row,
    weights_from_config,
)
from etl.refresh import refresh_all
from geo.scorecards import department_kpis, load_scorecard, quarter_kpis, scorecard_weights
from geo.targets import area_in_scope
from geo.users import create_user, hash_password
from tests.browser import http_login, make_user, route_payload
from tests.demo_fixture import fresh_database
from tests.test_refresh import AS_OF, _seed

pytestmark = pytest.mark.db

Q4 = Quarter(2026, 4)

# ---- pure rules -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("today", "expected"), [
    (date(2026, 12, 2), Quarter(2026, 3)), (date(2026, 10, 1), Quarter(2026, 3)),
    (date(2026, 9, 30), Quarter(2026, 2)), (date(2026, 1, 1), Quarter(2025, 4)), (date(2026, 3, 31), Quarter(2025, 4)),
])
def test_the_last_complete_quarter(today: date, expected: Quarter) -> None:
    assert last_complete_quarter(today) == expected


def test_quarters_parse_and_bound() -> None:
    assert parse_quarter("2026q3") == Quarter(2026, 3) and parse_quarter(" 2025Q4 ") == Quarter(2025, 4)
    for bad in ("2026Q5", "2026-3", "26Q1", "", None, "1999Q1", "2026Q0"):
        assert parse_quarter(bad) is None, bad
    assert (Q4.start, Q4.end, Q4.previous(), Q4.next(), Q4.key, Q4.label) == (
        date(2026, 10, 1), date(2026, 12, 31), Quarter(2026, 3), Quarter(2027, 1), "2026Q4", "2026年第4季度")
    assert Quarter(2027, 1).previous() == Q4


@pytest.mark.parametrize(("cadence", "n", "first", "last"), [
    (Cadence.QUARTER, 1, date(2026, 10, 1), date(2026, 10, 1)),
    (Cadence.MONTH, 3, date(2026, 10, 1), date(2026, 12, 1)),
    (Cadence.WEEK, 13, date(2026, 10, 5), date(2026, 12, 28)),  # 1 Oct 2026 is a Thursday: its week is Q3's
    (Cadence.DAY, 92, date(2026, 10, 1), date(2026, 12, 31)),
])
def test_cadence_periods_of_a_quarter(cadence: Cadence, n: int, first: date, last: date) -> None:
    periods = cadence_periods(Q4, cadence)
    assert (len(periods), periods[0], periods[-1]) == (n, first, last)


PERFECT = RowKpis("1", "a", found=4, closed_of_found=4, closed=5, closed_on_time=5, supervised_due=1,
                  supervised_on_time=1, cadence_periods=13, cadence_done=13)


@pytest.mark.parametrize(("kpis", "expected"), [
    (PERFECT, 100.0),
    (RowKpis("1", "a"), 100.0),  # nothing to score but the counts, all 0
    # closure 1/2 → 0.5 × 20; everything else perfect: (100 − 10) = 90
    (RowKpis("1", "a", found=2, closed_of_found=1, closed=1, closed_on_time=1, supervised_due=1, supervised_on_time=1,
             cadence_periods=1, cadence_done=1), 90.0),
    # one overdue (½ × 15) and three deaths (¼ × 10): 100 − 7.5 − 7.5 = 85
    (RowKpis("1", "a", found=1, closed_of_found=1, closed=1, closed_on_time=1, supervised_due=1, supervised_on_time=1,
             cadence_periods=1, cadence_done=1, overdue_end=1, deaths=3), 85.0),
    # no rates at all (the counts' weights, 40 of 100, carry it): 1 accident (½ × 10) → (40 − 5) / 40
    (RowKpis("1", "a", accidents=1), 87.5),
    # everything wrong: rates 0, counts large
    (RowKpis("1", "a", found=3, closed=2, supervised_due=1, cadence_periods=13, overdue_end=999, vacancies=999,
             accidents=999, deaths=999), 0.0),
])
def test_score_cases(kpis: RowKpis, expected: float) -> None:
    assert score(kpis, DEFAULT_WEIGHTS) == expected


def test_goodness_of_rates_and_counts() -> None:
    g = goodness(RowKpis("1", "a", found=4, closed_of_found=3, overdue_end=3, cadence_periods=0))
    assert (g["closure"], g["timeliness"], g["cadence"], g["overdue"], g["deaths"]) == (0.75, None, None, 0.25, 1.0)


def test_weights_from_config() -> None:
    assert weights_from_config(None) == DEFAULT_WEIGHTS and sum(DEFAULT_WEIGHTS.values()) == 100
    w = weights_from_config({"accidents": 30, "vacancies": 0})
    assert (w["accidents"], w["vacancies"], w["closure"]) == (30.0, 0.0, 20.0)
    for bad, message in (({"speed": 1}, "未知指标"), ({"deaths": -1}, "0-1000"), ({"deaths": "5"}, "0-1000"),
                         ({"deaths": True}, "0-1000"), ({k: 0 for k in DEFAULT_WEIGHTS}, "之和")):
        with pytest.raises(ScorecardSettingsError, match=message):
            weights_from_config(bad)
    only_deaths = {k: 0 for k in DEFAULT_WEIGHTS} | {"deaths": 1}
    assert score(RowKpis("1", "a", deaths=1), weights_from_config(only_deaths)) == 50.0


def test_ranks_share_ties_and_changes_are_signed() -> None:
    assert ranks({"a": 90, "b": 95, "c": 90, "d": 10}) == {"b": 1, "a": 2, "c": 2, "d": 4}
    good, bad = RowKpis("A", "甲"), RowKpis("B", "乙", deaths=1)
    rows = rank_rows([good, bad, RowKpis("C", "丙", deaths=3)], [bad, RowKpis("A", "甲", deaths=9)], DEFAULT_WEIGHTS)
    assert [(r.kpis.code, r.rank, r.previous_rank, r.change_label) for r in rows] == [
        ("A", 1, 2, "↑1"), ("B", 2, 1, "↓1"), ("C", 3, None, "新")]
    assert Ranked(good, 100.0, 2, 2).change_label == "—"
    cells = table_row(rows[0])
    assert len(cells) == len(TABLE_HEADER) and cells[:5] == [1, "↑1", "甲", "A", 100.0]
    assert cells[5] == "—" and cells[TABLE_HEADER.index("死亡人数")] == 0


# ---- storage: the refresh test's world plus the quarter's own rows ---------------------------------------------

# code, enterprise, unit, level, status, found, deadline, closed_at, supervision level, 督办期限
EXTRA_HAZARDS = [
    ("x1", "e6", None, "general", "closed", "2026-10-05", "2026-10-20", "2026-10-15", None, None),  # on time
    ("x2", "e7", None, "general", "closed", "2026-09-01", "2026-09-30", "2026-10-10", None, None),  # late, found Q3
    ("x3", "e6", None, "major", "closed", "2026-08-01", "2026-12-01", "2026-10-30", 2, "2026-10-31"),  # 督办 on time
    ("x4", "e7", None, "general", "closed", "2026-12-20", "2026-12-25", "2027-01-05", None, None),  # open at Q4's end
    ("x5", "e6", None, "general", "closed", "2026-07-01", "2026-07-10", "2026-07-05", None, None),  # Q3 only
    ("x6", None, "411003", "general", "reported", "2026-11-01", "2026-11-02", None, None, None),  # county: no row
    ("x7", "e1", None, "major", "rectifying", "2026-06-01", "2026-12-31", None, 3, "2026-12-15"),  # 督办 late
]
# unit, inspector level (None: any), date
EXTRA_INSPECTIONS = [
    ("41100310020001", None, "2026-10-05"), ("41100310020001", None, "2026-10-07"),  # one week (5 Oct)
    ("411003100", 3, "2026-12-31"),  # week of 28 Dec
    ("411003100", 3, "2026-10-01"),  # week of 28 Sep: Q3's
    ("411003100", 2, "2026-11-11"),  # a county's inspection: not the township's 四查
]
# grid, date, deaths
ACCIDENTS = [("41100200100101", "2026-11-05", 2), ("41100200100102", "2026-12-31", 0),
             ("41100200100101", "2026-09-30", 1), ("41100310020001", "2027-01-01", 4)]


@pytest.fixture(scope="module")
def world() -> Iterator[Engine]:
    """The refresh test's world (``_seed``) plus the rows above, refreshed as of its day; a vacancy in 将官池镇."""
    url = fresh_database(os.environ.get("SAFEGRID_TEST_DB", "safegrid_test") + "_cards")
    engine = create_engine(url)
    _seed(engine)
    with engine.begin() as c:
        for code, ent, unit, level, status, found, deadline, closed, sup, sup_deadline in EXTRA_HAZARDS:
            c.execute(text(
                "INSERT INTO hazards (code, enterprise_id, unit_id, title, level, status, found_at, deadline, "
                "closed_at, supervision_level, supervision_deadline) VALUES (:code, "
                "(SELECT id FROM enterprises WHERE name = :e), (SELECT id FROM units WHERE code = :u), :code, :level, "
                ":status, CAST(:found AS date), CAST(:deadline AS date), CAST(:closed AS date), :sup, "
                "CAST(:sd AS date))"), {"code": code, "e": ent, "u": unit, "level": level, "status": status,
                                        "found": found, "deadline": deadline, "closed": closed, "sup": sup,
                                        "sd": sup_deadline})
        for i, (unit, level, day) in enumerate(EXTRA_INSPECTIONS):
            c.execute(text("INSERT INTO inspections (code, unit_id, inspector_level, inspected_at) SELECT :code, id, "
                           ":level, CAST(:day AS date) FROM units WHERE code = :u"),
                      {"code": f"SC{i}", "u": unit, "level": level, "day": day})
        c.execute(text("INSERT INTO patrols (unit_id, patrol_date, result, created_by) SELECT id, DATE '2026-11-02', "
                       "'clear', 'sc' FROM units WHERE code = '41100310020001'"))
        for i, (grid, day, deaths) in enumerate(ACCIDENTS):
            c.execute(text("INSERT INTO accidents (code, title, occurred_on, unit_id, deaths, grade) SELECT :code, "
                           "'考核测试事故', CAST(:d AS date), id, :n, 'general' FROM units WHERE code = :g"),
                      {"code": f"SC-{i}", "d": day, "n": deaths, "g": grid})
        for dept, code, names in (("应急管理局", "yingji", ["e1", "e3"]), ("住建局", "zhujian", ["e6", "e7"]),
                                  ("市场监管局", "shichang", ["e4"])):
            c.execute(text("UPDATE enterprises SET supervising_dept = :d, dept_code = :c WHERE name = ANY(:n)"),
                      {"d": dept, "c": code, "n": names})
        c.execute(text("UPDATE accidents SET enterprise_id = (SELECT id FROM enterprises WHERE name = 'e1') "
                       "WHERE code = 'SC-0'"))
        c.execute(text("DELETE FROM duties WHERE role = 'supervisor' AND seq = 2 "
                       "AND unit_id = (SELECT id FROM units WHERE code = '411003100')"))
    refresh_all(url, as_of=AS_OF)
    yield engine
    engine.dispose()


@pytest.fixture
def conn(world: Engine) -> Iterator[Connection]:
    with world.connect() as c:
        yield c
        c.rollback()


def _kpis(conn: Connection, code: str, quarter: Quarter, level: int, cadence: Cadence | None) -> dict[str, RowKpis]:
    area = area_in_scope(conn, scope="411000.", code=code)
    assert area is not None
    return {r.code: r for r in quarter_kpis(conn, area=area, level=level, quarter=quarter, cadence=cadence)}


def test_each_kpi_of_the_townships_against_hand_counts(conn: Connection) -> None:
    rows = _kpis(conn, "411000", Q4, 3, Cadence.WEEK)
    assert set(rows) == {"411002001", "411003100"}  # x6 sits on the county itself: no township
    # 西大街道: found h2, h4; open overdue on 31 Dec h1 (1 Nov), h2 (30 Dec), h4 (22 Nov); 督办 due in Q4 h1 (its
    # deadline, no 督办期限), x7 (15 Dec), neither closed; 四查 week of 16 Nov (level 3, 20 Nov); accidents:
    # 5 Nov, 31 Dec
    assert rows["411002001"] == RowKpis(
        "411002001", "411002001", found=2, closed_of_found=0, closed=0, closed_on_time=0, overdue_end=3,
        supervised_due=2, supervised_on_time=0, cadence_periods=13, cadence_done=1, vacancies=0, accidents=2, deaths=2)
    # 将官池镇: found h5, h6, x1, x4 — x1 closed; closed in Q4 x1, x2 (late), x3; x4 open past 25 Dec; 督办 x3 on time;
    # 四查 weeks of 5 Oct and 28 Dec (the patrol and the county's inspection do not count); a supervisor vacant
    assert rows["411003100"] == RowKpis(
        "411003100", "411003100", found=4, closed_of_found=1, closed=3, closed_on_time=2, overdue_end=1,
        supervised_due=1, supervised_on_time=1, cadence_periods=13, cadence_done=2, vacancies=1, accidents=0, deaths=0)


def test_the_previous_quarter_and_village_cadence(conn: Connection) -> None:
    q3 = _kpis(conn, "411000", Quarter(2026, 3), 3, Cadence.WEEK)
    # found in Q3: x2, x3 (closed in Q4), x5 (closed 5 Jul, on time)
    assert (q3["411003100"].found, q3["411003100"].closed, q3["411003100"].closed_on_time) == (3, 1, 1)
    assert (q3["411002001"].accidents, q3["411002001"].deaths) == (1, 1)
    assert q3["411003100"].cadence_done == 1  # the week of 28 Sep (1 Oct)
    # the villages of 将官池镇 by day: the patrol (2 Nov), the grid's undated-level inspections (5 and 7 Oct) and
    # the seed's village-level 23 Nov
    villages = _kpis(conn, "411003100", Q4, 4, Cadence.DAY)
    assert (villages["411003100200"].cadence_periods, villages["411003100200"].cadence_done) == (92, 4)


def test_each_kpi_of_the_departments_against_hand_counts(conn: Connection) -> None:
    city = area_in_scope(conn, scope="411000.", code=None)
    assert city is not None
    rows = {r.code: r for r in department_kpis(conn, area=city, quarter=Q4)}
    assert set(rows) == {"yingji", "zhujian", "shichang"}  # catalogue codes, named by the catalogue
    # 应急 (e1, e3): h2 found; h1, h2 overdue; 督办 h1, x7 due and open; the accident of 5 Nov is e1's
    assert rows["yingji"] == RowKpis("yingji", "应急管理局", found=1, overdue_end=2, supervised_due=2,
                                     vacancies=None, accidents=1, deaths=2)
    # 住建 (e6, e7): the township's figures without h5 (no enterprise)
    assert rows["zhujian"] == RowKpis("zhujian", "住房和城乡建设局", found=3, closed_of_found=1, closed=3,
                                      closed_on_time=2, overdue_end=1, supervised_due=1, supervised_on_time=1,
                                      vacancies=None)
    assert rows["shichang"] == RowKpis("shichang", "市场监督管理局", found=1, overdue_end=1, vacancies=None)
    county = area_in_scope(conn, scope="411000.411003.", code=None)
    assert county is not None and [r.code for r in department_kpis(conn, area=county, quarter=Q4)] == ["zhujian"]
    card = load_scorecard(conn, scope="411000.", code=None, quarter=Q4, mode="department")
    assert card is not None and card.cadence is None and card.rows[0].kpis.code == "zhujian"
    cells = table_row(card.rows[0], department=True)
    assert len(cells) == len(table_header(True)) and cells[2] == "住房和城乡建设局"
    assert cells[table_header(True).index("网格空缺")] == "—" and cells[table_header(True).index("四查达标率")] == "—"


def test_the_scorecard_ranks_scopes_and_settles_the_weights(conn: Connection) -> None:
    card = load_scorecard(conn, scope="411000.", code=None, quarter=Q4)
    assert card is not None and card.level == 3 and card.cadence is Cadence.WEEK
    assert [r.kpis.code for r in card.rows] == ["411003100", "411002001"]
    assert card.rows[0].score > card.rows[1].score and [r.rank for r in card.rows] == [1, 2]
    assert card.rows[0].previous_rank is not None
    assert load_scorecard(conn, scope="411000.411003.", code="411002", quarter=Q4) is None  # another county
    county = load_scorecard(conn, scope="411000.411003.", code=None, quarter=Q4)
    assert county is not None and [r.kpis.code for r in county.rows] == ["411003100"]
    children = load_scorecard(conn, scope="411000.", code="411002001", quarter=Q4, mode="children")
    assert children is not None and children.level == 4 and len(children.rows) == 2
    conn.execute(text("INSERT INTO app_config (key, value) VALUES ('scorecard_weights', '{\"deaths\": 90}')"))
    assert scorecard_weights(conn)["deaths"] == 90
    conn.execute(text("UPDATE app_config SET value = '{\"deaths\": -4}' WHERE key = 'scorecard_weights'"))
    assert scorecard_weights(conn) == DEFAULT_WEIGHTS  # unusable: logged, defaults


# ---- the web: export with audit, forged requests per role (the session test database and live server) ------------

ENT_CODE = "91411002SCORE00001"


@pytest.fixture(scope="module")
def company(engine: Engine) -> Iterator[tuple[str, str]]:
    """An enterprise account (its enterprise committed in 金地社区第1网格); removed afterwards."""
    name = f"ent_sc_{uuid.uuid4().hex[:6]}"
    with engine.begin() as c:
        c.execute(text("INSERT INTO enterprises (credit_code, name, unit_id) SELECT :cc, '考核测试企业', id FROM units "
                       "WHERE code = '41100200100101' ON CONFLICT (credit_code) DO NOTHING"), {"cc": ENT_CODE})
        create_user(c, username=name, password_hash=hash_password("Test-pass-2026"), role="enterprise",
                    enterprise_code=ENT_CODE)
    yield name, "Test-pass-2026"
    with engine.begin() as c:
        c.execute(text("DELETE FROM users WHERE username = :u"), {"u": name})
        c.execute(text("DELETE FROM enterprises WHERE credit_code = :cc"), {"cc": ENT_CODE})


def _route(s: requests.Session, base: str, search: str) -> str:
    r = s.post(f"{base}/_dash-update-component", json=route_payload("/scorecards", search), timeout=30)
    assert r.status_code == 200, r.text[:300]
    return json.dumps(r.json(), ensure_ascii=False)


def test_export_content_and_audit(live_server: str, engine: Engine) -> None:
    user, password = make_user(engine, role="leader", scope="411000")
    s = http_login(live_server, user, password)
    r = s.get(f"{live_server}/export/scorecards.xlsx?quarter=2026Q4", timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "2026Q4" in r.headers["Content-Disposition"]
    ws = load_workbook(io.BytesIO(r.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert ws.title == "晾晒排名" and list(rows[0]) == list(TABLE_HEADER)
    with engine.connect() as c:
        card = load_scorecard(c, scope="411000.", code=None, quarter=Q4)
        detail = c.execute(text("SELECT detail FROM audit_log WHERE action = 'export_scorecards' AND username = :u"),
                           {"u": user}).scalar_one()
    assert card is not None and [list(x) for x in rows[1:]] == [table_row(x) for x in card.rows]
    # the test tree's townships (other tests of the session may commit townships of their own)
    assert {c[3] for c in rows[1:]} >= {"411002001", "411002002", "411003100"}
    assert detail == {"unit": "411000", "quarter": "2026Q4", "rows": "township", "count": len(rows) - 1,
                      "scope": "411000"}
    assert s.get(f"{live_server}/export/scorecards.xlsx?quarter=2026Q9", timeout=10).status_code == 400
    assert s.get(f"{live_server}/export/scorecards.xlsx?unit=x'--", timeout=10).status_code == 400


def test_forged_requests_per_role(live_server: str, engine: Engine, company: tuple[str, str]) -> None:
    for role, scope in (("inspector", "411000"), ("grid_manager", "411002")):
        s = http_login(live_server, *make_user(engine, role=role, scope=scope))
        assert s.get(f"{live_server}/export/scorecards.xlsx", timeout=10).status_code == 403, role
        assert "sc-table" not in _route(s, live_server, ""), role
    s = http_login(live_server, *company)
    assert s.get(f"{live_server}/export/scorecards.xlsx", timeout=10).status_code == 403
    assert "sc-table" not in _route(s, live_server, "")
    # a county's leader: its own townships, never the other county's
    user, password = make_user(engine, role="leader", scope="411003")
    s = http_login(live_server, user, password)
    own = _route(s, live_server, "?quarter=2026Q4")
    assert "sc-table" in own and "将官池镇" in own and "西大街道" not in own
    foreign = _route(s, live_server, "?unit=411002&quarter=2026Q4")
    assert "sc-table" not in foreign and "西大街道" not in foreign
    assert s.get(f"{live_server}/export/scorecards.xlsx?unit=411002", timeout=10).status_code == 403
    with engine.connect() as c:
        refused = c.execute(text("SELECT count(*) FROM audit_log WHERE action = 'forbidden' AND username = :u"),
                            {"u": user}).scalar_one()
    assert refused >= 2
    for role in ("planner", "admin"):
        s = http_login(live_server, *make_user(engine, role=role, scope="411000"))
        assert "sc-table" in _route(s, live_server, ""), role
        assert s.get(f"{live_server}/export/scorecards.xlsx", timeout=10).status_code == 200, role
