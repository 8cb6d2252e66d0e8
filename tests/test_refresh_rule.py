"""The four-colour rule on hand-made inputs (pure Python, no database)."""

from __future__ import annotations

import pytest

from domain.risk_rule import RiskRule, RiskRuleError, classify, rule_from_config, score_unit


@pytest.mark.parametrize(
    ("inputs", "score", "colour"),
    [
        ({}, 0.0, "blue"),
        ({"enterprises": 20, "ent_blue": 20}, 0.2, "blue"),  # 20 × 0.2 / 20
        ({"enterprises": 10, "ent_yellow": 10, "hazards_open": 5}, 1.5, "yellow"),  # (10 + 5) / 10
        ({"enterprises": 10, "ent_orange": 4, "hazards_open": 4}, 2.0, "orange"),  # (16 + 4) / 10
        ({"enterprises": 10, "ent_red": 2, "hazards_open": 1, "hazards_major_open": 1, "hazards_overdue": 1,
          "hazards_supervised": 1}, 3.6, "red"),  # (20 + 1 + 8 + 3 + 4) / 10
        ({"enterprises": 20, "ent_red": 2, "sources_g1": 1, "hazards_open": 1, "hazards_major_open": 1}, 2.2,
         "orange"),  # (20 + 15 + 1 + 8) / 20
        ({"enterprises": 1, "ent_red": 1}, 3.3333, "red"),  # 10 / max(1, 3): one red firm makes a tiny cell red
    ],
)
def test_default_rule_hand_cases(inputs: dict[str, int], score: float, colour: str) -> None:
    scored = score_unit(inputs, RiskRule())
    assert scored.score == pytest.approx(score)
    assert scored.risk_class == colour


def test_thresholds_are_inclusive() -> None:
    rule = RiskRule()
    assert [classify(v, rule) for v in (3.0, 2.999, 2.0, 1.2, 1.19)] == ["red", "orange", "orange", "yellow", "blue"]


def test_config_overrides_and_validation() -> None:
    rule = rule_from_config({"weights": {"ent_red": 50}, "thresholds": {"red": 10}, "min_enterprises": 1,
                             "version": "2026-a"})
    assert rule.weights["ent_red"] == 50 and rule.weights["ent_blue"] == 0.2
    assert rule.thresholds == {"red": 10, "orange": 2.0, "yellow": 1.2} and rule.version == "2026-a"
    assert score_unit({"enterprises": 1, "ent_red": 1}, rule).risk_class == "red"
    for bad in ({"weights": {"nonsense": 1}}, {"thresholds": {"red": 1, "orange": 2}}, {"colour": 1},
                {"thresholds": {"purple": 1}}, {"min_enterprises": 0}):
        with pytest.raises(RiskRuleError):
            rule_from_config(bad)


def test_contributions_sorted_and_complete() -> None:
    scored = score_unit({"enterprises": 30, "ent_red": 1, "ent_orange": 5, "hazards_open": 3}, RiskRule())
    assert [c["input"] for c in scored.contributions] == ["ent_orange", "ent_red", "hazards_open"]
    assert sum(c["points"] for c in scored.contributions) == pytest.approx(33)
