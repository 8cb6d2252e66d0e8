"""/admin/rules in headless Chromium on the demo (own database): change a weight, preview, apply, see the map change.

Also the storage side on the same database: a new version with who and when, audited; bad values refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from domain import clock
from domain.risk_rule import unit_class
from domain.rules_config import RuleSettings, settings_form, settings_from_form
from geo import rule_settings
from tests.browser import login, make_user, screenshot_dir
from tests.demo_fixture import DemoDb, demo_db, fresh_database  # noqa: F401  (session fixture)
from tests.demo_server import gunicorn_app

pytestmark = pytest.mark.browser
SHOTS = screenshot_dir()
RED = "#e0322b"


@pytest.fixture(scope="module")
def rules_server(demo_db: DemoDb) -> Iterator[tuple[str, Engine]]:  # noqa: F811
    """The demo loaded into a database of this module's own (applying rules changes it), served by gunicorn."""
    from etl.demo.load import load_demo

    url = fresh_database(os.environ.get("SAFEGRID_TEST_DB", "safegrid_test") + "_rules_ui")
    load_demo(demo_db.directory, url=url, as_of=clock.today())
    engine = create_engine(url)
    with gunicorn_app(url) as base:
        yield base, engine
    engine.dispose()


def _county_with_townships(engine: Engine) -> str:
    with engine.connect() as c:
        return str(c.execute(text(
            "SELECT u.code FROM units u JOIN units k ON k.parent_id = u.id WHERE u.level = 2 "
            "GROUP BY u.code ORDER BY count(*) DESC, u.code LIMIT 1")).scalar_one())


def _classes(engine: Engine, parent: str) -> dict[str, str | None]:
    with engine.connect() as c:
        return {r[0]: r[1] for r in c.execute(text(
            "SELECT u.code, s.risk_class FROM units u JOIN units p ON p.id = u.parent_id "
            "LEFT JOIN unit_stats s ON s.unit_id = u.id WHERE p.code = :p"), {"p": parent})}


def _map_fills(page: Any, codes: list[str]) -> dict[str, str]:
    page.wait_for_selector(f".cm-unit-{codes[0]}", state="attached", timeout=30_000)
    return {code: str(page.get_attribute(f"path.cm-unit-{code}", "fill")).lower() for code in codes}


def test_change_a_weight_preview_apply_and_the_map_changes(rules_server: tuple[str, Engine],
                                                           browser_page: Any) -> None:
    base, engine = rules_server
    page = browser_page
    county = _county_with_townships(engine)
    before = _classes(engine, county)
    with engine.connect() as c:
        inputs = rule_settings.unit_inputs(c)
    # the change: townships coloured by 风险指数, and blue enterprises weigh 5 (every one with firms turns red)
    form = settings_form(RuleSettings()) | {"w_ent_blue": 5, "mode_3": "index"}
    new_rule = settings_from_form(form, version="x").risk
    expected_changed = sum(1 for r in inputs if r["level"] == 3 and unit_class(r, RuleSettings().risk)
                           != unit_class(r, new_rule))
    assert expected_changed > 0

    user, password = make_user(engine, role="admin", scope="411000")
    login(page, base, user, password)
    page.goto(f"{base}/?unit={county}")
    fills_before = _map_fills(page, list(before))
    assert fills_before == {k: _hex(v) for k, v in before.items()}

    page.goto(f"{base}/admin/rules")
    page.wait_for_selector("#rules-f-w_ent_blue")
    assert "就高" in page.inner_text("#rules-current")
    # a bad value first: refused in Chinese, nothing applied
    page.fill("#rules-f-t_red", "0.5")
    page.click("#rules-preview")
    page.wait_for_selector(".rules-error")
    assert "红 ≥ 橙 ≥ 黄" in page.inner_text(".rules-error")
    assert page.is_disabled("#rules-apply")
    page.fill("#rules-f-t_red", "3")
    page.fill("#rules-f-w_ent_blue", "5")
    page.click("#rules-f-mode_3")
    page.get_by_role("option", name="风险指数").click()
    page.click("#rules-preview")
    page.wait_for_selector("#rules-preview-level-3")
    assert page.inner_text("#rules-preview-level-3 .rules-changed") == str(expected_changed)
    assert not page.is_disabled("#rules-apply")
    page.fill("#rules-note", "浏览器测试")
    page.click("#rules-apply")
    page.wait_for_selector("#rules-applied", timeout=120_000)
    applied = page.inner_text("#rules-applied")
    assert "已应用规则版本" in applied and "已刷新" in applied
    if SHOTS:
        page.screenshot(path=str(SHOTS / "admin_rules.png"), full_page=True)

    after = _classes(engine, county)
    assert after != before
    with engine.connect() as c:
        version = rule_settings.current(c).risk.version
        entry = rule_settings.history(c)[0]
        audited = c.execute(text("SELECT detail->>'version' FROM audit_log WHERE action = 'rule_settings_apply' "
                                 "AND username = :u"), {"u": user}).scalar_one()
        explains = c.execute(text("SELECT count(*) FILTER (WHERE risk_explain->>'rule_version' = :v), count(*) "
                                  "FROM unit_stats"), {"v": version}).one()
    assert entry["version"] == version == audited and entry["by"] == user and entry["note"] == "浏览器测试"
    assert entry["changed"]["3"] == expected_changed
    assert explains[0] == explains[1]  # every explanation names the new version

    page.goto(f"{base}/?unit={county}")
    assert _map_fills(page, list(after)) == {k: _hex(v) for k, v in after.items()}


def _hex(cls: str | None) -> str:
    from domain.labels import RISK_COLOUR_HEX

    return RISK_COLOUR_HEX.get(cls or "", "#c9d3df").lower()
