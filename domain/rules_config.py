"""The plans' settings an administrator may change, as pure data: staffing, 存量 cut-off, year goals, rule versions.

Stored in ``app_config`` (geo/rule_settings.py reads and writes them): ``risk_rule`` (domain/risk_rule.py),
``stock_cutoff`` (a JSON date string), ``staffing`` (``{"level": {"role": slots}}``), ``inspection_cadence``
(四查 per level, domain/cadence.py), ``hazard_limits`` (``{"max_extensions": n}``, domain/hazard_flow.py) and
``rule_versions`` (the history). Everything here is pure: parsing what an admin typed, refusing bad values with a
Chinese message, comparing the colours of two rules for the preview.

Sources: 许昌 "三化" plan (``../shared/plans/000_…``: 每个监管网格明确1名分管领导和2名安全监管责任人),
招贤镇 plan (``001_…``: 存量 = 2023 年及以前排查出的重大事故隐患, 2024 年底前动态清零; 增量 from 2025
随查随改、动态清零).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from domain.cadence import CADENCE_LABEL, Cadence, CadenceRule, CadenceRuleError
from domain.cadence import rule_from_config as cadence_from_config
from domain.hazard_flow import DEFAULT_MAX_EXTENSIONS
from domain.labels import DUTY_ROLE, LEVEL, RISK_INPUT
from domain.risk_rule import LEVELS, MODES, RiskRule, RiskRuleError, rule_from_config, unit_class

DEFAULT_STOCK_CUTOFF = date(2023, 12, 31)  # 存量: major hazards found on or before this day
STOCK_CLEAR_BY = date(2024, 12, 31)  # 存量 cleared by the end of 2024
INCREMENT_ZERO_FROM = date(2025, 1, 1)  # 增量 动态清零 from 2025
# 许昌 plan: 1 分管领导 + 2 安全监管责任人 per unit; 第一责任人, 信息员 and 网格员 only when configured.
DEFAULT_STAFFING: dict[int, dict[str, int]] = {lv: {"leader": 1, "supervisor": 2} for lv in LEVELS}
MAX_SLOTS = 9
MAX_EXTENSIONS_LIMIT = 9  # 延期 at most this many times, whatever is configured
NOT_ASSESSED = "none"  # the form's value of a level without a 四查 cadence


class RuleSettingsError(ValueError):
    """A setting an administrator entered that cannot be applied (message in Chinese)."""


@dataclass(frozen=True)
class Goals:
    """The 动态清零 year goals of the 招贤镇 plan."""

    stock_clear_by: date = STOCK_CLEAR_BY
    increment_zero_from: date = INCREMENT_ZERO_FROM

    @classmethod
    def for_cutoff(cls, cutoff: date) -> Goals:
        """Return the goals that follow a 存量 cut-off as the plan's do (2023-12-31 → end of 2024, from 2025)."""
        return cls(date(cutoff.year + 1, 12, 31), date(cutoff.year + 2, 1, 1))


@dataclass(frozen=True)
class RuleSettings:
    """Every rule setting in force: the four-colour rule, the 存量 cut-off, the staffing per level."""

    risk: RiskRule = field(default_factory=RiskRule)
    stock_cutoff: date = DEFAULT_STOCK_CUTOFF
    staffing: dict[int, dict[str, int]] = field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_STAFFING.items()})
    goals: Goals = field(default_factory=Goals)
    cadence: CadenceRule = field(default_factory=CadenceRule)
    max_extensions: int = DEFAULT_MAX_EXTENSIONS

    def config(self) -> dict[str, Any]:
        """Return the ``app_config`` values (key → JSON) these settings are stored as."""
        risk = self.risk.as_dict()
        risk["level_rules"] = {str(k): v for k, v in risk["level_rules"].items()}
        return {"risk_rule": risk, "stock_cutoff": self.stock_cutoff.isoformat(),
                "staffing": {str(k): dict(v) for k, v in self.staffing.items()},
                "inspection_cadence": {"levels": {str(lv): c.value if c else None
                                                  for lv, c in sorted(self.cadence.levels.items())},
                                       "streak_periods": self.cadence.streak_periods},
                "hazard_limits": {"max_extensions": self.max_extensions}}


def parse_stock_cutoff(value: Any, default: date | None = None) -> date:
    """Return the 存量 cut-off from an ``app_config`` value (a date string), else ``default`` or 2023-12-31."""
    if value in (None, ""):
        return default or DEFAULT_STOCK_CUTOFF
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise RuleSettingsError(f"存量截止日期“{value}”不是有效日期（格式 2023-12-31）") from exc


