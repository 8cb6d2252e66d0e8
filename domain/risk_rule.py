"""The four-colour rule (风险四色) for grid units and H3 cells: two readings, weights, thresholds, explanation.

风险指数 (``index``): a unit's score is its weighted risk points per enterprise of its subtree
(see ``docs/risk_rule.md``): ``score = Σ weight[input] × input / max(enterprises, min_enterprises)``;
its class is the first colour whose threshold the score reaches (red, orange, yellow), else blue.
The score is kept for rankings and heatmaps whatever colours the map.

就高 (``max``): a unit takes the highest colour present in its subtree: 红 for a red enterprise,
an open 重大隐患 or a grade 一级 hazard source; 橙 for an orange enterprise or a grade 二级 source;
黄 and 蓝 for yellow and blue enterprises; blue when nothing is coloured.

Which reading colours the map is set per level (``level_rules``). Defaults live here; ``app_config``
key ``risk_rule`` overrides any of them (a JSON object with the same fields).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from domain.labels import RISK_INPUT, RISK_LEVEL

RULE_VERSION = "1"
CLASSES = ("red", "orange", "yellow")  # checked in this order; below every threshold: blue
# Inputs are unit_stats column names; hazard weights add up per open hazard (a major, overdue,
# supervised hazard scores open + major + overdue + supervised).
DEFAULT_WEIGHTS: dict[str, float] = {
    "ent_red": 10.0, "ent_orange": 4.0, "ent_yellow": 1.0, "ent_blue": 0.2, "ent_unassessed": 1.0,
    "hazards_open": 1.0, "hazards_major_open": 8.0, "hazards_overdue": 3.0, "hazards_supervised": 4.0,
    "sources_g1": 15.0, "sources_g2": 10.0, "sources_g3": 5.0, "sources_g4": 2.0,
}
DEFAULT_THRESHOLDS: dict[str, float] = {"red": 3.0, "orange": 2.0, "yellow": 1.2}
LEVELS = (1, 2, 3, 4, 5)
MODES = {"max": "就高", "index": "风险指数"}
# 就高 everywhere: a 红 area on a 四色图 is read as "重大风险 is here" (docs/risk_rule.md, sources there).
DEFAULT_LEVEL_RULES: dict[int, str] = dict.fromkeys(LEVELS, "max")
# 就高: which inputs put a unit in which colour (highest first); unit_stats columns.
MAX_RULE_INPUTS: dict[str, tuple[str, ...]] = {
    "red": ("ent_red", "hazards_major_open", "sources_g1"),
    "orange": ("ent_orange", "sources_g2"),
    "yellow": ("ent_yellow",),
    "blue": ("ent_blue",),
}
# The 重大风险 mark: a unit holding a 红 enterprise or an open 重大隐患 carries it whatever the rule.
MARK_INPUTS = ("ent_red", "hazards_major_open")


class RiskRuleError(ValueError):
    """An invalid rule configuration (message in Chinese)."""


@dataclass(frozen=True)
class RiskRule:
    """Weights per input, score thresholds per colour, and the enterprise floor of the denominator."""

    version: str = RULE_VERSION
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    thresholds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    min_enterprises: int = 3
    level_rules: dict[int, str] = field(default_factory=lambda: dict(DEFAULT_LEVEL_RULES))

    def mode(self, level: int | None) -> str:
        """Return the reading that colours units of ``level`` (``index`` when the level is unknown)."""
        return self.level_rules.get(int(level), "index") if level else "index"

    def as_dict(self) -> dict[str, Any]:
        """Return the rule as JSON-ready data (stored in every ``risk_explain``)."""
        return asdict(self)


@dataclass(frozen=True)
class Scored:
    """A score, its class and the per-input contributions, largest first."""

    score: float
    risk_class: str
    contributions: list[dict[str, Any]]


def rule_from_config(value: Mapping[str, Any] | None) -> RiskRule:
    """Build the rule from the defaults overridden by an ``app_config`` value; reject bad values."""
    if not value:
        return RiskRule()
    unknown = set(value) - {"version", "weights", "thresholds", "min_enterprises", "level_rules"}
    if unknown:
        raise RiskRuleError(f"风险规则含未知字段：{', '.join(sorted(unknown))}")
    weights = dict(DEFAULT_WEIGHTS)
    for key, w in dict(value.get("weights") or {}).items():
        if key not in DEFAULT_WEIGHTS:
            raise RiskRuleError(f"风险规则的权重“{key}”不是可用的输入项")
        weights[key] = _number(w, f"权重“{RISK_INPUT[key]}”")
        if weights[key] < 0:
            raise RiskRuleError(f"权重“{RISK_INPUT[key]}”不能为负数")
    thresholds = dict(DEFAULT_THRESHOLDS) | {k: _number(v, f"阈值“{k}”")
                                             for k, v in dict(value.get("thresholds") or {}).items()}
    if set(thresholds) != set(CLASSES):
        raise RiskRuleError("风险规则的阈值只能是 red、orange、yellow")
    if not thresholds["red"] >= thresholds["orange"] >= thresholds["yellow"] >= 0:
        raise RiskRuleError("风险规则的阈值应满足 红 ≥ 橙 ≥ 黄 ≥ 0")
    version = str(value.get("version", RULE_VERSION))
    floor = _number(value.get("min_enterprises", 3), "最小企业数")
    if floor < 1 or floor != int(floor):
        raise RiskRuleError("风险规则的最小企业数应为 ≥ 1 的整数")
    level_rules = dict(DEFAULT_LEVEL_RULES)
    for key, mode in dict(value.get("level_rules") or {}).items():
        if str(key) not in {str(lv) for lv in LEVELS}:
            raise RiskRuleError(f"风险规则的层级“{key}”不存在（应为 1-5）")
        if mode not in MODES:
            raise RiskRuleError(f"层级 {key} 的着色规则应为 就高(max) 或 风险指数(index)")
        level_rules[int(key)] = str(mode)
    return RiskRule(version, weights, thresholds, int(floor), level_rules)


def _number(value: Any, what: str) -> float:
    """Return ``value`` as a finite float or raise :class:`RiskRuleError` naming ``what``."""
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise RiskRuleError(f"{what}应为数字") from exc
    if number != number or number in (float("inf"), float("-inf")):
        raise RiskRuleError(f"{what}应为有限的数字")
    return number


def raw_points(inputs: Mapping[str, float], rule: RiskRule) -> list[dict[str, Any]]:
    """Return each input's points (count × weight), largest first, zero inputs left out."""
    out = []
    for key, weight in rule.weights.items():
        count = float(inputs.get(key) or 0)
        if count and weight:
            out.append({"input": key, "count": count, "weight": weight, "points": round(count * weight, 3)})
    return sorted(out, key=lambda c: (-c["points"], c["input"]))


