"""Enterprise inspections by inspectors (issue 16 parts 3-4): the rules as tables of cases (checklists, results,
frequency), storage on PostGIS (record, idempotency, scope, audit, the file's list), the due list's SQL against the
pure rule, the form's write callback forged per role, and the form in Chromium (finding → hazard report form)."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from sqlalchemy import Connection, Engine, text

from domain import clock
from domain.inspection_rules import (
    DEFAULT_CHECKLISTS,
    ChecklistSet,
    FrequencyRule,
    InspectionRuleError,
    add_months,
    check_answers,
    check_result,
    checklists_for,
    checklists_from_config,
    due_state,
    frequency_from_config,
    has_key_flags,
    next_due,
)
from geo.enterprise_file import enterprise_file
from geo.inspections_app import (
    InspectionInputError,
    InspectionNotFoundError,
    NewInspection,
    due_list,
    record_inspection,
)
from geo.users import create_user, hash_password
from tests.browser import http_login, login, make_user, screenshot_dir

WEIDU = "411000.411002."
JIANAN = "411000.411003."
CELL = "41100200100101"
CREDIT = "91411002IA0000001X"
FLAGGED = "91411002IA0000002X"

# --- rules ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("result", "doc", "penalty", "expected"), [
    ("passed", "", None, None),
    ("passed", "", "", None),
    ("ordered_rectify", "许应急责改〔2026〕1号", None, None),
    ("closed_down", "许应急停〔2026〕1号", "", None),
    ("penalized", "许应急罚〔2026〕1号", "20000", Decimal("20000.00")),
    ("penalized", "许应急罚〔2026〕1号", "1234.567", Decimal("1234.57")),
])
def test_results_accepted(result: str, doc: str, penalty: str | None, expected: Decimal | None) -> None:
    assert check_result(result, doc, penalty) == expected


@pytest.mark.parametrize(("result", "doc", "penalty"), [
    ("hazards_found", "", None),  # the ledger's value, not one an inspector records
    ("passed", "许应急罚〔2026〕1号", None), ("passed", "", "100"),
    ("ordered_rectify", "", None), ("ordered_rectify", "许〔2026〕1号", "100"),
    ("penalized", "许〔2026〕1号", None), ("penalized", "许〔2026〕1号", "0"), ("penalized", "许〔2026〕1号", "abc"),
    ("penalized", "", "100"), ("penalized", "许〔2026〕1号", "200000000"),
])
def test_results_refused(result: str, doc: str, penalty: str | None) -> None:
    with pytest.raises(InspectionRuleError):
        check_result(result, doc, penalty)


def test_checklists_per_industry_and_config() -> None:
    titles = {c.title for c in DEFAULT_CHECKLISTS}
    assert titles == {"危险化学品", "粉尘涉爆", "有限空间", "涉氨制冷", "烟花爆竹", "消防"}
    assert all(c.basis and c.items and len({i.id for i in c.items}) == len(c.items) for c in DEFAULT_CHECKLISTS)
    assert [c.id for c in checklists_for("危险化学品")][:3] == ["hazchem", "confined", "fire"]
    assert [c.id for c in checklists_for("轻工")][:2] == ["dust", "ammonia"]
    assert len(checklists_for(None)) == len(DEFAULT_CHECKLISTS)  # every list stays on offer
    custom = checklists_from_config({"lists": [{"id": "gas", "title": "城镇燃气", "items": [
        {"id": "G01", "text": "燃气管道未被占压"}]}], "industries": {"城镇燃气": ["gas", "fire"]}})
    assert [c.id for c in checklists_for("城镇燃气", custom)][:2] == ["gas", "fire"]
    for bad in ({"colour": 1}, {"lists": [{"id": "x"}]}, {"industries": {"化工": ["fire"]}},
                {"industries": {"冶金": ["nope"]}}):
        with pytest.raises(InspectionRuleError):
            checklists_from_config(bad)
    hazchem = ChecklistSet().get("hazchem")
    assert hazchem is not None
    found = check_answers(hazchem, {"HC01": "ok", "HC03": "fail", "HC07": "fail", "HC02": "na"})
    assert [f.item_id for f in found] == ["HC03", "HC07"]
    for bad_answers in ({"XX99": "fail"}, {"HC01": "maybe"}):
        with pytest.raises(InspectionRuleError):
            check_answers(hazchem, bad_answers)


@pytest.mark.parametrize(("risk", "flags", "months"), [
    ("red", False, 1), ("orange", False, 3), ("yellow", False, 6), ("blue", False, 12), (None, False, 12),
    ("red", True, 1), ("orange", True, 3), ("yellow", True, 3), ("blue", True, 3), (None, True, 3),
])
def test_interval_by_colour_and_flags(risk: str | None, flags: bool, months: int) -> None:
    assert FrequencyRule().interval(risk, flags) == months


@pytest.mark.parametrize(("last", "months", "due"), [
    (date(2026, 1, 31), 1, date(2026, 2, 28)), (date(2024, 1, 31), 1, date(2024, 2, 29)),
    (date(2026, 11, 30), 3, date(2027, 2, 28)), (date(2026, 8, 31), 6, date(2027, 2, 28)),
    (date(2026, 12, 15), 12, date(2027, 12, 15)),
])
def test_month_arithmetic(last: date, months: int, due: date) -> None:
    assert add_months(last, months) == due


def test_next_due_state_and_setting() -> None:
    rule, today = FrequencyRule(), date(2026, 12, 2)
    assert next_due(None, "blue", False, rule, today) == today  # never inspected: due at once
    assert next_due(date(2026, 10, 1), "red", False, rule, today) == date(2026, 11, 1)
    assert due_state(date(2026, 12, 1), today, rule) == "overdue"
    assert due_state(date(2026, 12, 20), today, rule) == "due_soon"
    assert due_state(date(2027, 3, 1), today, rule) == "ok"
    custom = frequency_from_config({"months": {"orange": 2}, "key_flags_months": 1, "due_soon_days": 7})
    assert custom.interval("orange", False) == 2 and custom.interval("blue", True) == 1
    for bad in ({"months": {"purple": 1}}, {"months": {"red": 0}}, {"key_flags_months": 99}, {"due_soon_days": -1},
                {"weekly": True}):
        with pytest.raises(InspectionRuleError):
            frequency_from_config(bad)


# --- storage -------------------------------------------------------------------------------------------------

@pytest.fixture
def ent(conn: Connection, unit_tree: dict[str, str]) -> Connection:
    """Two enterprises in 金地社区第1网格 (one with 两重点一重大) and two inspectors (rolled back)."""
    conn.execute(text(
        "INSERT INTO enterprises (credit_code, name, industry, risk_level, key_hazardous_chemical, unit_id) "
        "SELECT v.cc, v.name, v.ind, v.risk, v.flag, u.id FROM units u, (VALUES "
        "(:a, '检查测试化工', '危险化学品', 'yellow', false), (:b, '检查测试仓储', '商贸', 'blue', true)) "
        "AS v(cc, name, ind, risk, flag) WHERE u.code = :cell"), {"a": CREDIT, "b": FLAGGED, "cell": CELL})
    pw = hash_password("Test-pass-2026")
    create_user(conn, username="ia_insp", password_hash=pw, role="inspector", scope_code="411002", display_name="孙检")
    create_user(conn, username="ia_far", password_hash=pw, role="inspector", scope_code="411003")
    return conn


def new(**kw: Any) -> NewInspection:
    values: dict[str, Any] = {"credit_code": CREDIT, "kind": "routine", "result": "passed",
                              "request_key": uuid.uuid4().hex, "inspected_at": clock.today()} | kw
    return NewInspection(**values)


def test_record_with_checklist_idempotent_audited_and_in_the_file(ent: Connection) -> None:
    today = clock.today()
    k = uuid.uuid4().hex
    answers = {"HC01": "ok", "HC04": "fail", "HC11": "na"}
    stored, created = record_inspection(ent, scope=WEIDU, username="ia_insp", today=today, new=new(
        request_key=k, kind="special", checklist_id="hazchem", answers=answers, result="penalized",
        document_no="许应急罚〔2026〕3号", penalty_yuan="30000", note="专项检查"))
    assert created and stored.hazards_found == 1 and stored.findings[0]["item"] == "HC04"
    again, created_again = record_inspection(ent, scope=WEIDU, username="ia_insp", today=today, new=new(request_key=k))
    assert not created_again and again.id == stored.id
    row = ent.execute(text("SELECT kind, result, inspector_level, inspectors, document_no, penalty_yuan, created_by, "
                           "checklist->>'id' AS list, unit_id IS NOT NULL AS placed FROM inspections WHERE id = :i"),
                      {"i": stored.id}).one()
    assert (row.kind, row.result, row.inspector_level, row.inspectors) == ("special", "penalized", 2, "孙检")
    assert (row.document_no, row.penalty_yuan, row.created_by, row.list, row.placed) == (
        "许应急罚〔2026〕3号", Decimal("30000.00"), "ia_insp", "hazchem", True)
    audit = ent.execute(text("SELECT detail FROM audit_log WHERE action = 'inspection_recorded' "
                             "AND username = 'ia_insp'")).scalar_one()
    assert audit["penalty_yuan"] == "30000.00" and audit["findings"] == 1
    f = enterprise_file(ent, scope=WEIDU, credit_code=CREDIT)
    assert f is not None and f["inspections"][0]["result"] == "penalized"


@pytest.mark.parametrize("bad", [
    {"kind": "audit"}, {"inspected_at": clock.today() + timedelta(days=2)},
    {"inspected_at": clock.today() - timedelta(days=200)}, {"result": "ordered_rectify"},
    {"checklist_id": "nope"}, {"answers": {"HC01": "fail"}}, {"checklist_id": "hazchem", "answers": {"DU01": "fail"}},
    {"draw_id": 1}, {"kind": "double_random"}, {"request_key": "short"}, {"note": "x" * 1001},
])
def test_bad_input_refused(ent: Connection, bad: dict[str, Any]) -> None:
    with pytest.raises((InspectionInputError, InspectionRuleError)):
        record_inspection(ent, scope=WEIDU, username="ia_insp", today=clock.today(), new=new(**bad))


def test_outside_the_scope_refused(ent: Connection) -> None:
    with pytest.raises(InspectionNotFoundError):
        record_inspection(ent, scope=JIANAN, username="ia_far", today=clock.today(), new=new())
    assert ent.execute(text("SELECT count(*) FROM inspections WHERE created_by = 'ia_far'")).scalar_one() == 0


def test_due_list_sql_agrees_with_the_rule(ent: Connection) -> None:
    today, rule = clock.today(), FrequencyRule()
    assert {d.credit_code for d in due_list(ent, scope=WEIDU, rule=rule, today=today)[0]} >= {CREDIT, FLAGGED}
    for last in (today - timedelta(days=400), today - timedelta(days=100), today - timedelta(days=75),
                 date(today.year, 1, 31), today):
        ent.execute(text("DELETE FROM inspections WHERE enterprise_id IN (SELECT id FROM enterprises "
                         "WHERE credit_code IN (:a, :b))"), {"a": CREDIT, "b": FLAGGED})
        for cc in (CREDIT, FLAGGED):
            ent.execute(text("INSERT INTO inspections (code, enterprise_id, inspected_at) SELECT :c, id, :d "
                             "FROM enterprises WHERE credit_code = :cc"),
                        {"c": f"IA-{cc}-{last}", "d": last, "cc": cc})
        rows, total, overdue = due_list(ent, scope=WEIDU, rule=rule, today=today)
        listed = {r.credit_code: r for r in rows}
        for cc, risk, flags in ((CREDIT, "yellow", False), (FLAGGED, "blue", True)):
            due = next_due(last, risk, flags, rule, today)
            assert (cc in listed) == (due_state(due, today, rule) != "ok"), (cc, last)
            if cc in listed:
                assert listed[cc].due == due and listed[cc].months == rule.interval(risk, flags)
        assert overdue == sum(1 for r in rows if r.due < today) and total >= len(listed)
    foreign = due_list(ent, scope=JIANAN, rule=rule, today=today)[0]
    assert not {r.credit_code for r in foreign} & {CREDIT, FLAGGED}



def test_a_key_supervision_unit_is_inspected_at_least_quarterly(ent: Connection) -> None:
    """重点监管单位 (许昌 plan: 加大对重点单位的检查频次) caps the interval like 两重点一重大."""
    today, rule = clock.today(), FrequencyRule()
    ent.execute(text("DELETE FROM inspections WHERE enterprise_id = (SELECT id FROM enterprises "
                     "WHERE credit_code = :a)"), {"a": CREDIT})
    ent.execute(text("INSERT INTO inspections (code, enterprise_id, inspected_at) SELECT 'IA-KS', id, :d "
                     "FROM enterprises WHERE credit_code = :a"), {"a": CREDIT, "d": today - timedelta(days=100)})
    listed = {r.credit_code: r for r in due_list(ent, scope=WEIDU, rule=rule, today=today)[0]}
    assert CREDIT not in listed  # yellow: every 6 months, 100 days after its last inspection it is not due
    ent.execute(text("UPDATE enterprises SET key_supervision = true WHERE credit_code = :a"), {"a": CREDIT})
    listed = {r.credit_code: r for r in due_list(ent, scope=WEIDU, rule=rule, today=today)[0]}
    assert listed[CREDIT].months == 3 and listed[CREDIT].key_flags and listed[CREDIT].due < today
    assert has_key_flags({"key_supervision": True}) and not has_key_flags({"key_supervision": False})

# --- the form's write callback, forged per role; the form in Chromium ------------------------------------------

@pytest.fixture(scope="module")
def committed(engine: Engine, unit_tree: dict[str, str]) -> str:
    """A committed enterprise in 金地社区第1网格 for the live server (credit code)."""
    cc = "91411002IA0000009X"
    with engine.begin() as c:
        c.execute(text("INSERT INTO enterprises (credit_code, name, industry, risk_level, unit_id) SELECT :cc, "
                       "'表单测试化工有限公司', '危险化学品', 'orange', id FROM units WHERE code = :cell "
                       "ON CONFLICT (credit_code) DO NOTHING"), {"cc": cc, "cell": CELL})
    return cc


def submit_request(session: requests.Session, base: str, *, credit: str, key: str, result: str = "passed",
                   scene: str = "", document: str = "") -> requests.Response:
    """POST the /inspection/new submit callback as the renderer does (``scene``/``document``: the pickers' JSON)."""
    outputs = [("insp-message", "children"), ("insp-key", "data")]
    state: list[Any] = [
        {"id": "insp-enterprise", "property": "data", "value": credit},
        {"id": "insp-kind", "property": "value", "value": "routine"},
        {"id": "insp-draw", "property": "value", "value": None},
        {"id": "insp-date", "property": "date", "value": clock.today().isoformat()},
        {"id": "insp-checklist", "property": "value", "value": None},
        [], [],
        {"id": "insp-result", "property": "value", "value": result},
        {"id": "insp-doc", "property": "value", "value": ""},
        {"id": "insp-penalty", "property": "value", "value": ""},
        {"id": "insp-note", "property": "value", "value": "forged"},
        {"id": "insp-key", "property": "data", "value": key},
        {"id": {"type": "hz-in", "action": "insp-scene", "field": "photos"}, "property": "value", "value": scene},
        {"id": {"type": "hz-in", "action": "insp-document", "field": "photos"}, "property": "value",
         "value": document},
    ]
    payload = {"output": "..insp-message.children...insp-key.data..",
               "outputs": [{"id": i, "property": p} for i, p in outputs],
               "inputs": [{"id": "insp-submit", "property": "n_clicks", "value": 1}], "state": state,
               "changedPropIds": ["insp-submit.n_clicks"], "parsedChangedPropsIds": ["insp-submit.n_clicks"]}
    return session.post(f"{base}/_dash-update-component", json=payload, timeout=30)


def stored(engine: Engine, key: str) -> int:
    with engine.connect() as c:
        return int(c.execute(text("SELECT count(*) FROM inspections WHERE request_key = :k"), {"k": key}).scalar_one())


def test_forged_inspections_per_role(live_server: str, engine: Engine, committed: str) -> None:
    for role, scope in (("planner", "411000"), ("leader", "411000"), ("grid_manager", "411002001"),
                        ("inspector", "411003")):  # the last: an inspector of 建安区
        session = http_login(live_server, *make_user(engine, role=role, scope=scope))
        k = uuid.uuid4().hex
        r = submit_request(session, live_server, credit=committed, key=k)
        text_ = json.dumps(r.json(), ensure_ascii=False) if r.status_code == 200 else r.text
        assert r.status_code == 403 or any(m in text_ for m in ("无权使用此功能", "不在您的负责范围内")), (role, text_)
        assert stored(engine, k) == 0, role
    session = http_login(live_server, *make_user(engine, role="inspector", scope="411002"))
    forged = requests.Session()
    forged.cookies.update(session.cookies)
    k = uuid.uuid4().hex
    assert submit_request(forged, live_server, credit=committed, key=k).status_code == 403
    assert stored(engine, k) == 0
    ok = submit_request(session, live_server, credit=committed, key=k)
    assert ok.status_code == 200 and "已记录检查" in json.dumps(ok.json(), ensure_ascii=False)
    assert submit_request(session, live_server, credit=committed, key=k).status_code == 200  # a double click
    assert stored(engine, k) == 1
    with engine.begin() as c:
        c.execute(text("DELETE FROM inspections WHERE request_key = :k"), {"k": k})


def test_form_finding_leads_to_the_hazard_report(live_server: str, browser_page: Any, engine: Engine,
                                                 committed: str) -> None:
    page = browser_page
    user, password = make_user(engine, role="inspector", scope="411002")
    login(page, live_server, user, password, expect_path=f"/inspection/new?enterprise={committed}")
    page.wait_for_selector("#insp-items .insp-item")
    assert "表单测试化工有限公司" in page.locator("#insp-enterprise-line").inner_text()
    assert page.locator("#insp-next-due").count() == 1
    first = page.locator("#insp-items .insp-item").nth(3)  # HC04 of 危险化学品, offered first for the industry
    first.locator("label:has-text('不符合')").click()
    page.locator("#insp-kind label:has-text('四不两直')").click()
    page.locator("#insp-result label:has-text('责令整改')").click()
    page.screenshot(path=str(screenshot_dir() / "inspection_form.png"), full_page=True)
    page.click("#insp-submit")
    page.wait_for_selector("#insp-message .sg-alert:has-text('执法文书编号')")  # required for 责令整改
    page.fill("#insp-doc", "（许）应急责改〔2026〕21号")
    page.click("#insp-submit")
    page.wait_for_selector("#insp-done:has-text('已记录检查')")
    assert "HC04" in page.locator("#insp-findings").inner_text()
    page.click("#insp-hazard-link")
    page.wait_for_url(f"**/hazard/new?enterprise={committed}")
    page.goto(f"{live_server}/enterprise?code={committed}")
    page.wait_for_selector("#ent-inspections")
    assert "四不两直" in page.locator("#ent-inspections").inner_text()
    assert "下次应检" in page.locator("#ent-next-due").inner_text()
    assert page.console_errors == []
    with engine.begin() as c:
        c.execute(text("DELETE FROM inspections WHERE created_by = :u"), {"u": user})
