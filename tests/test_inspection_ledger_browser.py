"""检查台账 and 检查执法统计 in the app: a leader filters the ledger in Chromium, exports it (checked with openpyxl),
opens an enterprise file from a row and reads the statistics on /risk; the ledger's callbacks and its export forged
per role, without the CSRF header, and with bad filter values (a Chinese message, never a 500)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from openpyxl import load_workbook
from sqlalchemy import Engine, text

from domain import clock
from geo.inspections_app import NewInspection, record_inspection
from geo.users import create_user, hash_password
from tests.browser import http_login, login, make_user, screenshot_dir, watched_page

pytestmark = pytest.mark.db

TOWN = "411003960"  # 执法统计测试镇 under 建安区, only this module's
VA, VB = "411003960001", "411003960002"
CA, CB = "41100396000101", "41100396000201"
UNITS = [(TOWN, "执法统计测试镇", 3, "town", "411003"), (VA, "统计甲村", 4, "village", TOWN),
         (CA, "统计甲村第1网格", 5, "grid", VA), (VB, "统计乙村", 4, "village", TOWN),
         (CB, "统计乙村第1网格", 5, "grid", VB)]
EA, EB = "91411003SB0000001X", "91411003SB0000002X"
NAMES = {EA: "统计测试化工有限公司", EB: "统计测试食品厂"}
CODES = ("SBI-1", "SBI-2", "SBI-3", "SBI-4")
PASSWORD = "Test-pass-2026"
REFUSED = ("无权使用此功能", "无权查看该单位的数据")


@pytest.fixture(scope="module")
def town(engine: Engine, unit_tree: dict[str, str]) -> dict[str, Any]:
    """A township with two villages, one enterprise each, four imported inspections and one recorded in the app."""
    today = clock.today()
    with engine.begin() as c:
        for code, name, level, kind, parent in UNITS:
            c.execute(text(
                "INSERT INTO units (code, name, level, kind, parent_id, path) SELECT :code, :name, :level, :kind, "
                "p.id, p.path || :code || '.' FROM units p WHERE p.code = :parent ON CONFLICT (code) DO NOTHING"),
                {"code": code, "name": name, "level": level, "kind": kind, "parent": parent})
        for cc, cell in ((EA, CA), (EB, CB)):
            c.execute(text("INSERT INTO enterprises (credit_code, name, industry, risk_level, unit_id) SELECT :cc, "
                           ":name, '危险化学品', 'orange', id FROM units WHERE code = :cell "
                           "ON CONFLICT (credit_code) DO NOTHING"), {"cc": cc, "name": NAMES[cc], "cell": cell})
        for code, cell, cc, day, kind, result, found, doc, penalty in (
            ("SBI-1", CA, EA, today, "routine", "passed", 0, None, None),
            ("SBI-2", CA, EA, today, "special", "ordered_rectify", 3, "（统）应急责改〔2026〕1号", None),
            ("SBI-3", CB, EB, today - timedelta(days=400), "routine", "penalized", 1, "（统）罚〔2025〕9号", 5000),
            ("SBI-4", CB, EB, today, "unannounced", "closed_down", 1, "（统）停〔2026〕4号", None),
        ):
            c.execute(text(
                "INSERT INTO inspections (code, unit_id, enterprise_id, inspector_level, kind, inspected_at, "
                "inspectors, result, hazards_found, document_no, penalty_yuan) SELECT :code, u.id, e.id, 3, :kind, "
                ":day, '导入检查组', :result, :found, :doc, :penalty FROM units u, enterprises e "
                "WHERE u.code = :cell AND e.credit_code = :cc ON CONFLICT (code) DO NOTHING"),
                {"code": code, "cell": cell, "cc": cc, "day": day, "kind": kind, "result": result, "found": found,
                 "doc": doc, "penalty": penalty})
    inspector = make_user(engine, role="inspector", scope=TOWN, prefix="sbi")
    with engine.begin() as c:
        recorded, _ = record_inspection(c, scope=f"411000.411003.{TOWN}.", username=inspector[0], new=NewInspection(
            credit_code=EB, kind="routine", result="penalized", request_key=uuid.uuid4().hex, inspected_at=today,
            document_no="（统）应急罚〔2026〕2号", penalty_yuan="20000"), today=today)
    company = f"sbent_{uuid.uuid4().hex[:8]}"
    with engine.begin() as c:
        create_user(c, username=company, password_hash=hash_password(PASSWORD), role="enterprise", enterprise_code=EA)
    return {"leader": make_user(engine, role="leader", scope=TOWN), "inspector": inspector,
            "recorded": recorded.code, "company": (company, PASSWORD)}


def test_leader_filters_exports_opens_file_and_reads_statistics(live_server: str, chromium: Any, engine: Engine,
                                                                town: dict[str, Any], tmp_path: Path) -> None:
    recorded = town["recorded"]
    with watched_page(chromium, accept_downloads=True) as page:
        login(page, live_server, *town["leader"], expect_path="/inspections")
        page.wait_for_selector("#iled-grid .ag-row")
        page.wait_for_function("(document.querySelector('#iled-count') || {}).innerText === '共 5 条检查记录'")
        assert page.locator("#shell-nav-inspections").inner_text() == "检查台账"
        for label in ("行政处罚", "责令整改"):
            page.click("#iled-result")
            page.click(f"[role=option]:has-text('{label}')")
            page.keyboard.press("Escape")
        page.wait_for_function("(document.querySelector('#iled-count') || {}).innerText === '共 3 条检查记录'")
        page.click("#iled-area")
        page.click("[role=option]:has-text('统计乙村（')")
        page.wait_for_function(f"(document.querySelector('#iled-export') || {{href: ''}}).href.includes('area={VB}')")
        page.wait_for_function("(document.querySelector('#iled-count') || {}).innerText === '共 2 条检查记录'")
        page.wait_for_function(
            "document.querySelectorAll('#iled-grid .ag-center-cols-container .ag-row').length === 2")
        grid = page.locator("#iled-grid").inner_text()
        shown = page.eval_on_selector_all("#iled-grid .ag-center-cols-container .ag-row",
                                          "rows => rows.map(r => r.getAttribute('row-id'))")
        assert shown == [recorded, "SBI-3"]  # newest first
        assert "系统录入" in grid and "台账导入" in grid and "20000" in grid
        page.click("#iled-title")  # the area dropdown loses its focus ring before the screenshot
        page.screenshot(path=str(screenshot_dir() / "inspections.png"))  # not full_page: resizing re-renders the grid

        with page.expect_download() as info:
            page.click("#iled-export")
        assert info.value.suggested_filename.startswith("检查台账_执法统计测试镇_")
        path = tmp_path / "inspections.xlsx"
        info.value.save_as(path)
        ws = load_workbook(path).active
        header = [c.value for c in ws[1]]
        rows = [dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)]
        assert [r["检查编号"] for r in rows] == [recorded, "SBI-3"]  # newest first, as the grid
        assert [r["检查结果"] for r in rows] == ["行政处罚", "行政处罚"]
        assert [r["罚款金额(元)"] for r in rows] == [20000, 5000]
        assert [r["来源"] for r in rows] == ["系统录入", "台账导入"]
        assert rows[0]["企业名称"] == NAMES[EB] and rows[0]["统一社会信用代码"] == EB
        assert rows[0]["执法文书编号"] == "（统）应急罚〔2026〕2号" and rows[0]["所在网格/单位"] == "统计乙村第1网格"
        with engine.connect() as c:
            audit = c.execute(text("SELECT detail FROM audit_log WHERE username = :u AND action = 'export_inspections' "
                                   "ORDER BY id DESC LIMIT 1"), {"u": town["leader"][0]}).scalar_one()
        assert audit["rows"] == 2 and audit["filters"] == {"results": ["penalized", "ordered_rectify"], "area": VB}

        page.locator(f"#iled-grid .ag-row[row-id='{recorded}'] [col-id='enterprise_name']").first.click()
        page.wait_for_url(f"**/enterprise?code={EB}")
        page.wait_for_selector(f"text={NAMES[EB]}")

        page.goto(f"{live_server}/risk")
        page.wait_for_selector("#risk-enf-table")
        page.locator("#risk-enf-title").scroll_into_view_if_needed()

        def area_row(code: str) -> list[str]:
            return page.locator(f"#risk-enf-table tr[data-code='{code}'] td").all_inner_texts()

        # this month: 甲村 SBI-1, SBI-2 (责令整改, 3 found); 乙村 SBI-4 (停产整顿) and the recorded 20,000 元
        assert area_row(VA) == ["统计甲村", "2", "3", "1", "0", "0", "0.00"]
        assert area_row(VB) == ["统计乙村", "2", "1", "0", "1", "1", "20,000.00"]
        assert "检查 4 次" in page.inner_text("#risk-enf-summary") and "罚款 20,000 元" in page.inner_text(
            "#risk-enf-summary")
        page.locator("#risk-enf-period label:has-text('本年')").click()
        page.wait_for_selector("#risk-enf-summary:has-text('本年')")
        assert area_row(VB)[1] == "2"  # SBI-3 is more than a year old
        page.locator(f"#risk-enf-table tr[data-code='{VA}'] a").click()  # the area's ledger rows
        page.wait_for_url(f"**/inspections?area={VA}")
        page.wait_for_function("(document.querySelector('#iled-count') || {}).innerText === '共 2 条检查记录'")
        assert page.console_errors == []


# --- forged requests -----------------------------------------------------------------------------------------------

def rows_request(session: requests.Session, base: str, filters: dict[str, Any] | None = None,
                 sort: list[dict[str, str]] | None = None) -> requests.Response:
    """POST the ledger's rows callback as the renderer does."""
    outputs = [("iled-grid", "getRowsResponse"), ("iled-count", "children"), ("iled-export", "href")]
    payload = {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
        "outputs": [{"id": i, "property": p} for i, p in outputs],
        "inputs": [{"id": "iled-grid", "property": "getRowsRequest",
                    "value": {"startRow": 0, "endRow": 100, "sortModel": sort or []}}],
        "state": [{"id": "iled-filters", "property": "data", "value": filters or {}}],
        "changedPropIds": ["iled-grid.getRowsRequest"], "parsedChangedPropsIds": ["iled-grid.getRowsRequest"],
    }
    return session.post(f"{base}/_dash-update-component", json=payload, timeout=30)