def classify(score: float, rule: RiskRule) -> str:
    """Return the colour of a score."""
    for colour in CLASSES:
        if score >= rule.thresholds[colour]:
            return colour
    return "blue"


def score_unit(inputs: Mapping[str, float], rule: RiskRule) -> Scored:
    """Score one unit from its unit_stats counts (``enterprises`` is the denominator)."""
    contributions = raw_points(inputs, rule)
    denominator = max(float(inputs.get("enterprises") or 0), float(rule.min_enterprises))
    score = round(sum(c["points"] for c in contributions) / denominator, 4)
    return Scored(score, classify(score, rule), contributions)


def max_class(inputs: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """Return the 就高 colour of a unit and the inputs present that gave it (label and count)."""
    for colour, keys in MAX_RULE_INPUTS.items():
        present = [{"input": k, "label": RISK_INPUT[k], "count": int(inputs.get(k) or 0)}
                   for k in keys if int(inputs.get(k) or 0) > 0]
        if present:
            return colour, present
    return "blue", []


def has_mark(inputs: Mapping[str, Any]) -> bool:
    """Tell whether a unit holds a 红 enterprise or an open 重大隐患 (the map's and lists' mark)."""
    return any(int(inputs.get(k) or 0) > 0 for k in MARK_INPUTS)


def unit_class(inputs: Mapping[str, Any], rule: RiskRule) -> str:
    """Return the colour a unit shows on the map under ``rule`` (its level is ``inputs['level']``)."""
    if rule.mode(inputs.get("level")) == "max":
        return max_class(inputs)[0]
    return score_unit(inputs, rule).risk_class


def explain(inputs: Mapping[str, Any], rule: RiskRule, as_of: date, top: Mapping[str, list[dict[str, Any]]]
            ) -> tuple[float, str, dict[str, Any]]:
    """Score one unit and build its ``risk_explain`` document (inputs, thresholds, rule, top contributors).

    Returns (风险指数 score, the class of the reading in force at the unit's level, the document). ``top``
    holds the refresh's ranked ``enterprise`` and ``hazard`` contributors and the ``driver`` items (the
    enterprises, open major hazards and hazard sources of each colour that 就高 names).
    """
    scored = score_unit(inputs, rule)
    mode = rule.mode(inputs.get("level"))
    high, reasons_max = max_class(inputs)
    cls = high if mode == "max" else scored.risk_class
    total = sum(c["points"] for c in scored.contributions) or 1.0
    contributions = [c | {"label": RISK_INPUT[c["input"]], "share": round(c["points"] / total, 3)}
                     for c in scored.contributions]
    denominator = max(int(inputs.get("enterprises") or 0), rule.min_enterprises)
    reasons = "、".join(f"{c['label']} {c['count']:g} ({c['points']:g} 分)" for c in contributions[:3])
    threshold = rule.thresholds.get(scored.risk_class)
    if threshold is not None:
        index_summary = f"风险指数 {RISK_LEVEL[scored.risk_class]}：得分 {scored.score:g} ≥ {threshold:g}"
    else:
        index_summary = f"风险指数 {RISK_LEVEL['blue']}：得分 {scored.score:g} < {rule.thresholds['yellow']:g}"
    if reasons:
        index_summary += f"；主要来自 {reasons}"
    drivers = [d for d in top.get("driver", []) if d.get("colour") == high]
    if reasons_max:
        names = "、".join(str(d.get("name") or d.get("code")) for d in drivers[:3])
        more = " 等" if sum(r["count"] for r in reasons_max) > len(drivers[:3]) else ""
        max_summary = f"就高 {RISK_LEVEL[high]}：含 " + "、".join(f"{r['label']} {r['count']}" for r in reasons_max)
        if names:
            max_summary += f"（{names}{more}）"
    else:
        max_summary = f"就高 {RISK_LEVEL['blue']}：无已评定为红、橙、黄的企业，无未销号重大隐患和一、二级重大危险源"
    summary = (max_summary + "。" + index_summary) if mode == "max" else (index_summary + "。" + max_summary)
    summary = f"[规则版本 {rule.version}] " + summary
    doc = {
        "rule_version": rule.version,
        "as_of": as_of.isoformat(),
        "mode": mode,
        "mode_label": MODES[mode],
        "score": scored.score,
        "class": cls,
        "index_class": scored.risk_class,
        "max_class": high,
        "max_reasons": reasons_max,
        "drivers": drivers,
        "driver_items": list(top.get("driver", [])),
        "mark": has_mark(inputs),
        "formula": "得分 = Σ(权重 × 数量) ÷ max(企业数, 最小企业数)",
        "points": round(total if scored.contributions else 0.0, 3),
        "enterprises": int(inputs.get("enterprises") or 0),
        "min_enterprises": rule.min_enterprises,
        "denominator": denominator,
        "thresholds": rule.thresholds,
        "weights": rule.weights,
        "inputs": {k: int(inputs.get(k) or 0) for k in rule.weights},
        "contributions": contributions,
        "top_enterprises": top.get("enterprise", []),
        "top_hazards": top.get("hazard", []),
        "summary": summary,
    }
    return scored.score, cls, doc
