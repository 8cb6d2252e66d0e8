"""The four-colour rule (风险四色) for grid units and H3 cells: weights, thresholds, explanation.

A unit's score is its weighted risk points per enterprise of its subtree (see ``docs/risk_rule.md``):
``score = Σ weight[input] × input / max(enterprises, min_enterprises)``; the class is the first
colour whose threshold the score reaches (red, orange, yellow), else blue. Defaults live here;
``app_config`` key ``risk_rule`` overrides any of them (a JSON object with the same fields).
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


class RiskRuleError(ValueError):
    """An invalid rule configuration (message in Chinese)."""


@dataclass(frozen=True)
class RiskRule:
    """Weights per input, score thresholds per colour, and the enterprise floor of the denominator."""

    version: str = RULE_VERSION
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    thresholds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    min_enterprises: int = 3

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
    unknown = set(value) - {"version", "weights", "thresholds", "min_enterprises"}
    if unknown:
        raise RiskRuleError(f"风险规则含未知字段：{', '.join(sorted(unknown))}")
    weights = dict(DEFAULT_WEIGHTS)
    for key, w in dict(value.get("weights") or {}).items():
        if key not in DEFAULT_WEIGHTS:
            raise RiskRuleError(f"风险规则的权重“{key}”不是可用的输入项")
        weights[key] = float(w)
    thresholds = dict(DEFAULT_THRESHOLDS) | {k: float(v) for k, v in dict(value.get("thresholds") or {}).items()}
    if set(thresholds) != set(CLASSES):
        raise RiskRuleError("风险规则的阈值只能是 red、orange、yellow")
    if not thresholds["red"] >= thresholds["orange"] >= thresholds["yellow"] >= 0:
        raise RiskRuleError("风险规则的阈值应满足 红 ≥ 橙 ≥ 黄 ≥ 0")
    version = str(value.get("version", RULE_VERSION))
    floor = int(value.get("min_enterprises", 3))
    if floor < 1:
        raise RiskRuleError("风险规则的 min_enterprises 应 ≥ 1")
    return RiskRule(version, weights, thresholds, floor)


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


def explain(inputs: Mapping[str, Any], rule: RiskRule, as_of: date, top: Mapping[str, list[dict[str, Any]]]
            ) -> tuple[float, str, dict[str, Any]]:
    """Score one unit and build its ``risk_explain`` document (inputs, thresholds, rule, top contributors)."""
    scored = score_unit(inputs, rule)
    total = sum(c["points"] for c in scored.contributions) or 1.0
    contributions = [c | {"label": RISK_INPUT[c["input"]], "share": round(c["points"] / total, 3)}
                     for c in scored.contributions]
    denominator = max(int(inputs.get("enterprises") or 0), rule.min_enterprises)
    reasons = "、".join(f"{c['label']} {c['count']:g} ({c['points']:g} 分)" for c in contributions[:3])
    threshold = rule.thresholds.get(scored.risk_class)
    if threshold is not None:
        summary = f"{RISK_LEVEL[scored.risk_class]}：得分 {scored.score:g} ≥ {threshold:g}"
    else:
        summary = f"{RISK_LEVEL['blue']}：得分 {scored.score:g} < {rule.thresholds['yellow']:g}"
    if reasons:
        summary += f"；主要来自 {reasons}"
    doc = {
        "rule_version": rule.version,
        "as_of": as_of.isoformat(),
        "score": scored.score,
        "class": scored.risk_class,
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
    return scored.score, scored.risk_class, doc
