"""The five-year targets (十四五): indicators, their rates, the configured reductions and whether a year is on track.

The defaults are the 临邑县 plan's (/work/shared/plans/003_1f3c013473f0598f.txt, 主要目标): "与2020年相比，
生产安全事故起数下降10%，死亡人数下降10%；亿元国内生产总值生产安全事故死亡率下降30%；工矿商贸就业人员
十万人生产安全事故死亡率下降19%；道路交通万车死亡率下降7%", by 2025. A deployment configures its own
(``app_config`` ``five_year_targets``, :func:`settings_from_config`).

On track: the plan names a baseline and an end value only, so SafeGrid reads the path between them as a
straight line — the value a year should not exceed is ``baseline + (target − baseline) × (year − baseline
year) / (target year − baseline year)`` (the target itself after the target year). A year at or below its
path value is on track. A rate whose denominator is missing for the baseline or the year is not computed:
it says which denominator is missing ("缺少分母：GDP").

Numerators: all accidents and deaths of the area; 工矿商贸 deaths are the deaths of accidents that are not
road traffic accidents (SafeGrid's reading; the register does not carry the statistics bureau's 工矿商贸
scope); road deaths are the deaths of accidents marked 道路交通事故.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

PLAN_SOURCE = "临邑县“十四五”应急管理/安全生产规划 (plans/003_1f3c013473f0598f.txt)"


@dataclass(frozen=True)
class Indicator:
    """One indicator: its key, Chinese name, unit, numerator, denominator and scale (None: a plain count)."""

    key: str
    label: str
    unit: str
    numerator: str  # field of YearFigures
    denominator: str | None = None  # field of YearFigures
    denominator_label: str = ""
    scale: float = 1.0
    digits: int = 0


INDICATORS: tuple[Indicator, ...] = (
    Indicator("accidents", "生产安全事故起数", "起", "accidents"),
    Indicator("deaths", "死亡人数", "人", "deaths"),
    Indicator("deaths_per_gdp", "亿元GDP生产安全事故死亡率", "人/亿元", "deaths", "gdp_yi", "GDP", 1.0, 4),
    Indicator("deaths_per_employees", "工矿商贸就业人员十万人生产安全事故死亡率", "人/十万人", "industrial_deaths",
              "employees", "工矿商贸就业人员", 100_000.0, 3),
    Indicator("road_deaths_per_vehicles", "道路交通万车死亡率", "人/万车", "road_deaths", "vehicles", "机动车保有量",
              10_000.0, 3),
)
BY_KEY = {i.key: i for i in INDICATORS}

DEFAULT_REDUCTIONS: dict[str, float] = {
    "accidents": 10.0, "deaths": 10.0, "deaths_per_gdp": 30.0, "deaths_per_employees": 19.0,
    "road_deaths_per_vehicles": 7.0,
}


class TargetSettingsError(ValueError):
    """A configured target that cannot be used (message in Chinese)."""


@dataclass(frozen=True)
class TargetSettings:
    """Baseline year, target year and the reduction (percent) of each indicator by the target year."""

    baseline_year: int = 2020
    target_year: int = 2025
    reductions: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_REDUCTIONS))
    source: str = PLAN_SOURCE

    def __post_init__(self) -> None:
        if not 2000 <= self.baseline_year < self.target_year <= 2100:
            raise TargetSettingsError("目标年份应晚于基准年份 (2000-2100)")
        unknown = set(self.reductions) - set(BY_KEY)
        if unknown:
            raise TargetSettingsError(f"未知指标：{'、'.join(sorted(unknown))}")
        if any(not 0 <= float(v) <= 100 for v in self.reductions.values()):
            raise TargetSettingsError("下降比例应在 0-100% 之间")


def settings_from_config(value: Any) -> TargetSettings:
    """Read ``app_config`` ``five_year_targets`` (missing keys keep the plan's defaults)."""
    if not isinstance(value, Mapping):
        return TargetSettings()
    reductions = dict(DEFAULT_REDUCTIONS)
    reductions.update({str(k): float(v) for k, v in (value.get("reductions") or {}).items()})
    return TargetSettings(baseline_year=int(value.get("baseline_year", 2020)),
                          target_year=int(value.get("target_year", 2025)), reductions=reductions,
                          source=str(value.get("source") or PLAN_SOURCE))


SOURCE_MAX = 200


def settings_config(settings: TargetSettings) -> dict[str, Any]:
    """Return the ``app_config`` value of ``settings`` (what :func:`settings_from_config` reads back)."""
    return {"baseline_year": settings.baseline_year, "target_year": settings.target_year,
            "reductions": {k: float(v) for k, v in settings.reductions.items()}, "source": settings.source}


def years_label(years: Collection[int]) -> str:
    """``2018、2020-2025``: sorted years with consecutive runs joined by a dash."""
    runs: list[list[int]] = []
    for y in sorted(set(years)):
        if runs and y == runs[-1][-1] + 1:
            runs[-1].append(y)
        else:
            runs.append([y])
    return "、".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def _form_number(raw: Any, message: str) -> float:
    if isinstance(raw, bool) or raw is None or (isinstance(raw, str) and not raw.strip()):
        raise TargetSettingsError(message)
    try:
        value = float(raw.strip() if isinstance(raw, str) else raw)
    except (TypeError, ValueError):
        raise TargetSettingsError(message) from None
    if not math.isfinite(value):
        raise TargetSettingsError(message)
    return value


def _form_year(raw: Any, label: str) -> int:
    value = _form_number(raw, f"{label}应为四位数的年份")
    if not value.is_integer() or not 2000 <= value <= 2100:
        raise TargetSettingsError(f"{label}应为 2000-2100 之间的整数年份")
    return int(value)


def targets_from_form(values: Mapping[str, Any], *, data_years: Collection[int]) -> TargetSettings:
    """Read the admin form (``baseline_year``, ``target_year``, ``source`` and each indicator's reduction in %).

    Every field is required; a reduction is a number in 0-100; the target year follows the baseline; the baseline
    must be a year with data (accidents or denominators: ``data_years``), else its rates compare against nothing.
    """
    baseline = _form_year(values.get("baseline_year"), "基准年份")
    target = _form_year(values.get("target_year"), "目标年份")
    if target <= baseline:
        raise TargetSettingsError(f"目标年份应晚于基准年份（基准 {baseline}，目标 {target}）")
    if baseline not in set(data_years):
        have = f"有数据的年份：{years_label(data_years)}" if data_years else "尚未导入事故或分母数据"
        raise TargetSettingsError(f"基准年份 {baseline} 没有事故或分母数据（{have}）")
    reductions = {}
    for ind in INDICATORS:
        value = _form_number(values.get(ind.key), f"“{ind.label}”的下降比例应为数字（0-100）")
        if not 0 <= value <= 100:
            raise TargetSettingsError(f"“{ind.label}”的下降比例应在 0-100% 之间")
        reductions[ind.key] = value
    source = str(values.get("source") or "").strip() or PLAN_SOURCE
    if len(source) > SOURCE_MAX:
        raise TargetSettingsError(f"目标来源不能超过 {SOURCE_MAX} 字")
    return TargetSettings(baseline_year=baseline, target_year=target, reductions=reductions, source=source)


def targets_form(settings: TargetSettings) -> dict[str, Any]:
    """Return the admin form's values of ``settings`` (the inverse of :func:`targets_from_form`)."""
    return {"baseline_year": settings.baseline_year, "target_year": settings.target_year, "source": settings.source,
            **{ind.key: float(settings.reductions.get(ind.key, 0.0)) for ind in INDICATORS}}


@dataclass(frozen=True)
class YearFigures:
    """One area's numerators and denominators of one year (None: the denominator is not known)."""

    year: int
    accidents: int = 0
    deaths: int = 0
    industrial_deaths: int = 0
    road_deaths: int = 0
    gdp_yi: float | None = None
    employees: float | None = None
    vehicles: float | None = None


@dataclass(frozen=True)
class Reading:
    """An indicator's value in one year, or the denominator that is missing."""

    value: float | None
    missing: str | None = None  # "缺少分母：GDP"


def reading(indicator: Indicator, figures: YearFigures | None) -> Reading:
    """Compute the indicator for one year's figures (a rate without its denominator says so)."""
    if figures is None:
        return Reading(None, "无数据")
    numerator = float(getattr(figures, indicator.numerator))
    if indicator.denominator is None:
        return Reading(numerator)
    denominator = getattr(figures, indicator.denominator)
    if denominator is None or denominator <= 0:
        return Reading(None, f"缺少分母：{indicator.denominator_label}")
    return Reading(numerator / float(denominator) * indicator.scale)


def path_value(baseline: float, target: float, baseline_year: int, target_year: int, year: int) -> float:
    """Return the value a year should not exceed on the straight path from baseline to target."""
    if year <= baseline_year:
        return baseline
    if year >= target_year:
        return target
    return baseline + (target - baseline) * (year - baseline_year) / (target_year - baseline_year)


@dataclass(frozen=True)
class Status:
    """One indicator of one area and year against its baseline and target."""

    indicator: Indicator
    baseline: float | None
    target: float | None
    expected: float | None  # the path value of the year
    value: float | None
    change_pct: float | None  # against the baseline, negative = a reduction
    on_track: bool | None  # None: not computable
    missing: str | None  # why not: "缺少分母：GDP"
    reduction: float


def evaluate(settings: TargetSettings, figures: Mapping[int, YearFigures], year: int) -> list[Status]:
    """Evaluate every indicator of ``year`` against the baseline year and the target (see the module docstring)."""
    out = []
    for ind in INDICATORS:
        reduction = float(settings.reductions.get(ind.key, 0.0))
        base = reading(ind, figures.get(settings.baseline_year))
        now = reading(ind, figures.get(year))
        missing = now.missing or (f"{base.missing}（基准年 {settings.baseline_year}）" if base.missing else None)
        if base.value is None or now.value is None:
            out.append(Status(ind, base.value, None, None, now.value, None, None, missing, reduction))
            continue
        target = base.value * (1 - reduction / 100)
        expected = path_value(base.value, target, settings.baseline_year, settings.target_year, year)
        change = None if base.value == 0 else (now.value - base.value) / base.value * 100
        out.append(Status(ind, base.value, target, expected, now.value, change,
                          now.value <= expected + 1e-9, None, reduction))
    return out


def format_value(indicator: Indicator, value: float | None) -> str:
    """Render a value with the indicator's digits (a count's target with one decimal: 7.2); "—" when None."""
    if value is None:
        return "—"
    if indicator.digits:
        return f"{value:.{indicator.digits}f}"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
