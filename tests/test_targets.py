"""Five-year targets (issue 18 part 2): the on-track rule as tables, the figures of an area in a rolled-back world."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Connection, text

from domain.targets import (
    BY_KEY,
    DEFAULT_REDUCTIONS,
    TargetSettings,
    TargetSettingsError,
    YearFigures,
    evaluate,
    path_value,
    reading,
    settings_from_config,
)
from geo.targets import (
    area_figures,
    area_in_scope,
    chain,
    children,
    children_counts,
    save_target_settings,
    screen_accidents,
    target_settings,
)

# --- the rule ----------------------------------------------------------------------------------------------------


def test_the_defaults_are_the_linyi_plans() -> None:
    s = TargetSettings()
    assert (s.baseline_year, s.target_year) == (2020, 2025)
    assert dict(s.reductions) == {"accidents": 10.0, "deaths": 10.0, "deaths_per_gdp": 30.0,
                                  "deaths_per_employees": 19.0, "road_deaths_per_vehicles": 7.0}
    assert "003_1f3c013473f0598f" in s.source


@pytest.mark.parametrize(("year", "expected"), [(2019, 100.0), (2020, 100.0), (2021, 94.0), (2023, 82.0),
                                                (2025, 70.0), (2027, 70.0)])
def test_the_path_is_a_straight_line_from_baseline_to_target(year: int, expected: float) -> None:
    assert path_value(100.0, 70.0, 2020, 2025, year) == pytest.approx(expected)


FIG_2020 = YearFigures(2020, accidents=20, deaths=10, industrial_deaths=6, road_deaths=4, gdp_yi=500.0,
                       employees=200_000.0, vehicles=400_000.0)


@pytest.mark.parametrize(("figures", "on_track"), [
    # 2023: the path allows 20 → 18 by 2025, 18.8 in 2023 for accidents; 10 → 9, 9.4 for deaths
    (YearFigures(2023, accidents=18, deaths=9, industrial_deaths=5, road_deaths=4, gdp_yi=600.0,
                 employees=200_000.0, vehicles=440_000.0), {"accidents": True, "deaths": True, "deaths_per_gdp": True,
                                                            "deaths_per_employees": True,
                                                            "road_deaths_per_vehicles": True}),
    (YearFigures(2023, accidents=19, deaths=10, industrial_deaths=6, road_deaths=4, gdp_yi=500.0,
                 employees=200_000.0, vehicles=400_000.0), {"accidents": False, "deaths": False,
                                                            "deaths_per_gdp": False, "deaths_per_employees": False,
                                                            "road_deaths_per_vehicles": False}),
])
def test_on_track_per_indicator(figures: YearFigures, on_track: dict[str, bool]) -> None:
    got = {s.indicator.key: s.on_track for s in evaluate(TargetSettings(), {2020: FIG_2020, 2023: figures}, 2023)}
    assert got == on_track


def test_rates_and_a_missing_denominator_says_which() -> None:
    assert reading(BY_KEY["deaths_per_gdp"], FIG_2020).value == pytest.approx(0.02)
    assert reading(BY_KEY["deaths_per_employees"], FIG_2020).value == pytest.approx(3.0)  # 6 / 200k × 100k
    assert reading(BY_KEY["road_deaths_per_vehicles"], FIG_2020).value == pytest.approx(0.1)  # 4 / 400k × 10k
    no_gdp = YearFigures(2024, accidents=5, deaths=2, gdp_yi=None, employees=100.0, vehicles=None)
    by = {s.indicator.key: s for s in evaluate(TargetSettings(), {2020: FIG_2020, 2024: no_gdp}, 2024)}
    assert by["deaths_per_gdp"].missing == "缺少分母：GDP" and by["deaths_per_gdp"].value is None
    assert by["road_deaths_per_vehicles"].missing == "缺少分母：机动车保有量"
    assert by["deaths_per_gdp"].on_track is None and by["accidents"].on_track is True
    base_missing = {s.indicator.key: s for s in evaluate(TargetSettings(), {2020: YearFigures(2020, 3, 1),
                                                                            2024: FIG_2020}, 2024)}
    assert base_missing["deaths_per_gdp"].missing == "缺少分母：GDP（基准年 2020）"


def test_zero_baseline_and_configured_targets() -> None:
    zero = {2020: YearFigures(2020), 2022: YearFigures(2022, accidents=1, deaths=0)}
    by = {s.indicator.key: s for s in evaluate(TargetSettings(), zero, 2022)}
    assert by["accidents"].on_track is False and by["deaths"].on_track is True and by["accidents"].change_pct is None
    s = settings_from_config({"baseline_year": 2021, "target_year": 2026, "reductions": {"deaths": 15}})
    assert (s.baseline_year, s.reductions["deaths"], s.reductions["accidents"]) == (2021, 15.0, 10.0)
    assert settings_from_config(None) == TargetSettings()
    for bad in ({"baseline_year": 2025, "target_year": 2020}, {"reductions": {"deaths": 120}},
                {"reductions": {"births": 5}}):
        with pytest.raises(TargetSettingsError):
            settings_from_config(bad)
    assert DEFAULT_REDUCTIONS["deaths_per_gdp"] == 30.0


# --- figures of an area (rolled back; years nobody else writes) ----------------------------------------------------

CITY, WEIDU_SCOPE = "411000.", "411000.411002."


@pytest.fixture
def world(conn: Connection, unit_tree: dict[str, str]) -> Connection:
    """Accidents of 2011 and 2013 in 魏都区 and 建安区; denominators of both counties, 2011 complete only."""
    ids = dict(conn.execute(text("SELECT code, id FROM units")).all())
    rows = [("T1", "41100200100101", "2011-03-01", 2, False), ("T2", "41100200200101", "2011-05-01", 1, True),
            ("T3", "41100310020001", "2011-06-01", 3, False), ("T4", "41100200100101", "2013-02-01", 1, False)]
    for code, cell, day, deaths, road in rows:
        conn.execute(text("INSERT INTO accidents (code, title, occurred_on, unit_id, deaths, road_traffic, grade) "
                          "VALUES (:c, :c, :d, :u, :n, :r, :g)"),
                     {"c": f"TGT-{code}", "d": day, "u": ids[cell], "n": deaths, "r": road,
                      "g": "larger" if deaths >= 3 else "general"})
    for unit, year, gdp, emp, veh in (("411002", 2011, 300, 100_000, 200_000), ("411003", 2011, 200, 50_000, 100_000),
                                      ("411002", 2013, 350, 110_000, None)):
        conn.execute(text("INSERT INTO area_denominators (code, unit_id, year, gdp_yi, industrial_employees, "
                          "motor_vehicles) VALUES (:k, :u, :y, :g, :e, :v)"),
                     {"k": f"{unit}-{year}", "u": ids[unit], "y": year, "g": gdp, "e": emp, "v": veh})
    return conn


def test_city_figures_sum_the_counties_only_when_complete(world: Connection) -> None:
    city = area_in_scope(world, scope=CITY, code=None)
    assert city is not None and city.code == "411000"
    f = area_figures(world, area=city, first_year=2011, last_year=2013)
    assert (f[2011].accidents, f[2011].deaths, f[2011].industrial_deaths, f[2011].road_deaths) == (3, 6, 5, 1)
    assert (f[2011].gdp_yi, f[2011].employees, f[2011].vehicles) == (500.0, 150_000.0, 300_000.0)
    assert (f[2012].accidents, f[2012].gdp_yi) == (0, None)
    assert (f[2013].accidents, f[2013].gdp_yi) == (1, None)  # 建安区 has no 2013 row: not a partial sum
    weidu = area_in_scope(world, scope=CITY, code="411002")
    assert weidu is not None
    w = area_figures(world, area=weidu, first_year=2011, last_year=2013)
    assert (w[2011].deaths, w[2013].gdp_yi, w[2013].vehicles) == (3, 350.0, None)
    assert [a.code for a in chain(world, scope=CITY, area=weidu)] == ["411000", "411002"]
    assert [a.code for a in children(world, area=city)] == ["411002", "411003"]
    counts = children_counts(world, area=city, years=(2011, 2013))
    assert (counts[("411003", 2011)].deaths, counts[("411002", 2013)].accidents) == (3, 1)
    assert ("411003", 2013) not in counts


def test_scope_and_settings(world: Connection) -> None:
    assert area_in_scope(world, scope=WEIDU_SCOPE, code="411003") is None
    assert area_in_scope(world, scope=WEIDU_SCOPE, code=None) is not None
    save_target_settings(world, settings=TargetSettings(baseline_year=2011, target_year=2016,
                                                        reductions={"accidents": 50}), username="tg_admin")
    s = target_settings(world)
    assert (s.baseline_year, s.reductions["accidents"], s.reductions["deaths"]) == (2011, 50.0, 10.0)
    assert world.execute(text("SELECT count(*) FROM audit_log WHERE action = 'targets_changed' "
                              "AND username = 'tg_admin'")).scalar_one() == 1
    world.execute(text("UPDATE app_config SET value = '{\"baseline_year\": 2030, \"target_year\": 2020}' "
                       "WHERE key = 'five_year_targets'"))
    assert target_settings(world) == TargetSettings()  # unusable: the plan's defaults


def test_the_big_screens_accident_lines(world: Connection) -> None:
    save_target_settings(world, settings=TargetSettings(baseline_year=2011, target_year=2016), username="tg_admin")
    line = screen_accidents(world, scope=CITY, as_of=date(2013, 12, 31))
    assert (line["accidents"], line["deaths"], line["last_accidents"], line["last_deaths"]) == (1, 1, 0, 0)
    t = line["targets"]
    assert (t["year"], t["baseline_year"], t["accidents_pct"], t["deaths_pct"]) == (2012, 2011, -100.0, -100.0)
    assert (t["on_track"], t["missing"], t["total"]) == (2, 3, 5)  # no denominators of 2012
    assert screen_accidents(world, scope=WEIDU_SCOPE, as_of=date(2011, 12, 31))["targets"] is None  # no full year
