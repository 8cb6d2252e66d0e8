"""Pure pieces of the big-screen page: settings documented, KPI text, carousel order, ticker, legend."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from dashboard.bigscreen import panels as bs
from dashboard.bigscreen.settings import BigScreenSettings

ROOT = Path(__file__).resolve().parent.parent


def test_env_example_documents_bigscreen_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    documented = (ROOT / ".env.example").read_text()
    for field in BigScreenSettings.model_fields:
        assert f"SAFEGRID_BIGSCREEN_{field.upper()}" in documented, field
    monkeypatch.setenv("SAFEGRID_BIGSCREEN_REFRESH_SECONDS", "0.5")
    with pytest.raises(ValueError):
        BigScreenSettings()  # below one second would hammer the database
    monkeypatch.setenv("SAFEGRID_BIGSCREEN_REFRESH_SECONDS", "5")
    assert BigScreenSettings().refresh_seconds == 5
    monkeypatch.setenv("SAFEGRID_BIGSCREEN_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValueError, match="未知时区"):
        BigScreenSettings()


def test_freshness_in_the_screen_time_zone() -> None:
    at = datetime(2026, 11, 23, 17, 5, tzinfo=UTC)
    assert bs.freshness_text(at) == "统计更新于 11-24 01:05"  # 北京时间 by default
    assert bs.freshness_text(None) == "统计数据尚未刷新"


def test_kpi_values() -> None:
    kpis = {"enterprises": 20000, "ent_red": 0, "ent_orange": 12, "sources": 3, "hazards_open": 1589,
            "hazards_overdue": 853, "hazards_major_open": 123, "hazards_supervised": 61, "closure_rate": 0.33928,
            "month_closed": 816, "month_open_at_start": 1095, "month_found": 1310}
    values = bs.kpi_values(kpis)
    assert values["enterprises"] == "20,000" and values["ent_red"] == "0"
    assert values["closure_rate"] == "33.9%" and values["closure_hint"] == "816 / 2,405"
    assert bs.kpi_values(kpis | {"closure_rate": None})["closure_rate"] == "—"


def test_carousel_wraps_and_skips_units_without_geometry() -> None:
    children: list[dict[str, Any]] = [{"code": "1", "bounds": [[0, 0], [1, 1]]}, {"code": "2", "bounds": None},
                {"code": "3", "bounds": [[1, 1], [2, 2]]}]
    assert bs.carousel_step(children, -1) == (0, children[0])
    assert bs.carousel_step(children, 0) == (1, children[2])
    assert bs.carousel_step(children, 1) == (0, children[0])
    assert bs.carousel_step([], -1) == (-1, None)


def test_ticker_items_and_speed() -> None:
    alarms: dict[str, Any] = {
        "new_major": [{"found_at": date(2026, 11, 22), "county": "魏都区", "township": "西大街道",
                       "enterprise": "甲公司", "title": "储罐泄漏"}],
        "newly_overdue": [{"deadline": date(2026, 11, 20), "county": "建安区", "township": None,
                           "enterprise": None, "title": "消防通道堵塞"}],
        "inspection_overdue": [{"name": "将官池镇", "level": 3, "parent": "建安区", "last_inspection_at": None}],
        "counts": {"new_major": 1, "newly_overdue": 1, "inspection_overdue": 1},
    }
    items = bs.ticker_items(alarms, as_of=date(2026, 11, 23))
    assert [i["tag"] for i in items] == ["新增重大隐患", "逾期3天", "四查落后"]
    assert items[0]["text"] == "11-22 魏都区·西大街道 甲公司：储罐泄漏"
    assert "无检查记录" in items[2]["text"]
    short = bs.ticker(items, alarms["counts"])[1].children.style["animationDuration"]
    long = bs.ticker(items * 20, alarms["counts"])[1].children.style["animationDuration"]
    assert int(short[:-1]) == 30 and int(long[:-1]) > 30  # constant speed: longer text, longer loop
    assert bs.ticker([], alarms["counts"])[1].children == "近7日无新增预警"


def test_legend_counts() -> None:
    counts = {"red": 6, "orange": 3, "yellow": 34, "blue": 62}
    items = bs.legend(3, counts, 2)
    assert items[0].children == "四色风险分区 · 乡镇(街道)"
    assert [i.children[2].children for i in items[1:5]] == ["6", "3", "34", "62"]
    assert items[5].children[1] == "县(区)边界"
    assert len(bs.legend(5, counts, 5)) == 5  # a leaf scope: no outline entry


def test_trend_figure_counts() -> None:
    small = [{"month": date(2026, m, 1), "found": m % 2, "closed": 0} for m in range(1, 13)]
    fig = bs.trend_figure(small)
    assert fig["layout"]["yaxis"]["dtick"] == 1  # whole hazards only, no 0.2 steps
    assert [t["name"] for t in fig["data"]] == ["新发现", "已销号"]
    assert fig["data"][0]["x"][:2] == ["1月", "2月"] and fig["data"][0]["customdata"][0] == "2026年"
    big = bs.trend_figure([r | {"found": 400} for r in small])
    assert "dtick" not in big["layout"]["yaxis"]
