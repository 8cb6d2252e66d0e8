"""Accident rules: the grade of a production safety accident from its toll, and what a stated grade may be.

《生产安全事故报告和调查处理条例》 (国务院令第493号, 2007) 第三条 grades an accident by deaths, serious
injuries (重伤, 包括急性工业中毒) or direct economic loss, whichever reaches the highest grade:

| grade | deaths | 重伤 | 直接经济损失 |
|---|---|---|---|
| 特别重大 | ≥ 30 | ≥ 100 | ≥ 1 亿元 (10000 万元) |
| 重大 | 10-29 | 50-99 | 5000 万元 - 1 亿元 |
| 较大 | 3-9 | 10-49 | 1000 万元 - 5000 万元 |
| 一般 | < 3 | < 10 | < 1000 万元 |

"以上" includes the number, "以下" excludes it (same article). Loss is kept in 万元 like the ledgers.
The types are GB 6441-1986 《企业职工伤亡事故分类》's 20 classes (``domain.labels.ACCIDENT_TYPE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain import labels

GRADES: tuple[str, ...] = labels.ACCIDENT_GRADE.codes  # lowest first


@dataclass(frozen=True)
class GradeThreshold:
    """The least toll that makes an accident this grade (any one of the three suffices)."""

    grade: str
    deaths: int
    injuries: int
    loss_wan: Decimal


# Highest first: the first threshold reached is the grade (条例 第三条).
THRESHOLDS: tuple[GradeThreshold, ...] = (
    GradeThreshold("extra_major", 30, 100, Decimal(10000)),
    GradeThreshold("major", 10, 50, Decimal(5000)),
    GradeThreshold("larger", 3, 10, Decimal(1000)),
)


def grade_of(deaths: int | None, injuries: int | None, loss_wan: Decimal | float | None) -> str:
    """Grade from deaths, serious injuries and direct loss in 万元 (missing counts as 0)."""
    d, i = deaths or 0, injuries or 0
    loss = Decimal(str(loss_wan)) if loss_wan is not None else Decimal(0)
    for t in THRESHOLDS:
        if d >= t.deaths or i >= t.injuries or loss >= t.loss_wan:
            return t.grade
    return "general"


def parse_grade(text: str | None) -> str | None:
    """Parse a stated grade: 一般/较大/重大/特别重大, with or without 事故, or the stored value; None when empty."""
    if text is None or not str(text).strip():
        return None
    value = str(text).strip().replace(" ", "")
    for code, label in labels.ACCIDENT_GRADE.items():
        if value in (code, label, label.removesuffix("事故")):
            return code
    raise ValueError(f"“{text}”不是有效的事故等级 (可填：一般/较大/重大/特别重大)")


def check_toll(deaths: int | None, injuries: int | None, loss_wan: Decimal | float | None) -> list[str]:
    """Reasons (Chinese) why a toll cannot be stored: negative counts or loss."""
    errors = []
    for value, name in ((deaths, "死亡人数"), (injuries, "重伤人数"), (loss_wan, "直接经济损失")):
        if value is not None and value < 0:
            errors.append(f"“{name}”不能为负数：{value}")
    return errors


def grade_conflict(stated: str | None, deaths: int | None, injuries: int | None,
                   loss_wan: Decimal | float | None) -> str | None:
    """Return the Chinese reason a stated grade contradicts the toll, or None when it agrees (or none is stated)."""
    if stated is None:
        return None
    expected = grade_of(deaths, injuries, loss_wan)
    if stated == expected:
        return None
    return (f"事故等级填为“{labels.ACCIDENT_GRADE[stated]}”，但死亡 {deaths or 0} 人、重伤 {injuries or 0} 人、"
            f"直接经济损失 {loss_wan or 0} 万元对应“{labels.ACCIDENT_GRADE[expected]}”"
            "(《生产安全事故报告和调查处理条例》第三条)")