def open_request(session: requests.Session, base: str, code: str) -> requests.Response:
    """POST the row-click callback that opens the enterprise file."""
    payload = {"output": "iled-nav.href", "outputs": {"id": "iled-nav", "property": "href"},
               "inputs": [{"id": "iled-grid", "property": "cellClicked", "value": {"colId": "code", "rowId": code}}],
               "changedPropIds": ["iled-grid.cellClicked"], "parsedChangedPropsIds": ["iled-grid.cellClicked"]}
    return session.post(f"{base}/_dash-update-component", json=payload, timeout=30)


def filters_request(session: requests.Session, base: str, kind: Any) -> requests.Response:
    """POST the filter-collecting callback with a kind value."""
    names = [("iled-period", "start_date"), ("iled-period", "end_date"), ("iled-kind", "value"),
             ("iled-result", "value"), ("iled-area", "value"), ("iled-source", "value"), ("iled-text", "value")]
    payload = {"output": "iled-filters.data", "outputs": {"id": "iled-filters", "property": "data"},
               "inputs": [{"id": i, "property": p, "value": kind if i == "iled-kind" else None} for i, p in names],
               "changedPropIds": ["iled-kind.value"], "parsedChangedPropsIds": ["iled-kind.value"]}
    return session.post(f"{base}/_dash-update-component", json=payload, timeout=30)


