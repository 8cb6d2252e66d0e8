"""The hazard page's reads and its action callback, on the session database and the live server.

A tree of its own (测试丁市 416000, with geometry, enterprises and unit_stats) so transitions move no other
test's numbers. Forged requests: each role posts an action outside its rights (wrong role, another
enterprise, outside the scope, a stale version) through the real callback endpoint and is refused with
nothing written — and the page offers exactly the actions domain.hazard_flow allows.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, text

from dashboard.hazard.callbacks import payload_of
from domain import clock
from domain.hazard_flow import FlowError
from domain.risk_rule import RiskRule
from geo import hazard_actions as ha
from geo.hazard_view import hazard_view, report_place
from tests.browser import dash_payload, http_login, make_user, route_payload
from tests.fixtures_map import insert_box_unit

pytestmark = pytest.mark.db

# code, name, level, kind, parent, box (w, s, e, n)
UNITS = [
    ("416000", "测试丁市", 1, "city", None, (110.0, 30.0, 111.0, 30.6)),
    ("416002", "丁甲区", 2, "district", "416000", (110.0, 30.0, 110.5, 30.6)),
    ("416002001", "丁甲街道", 3, "subdistrict", "416002", (110.0, 30.0, 110.5, 30.6)),
    ("416002001001", "丁甲社区", 4, "community", "416002001", (110.0, 30.0, 110.5, 30.6)),
    ("41600200100101", "丁甲社区第1网格", 5, "grid", "416002001001", (110.0, 30.0, 110.5, 30.6)),
    ("416003", "丁乙区", 2, "district", "416000", (110.5, 30.0, 111.0, 30.6)),
    ("416003100", "丁乙镇", 3, "town", "416003", (110.5, 30.0, 111.0, 30.6)),
    ("416003100200", "丁乙村", 4, "village", "416003100", (110.5, 30.0, 111.0, 30.6)),
    ("41600310020001", "丁乙村第1网格", 5, "grid", "416003100200", (110.5, 30.0, 111.0, 30.6)),
]
OWN_GRID, FOREIGN_GRID = "41600200100101", "41600310020001"
# credit code, name, grid, lon, lat
ENTERPRISES = [
    ("91416000HZPG00001A", "丁甲化工有限公司", OWN_GRID, 110.10, 30.10),
    ("91416000HZPG00002B", "丁甲机械厂", OWN_GRID, 110.20, 30.20),
    ("91416000HZPG00003C", "丁乙烟花厂", FOREIGN_GRID, 110.70, 30.20),
]
ENT_A, ENT_B, ENT_C = (e[0] for e in ENTERPRISES)
RULE = RiskRule()
PLAN = {"resp_person": "张三", "resp_person_phone": "13800000000", "measures": "加装防护栏", "funds_yuan": "1200",
        "contingency_plan": "停机检修预案"}
UPDATE = "/_dash-update-component"


def ensure_loop_world(engine: Engine) -> None:
    """Insert the tree with geometry, zeroed unit_stats and the enterprises (idempotent, committed)."""
    with engine.begin() as conn:
        for unit in UNITS:
            code = unit[0]
            insert_box_unit(conn, unit, demo_geometry=True)
            conn.execute(text(
                """
                INSERT INTO unit_stats (unit_id, level, children, enterprises, ent_red, ent_orange, ent_yellow,
                                        ent_blue, hazards_open, hazards_overdue, hazards_major_open,
                                        persons_present, persons_required, risk_score, risk_class)
                SELECT u.id, u.level, 0, 10, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 'blue' FROM units u WHERE u.code = :code
                ON CONFLICT (unit_id) DO NOTHING
                """), {"code": code})
        for credit, name, grid, lon, lat in ENTERPRISES:
            conn.execute(text(
                """
                INSERT INTO enterprises (credit_code, name, industry, risk_level, unit_id, geom)
                SELECT :c, :name, '危险化学品', 'yellow', u.id, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)
                FROM units u WHERE u.code = :grid
                ON CONFLICT (credit_code) DO NOTHING
                """), {"c": credit, "name": name, "grid": grid, "lon": lon, "lat": lat})


@pytest.fixture(scope="session")
def loop_world(engine: Engine) -> None:
    """The committed hazard-loop test data."""
    ensure_loop_world(engine)


def enterprise_id(engine: Engine, credit: str) -> int:
    """Return the id of the enterprise with credit code ``credit``."""
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT id FROM enterprises WHERE credit_code = :c"), {"c": credit}).scalar_one())


def make_enterprise_user(engine: Engine, credit: str) -> tuple[str, str]:
    """Create an enterprise account of ``credit`` (its grid cell as scope, users.enterprise_id set)."""
    user, password = make_user(engine, role="grid_manager", scope=OWN_GRID if credit != ENT_C else FOREIGN_GRID,
                               prefix="ent")
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET role = 'enterprise', enterprise_id = :e, display_name = :n "
                          "WHERE username = :u"),
                     {"e": enterprise_id(engine, credit), "u": user, "n": "丁甲化工安全员"})
    return user, password


def _path(engine: Engine, code: str) -> tuple[str, int]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT path, level FROM units WHERE code = :c"), {"c": code}).one()
    return str(row[0]), int(row[1])


def new_hazard(engine: Engine, *, credit: str = ENT_A, level: str = "major", title: str | None = None) -> int:
    """Report a hazard at ``credit`` as a grid manager of its cell (committed); return its id."""
    from domain.hazard_flow import Actor

    grid = OWN_GRID if credit != ENT_C else FOREIGN_GRID
    path, cell_level = _path(engine, grid)
    new = ha.NewHazard(title=title or f"测试隐患-{uuid.uuid4().hex[:6]}", level=level,
                       deadline=clock.today() + timedelta(days=10), request_key=uuid.uuid4().hex,
                       enterprise_id=enterprise_id(engine, credit))
    with engine.begin() as conn:
        created, _ = ha.report(conn, scope=path, actor=Actor("fixture_gm", "grid_manager", cell_level), new=new,
                               as_of=clock.today(), rule=RULE)
    return created.id


def advance(engine: Engine, hazard_id: int, *steps: tuple[str, str, dict[str, Any]]) -> None:
    """Take ``(action, username, payload)`` steps as a city-scope actor of the needed role (committed)."""
    from domain.hazard_flow import Actor, Payload

    for action, who, payload in steps:
        role = {"start": "grid_manager", "record": "grid_manager", "submit": "grid_manager", "pass": "inspector",
                "fail": "inspector", "supervise": "leader", "lift": "leader", "extend": "leader",
                "reopen": "admin"}[action]
        with engine.begin() as conn:
            rec = ha.hazard_record(conn, scope="416000.", hazard_id=hazard_id)
            assert rec is not None
            ha.transition(conn, scope="416000.", actor=Actor(who, role, 1), hazard_id=hazard_id, version=rec.version,
                          action=action, payload=Payload(**payload), as_of=clock.today(), rule=RULE)


def written(engine: Engine, hazard_id: int) -> tuple[int, int]:
    """Return (version, number of events) of a hazard: what a refused request must leave alone."""
    with engine.connect() as conn:
        row = conn.execute(text('SELECT h.version, (SELECT count(*) FROM hazard_events e WHERE e.hazard_id = h.id) '
                                'FROM hazards h WHERE h.id = :h'), {"h": hazard_id}).one()
    return int(row[0]), int(row[1])


def act_request(session: requests.Session, base: str, *, hazard_id: int, version: int, action: str,
                values: dict[str, Any] | None = None, dates: dict[str, Any] | None = None) -> requests.Response:
    """POST the hazard page's action callback exactly as the renderer does for a click on ``action``'s button."""
    go = {"action": action, "type": "hz-go"}
    payload = dash_payload(output="..hz-body.children...hz-msg.children...hz-key.data..", inputs=[])
    payload["outputs"] = [{"id": "hz-body", "property": "children"}, {"id": "hz-msg", "property": "children"},
                          {"id": "hz-key", "property": "data"}]
    payload["inputs"] = [[{"id": go, "property": "n_clicks", "value": 1}]]
    payload["state"] = [
        [{"id": {"action": action, "field": f, "type": "hz-in"}, "property": "value", "value": v}
         for f, v in (values or {}).items()],
        [{"id": {"action": action, "field": f, "type": "hz-date"}, "property": "date", "value": v}
         for f, v in (dates or {}).items()],
        {"id": "hz-key", "property": "data", "value": {"id": hazard_id, "version": version}},
    ]
    changed = [json.dumps(go, separators=(",", ":"), sort_keys=True) + ".n_clicks"]
    payload["changedPropIds"] = payload["parsedChangedPropsIds"] = changed
    return session.post(f"{base}{UPDATE}", json=payload, timeout=20)


def shown(r: requests.Response) -> str:
    """The response as text with Chinese unescaped."""
    try:
        return json.dumps(r.json(), ensure_ascii=False)
    except ValueError:
        return r.text


# --- reads ---------------------------------------------------------------------------------------------------

@pytest.mark.usefixtures("loop_world")
def test_view_scope_enterprise_and_report_place(engine: Engine) -> None:
    hid = new_hazard(engine)
    with engine.connect() as conn:
        own = hazard_view(conn, scope=_path(engine, OWN_GRID)[0], hazard_id=hid)
        assert own is not None and own.enterprise_name == "丁甲化工有限公司" and own.unit_name == "丁甲社区第1网格"
        assert [e.action for e in own.events] == ["report"] and own.version == 1
        assert hazard_view(conn, scope=_path(engine, OWN_GRID)[0], code=own.code) == own
        assert hazard_view(conn, scope=_path(engine, FOREIGN_GRID)[0], hazard_id=hid) is None  # outside = missing
        assert hazard_view(conn, scope="416000.", hazard_id=10**9) is None
        assert hazard_view(conn, scope="416000.", hazard_id=hid, enterprise_id=enterprise_id(engine, ENT_B)) is None
        place = report_place(conn, scope="416000.416002.", credit_code=ENT_A)
        assert place is not None and place.enterprise_name == "丁甲化工有限公司"
        assert report_place(conn, scope="416000.416002.", credit_code=ENT_C) is None
        point = report_place(conn, scope="416000.416002.", lon=110.3, lat=30.3)
        assert point is not None and point.unit_name == "丁甲社区第1网格" and point.enterprise_id is None
        assert report_place(conn, scope="416000.416002.", lon=110.8, lat=30.3) is None


def test_payload_of_reads_only_what_the_action_takes() -> None:
    p = payload_of("submit", {**PLAN, "note": "已整改"})
    assert p.fields["measures"] == "加装防护栏" and p.note == "已整改" and p.new_deadline is None
    assert payload_of("pass", {**PLAN, "note": "同意"}).fields == {}
    assert payload_of("extend", {"new_deadline": "2031-01-02", "note": "x"}).new_deadline.isoformat() == "2031-01-02"
    with pytest.raises(FlowError, match="格式错误"):
        payload_of("extend", {"new_deadline": "2031-13-45"})
    from dashboard.errors import BadRequestError

    with pytest.raises(BadRequestError):
        payload_of("pass", {"note": {"$gt": ""}})
    with pytest.raises(BadRequestError):
        payload_of("pass", {"status": "closed"})


# --- the page's actions and forged requests -----------------------------------------------------------------

@pytest.fixture(scope="module")
def accounts(live_server: str, engine: Engine, loop_world: None) -> dict[str, tuple[requests.Session, str]]:
    """Signed-in sessions: one per role on the own district or city, plus foreign-scope and other-enterprise ones."""
    del loop_world
    out: dict[str, tuple[requests.Session, str]] = {}
    for role, scope in (("admin", "416000"), ("leader", "416000"), ("grid_manager", "416002001"),
                        ("planner", "416000"), ("inspector", "416002"), ("foreign_inspector", "416003")):
        user, password = make_user(engine, role=role.removeprefix("foreign_"), scope=scope)
        out[role] = (http_login(live_server, user, password), user)
    for key, credit in (("enterprise", ENT_A), ("other_enterprise", ENT_B)):
        user, password = make_enterprise_user(engine, credit)
        out[key] = (http_login(live_server, user, password), user)
    return out


def _refused(r: requests.Response, *expected: str) -> None:
    assert r.status_code in (200, 400, 403), (r.status_code, r.text[:300])
    body = shown(r)
    assert any(e in body for e in expected), body[:600]


def test_each_role_outside_its_rights_is_refused_and_nothing_is_written(
        live_server: str, engine: Engine, accounts: dict[str, tuple[requests.Session, str]]) -> None:
    base = live_server
    # verifying, submitted by the enterprise account
    verifying = new_hazard(engine)
    ent_user = accounts["enterprise"][1]
    advance(engine, verifying, ("start", ent_user, {}), ("submit", ent_user, {"fields": PLAN}))
    v = written(engine, verifying)
    general = new_hazard(engine, level="general")  # reported, not major
    g = written(engine, general)
    cases: list[tuple[str, int, tuple[int, int], str, dict[str, Any], dict[str, Any], tuple[str, ...]]] = [
        ("enterprise", verifying, v, "pass", {"note": "自己验收"}, {}, ("您的角色不能执行“验收通过并销号”",)),
        ("enterprise", general, g, "supervise", {}, {"supervision_deadline": "2099-01-01"}, ("您的角色不能执行",)),
        ("other_enterprise", general, g, "start", {}, {}, ("未找到该隐患",)),
        ("leader", verifying, v, "pass", {"note": "同意"}, {}, ("您的角色不能执行",)),
        ("leader", general, g, "supervise", {}, {"supervision_deadline": "2099-01-01"}, ("只有重大隐患可以挂牌督办",)),
        ("admin", verifying, v, "fail", {"note": "不行"}, {}, ("您的角色不能执行",)),
        ("admin", general, g, "lift", {}, {}, ("当前状态下不能执行", "您的角色不能执行", "未挂牌督办")),
        ("grid_manager", verifying, v, "supervise", {}, {"supervision_deadline": "2099-01-01"}, ("您的角色不能执行",)),
        ("grid_manager", general, g, "reopen", {"note": "x"}, {}, ("您的角色不能执行",)),
        ("inspector", general, g, "extend", {"note": "x"}, {"new_deadline": "2099-01-01"}, ("您的角色不能执行",)),
        ("inspector", verifying, v, "reopen", {"note": "x"}, {}, ("您的角色不能执行",)),
        ("planner", verifying, v, "pass", {"note": "同意"}, {}, ("无权使用此功能",)),
        ("foreign_inspector", verifying, v, "pass", {"note": "同意"}, {}, ("未找到该隐患",)),
        ("inspector", verifying, v, "pass", {}, {}, ("请填写验收意见",)),  # right role, missing opinion
    ]
    for who, hid, before, action, values, dates, expected in cases:
        session, _ = accounts[who]
        r = act_request(session, base, hazard_id=hid, version=before[0], action=action, values=values, dates=dates)
        _refused(r, *expected)
        assert written(engine, hid) == before, (who, action)
    # A stale version (someone acted meanwhile): 已被他人处理, nothing written.
    insp, _ = accounts["inspector"]
    r = act_request(insp, base, hazard_id=verifying, version=v[0] - 1, action="pass", values={"note": "同意"})
    _refused(r, "已被他人处理")
    assert written(engine, verifying) == v
    # An unknown action or a forged key: 400, nothing written.
    r = act_request(insp, base, hazard_id=verifying, version=v[0], action="delete", values={})
    assert r.status_code == 400 or "请求参数有误" in shown(r)
    assert written(engine, verifying) == v
    # The right account at the right version: done once; the same click again changes nothing.
    ok = act_request(insp, base, hazard_id=verifying, version=v[0], action="pass", values={"note": "同意销号"})
    assert ok.status_code == 200 and "已完成" in shown(ok)
    assert written(engine, verifying) == (v[0] + 1, v[1] + 1)
    again = act_request(insp, base, hazard_id=verifying, version=v[0], action="pass", values={"note": "同意销号"})
    assert "重复提交已忽略" in shown(again) and written(engine, verifying) == (v[0] + 1, v[1] + 1)


def test_a_request_without_the_csrf_header_writes_nothing(
        live_server: str, engine: Engine, accounts: dict[str, tuple[requests.Session, str]]) -> None:
    hid = new_hazard(engine)
    before = written(engine, hid)
    session, _ = accounts["grid_manager"]
    forged = requests.Session()
    forged.cookies.update(session.cookies)
    r = act_request(forged, live_server, hazard_id=hid, version=before[0], action="start")
    assert r.status_code == 403 and written(engine, hid) == before


def test_the_page_offers_only_the_allowed_actions(
        live_server: str, engine: Engine, accounts: dict[str, tuple[requests.Session, str]]) -> None:
    hid = new_hazard(engine)
    expected = {"grid_manager": ["start", "extend"], "inspector": ["start"], "leader": ["supervise", "extend"],
                "admin": ["supervise", "extend"], "enterprise": ["start"], "foreign_inspector": None,
                "other_enterprise": None}
    for who, actions in expected.items():
        session, _ = accounts[who]
        r = _route(session, live_server, f"?id={hid}")
        body = shown(r)
        if actions is None:
            assert "未找到该隐患" in body and "hz-fieldset" not in body, who
            continue
        offered = [a for a in ("start", "record", "submit", "pass", "fail", "supervise", "lift", "extend", "reopen")
                   if f'"hz-action-{a}"' in body]
        assert offered == actions, (who, offered)
    r = _route(accounts["planner"][0], live_server, f"?id={hid}")
    assert "无权使用此功能" in shown(r)


def _route(session: requests.Session, base: str, search: str, path: str = "/hazard") -> requests.Response:
    return session.post(f"{base}{UPDATE}", json=route_payload(path, search), timeout=20)


def test_the_permission_matrix_in_the_docs_is_current() -> None:
    from pathlib import Path

    from dashboard.hazard.access import permission_matrix

    doc = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text(encoding="utf-8")
    start, end = "<!-- hazard-permission-matrix:start -->\n", "<!-- hazard-permission-matrix:end -->"
    assert start in doc and end in doc
    shown_table = doc.split(start, 1)[1].split(end, 1)[0]
    assert shown_table == permission_matrix(), "docs/security.md: paste dashboard.hazard.access.permission_matrix()"