def staffing_from_config(value: Mapping[str, Any] | None) -> dict[int, dict[str, int]]:
    """Return the slots required per level and role (defaults for levels not configured); refuse bad values."""
    out = {k: dict(v) for k, v in DEFAULT_STAFFING.items()}
    for key, roles in dict(value or {}).items():
        if str(key) not in {str(lv) for lv in LEVELS}:
            raise RuleSettingsError(f"人员配备的层级“{key}”不存在（应为 1-5）")
        if not isinstance(roles, Mapping):
            raise RuleSettingsError(f"{LEVEL[int(key)]}级的人员配备应为“角色: 人数”")
        level: dict[str, int] = {}
        for role, n in roles.items():
            if role not in DUTY_ROLE:
                raise RuleSettingsError(f"人员配备的角色“{role}”不存在")
            level[role] = _slots(n, f"{LEVEL[int(key)]}级{DUTY_ROLE[role]}人数")
        out[int(key)] = {r: n for r, n in level.items() if n}
    return out


def _slots(value: Any, what: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise RuleSettingsError(f"{what}应为整数") from exc
    if number != int(number) or not 0 <= number <= MAX_SLOTS:
        raise RuleSettingsError(f"{what}应为 0-{MAX_SLOTS} 的整数")
    return int(number)


def settings_from_config(values: Mapping[str, Any], *, default_cutoff: date | None = None) -> RuleSettings:
    """Build the settings from the ``app_config`` values by key (missing keys: defaults)."""
    try:
        risk = rule_from_config(values.get("risk_rule"))
    except RiskRuleError as exc:
        raise RuleSettingsError(str(exc)) from exc
    try:
        cadence = cadence_from_config(values.get("inspection_cadence"))
    except CadenceRuleError as exc:
        raise RuleSettingsError(str(exc)) from exc
    limits = dict(values.get("hazard_limits") or {})
    cutoff = parse_stock_cutoff(values.get("stock_cutoff"), default_cutoff)
    return RuleSettings(risk=risk, stock_cutoff=cutoff, goals=Goals.for_cutoff(cutoff),
                        staffing=staffing_from_config(values.get("staffing")), cadence=cadence,
                        max_extensions=_extensions(limits.get("max_extensions", DEFAULT_MAX_EXTENSIONS)))


def _extensions(value: Any) -> int:
    """Return the 延期 limit, refusing what is not a whole number of 0..MAX_EXTENSIONS_LIMIT."""
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise RuleSettingsError("最多延期次数应为整数") from exc
    if not number.is_integer() or not 0 <= number <= MAX_EXTENSIONS_LIMIT:
        raise RuleSettingsError(f"最多延期次数应为 0-{MAX_EXTENSIONS_LIMIT} 的整数")
    return int(number)


def _cadence_from_form(form: Mapping[str, Any]) -> CadenceRule:
    levels: dict[int, Cadence | None] = {}
    for lv in LEVELS:
        raw = str(form.get(f"cadence_{lv}") or NOT_ASSESSED)
        if raw != NOT_ASSESSED and raw not in CADENCE_LABEL:
            raise RuleSettingsError(f"{LEVEL[lv]}级的四查周期“{raw}”无效")
        levels[lv] = None if raw == NOT_ASSESSED else Cadence(raw)
    return CadenceRule(levels)


def settings_from_form(form: Mapping[str, Any], *, version: str) -> RuleSettings:
    """Parse what the settings page sends (strings or numbers) into settings named ``version``.

    Keys: ``w_<input>`` weights, ``t_red`` / ``t_orange`` / ``t_yellow``, ``min_enterprises``,
    ``mode_<level>`` (max / index), ``stock_cutoff``, ``staff_<level>_<role>``, ``cadence_<level>``
    (quarter / month / week / day / none), ``max_extensions``. Raises
    :class:`RuleSettingsError` with the first problem in Chinese.
    """
    weights: dict[str, Any] = {}
    for key in RISK_INPUT:
        raw = form.get(f"w_{key}")
        if raw in (None, ""):
            raise RuleSettingsError(f"请填写权重“{RISK_INPUT[key]}”")
        weights[key] = raw
    thresholds = {c: form.get(f"t_{c}") for c in ("red", "orange", "yellow")}
    for colour, label in (("red", "红"), ("orange", "橙"), ("yellow", "黄")):
        if thresholds[colour] in (None, ""):
            raise RuleSettingsError(f"请填写{label}色阈值")
    config = {"version": version, "weights": weights, "thresholds": thresholds,
              "min_enterprises": form.get("min_enterprises") or 0,
              "level_rules": {str(lv): form.get(f"mode_{lv}") or "" for lv in LEVELS}}
    try:
        risk = rule_from_config(config)
    except RiskRuleError as exc:
        raise RuleSettingsError(str(exc)) from exc
    staffing = {str(lv): {role: form.get(f"staff_{lv}_{role}") or 0 for role in DUTY_ROLE} for lv in LEVELS}
    cutoff = str(form.get("stock_cutoff") or "").strip()
    if not cutoff:
        raise RuleSettingsError("请填写存量截止日期")
    return RuleSettings(risk=risk, stock_cutoff=parse_stock_cutoff(cutoff), staffing=staffing_from_config(staffing),
                        goals=Goals.for_cutoff(parse_stock_cutoff(cutoff)),
                        cadence=_cadence_from_form(form), max_extensions=_extensions(form.get("max_extensions")))


def settings_form(settings: RuleSettings) -> dict[str, Any]:
    """Return the settings as the page's form values (the inverse of :func:`settings_from_form`)."""
    out: dict[str, Any] = {f"w_{k}": v for k, v in settings.risk.weights.items()}
    out |= {f"t_{k}": v for k, v in settings.risk.thresholds.items()}
    out |= {"min_enterprises": settings.risk.min_enterprises, "stock_cutoff": settings.stock_cutoff.isoformat()}
    out |= {f"mode_{lv}": settings.risk.mode(lv) for lv in LEVELS}
    out |= {f"staff_{lv}_{role}": settings.staffing.get(lv, {}).get(role, 0) for lv in LEVELS for role in DUTY_ROLE}
    out |= {f"cadence_{lv}": (c.value if (c := settings.cadence.of(lv)) else NOT_ASSESSED) for lv in LEVELS}
    out["max_extensions"] = settings.max_extensions
    return out


def next_version(history: Iterable[Mapping[str, Any]], today: date) -> str:
    """Return the next rule version name: ``<year>-<n>`` counting the versions of that year."""
    year = str(today.year)
    taken = {str(h.get("version")) for h in history}
    n = 1
    while f"{year}-{n}" in taken:
        n += 1
    return f"{year}-{n}"


def colour_changes(units: Iterable[Mapping[str, Any]], before: RiskRule, after: RiskRule) -> dict[int, dict[str, Any]]:
    """Count per level the units whose map colour differs between two rules (the preview).

    ``units`` are unit_stats rows (``level`` and the rule's inputs). Returns, per level, the number of
    units, how many change, and the count per colour under each rule.
    """
    out: dict[int, dict[str, Any]] = {}
    for row in units:
        level = int(row["level"])
        entry = out.setdefault(level, {"units": 0, "changed": 0, "before": {}, "after": {}, "examples": []})
        a, b = unit_class(row, before), unit_class(row, after)
        entry["units"] += 1
        entry["before"][a] = entry["before"].get(a, 0) + 1
        entry["after"][b] = entry["after"].get(b, 0) + 1
        if a != b:
            entry["changed"] += 1
            if len(entry["examples"]) < 5 and row.get("name"):
                entry["examples"].append(f"{row['name']}（{a}→{b}）")
    return dict(sorted(out.items()))


def goal_status(*, stock_open: int, increment_open: int, increment_overdue: int, as_of: date,
                goals: Goals = Goals()) -> dict[str, Any]:
    """Return the 动态清零 marks of an area: 存量 and 增量, each with a label and whether it is on track.

    存量 is on track when nothing is left, or while the deadline (end of 2024) has not passed; 增量 is on
    track when no increment major hazard is past its own deadline (随查随改), checked from 2025.
    """
    if stock_open == 0:
        stock = {"label": "存量已清零", "ok": True}
    elif as_of <= goals.stock_clear_by:
        stock = {"label": f"存量剩 {stock_open} 项（{goals.stock_clear_by:%Y-%m-%d} 前清零）", "ok": True}
    else:
        stock = {"label": f"存量逾期未清零 {stock_open} 项", "ok": False}
    if as_of < goals.increment_zero_from:
        increment = {"label": f"增量动态清零自 {goals.increment_zero_from:%Y-%m-%d} 起考核", "ok": True}
    elif increment_overdue:
        increment = {"label": f"增量逾期 {increment_overdue} 项", "ok": False}
    else:
        increment = {"label": f"增量动态清零（整改中 {increment_open} 项）" if increment_open else "增量已清零",
                     "ok": True}
    return {"stock": stock, "increment": increment, "ok": bool(stock["ok"] and increment["ok"])}


def describe_modes(rule: RiskRule) -> str:
    """Return which reading colours which level, for legends: ``市、县…：就高；…``."""
    groups: dict[str, list[str]] = {}
    for lv in LEVELS:
        groups.setdefault(rule.mode(lv), []).append(LEVEL[lv])
    return "；".join(f"{'、'.join(levels)}：{MODES[mode]}" for mode, levels in groups.items())