def stats_request(session: requests.Session, base: str, period: Any) -> requests.Response:
    """POST the /risk 检查执法统计 callback with a period."""
    payload = {"output": "risk-enf.children", "outputs": {"id": "risk-enf", "property": "children"},
               "inputs": [{"id": "risk-enf-period", "property": "value", "value": period}],
               "changedPropIds": ["risk-enf-period.value"], "parsedChangedPropsIds": ["risk-enf-period.value"]}
    return session.post(f"{base}/_dash-update-component", json=payload, timeout=30)


def body(r: requests.Response) -> str:
    if r.headers.get("content-type", "").startswith("application/json"):
        return json.dumps(r.json(), ensure_ascii=False)
    return r.text


def shows_town(text_: str) -> bool:
    return any(code in text_ for code in CODES) or any(name in text_ for name in NAMES.values())


def test_forged_ledger_requests_per_role(live_server: str, engine: Engine, town: dict[str, Any]) -> None:
    leader = http_login(live_server, *town["leader"])
    own = rows_request(leader, live_server)
    assert own.status_code == 200 and "共 5 条检查记录" in body(own) and town["recorded"] in body(own)
    assert f"/enterprise?code={EB}" in body(open_request(leader, live_server, town["recorded"]))
    xlsx = leader.get(f"{live_server}/export/inspections.xlsx", params={"area": VA}, timeout=20)
    assert xlsx.status_code == 200 and xlsx.headers["content-type"].startswith("application/vnd.openxml")

    # an inspector of the town reads the ledger but may not export; a planner of the city has the map: no file
    inspector = http_login(live_server, *town["inspector"])
    assert "共 5 条检查记录" in body(rows_request(inspector, live_server))
    assert inspector.get(f"{live_server}/export/inspections.xlsx", timeout=20).status_code == 403
    planner = http_login(live_server, *make_user(engine, role="planner", scope="411000"))
    assert "/?unit=" + CB in body(open_request(planner, live_server, town["recorded"]))

    # accounts of another district (or another township): none of the town's rows, the town as area refused
    for role, scope in (("grid_manager", "411002001"), ("leader", "411002"), ("admin", "411003100"),
                        ("inspector", "411002")):
        s = http_login(live_server, *make_user(engine, role=role, scope=scope))
        r = rows_request(s, live_server)
        assert r.status_code == 200 and not shows_town(body(r)), role
        r = rows_request(s, live_server, {"area": TOWN})
        assert r.status_code in (200, 403) and any(m in body(r) for m in REFUSED) and not shows_town(body(r)), role
        assert "iled-nav" not in body(open_request(s, live_server, town["recorded"])), role
        export = s.get(f"{live_server}/export/inspections.xlsx", params={"area": TOWN}, timeout=20)
        assert export.status_code == 403 and not shows_town(export.text), role
        if role != "inspector":  # may export its own scope (and the town is not in it)
            mine = s.get(f"{live_server}/export/inspections.xlsx", timeout=20)
            assert mine.status_code == 200 and not any(c.encode() in mine.content for c in CODES), role
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM audit_log WHERE action = 'forbidden' AND detail->>'target' = :t"),
                         {"t": TOWN}).scalar_one() == 7  # 4 grids + 3 exports (the inspector lacks export)

    # an enterprise account: no ledger at all
    company = http_login(live_server, *town["company"])
    for r in (rows_request(company, live_server), open_request(company, live_server, "SBI-1"),
              filters_request(company, live_server, ["routine"])):
        assert r.status_code in (200, 403) and "无权使用此功能" in body(r) and not shows_town(body(r))
    assert company.get(f"{live_server}/export/inspections.xlsx", timeout=20).status_code == 403
    assert company.get(f"{live_server}/inspections", timeout=20).status_code == 403

    # the leader's cookie without the CSRF header
    forged = requests.Session()
    forged.cookies.update(leader.cookies)
    assert rows_request(forged, live_server).status_code == 403
    assert open_request(forged, live_server, "SBI-1").status_code == 403


