"""The scorecard weights and the five-year targets as /admin/rules edits them: form rules, storage, forged requests.

Domain: the form's Chinese reasons as tables of cases (``domain.scorecards.weights_from_form``,
``domain.targets.targets_from_form``). Storage (``geo.scorecard_weights``, ``geo.targets``, through
``geo.app_settings.save_config``): a save from the version read is stored, audited and bumps the data version; the
same save again changes nothing; a save from an older version is refused. Web: the two Dash callbacks refuse every
role but a city administrator, refuse a request without the CSRF header, and answer bad values in Chinese.
The module's rows (an accident of 2019, the two ``app_config`` keys) are removed at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, text

from domain.scorecards import DEFAULT_WEIGHTS, KPI_LABELS, ScorecardSettingsError, weights_from_form
from domain.targets import INDICATORS, TargetSettings, TargetSettingsError, targets_form, targets_from_form, years_label
from geo.app_settings import SettingsConflictError
from geo.scorecard_weights import save_weights, weights_state
from geo.scorecards import scorecard_weights
from geo.targets import data_years, save_target_settings, target_settings, targets_state
from tests.browser import http_login, make_user

KEYS = ("scorecard_weights", "five_year_targets")
DEFAULT_FORM = targets_form(TargetSettings())


def _form(**changes: Any) -> dict[str, Any]:
    return {**DEFAULT_FORM, **changes}


@pytest.mark.parametrize(("change", "message"), [
    ({"deaths": "abc"}, "“死亡人数”的权重应为数字"),
    ({"deaths": None}, "请填写指标“死亡人数”的权重"),
    ({"closure": " "}, "请填写指标“隐患整改率”的权重"),
    ({"overdue": -1}, "“季末逾期未改”的权重不能为负数"),
    ({"overdue": "-0.5"}, "不能为负数"),
    ({"accidents": 1001}, "不能超过 1000"),
    ({"accidents": float("nan")}, "应为数字"),
    ({"accidents": True}, "应为数字"),
    (dict.fromkeys(KPI_LABELS, 0), "考核权重之和应大于 0"),
])
def test_bad_weights_are_refused_in_chinese(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ScorecardSettingsError, match=message):
        weights_from_form({**DEFAULT_WEIGHTS, **change})


def test_weights_from_the_form() -> None:
    assert weights_from_form({k: str(v) for k, v in DEFAULT_WEIGHTS.items()}) == DEFAULT_WEIGHTS
    w = weights_from_form({**DEFAULT_WEIGHTS, "accidents": "25.5", "vacancies": 0})
    assert (w["accidents"], w["vacancies"]) == (25.5, 0.0)


@pytest.mark.parametrize(("change", "message"), [
    ({"baseline_year": "二〇二〇"}, "基准年份应为四位数的年份"),
    ({"baseline_year": None}, "基准年份应为四位数的年份"),
    ({"baseline_year": 2020.5}, "基准年份应为 2000-2100 之间的整数年份"),
    ({"target_year": 2200}, "目标年份应为 2000-2100 之间的整数年份"),
    ({"target_year": 2020}, "目标年份应晚于基准年份"),
    ({"baseline_year": 2019, "target_year": 2024},
     "基准年份 2019 没有事故或分母数据（有数据的年份：2020-2025、2027）"),
    ({"deaths": 120}, "“死亡人数”的下降比例应在 0-100% 之间"),
    ({"deaths_per_gdp": -5}, "下降比例应在 0-100% 之间"),
    ({"accidents": "十"}, "“生产安全事故起数”的下降比例应为数字"),
    ({"road_deaths_per_vehicles": ""}, "下降比例应为数字"),
    ({"source": "规" * 201}, "目标来源不能超过 200 字"),
])
def test_bad_targets_are_refused_in_chinese(change: dict[str, Any], message: str) -> None:
    with pytest.raises(TargetSettingsError, match=message):
        targets_from_form(_form(**change), data_years=[2020, 2021, 2022, 2023, 2024, 2025, 2027])


def test_targets_from_the_form() -> None:
    assert targets_from_form(DEFAULT_FORM, data_years=[2020]) == TargetSettings()
    s = targets_from_form(_form(baseline_year="2021", target_year="2026", deaths="12.5", source=""),
                          data_years=[2021])
    assert (s.baseline_year, s.target_year, s.reductions["deaths"], s.source) == (2021, 2026, 12.5,
                                                                                   TargetSettings().source)
    assert targets_form(s)["deaths"] == 12.5 and set(targets_form(s)) >= {i.key for i in INDICATORS}
    with pytest.raises(TargetSettingsError, match="尚未导入事故或分母数据"):
        targets_from_form(DEFAULT_FORM, data_years=[])
    assert years_label([2025, 2018, 2020, 2021, 2022]) == "2018、2020-2022、2025"


@pytest.fixture
def settings_db(engine: Engine, unit_tree: dict[str, str]) -> Iterator[Engine]:
    """The session database with an accident of 2019 (a year with data) and no stored weights or targets."""
    with engine.begin() as c:
        c.execute(text("DELETE FROM app_config WHERE key = ANY(:k)"), {"k": list(KEYS)})
        c.execute(text("INSERT INTO accidents (code, title, occurred_on, unit_id, deaths, grade) SELECT 'SWT-ACC', "
                       "'设置测试事故', DATE '2019-06-01', id, 0, 'general' FROM units WHERE code = '41100200100101'"))
    yield engine
    with engine.begin() as c:
        c.execute(text("DELETE FROM app_config WHERE key = ANY(:k)"), {"k": list(KEYS)})
        c.execute(text("DELETE FROM accidents WHERE code = 'SWT-ACC'"))


def _data_version(c: Any) -> int:
    return int(c.execute(text("SELECT coalesce(sum(version), 0) FROM data_versions")).scalar_one())


def test_weights_are_versioned_idempotent_and_audited(settings_db: Engine) -> None:
    new = {**DEFAULT_WEIGHTS, "accidents": 30.0}
    with settings_db.begin() as c:
        weights, version = weights_state(c)
        assert (weights, version) == (DEFAULT_WEIGHTS, "default")
        assert save_weights(c, dict(DEFAULT_WEIGHTS), username="swt_admin", version=version) == ("default", False)
        before = _data_version(c)
        saved, changed = save_weights(c, new, username="swt_admin", version=version)
        assert changed and saved != "default" and _data_version(c) == before + 1
    with settings_db.begin() as c:
        assert save_weights(c, new, username="swt_admin", version="default") == (saved, False)  # a double submit
        with pytest.raises(SettingsConflictError, match="考核权重已被他人修改"):  # an editor holding the old form
            save_weights(c, {**DEFAULT_WEIGHTS, "deaths": 40.0}, username="swt_other", version="default")
    with settings_db.connect() as c:
        assert scorecard_weights(c)["accidents"] == 30.0 and weights_state(c)[1] == saved
        audits = c.execute(text("SELECT username, detail FROM audit_log WHERE action = 'scorecard_weights_changed' "
                                "AND username LIKE 'swt\\_%'")).all()
    assert [(a.username, a.detail["value"]["accidents"], a.detail["previous"]) for a in audits] == [
        ("swt_admin", 30.0, "default")]


def test_targets_are_versioned_idempotent_and_audited(settings_db: Engine) -> None:
    with settings_db.begin() as c:
        assert 2019 in data_years(c)
        current, version = targets_state(c)
        assert current == TargetSettings()
        new = targets_from_form(_form(baseline_year=2019, target_year=2024, deaths=15), data_years=data_years(c))
        saved, changed = save_target_settings(c, settings=new, username="swt_admin", version=version)
        assert changed and version == "default"
    with settings_db.begin() as c:
        assert save_target_settings(c, settings=new, username="swt_admin", version=version) == (saved, False)
        with pytest.raises(SettingsConflictError, match="五年目标已被他人修改"):
            save_target_settings(c, settings=TargetSettings(), username="swt_other", version=version)
    with settings_db.connect() as c:
        s = target_settings(c)
        assert (s.baseline_year, s.target_year, s.reductions["deaths"]) == (2019, 2024, 15.0)
        n = c.execute(text("SELECT count(*) FROM audit_log WHERE action = 'targets_changed' "
                           "AND username LIKE 'swt\\_%'")).scalar_one()
    assert n == 1


def _dash(session: requests.Session, base: str, kind: str, values: dict[str, Any], version: str) -> requests.Response:
    """POST the save callback of ``kind`` (``sw`` weights, ``tg`` targets) as Dash's renderer does."""
    payload: dict[str, Any] = {
        "output": f"..rules-{kind}-result.children...rules-{kind}-version.data..",
        "outputs": [{"id": f"rules-{kind}-result", "property": "children"},
                    {"id": f"rules-{kind}-version", "property": "data"}],
        "inputs": [{"id": f"rules-{kind}-save", "property": "n_clicks", "value": 1}],
        "state": [*({"id": f"rules-{kind}-{k}", "property": "value", "value": v} for k, v in values.items()),
                  {"id": f"rules-{kind}-version", "property": "data", "value": version}],
        "changedPropIds": [f"rules-{kind}-save.n_clicks"], "parsedChangedPropsIds": [f"rules-{kind}-save.n_clicks"],
    }
    return session.post(f"{base}/_dash-update-component", json=payload, timeout=20)


