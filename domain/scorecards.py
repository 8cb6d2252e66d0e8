"""季度考核 (quarterly scorecards, issue 18 part 3): the quarter, the KPIs of a row, its score, rank and change.

Pure rules, no SQL: ``geo/scorecards.py`` counts, this module scores. Each KPI becomes a *goodness* in
[0, 1] — a rate as it is, a count ``c`` as ``1 / (1 + c)`` (0 → 1, 1 → 0.5, 3 → 0.25) — and the score is
``100 × Σ wₖ·gₖ / Σ wₖ`` over the KPIs the row has (a rate without a denominator, e.g. no hazards found
in the quarter, is left out and the other weights carry the score). The weights are a setting
(``app_config`` key ``scorecard_weights``, :func:`weights_from_config`); the defaults are
:data:`DEFAULT_WEIGHTS`. Ranks are competition ranks (equal scores share a rank: 1, 1, 3); the change
against the previous quarter is ``previous rank − rank`` (positive: moved up). See ``docs/scorecards.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from domain.cadence import Cadence, period_start, shift

# KPI key → Chinese label, in the order the page and the export show them.
KPI_LABELS: dict[str, str] = {
    "closure": "隐患整改率",
    "timeliness": "按期整改率",
    "overdue": "季末逾期未改",
    "supervised": "督办按期销号率",
    "cadence": "四查达标率",
    "vacancies": "网格空缺",
    "accidents": "事故起数",
    "deaths": "死亡人数",
}
RATE_KPIS = ("closure", "timeliness", "supervised", "cadence")
COUNT_KPIS = ("overdue", "vacancies", "accidents", "deaths")

# Outcomes weigh most: the loop's closure and timeliness, then overdue, 四查 and accidents.
DEFAULT_WEIGHTS: dict[str, float] = {
    "closure": 20, "timeliness": 15, "overdue": 15, "supervised": 10, "cadence": 15, "vacancies": 5,
    "accidents": 10, "deaths": 10,
}


class ScorecardSettingsError(ValueError):
    """A ``scorecard_weights`` value that cannot be used (message in Chinese)."""


MAX_WEIGHT = 1000


def _weight(key: str, raw: Any) -> float:
    """Check one weight (a JSON number): a finite number in 0..MAX_WEIGHT, else the Chinese reason."""
    label = KPI_LABELS[key]
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise ScorecardSettingsError(f"指标“{label}”的权重应为数字（0-{MAX_WEIGHT}）")
    if raw < 0:
        raise ScorecardSettingsError(f"指标“{label}”的权重不能为负数（应为 0-{MAX_WEIGHT}）")
    if raw > MAX_WEIGHT:
        raise ScorecardSettingsError(f"指标“{label}”的权重不能超过 {MAX_WEIGHT}（应为 0-{MAX_WEIGHT}）")
    return float(raw)


def weights_from_config(value: Mapping[str, Any] | None) -> dict[str, float]:
    """Return the defaults overridden by an ``app_config`` value such as ``{"accidents": 20, "vacancies": 0}``.

    Unknown KPIs, negative or non-numeric weights and an all-zero total are refused.
    """
    weights = dict(DEFAULT_WEIGHTS)
    for key, raw in dict(value or {}).items():
        if key not in weights:
            raise ScorecardSettingsError(f"考核权重含未知指标：{key}")
        weights[key] = _weight(key, raw)
    if sum(weights.values()) <= 0:
        raise ScorecardSettingsError("考核权重之和应大于 0（至少一项指标的权重大于 0）")
    return weights


def weights_from_form(values: Mapping[str, Any]) -> dict[str, float]:
    """Read the admin form's weights (``KPI key → number or text``; every KPI required), checked as above."""
    parsed: dict[str, Any] = {}
    for key, label in KPI_LABELS.items():
        raw = values.get(key)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            raise ScorecardSettingsError(f"请填写指标“{label}”的权重")
        if isinstance(raw, str):
            try:
                raw = float(raw.strip())
            except ValueError:
                raise ScorecardSettingsError(f"指标“{label}”的权重应为数字（0-{MAX_WEIGHT}）") from None
        parsed[key] = raw
    return weights_from_config(parsed)


