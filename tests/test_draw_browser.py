"""双随机一公开 in the app: a leader draws in Chromium, a drawn inspector records the inspection of the item, the
draw shows its completion, the published list (一公开) shows and exports; and every write callback forged per role."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from openpyxl import load_workbook
from sqlalchemy import Engine, text

from tests.browser import http_login, login, make_user, screenshot_dir

pytestmark = pytest.mark.db

TOWN = "411003900"  # 测试抽查镇 under 建安区, only this test's
CELL = "41100390000101"
UNITS = [(TOWN, "测试抽查镇", 3, "town", "411003"), ("411003900001", "抽查村", 4, "village", TOWN),
         (CELL, "抽查村第1网格", 5, "grid", "411003900001")]
NAMES = ("许昌抽查化工有限公司", "建安粉末冶金厂", "东城冷链物流", "华通烟花爆竹批发部", "金穗面粉厂", "永兴机械")
COLOURS = ("red", "orange", "yellow", "blue", "red", None)
INDUSTRIES = ("危险化学品", "冶金", "商贸", "烟花爆竹", "轻工", "机械")


REFUSED = ("无权使用此功能", "不在您的数据范围内")


def code(i: int) -> str:
    return f"91411003DB{i:07d}X"


@pytest.fixture(scope="module")
def town(engine: Engine, unit_tree: dict[str, str]) -> Iterator[dict[str, Any]]:
    """A township of six enterprises and four inspectors of its own (committed), plus a leader.

    Inspectors other tests of the session committed with a scope over the township would be drawn too: they are
    inactive while this module runs (the draw pairs only active inspectors) and active again after it.
    """
    with engine.begin() as c:
        for unit_code, name, level, kind, parent in UNITS:
            c.execute(text(
                "INSERT INTO units (code, name, level, kind, parent_id, path) "
                "SELECT :code, :name, :level, :kind, p.id, p.path || :code || '.' FROM units p WHERE p.code = :parent "
                "ON CONFLICT (code) DO NOTHING"),
                {"code": unit_code, "name": name, "level": level, "kind": kind, "parent": parent})
        for i, name in enumerate(NAMES):
            c.execute(text(
                "INSERT INTO enterprises (credit_code, name, industry, risk_level, unit_id) SELECT :cc, :name, :ind, "
                ":risk, id FROM units WHERE code = :cell ON CONFLICT (credit_code) DO NOTHING"),
                {"cc": code(i), "name": name, "ind": INDUSTRIES[i], "risk": COLOURS[i], "cell": CELL})
    inspectors = [make_user(engine, role="inspector", scope=TOWN, prefix=f"dri{i}") for i in range(4)]
    with engine.begin() as c:
        for (user, _), name in zip(inspectors, ("张伟", "李娜", "王强", "赵敏"), strict=True):
            c.execute(text("UPDATE users SET display_name = :n WHERE username = :u"), {"n": name, "u": user})
    with engine.begin() as c:
        others = c.execute(text(
            "UPDATE users u SET active = false FROM units s WHERE s.id = u.scope_unit_id AND u.role = 'inspector' "
            "AND u.active AND NOT (u.username = ANY(:mine)) "
            "AND ((SELECT path FROM units WHERE code = :town) LIKE s.path || '%' OR s.path LIKE "
            "(SELECT path FROM units WHERE code = :town) || '%') RETURNING u.username"),
            {"mine": [u for u, _ in inspectors], "town": TOWN}).scalars().all()
    try:
        yield {"leader": make_user(engine, role="leader", scope="411000"), "inspectors": dict(inspectors)}
    finally:
        with engine.begin() as c:
            c.execute(text("UPDATE users SET active = true WHERE username = ANY(:u)"), {"u": list(others)})


def test_leader_draws_inspector_completes_list_exports(live_server: str, chromium: Any, engine: Engine,
                                                       town: dict[str, Any], tmp_path: Path) -> None:
    context = chromium.new_context(locale="zh-CN", viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, live_server, *town["leader"], expect_path="/inspection")
    page.click("#insp-draws-link")
    page.wait_for_selector("#draw-submit")
    page.goto(f"{live_server}/draws?area={TOWN}")
    page.wait_for_selector("#draw-submit")
    page.fill("#draw-title", "2026年12月建安区双随机抽查")
    page.fill("#draw-n", "4")
    page.locator("#draw-weighting label:has-text('按风险加权')").click()
    page.fill("#draw-share", "50")
    page.click("#draw-submit")
    page.wait_for_selector("#draw-message:has-text('已抽取 4 家企业')")
    items = page.locator("#draw-message #draw-items .draw-item")
    assert items.count() == 4 and "完成 0/4" in page.locator("#draw-message").inner_text()
    with engine.connect() as c:
        draw = c.execute(text("SELECT id, code, seed FROM inspection_draws WHERE title = '2026年12月建安区双随机抽查' "
                              "ORDER BY id DESC LIMIT 1")).one()
        item = c.execute(text("SELECT i.inspector1, e.credit_code, e.name FROM draw_items i JOIN enterprises e "
                              "ON e.id = i.enterprise_id WHERE i.draw_id = :d ORDER BY i.seq LIMIT 1"),
                         {"d": draw.id}).one()
        highs = c.execute(text("SELECT count(*) FROM draw_items i JOIN enterprises e ON e.id = i.enterprise_id "
                               "WHERE i.draw_id = :d AND e.risk_level IN ('red', 'orange')"), {"d": draw.id})
        assert highs.scalar_one() >= 2
    assert item.inspector1 in town["inspectors"]
    assert draw.code in page.locator("#draw-list").inner_text()

    # The drawn inspector finds the task on /inspection and records the 双随机 inspection.
    other = chromium.new_context(locale="zh-CN", viewport={"width": 1440, "height": 1000})
    insp = other.new_page()
    insp.on("pageerror", lambda exc: errors.append(str(exc)))
    login(insp, live_server, item.inspector1, town["inspectors"][item.inspector1], expect_path="/inspection")
    row = insp.locator("#insp-my-draws .insp-draw-row", has_text=item.name)
    row.locator("a:has-text('记录检查')").click()
    insp.wait_for_selector("#insp-submit")
    assert item.name in insp.locator("#insp-enterprise-line").inner_text()
    assert insp.locator("#insp-kind input[value=double_random]").is_checked()
    insp.locator("#insp-result label:has-text('责令整改')").click()
    insp.fill("#insp-doc", "（建）应急责改〔2026〕7号")
    insp.click("#insp-submit")
    insp.wait_for_selector("#insp-done:has-text('已记录检查')")
    other.close()

    # The draw shows its completion; the published list shows and exports it.
    page.goto(f"{live_server}/draws?id={draw.id}")
    page.wait_for_selector("#draw-progress:has-text('完成 1/4')")
    done = page.locator(f"#draw-items .draw-item[data-code='{item.credit_code}']").inner_text()
    assert "责令整改" in done
    page.screenshot(path=str(screenshot_dir() / "draw.png"), full_page=True)
    page.click("#draw-public-link")
    page.wait_for_selector("#draw-public")
    public = page.locator("#draw-public").inner_text()
    assert item.name in public and "责令整改" in public and "未检查" in public
    with page.expect_download() as info:
        page.click("#draw-public-xlsx")
    assert info.value.suggested_filename == f"双随机抽查公开名单_{draw.code}.xlsx"
    path = tmp_path / "draw.xlsx"
    info.value.save_as(path)
    ws = load_workbook(path).active
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)]
    assert len(rows) == 4 and {r["企业名称"] for r in rows} <= set(NAMES)
    assert next(r for r in rows if r["统一社会信用代码"] == item.credit_code)["检查结果"] == "责令整改"
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM audit_log WHERE action = 'export_draw' AND detail->>'draw_id' = "
                              ":d"), {"d": str(draw.id)}).scalar_one() == 1
    assert errors == []
    context.close()


# --- forged write callbacks --------------------------------------------------------------------------------------

def _post(session: requests.Session, base: str, outputs: list[tuple[str, str]], trigger: str,
          state: list[tuple[str, str, Any]]) -> requests.Response:
    payload: dict[str, Any] = {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
        "outputs": [{"id": i, "property": p} for i, p in outputs],
        "inputs": [{"id": trigger, "property": "n_clicks", "value": 1}],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [f"{trigger}.n_clicks"], "parsedChangedPropsIds": [f"{trigger}.n_clicks"],
    }
    return session.post(f"{base}/_dash-update-component", json=payload, timeout=30)


def draw_request(session: requests.Session, base: str, key: str, area: str = TOWN) -> requests.Response:
    """POST the /draws 抽取 callback as the renderer does."""
    return _post(session, base, [("draw-message", "children"), ("draw-key", "data"), ("draw-list", "children")],
                 "draw-submit", [("draw-title", "value", f"伪造{key[:6]}"), ("draw-area", "value", area),
                                 ("draw-industries", "value", []), ("draw-colours", "value", []),
                                 ("draw-n", "value", 2), ("draw-weighting", "value", "none"),
                                 ("draw-share", "value", 0), ("draw-avoid", "value", []), ("draw-key", "data", key)])


def redraw_request(session: requests.Session, base: str, key: str, draw_id: int) -> requests.Response:
    """POST the 重新抽取 callback."""
    return _post(session, base, [("draw-redraw-message", "children"), ("draw-redraw-key", "data")], "draw-redraw",
                 [("draw-id", "data", draw_id), ("draw-redraw-reason", "value", "伪造的重新抽取"),
                  ("draw-redraw-key", "data", key)])


def body(r: requests.Response) -> str:
    if r.headers.get("content-type", "").startswith("application/json"):
        return json.dumps(r.json(), ensure_ascii=False)
    return r.text


def stored_draws(engine: Engine, key: str) -> int:
    with engine.connect() as c:
        return int(c.execute(text("SELECT count(*) FROM inspection_draws WHERE options->>'request_key' = :k"),
                             {"k": key}).scalar_one())


def test_forged_draws_per_role(live_server: str, engine: Engine, town: dict[str, Any]) -> None:
    leader = http_login(live_server, *town["leader"])
    k0 = uuid.uuid4().hex
    ok = draw_request(leader, live_server, k0)
    assert ok.status_code == 200 and "已抽取 2 家企业" in body(ok) and stored_draws(engine, k0) == 1
    with engine.connect() as c:
        draw_id = int(c.execute(text("SELECT id FROM inspection_draws WHERE options->>'request_key' = :k"),
                                {"k": k0}).scalar_one())
    again = draw_request(leader, live_server, k0)  # a double click: still one draw
    assert again.status_code == 200 and stored_draws(engine, k0) == 1
    roles = (("planner", "411000"), ("inspector", TOWN), ("grid_manager", "411003100"), ("admin", "411002"),
             ("leader", "411002"))  # the last two: scope 魏都区, the town is in 建安区
    for role, scope in roles:
        session = http_login(live_server, *make_user(engine, role=role, scope=scope))
        k = uuid.uuid4().hex
        r = draw_request(session, live_server, k)
        assert r.status_code in (200, 403), (role, r.status_code)
        assert r.status_code == 403 or any(m in body(r) for m in REFUSED), (role, body(r))
        assert stored_draws(engine, k) == 0, role
        r = redraw_request(session, live_server, k, draw_id)
        assert r.status_code == 403 or any(m in body(r) for m in REFUSED), (role, body(r))
        assert stored_draws(engine, k) == 0, role
    forged = requests.Session()
    forged.cookies.update(leader.cookies)  # the leader's cookie without the CSRF header
    k = uuid.uuid4().hex
    assert draw_request(forged, live_server, k).status_code == 403
    assert redraw_request(forged, live_server, k, draw_id).status_code == 403
    assert stored_draws(engine, k) == 0
    r = redraw_request(leader, live_server, k, draw_id)
    assert r.status_code == 200 and "已重新抽取" in body(r) and stored_draws(engine, k) == 1
    with engine.connect() as c:
        old = c.execute(text("SELECT superseded FROM inspection_draws WHERE id = :d"), {"d": draw_id}).scalar_one()
        assert old is True
    # the published list and its xlsx: any signed-in account of the scope; not another county's
    outsider = http_login(live_server, *make_user(engine, role="inspector", scope="411002"))
    assert outsider.get(f"{live_server}/export/draws/{draw_id}.xlsx", timeout=20).status_code == 404
    assert leader.get(f"{live_server}/export/draws/{draw_id}.xlsx", timeout=20).status_code == 200