TARGET_ORDER = ("baseline_year", "target_year", *(i.key for i in INDICATORS), "source")


def _requests(weights: dict[str, Any], targets: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [("sw", {k: weights[k] for k in KPI_LABELS}), ("tg", {k: targets[k] for k in TARGET_ORDER})]


def test_forged_saves_per_role(live_server: str, settings_db: Engine) -> None:
    def stored() -> list[Any]:
        with settings_db.connect() as c:
            return [c.execute(text("SELECT value FROM app_config WHERE key = :k"), {"k": k}).scalar() for k in KEYS]

    good = _requests({**DEFAULT_WEIGHTS, "deaths": 50}, _form(baseline_year=2019, target_year=2024))
    for role, scope in (("leader", "411000"), ("planner", "411000"), ("grid_manager", "411002"),
                        ("inspector", "411002"), ("admin", "411002")):  # the last: a county's administrator
        session = http_login(live_server, *make_user(settings_db, role=role, scope=scope))
        for kind, values in good:
            r = _dash(session, live_server, kind, values, "default")
            assert r.status_code in (200, 403), (role, kind, r.status_code)
            assert r.status_code == 403 or any(m in r.text for m in ("无权使用此功能", "只有全市范围的系统管理员")), (
                role, kind, r.text[:300])
        assert stored() == [None, None], role
    admin = http_login(live_server, *make_user(settings_db, role="admin", scope="411000"))
    forged = requests.Session()  # the administrator's cookies without the CSRF header
    forged.cookies.update(admin.cookies)
    for kind, values in good:
        assert _dash(forged, live_server, kind, values, "default").status_code == 403
    assert stored() == [None, None]
    bad = _requests({**DEFAULT_WEIGHTS, "deaths": "abc"}, _form(baseline_year=2001, target_year=2024))
    answers = [_dash(admin, live_server, kind, values, "default") for kind, values in bad]
    assert [r.status_code for r in answers] == [200, 200]
    assert "“死亡人数”的权重应为数字" in answers[0].text and "基准年份 2001 没有事故或分母数据" in answers[1].text
    assert stored() == [None, None]
    saved = [_dash(admin, live_server, kind, values, "default") for kind, values in good]
    assert "已保存考核权重" in saved[0].text and "已保存五年目标" in saved[1].text
    weights, targets = stored()
    assert weights["deaths"] == 50 and targets["baseline_year"] == 2019
    again = [_dash(admin, live_server, kind, values, "default") for kind, values in good]  # a double submit
    assert all("没有变化" in r.text for r in again)
    stale = _dash(admin, live_server, "sw", {**good[0][1], "deaths": 60}, "default")  # from the old form
    assert "已被他人修改" in stale.text and stored()[0]["deaths"] == 50