@dataclass(frozen=True)
class Quarter:
    """A calendar quarter (1-4) of a year."""

    year: int
    q: int

    @property
    def start(self) -> date:
        """First day."""
        return date(self.year, 3 * self.q - 2, 1)

    @property
    def end(self) -> date:
        """Last day."""
        return self.next().start - timedelta(days=1)

    def next(self) -> Quarter:
        """Return the quarter after this one."""
        return Quarter(self.year + 1, 1) if self.q == 4 else Quarter(self.year, self.q + 1)

    def previous(self) -> Quarter:
        """Return the quarter before this one."""
        return Quarter(self.year - 1, 4) if self.q == 1 else Quarter(self.year, self.q - 1)

    @property
    def key(self) -> str:
        """``2026Q3``: the page's ``?quarter=`` value and the export's file name part."""
        return f"{self.year}Q{self.q}"

    @property
    def label(self) -> str:
        """``2026年第3季度``."""
        return f"{self.year}年第{self.q}季度"


def quarter_of(day: date) -> Quarter:
    """Return the quarter containing ``day``."""
    return Quarter(day.year, (day.month - 1) // 3 + 1)


def last_complete_quarter(today: date) -> Quarter:
    """Return the last quarter that ended before ``today`` (the page's default)."""
    return quarter_of(today).previous()


def parse_quarter(raw: str | None) -> Quarter | None:
    """Parse ``2026Q3`` (case-insensitive); None when empty or malformed."""
    text = (raw or "").strip().upper()
    if len(text) != 6 or text[4] != "Q" or not text[:4].isdigit() or text[5] not in "1234":
        return None
    year = int(text[:4])
    return Quarter(year, int(text[5])) if 2000 <= year <= 2100 else None


def cadence_periods(quarter: Quarter, cadence: Cadence) -> list[date]:
    """Return the starts of the periods of ``cadence`` that begin inside the quarter.

    A week belongs to the quarter of its Monday, so a week across the boundary is counted once.
    """
    start = period_start(quarter.start, cadence)
    if start < quarter.start:
        start = shift(start, cadence, 1)
    out = []
    while start <= quarter.end:
        out.append(start)
        start = shift(start, cadence, 1)
    return out


@dataclass(frozen=True)
class RowKpis:
    """The counts of one row (a township, or a child unit) for one quarter, as storage returns them."""

    code: str
    name: str
    found: int = 0  # hazards found in the quarter
    closed_of_found: int = 0  # … of them closed by the quarter's end
    closed: int = 0  # hazards closed in the quarter
    closed_on_time: int = 0  # … on or before their deadline (no deadline: on time)
    overdue_end: int = 0  # open on the quarter's last day with a deadline before it
    supervised_due: int = 0  # 督办 hazards whose 督办期限 (else deadline) falls in the quarter
    supervised_on_time: int = 0  # … closed on or before it
    cadence_periods: int = 0  # 四查 periods of the row's level in the quarter (0: the level is not assessed)
    cadence_done: int = 0  # … with a counting record
    vacancies: int | None = 0  # unit_stats.vacancies_subtree (now, not as of the quarter); None: not scored
    accidents: int = 0
    deaths: int = 0

    def rates(self) -> dict[str, float | None]:
        """Return the four rates (None: no denominator)."""
        def rate(n: int, d: int) -> float | None:
            return n / d if d else None
        return {"closure": rate(self.closed_of_found, self.found), "timeliness": rate(self.closed_on_time, self.closed),
                "supervised": rate(self.supervised_on_time, self.supervised_due),
                "cadence": rate(self.cadence_done, self.cadence_periods)}

    def counts(self) -> dict[str, int | None]:
        """Return the four counts (fewer is better; None: not scored, e.g. a department's vacancies)."""
        return {"overdue": self.overdue_end, "vacancies": self.vacancies, "accidents": self.accidents,
                "deaths": self.deaths}


def goodness(kpis: RowKpis) -> dict[str, float | None]:
    """Each KPI as a value in [0, 1] (1 best; None: not scored): a rate as it is, a count ``c`` as 1/(1+c)."""
    out: dict[str, float | None] = dict(kpis.rates())
    out.update({k: None if c is None else 1 / (1 + c) for k, c in kpis.counts().items()})
    return out


def score(kpis: RowKpis, weights: Mapping[str, float]) -> float:
    """Return the row's score 0-100: the weighted mean of its scored KPIs' goodness, rounded to 0.1."""
    g = goodness(kpis)
    total = sum(weights.get(k, 0.0) for k, v in g.items() if v is not None)
    if total <= 0:
        return 0.0
    return round(100 * sum(weights.get(k, 0.0) * v for k, v in g.items() if v is not None) / total, 1)


@dataclass(frozen=True)
class Ranked:
    """A scored row: its KPIs, score, rank and the change against the previous quarter."""

    kpis: RowKpis
    score: float
    rank: int
    previous_rank: int | None

    @property
    def change(self) -> int | None:
        """``previous rank − rank`` (positive: moved up); None without a previous rank."""
        return None if self.previous_rank is None else self.previous_rank - self.rank

    @property
    def change_label(self) -> str:
        """``↑2``, ``↓1``, ``—`` (unchanged) or ``新`` (no previous rank)."""
        c = self.change
        if c is None:
            return "新"
        return f"↑{c}" if c > 0 else f"↓{-c}" if c < 0 else "—"


def ranks(scores: Mapping[str, float]) -> dict[str, int]:
    """Competition ranks of ``code → score`` (highest first; equal scores share a rank: 1, 1, 3)."""
    ordered = sorted(scores.values(), reverse=True)
    return {code: ordered.index(s) + 1 for code, s in scores.items()}


def rank_rows(rows: Sequence[RowKpis], previous: Sequence[RowKpis], weights: Mapping[str, float]) -> list[Ranked]:
    """Score and rank ``rows``, with each row's rank among ``previous`` (the same rows a quarter earlier).

    Ordered by rank, then code.
    """
    now = {r.code: score(r, weights) for r in rows}
    before = ranks({r.code: score(r, weights) for r in previous})
    current = ranks(now)
    out = [Ranked(r, now[r.code], current[r.code], before.get(r.code)) for r in rows]
    return sorted(out, key=lambda x: (x.rank, x.kpis.code))


def percent(value: float | None) -> str:
    """``87.5%`` or ``—`` (no denominator)."""
    return "—" if value is None else f"{100 * value:.1f}%"


# The 晾晒 table (page and export): header and the cell of a ranked row.
TABLE_HEADER = ("排名", "较上季", "单位", "单位代码", "得分", *KPI_LABELS.values())
DEPARTMENT_HEADER = ("排名", "较上季", "监管部门", "得分", *KPI_LABELS.values())


def table_header(department: bool = False) -> tuple[str, ...]:
    """Return the table's header: units (name and code) or departments (name only)."""
    return DEPARTMENT_HEADER if department else TABLE_HEADER


def table_row(r: Ranked, *, department: bool = False) -> list[Any]:
    """Return the cells of one ranked row, in :func:`table_header` order (rates as percentages)."""
    rates, counts = r.kpis.rates(), r.kpis.counts()
    cells: list[Any] = [r.rank, r.change_label, r.kpis.name, *([] if department else [r.kpis.code]), r.score]
    for key in KPI_LABELS:
        count = counts.get(key)
        cells.append(percent(rates[key]) if key in RATE_KPIS else "—" if count is None else count)
    return cells
