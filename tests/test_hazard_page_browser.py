"""Real Chromium, several accounts: the hazard loop worked in the app end to end.

An enterprise account reports from its file (a double click creates one hazard), starts and submits its
rectification with the 五到位; a leader puts the major hazard under 督办; one inspector fails the 验收 while
a second inspector, looking at the same version, is told 已被他人处理; the enterprise submits again, the
second inspector passes (销号) and the leader lifts the 督办. Each step shows on the hazard ledger within 5 s
and the 待办 badges count what awaits each account. Screenshots ``hazard_page.png`` and ``todo.png`` in
screenshot_dir() (``make screenshots`` writes the documented ones in docs/screenshots).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from domain import clock
from geo.todo import todo_count
from tests.browser import make_user, screenshot_dir
from tests.test_hazard_page import ENT_A, PLAN, loop_world, make_enterprise_user

__all__ = ["loop_world"]
pytestmark = [pytest.mark.browser, pytest.mark.db, pytest.mark.usefixtures("loop_world")]
STEP_MS = 5000  # each step on the ledger within 5 s


@pytest.fixture
def pages(chromium: Any) -> Iterator[Any]:
    """Open a fresh signed-out page per call (its own context); all closed at the end."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_page() -> Any:
        context = chromium.new_context(locale="zh-CN", viewport={"width": 1440, "height": 1000})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
        page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
        return page

    open_page.errors = errors  # type: ignore[attr-defined]
    yield open_page
    for context in contexts:
        context.close()


def sign_in(page: Any, base: str, user: str, password: str, path: str) -> None:
    """Sign in through the login form straight to ``path``."""
    page.goto(f"{base}/login?next={path}")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("#shell-user")


def open_hazard(page: Any, base: str, hazard_id: int) -> None:
    page.goto(f"{base}/hazard?id={hazard_id}")
    page.wait_for_selector("#hz-status")


def status_is(page: Any, label: str) -> None:
    page.wait_for_function(f"() => (document.querySelector('#hz-status') || {{}}).textContent === '{label}'",
                           timeout=STEP_MS)


def act(page: Any, action: str, *, note: str | None = None, fields: dict[str, str] | None = None,
        day: str | None = None) -> None:
    """Fill an action's form on the hazard page and click its button."""
    card = page.locator(f"#hz-action-{action}")
    for field, value in (fields or {}).items():
        card.locator(f"[id*='\"field\":\"{field}\"']").fill(value)
    if day:
        field = "supervision_deadline" if action == "supervise" else "new_deadline"
        box = card.locator(f"input[id*='\"field\":\"{field}\"']")
        box.fill(day)
        box.press("Enter")
        page.keyboard.press("Escape")
    if note is not None:
        card.locator("[id*='\"field\":\"note\"']").fill(note)
    card.locator("button.hz-go").click()


def on_ledger(page: Any, base: str, code: str, status: str) -> None:
    """The leader's ledger shows the hazard ``code`` with ``status`` within 5 s."""
    page.goto(f"{base}/hazards")
    page.wait_for_selector("#haz-text")
    page.fill("#haz-text", code)
    page.wait_for_function(
        f"() => [...document.querySelectorAll('.ag-row')].some(r => r.textContent.includes('{code}') "
        f"&& r.textContent.includes('{status}'))", timeout=STEP_MS)


def badge(page: Any) -> int:
    return int(page.inner_text("#shell-todo-count"))


def expected_badge(engine: Engine, username: str) -> int:
    """The 待办 count of ``username`` read straight from the database."""
    from dashboard.hazard.access import VERIFIERS
    from geo.todo import TodoAsk

    with engine.connect() as conn:
        row = conn.execute(text('SELECT u.role, u.enterprise_id, s.path FROM users u JOIN units s '
                                'ON s.id = u.scope_unit_id WHERE u.username = :u'), {"u": username}).one()
        ask = TodoAsk(scope=row.path, username=username, verify=row.role in VERIFIERS, watch=row.role != "enterprise",
                      enterprise_id=row.enterprise_id if row.role == "enterprise" else None,
                      public_queue=row.role in ("grid_manager", "admin"), as_of=clock.today())
        return todo_count(conn, ask).total


def shoot(page: Any, name: str) -> None:
    """Write a screenshot to screenshot_dir() (docs/screenshots only under ``make screenshots``)."""
    page.screenshot(path=str(screenshot_dir() / f"{name}.png"), full_page=True)