def test_bad_filters_say_why_never_500(live_server: str, town: dict[str, Any]) -> None:
    leader = http_login(live_server, *town["leader"])
    for filters, sort, message in (
        ({"kind": ["weekly"]}, None, "检查方式取值无效"),
        ({"result": "ok"}, None, "检查结果取值无效"),
        ({"from": "2026-13-45"}, None, "日期格式错误"),
        ({"from": "2026-12-02", "to": "2026-01-01"}, None, "起始日期不能晚于结束日期"),
        ({"area": "41'; DROP TABLE units; --"}, None, "区域代码格式错误"),
        ({}, [{"colId": "x.id; DROP", "sort": "asc"}], "不能按"),
        ({"source": ["elsewhere"]}, None, "来源取值无效"),
    ):
        r = rows_request(leader, live_server, filters, sort)
        assert r.status_code in (200, 400) and message in body(r), (filters, r.status_code, body(r)[:300])
    r = filters_request(leader, live_server, ["weekly"])
    assert r.status_code in (200, 400) and "检查方式取值无效" in body(r)
    r = stats_request(leader, live_server, "week")
    assert r.status_code in (200, 400) and "统计周期无效" in body(r)
    assert "统计乙村" in body(stats_request(leader, live_server, "quarter"))
    inspector = http_login(live_server, *town["inspector"])  # no analysis: no /risk statistics
    r = stats_request(inspector, live_server, "month")
    assert "无权使用此功能" in body(r) and "统计乙村" not in body(r)
    for query, message in (({"from": "2026-13-45"}, "日期格式错误"), ({"sort": "evil:asc"}, "不能按"),
                           ({"kind": "x"}, "检查方式取值无效"), ({"area": "abc"}, "区域代码格式错误")):
        r = leader.get(f"{live_server}/export/inspections.xlsx", params=query, timeout=20)
        assert r.status_code == 400 and message in r.text, (query, r.status_code)
