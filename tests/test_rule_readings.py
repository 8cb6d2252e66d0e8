"""就高 and 风险指数, the 重大风险 mark, the settings' parsing and the 动态清零 goals (pure Python, tables of cases)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from domain.cadence import Cadence
from domain.hazard_flow import rollup_counts
from domain.risk_rule import RiskRule, explain, has_mark, max_class, rule_from_config, unit_class
from domain.rules_config import (
    DEFAULT_STAFFING,
    RuleSettings,
    RuleSettingsError,
    colour_changes,
    describe_modes,
    goal_status,
    next_version,
    settings_form,
    settings_from_config,
    settings_from_form,
    staffing_from_config,
)

AS_OF = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("inputs", "colour", "reasons"),
    [
        ({}, "blue", []),
        ({"enterprises": 3, "ent_unassessed": 3}, "blue", []),  # nothing coloured
        ({"enterprises": 40, "ent_blue": 40}, "blue", ["ent_blue"]),
        ({"enterprises": 40, "ent_blue": 39, "ent_yellow": 1}, "yellow", ["ent_yellow"]),
        ({"enterprises": 40, "ent_blue": 39, "sources_g2": 1}, "orange", ["sources_g2"]),
        ({"enterprises": 40, "ent_orange": 1, "sources_g2": 2}, "orange", ["ent_orange", "sources_g2"]),
        ({"enterprises": 400, "ent_blue": 399, "ent_red": 1}, "red", ["ent_red"]),
        ({"enterprises": 400, "ent_blue": 400, "hazards_major_open": 1}, "red", ["hazards_major_open"]),
        ({"enterprises": 400, "ent_blue": 400, "sources_g1": 1}, "red", ["sources_g1"]),
        ({"enterprises": 9, "sources_g3": 4, "sources_g4": 9, "hazards_open": 50}, "blue", []),  # not in 就高
    ],
)
def test_max_reading(inputs: dict[str, int], colour: str, reasons: list[str]) -> None:
    got, why = max_class(inputs)
    assert got == colour
    assert [r["input"] for r in why] == reasons


@pytest.mark.parametrize(
    ("inputs", "mark"),
    [({}, False), ({"ent_orange": 3, "sources_g1": 1}, False), ({"ent_red": 1}, True),
     ({"hazards_major_open": 2}, True)],
)
def test_mark_is_red_enterprise_or_open_major_hazard(inputs: dict[str, int], mark: bool) -> None:
    assert has_mark(inputs) is mark


def test_level_setting_picks_the_reading() -> None:
    township = {"level": 3, "enterprises": 400, "ent_blue": 399, "ent_red": 1}  # index: 10.2 / 400 → blue
    assert unit_class(township, RiskRule()) == "red"  # default 就高 at every level
    index_rule = rule_from_config({"level_rules": {"3": "index"}})
    assert unit_class(township, index_rule) == "blue"
    assert unit_class(township | {"level": 4}, index_rule) == "red"
    assert unit_class({k: v for k, v in township.items() if k != "level"}, RiskRule()) == "blue"  # no level: index


def test_explain_names_version_reading_and_drivers() -> None:
    inputs = {"level": 3, "enterprises": 400, "ent_blue": 398, "ent_red": 1, "hazards_open": 1,
              "hazards_major_open": 1}
    drivers = [{"id": 7, "code": "YH1", "name": "液氨泄漏报警失效", "item": "hazard", "colour": "red", "points": 9},
               {"id": 3, "code": "914110", "name": "恒泰化工", "item": "enterprise", "colour": "red", "points": 10},
               {"id": 4, "code": "914111", "name": "某机械厂", "item": "enterprise", "colour": "orange", "points": 4}]
    rule = rule_from_config({"version": "2026-3"})
    score, cls, doc = explain(inputs, rule, AS_OF, {"driver": drivers})
    assert cls == "red" and doc["class"] == "red" and doc["index_class"] == "blue" and doc["max_class"] == "red"
    assert doc["mode"] == "max" and doc["mode_label"] == "就高" and doc["mark"] is True
    assert score == doc["score"] == pytest.approx((398 * 0.2 + 10 + 1 + 8) / 400, abs=1e-4)
    assert [d["name"] for d in doc["drivers"]] == ["液氨泄漏报警失效", "恒泰化工"]  # the orange one did not colour it
    assert doc["summary"].startswith(
        "[规则版本 2026-3] 就高 红：含 红色企业 1、未销号重大隐患 1（液氨泄漏报警失效、恒泰化工）")
    assert "风险指数 蓝" in doc["summary"] and doc["rule_version"] == "2026-3"
    _, cls, doc = explain(inputs, rule_from_config({"level_rules": {"3": "index"}}), AS_OF, {"driver": drivers})
    assert cls == "blue" and doc["summary"].startswith("[规则版本 1] 风险指数 蓝")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"level_rules": {"6": "max"}}, "层级“6”不存在"),
        ({"level_rules": {"2": "highest"}}, r"就高\(max\) 或 风险指数\(index\)"),
        ({"weights": {"ent_red": "十"}}, "权重“红色企业”应为数字"),
        ({"weights": {"ent_red": -1}}, "权重“红色企业”不能为负数"),
        ({"thresholds": {"red": "nan"}}, "有限的数字"),
        ({"min_enterprises": 2.5}, "最小企业数应为 ≥ 1 的整数"),
    ],
)
def test_bad_rule_values_are_refused_in_chinese(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rule_from_config(config)


def test_staffing_defaults_to_the_xuchang_plan_and_refuses_bad_values() -> None:
    assert DEFAULT_STAFFING[3] == {"leader": 1, "supervisor": 2} and DEFAULT_STAFFING[5] == DEFAULT_STAFFING[1]
    configured = staffing_from_config({"4": {"leader": 1, "supervisor": 2, "info_officer": 1}})
    assert configured[4]["info_officer"] == 1 and configured[5] == {"leader": 1, "supervisor": 2}
    for bad, message in (({"9": {}}, "层级“9”不存在"), ({"3": {"boss": 1}}, "角色“boss”不存在"),
                         ({"3": {"leader": 1.5}}, "0-9 的整数"), ({"3": {"leader": -1}}, "0-9 的整数")):
        with pytest.raises(RuleSettingsError, match=message):
            staffing_from_config(bad)


def test_form_round_trip_and_refusals() -> None:
    settings = RuleSettings()
    form = settings_form(settings)
    again = settings_from_form(form, version="2026-1")
    assert again.risk.weights == settings.risk.weights and again.staffing == settings.staffing
    assert again.stock_cutoff == date(2023, 12, 31) and again.risk.version == "2026-1"
    for key, value, message in (("w_ent_red", "", "请填写权重“红色企业”"), ("t_red", "1", "红 ≥ 橙 ≥ 黄"),
                                ("stock_cutoff", "2023-13-01", "不是有效日期"), ("mode_2", "avg", "就高"),
                                ("staff_3_leader", "x", "应为整数"), ("min_enterprises", "0", "最小企业数")):
        with pytest.raises(RuleSettingsError, match=message):
            settings_from_form(form | {key: value}, version="x")
    stored = settings_from_config(again.config())
    assert stored == again


def test_cadence_and_extension_limit_in_the_form() -> None:
    form = settings_form(RuleSettings())
    assert [form[f"cadence_{lv}"] for lv in (1, 2, 3, 4, 5)] == ["quarter", "month", "week", "day", "none"]
    assert form["max_extensions"] == 2
    changed = settings_from_form(form | {"cadence_3": "month", "cadence_5": "day", "max_extensions": "3"}, version="x")
    assert (changed.cadence.of(3), changed.cadence.of(5), changed.max_extensions) == (Cadence.MONTH, Cadence.DAY, 3)
    stored = changed.config()
    assert stored["inspection_cadence"]["levels"]["3"] == "month" and stored["hazard_limits"] == {"max_extensions": 3}
    assert settings_from_config(stored) == changed  # what the refresh (cadence) and the loop (limit) read back
    for key, value, message in (("cadence_2", "year", "县\\(区\\)级的四查周期“year”无效"),
                                ("max_extensions", "1.5", "0-9 的整数"), ("max_extensions", "10", "0-9 的整数"),
                                ("max_extensions", "", "应为整数")):
        with pytest.raises(RuleSettingsError, match=message):
            settings_from_form(form | {key: value}, version="x")
    with pytest.raises(RuleSettingsError, match="四查周期“yearly”"):
        settings_from_config({"inspection_cadence": {"levels": {"2": "yearly"}}})


def test_preview_counts_colour_changes_per_level() -> None:
    units = [{"level": 3, "name": "甲镇", "enterprises": 400, "ent_blue": 399, "ent_red": 1},
             {"level": 3, "name": "乙镇", "enterprises": 10, "ent_blue": 10},
             {"level": 4, "name": "丙村", "enterprises": 2, "ent_yellow": 2}]
    changes = colour_changes(units, RiskRule(), rule_from_config({"level_rules": {"3": "index", "4": "index"}}))
    assert changes[3]["units"] == 2 and changes[3]["changed"] == 1 and changes[3]["examples"] == ["甲镇（red→blue）"]
    assert changes[3]["before"] == {"red": 1, "blue": 1} and changes[3]["after"] == {"blue": 2}
    # 2 yellow firms: 2 × 1 / max(2, 3) = 0.67 → blue under the index; 就高 yellow
    assert changes[4]["changed"] == 1 and changes[4]["before"] == {"yellow": 1} and changes[4]["after"] == {"blue": 1}


def test_describe_modes_and_next_version() -> None:
    assert describe_modes(RiskRule()) == "市、县(区)、乡镇(街道)、村(社区)、网格：就高"
    assert describe_modes(rule_from_config({"level_rules": {"1": "index", "2": "index"}})) == (
        "市、县(区)：风险指数；乡镇(街道)、村(社区)、网格：就高")
    assert next_version([], date(2026, 5, 1)) == "2026-1"
    assert next_version([{"version": "2026-1"}, {"version": "2026-2"}], date(2026, 5, 1)) == "2026-3"


@pytest.mark.parametrize(
    ("level", "found", "stock", "increment"),
    [("major", date(2023, 12, 31), 1, 0), ("major", date(2024, 1, 1), 0, 1), ("general", date(2022, 1, 1), 0, 0),
     ("general", date(2025, 6, 1), 0, 0)],
)
def test_stock_is_major_hazards_found_on_or_before_the_cutoff(level: str, found: date, stock: int,
                                                              increment: int) -> None:
    counts = rollup_counts(status="rectifying", level=level, deadline=None, supervision_level=None, found_at=found,
                           as_of=AS_OF, stock_cutoff=date(2023, 12, 31))
    assert (counts["hazards_stock_open"], counts["hazards_increment_open"]) == (stock, increment)


@pytest.mark.parametrize(
    ("stock", "inc", "inc_overdue", "as_of", "stock_ok", "inc_ok", "label"),
    [
        (0, 0, 0, date(2026, 1, 1), True, True, "存量已清零"),
        (3, 0, 0, date(2024, 6, 1), True, True, "存量剩 3 项"),
        (3, 0, 0, date(2025, 1, 1), False, True, "存量逾期未清零 3 项"),
        (0, 4, 0, date(2025, 3, 1), True, True, "存量已清零"),
        (0, 4, 1, date(2025, 3, 1), True, False, "存量已清零"),
        (0, 4, 1, date(2024, 3, 1), True, True, "存量已清零"),  # 增量 judged from 2025
    ],
)
def test_goal_marks(stock: int, inc: int, inc_overdue: int, as_of: date, stock_ok: bool, inc_ok: bool,
                    label: str) -> None:
    marks = goal_status(stock_open=stock, increment_open=inc, increment_overdue=inc_overdue, as_of=as_of)
    assert (marks["stock"]["ok"], marks["increment"]["ok"]) == (stock_ok, inc_ok)
    assert marks["stock"]["label"].startswith(label) and marks["ok"] == (stock_ok and inc_ok)