def test_the_loop_in_the_browser(live_server: str, engine: Engine, pages: Any) -> None:
    base = live_server
    ent_user, ent_pw = make_enterprise_user(engine, ENT_A)
    insp1 = make_user(engine, role="inspector", scope="416002", prefix="insp1")
    insp2 = make_user(engine, role="inspector", scope="416002", prefix="insp2")
    leader = make_user(engine, role="leader", scope="416000", prefix="lead")
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET display_name = :n WHERE username = :u"), {"n": "李检查", "u": insp1[0]})
        conn.execute(text("UPDATE users SET display_name = :n WHERE username = :u"), {"n": "王检查", "u": insp2[0]})
        conn.execute(text("UPDATE users SET display_name = :n WHERE username = :u"), {"n": "赵局长", "u": leader[0]})

    # The enterprise reports from its own file; a double click makes one hazard.
    ent = pages()
    sign_in(ent, base, ent_user, ent_pw, f"/enterprise?code={ENT_A}")
    ent.wait_for_selector("#ent-report-link")
    ent.click("#ent-report-link")
    ent.wait_for_selector("#hzn-name")
    assert "丁甲化工有限公司" in ent.inner_text("#hzn-where")
    title = "储罐区静电接地线断开"
    ent.fill("#hzn-name", title)
    ent.locator(".hz-radio label", has_text="重大隐患").click()
    deadline = (clock.today() + timedelta(days=20)).isoformat()
    ent.fill("#hzn-deadline", deadline)
    ent.press("#hzn-deadline", "Enter")
    ent.keyboard.press("Escape")
    ent.fill("#hzn-desc", "巡检发现 2 号储罐静电接地线断开，存在静电积聚风险。")
    ent.dblclick("#hzn-submit")
    ent.wait_for_url(f"{base}/hazard?id=*", timeout=10_000)
    ent.wait_for_selector("#hz-status")
    hazard_id = int(ent.url.rsplit("=", 1)[1])
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, code, channel, deadline FROM hazards WHERE title = :t"),
                            {"t": title}).all()
    assert len(rows) == 1 and rows[0].id == hazard_id and rows[0].channel == "self_check"
    assert rows[0].deadline.isoformat() == deadline
    code = rows[0].code
    status_is(ent, "已上报")
    assert ent.locator("#hz-five .hz-five-missing").count() == 4  # only 整改时限 is in place yet
    assert ent.locator(".hz-action").count() == 1 and ent.locator("#hz-action-start").count() == 1

    lead = pages()
    sign_in(lead, base, *leader, "/hazards")
    on_ledger(lead, base, code, "已上报")

    # The leader puts it under 督办.
    open_hazard(lead, base, hazard_id)
    act(lead, "supervise", day=(clock.today() + timedelta(days=30)).isoformat(), note="限期整改，市级督办")
    lead.wait_for_selector("#hz-supervised", timeout=STEP_MS)
    assert "市级挂牌督办" in lead.inner_text("#hz-supervised")
    on_ledger(lead, base, code, "市级挂牌督办")

    # The enterprise starts, then submits with the 五到位.
    ent.reload()
    ent.wait_for_selector("#hz-action-start")
    act(ent, "start", note="已安排电工处理")
    status_is(ent, "整改中")
    assert badge(ent) == expected_badge(engine, ent_user) >= 1
    act(ent, "submit", fields=PLAN, note="接地线已重新焊接")
    status_is(ent, "待验收")
    assert ent.locator("#hz-five .hz-five-missing").count() == 0
    on_ledger(lead, base, code, "待验收")

    # Two inspectors see it in 待办 at the same version; the first fails it.
    i1, i2 = pages(), pages()
    sign_in(i1, base, *insp1, "/todo")
    i1.wait_for_selector(f"tr[data-code='{code}']")
    assert badge(i1) == expected_badge(engine, insp1[0]) >= 1
    sign_in(i2, base, *insp2, "/todo")
    open_hazard(i2, base, hazard_id)
    i1.click(f"tr[data-code='{code}'] a.todo-link")
    i1.wait_for_selector("#hz-action-fail")
    act(i1, "fail", note="接地电阻未检测，请补充检测报告")
    status_is(i1, "整改中")
    act(i2, "pass", note="同意销号")
    i2.wait_for_selector(".hz-warn", timeout=STEP_MS)
    assert "已被他人处理" in i2.inner_text("#hz-msg")
    status_is(i2, "整改中")
    assert i2.locator("#hz-action-pass").count() == 0
    on_ledger(lead, base, code, "整改中")

    # The enterprise submits again (its 五到位 kept), the second inspector passes: 销号.
    ent.reload()
    ent.wait_for_selector("#hz-action-submit")
    act(ent, "submit", note="已补充接地电阻检测报告（3.2Ω）")
    status_is(ent, "待验收")
    on_ledger(lead, base, code, "待验收")
    i2.goto(f"{base}/todo")
    i2.wait_for_selector(f"tr[data-code='{code}']")
    assert badge(i2) == expected_badge(engine, insp2[0])
    shoot(i2, "todo")
    open_hazard(i2, base, hazard_id)
    i2.wait_for_selector("#hz-action-pass")
    shoot(i2, "hazard_page")
    act(i2, "pass", note="复查合格，同意销号")
    status_is(i2, "已销号")
    on_ledger(lead, base, code, "已销号")

    # The leader lifts the 督办 after closure.
    open_hazard(lead, base, hazard_id)
    act(lead, "lift", note="已销号，解除督办")
    lead.wait_for_function("() => !document.querySelector('#hz-supervised')", timeout=STEP_MS)
    with engine.connect() as conn:
        events = conn.execute(text('SELECT action, "by" FROM hazard_events WHERE hazard_id = :h ORDER BY id'),
                              {"h": hazard_id}).all()
    assert [e.action for e in events] == ["report", "supervise", "start", "submit", "fail", "submit", "pass", "lift"]
    assert [e.by for e in events][4:7] == [insp1[0], ent_user, insp2[0]]
    timeline = lead.inner_text("#hz-timeline")
    assert "李检查" in timeline and "接地电阻未检测" in timeline and "整改资金" in timeline
    on_ledger(lead, base, code, "已销号")
    assert pages.errors == []
