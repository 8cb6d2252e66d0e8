"""The briefing (通报) as an A4 portrait PDF: matplotlib's ``PdfPages`` with Noto Sans CJK (Debian fonts-noto-cjk).

Data comes assembled (``geo.briefing.Briefing``); this module only draws. Pages: 1 title, KPIs and the four-colour
map of the child units (drawn as ``layers.risk.render_heat_png`` draws the unit outlines, filled); then the quarter's
晾晒 ranking, the overdue and 督办 hazard lists, the period's accidents and the five-year targets, each table
continuing on a new page when it does not fit. Tables are laid out by hand with ``Figure.text`` (fixed row height,
cells shortened with “…” to their column), which keeps every string a real PDF text run that can be searched,
copied and extracted (the tests do). Fonts are embedded as matplotlib's Type 3 subsets (``pdf.fonttype`` 3, with a
ToUnicode map): TrueType embedding (42) subsets the CJK collection with fontTools and doubled the drawing time of
the demo city's briefing (6 s against 2.5-3 s).
"""

from __future__ import annotations

import io
import itertools
import math
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain.labels import (
    ACCIDENT_GRADE,
    HAZARD_LEVEL,
    HAZARD_STATUS,
    INVESTIGATION_STATUS,
    RISK_COLOUR_HEX,
    RISK_LEVEL_LONG,
    SUPERVISION_LEVEL,
)
from domain.scorecards import percent
from domain.targets import format_value
from geo.briefing import Briefing

if TYPE_CHECKING:
    from matplotlib.figure import Figure

A4 = (8.27, 11.69)  # inches, portrait
FONT_FAMILIES = ["Noto Sans CJK SC", "WenQuanYi Zen Hei", "Microsoft YaHei", "SimHei", "DejaVu Sans"]
LEFT, RIGHT, TOP, BOTTOM = 0.07, 0.93, 0.94, 0.06  # figure fractions of the printable area
ROW_H = 0.0175  # one table row, figure fraction (≈ 5.2 mm)
TABLE_PT = 7.5
UNCLASSED = "#b8c2cc"
DARK = "#1f2d3d"


def cjk_font_path() -> str | None:
    """Path of the Noto Sans CJK font matplotlib will use (None: not installed, CJK text would show as boxes)."""
    from matplotlib import font_manager

    try:
        return str(font_manager.findfont(font_manager.FontProperties(family="Noto Sans CJK SC"),
                                         fallback_to_default=False))
    except ValueError:
        return None


def _width(text: str) -> float:
    """Width of ``text`` in em at the table's size (wide CJK characters 1, others about 0.55)."""
    return sum(1.0 if unicodedata.east_asian_width(c) in "WF" else 0.55 for c in text)


def fit(text: Any, em: float) -> str:
    """Shorten ``text`` with “…” so that it fits ``em`` ems."""
    s = "" if text is None else str(text)
    if _width(s) <= em:
        return s
    out = ""
    for c in s:
        if _width(out + c) > em - 1:
            break
        out += c
    return out + "…"


class _Document:
    """Pages being written top-down, with a cursor; tables flow onto new pages."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.pages: list[Figure] = []
        self.y = TOP
        self.new_page()

    def new_page(self) -> None:
        from matplotlib import pyplot as plt

        fig = plt.figure(figsize=A4)
        if self.pages:
            fig.text(LEFT, TOP + 0.015, self.title, fontsize=8, color="#60707f")
            fig.add_artist(_hline(fig, TOP + 0.01, "#c8d0d8"))
        self.pages.append(fig)
        self.y = TOP - (0.01 if len(self.pages) > 1 else 0)

    @property
    def fig(self) -> Figure:
        return self.pages[-1]

    def room(self, height: float) -> None:
        """Start a new page unless ``height`` fits above the bottom margin."""
        if self.y - height < BOTTOM:
            self.new_page()

    def heading(self, text: str, note: str = "") -> None:
        """Write a section heading (kept with at least three rows of what follows)."""
        self.room(0.035 + 4 * ROW_H)
        self.y -= 0.028
        self.fig.text(LEFT, self.y, text, fontsize=12, weight="bold", color=DARK)
        if note:
            self.fig.text(RIGHT, self.y, note, fontsize=7.5, color="#60707f", ha="right")
        self.y -= 0.012

    def paragraph(self, text: str, size: float = 8, colour: str = "#3a4756") -> None:
        self.room(0.02)
        self.y -= 0.016
        self.fig.text(LEFT, self.y, text, fontsize=size, color=colour)

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]], widths: Sequence[float],
              *, align: Sequence[str] | None = None, empty: str = "无") -> None:
        """Rows under a grey header; ``widths`` are relative column widths; repeated header on a new page."""
        total = sum(widths)
        span = RIGHT - LEFT
        xs, x = [], LEFT
        for w in widths:
            xs.append(x)
            x += span * w / total
        em_per_fraction = A4[0] * 72 / TABLE_PT  # ems across the whole page width
        ems = [span * w / total * em_per_fraction - 0.6 for w in widths]
        align = align or ["left"] * len(widths)

        def head() -> None:
            from matplotlib.patches import Rectangle

            self.fig.add_artist(Rectangle((LEFT, self.y - ROW_H), span, ROW_H, transform=self.fig.transFigure,
                                          facecolor="#e6ebf0", edgecolor="none"))
            for i, h in enumerate(header):
                self._cell(xs[i], ems[i], h, align[i], bold=True)
            self.y -= ROW_H

        self.room(2 * ROW_H)
        head()
        if not rows:
            self.fig.text(LEFT + 0.005, self.y - ROW_H * 0.7, empty, fontsize=TABLE_PT, color="#60707f")
            self.y -= ROW_H
        for row in rows:
            if self.y - ROW_H < BOTTOM:
                self.new_page()
                head()
            for i, cell in enumerate(row):
                self._cell(xs[i], ems[i], cell, align[i])
            self.fig.add_artist(_hline(self.fig, self.y - ROW_H, "#dde3e9", LEFT, RIGHT))
            self.y -= ROW_H
        self.y -= 0.006

    def _cell(self, x: float, em: float, value: Any, align: str, *, bold: bool = False) -> None:
        text = fit(value, em)
        colw = (em + 0.6) / (A4[0] * 72 / TABLE_PT)
        at = x + 0.004 if align == "left" else x + colw - 0.004
        self.fig.text(at, self.y - ROW_H * 0.7, text, fontsize=TABLE_PT, ha=align,
                      weight="bold" if bold else "normal", color=DARK)


def _hline(fig: Figure, y: float, colour: str, x0: float = LEFT, x1: float = RIGHT) -> Any:
    from matplotlib.lines import Line2D

    return Line2D([x0, x1], [y, y], transform=fig.transFigure, color=colour, linewidth=0.5)


def _rings(geometry: dict[str, Any]) -> list[list[list[float]]]:
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"][0]]
    return [poly[0] for poly in geometry["coordinates"]]


def _ring_area(ring: Sequence[Sequence[float]]) -> float:
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0, *_), (x1, y1, *_) in itertools.pairwise(ring))) / 2


def draw_map(fig: Figure, rect: tuple[float, float, float, float], units: dict[str, Any], title: str) -> None:
    """Draw the four-colour map: each child unit filled in its class colour and labelled, with a legend."""
    from matplotlib.patches import Patch, Polygon

    ax = fig.add_axes(rect)
    ax.set_title(title, fontsize=10, color=DARK)
    features = [f for f in units.get("features", []) if f.get("geometry")]
    if not features:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "下级单位暂无边界数据，无法绘制四色图", transform=ax.transAxes, ha="center", fontsize=10,
                color="#60707f")
        return
    for f in features:
        colour = RISK_COLOUR_HEX.get(f["properties"].get("risk") or "", UNCLASSED)
        rings = _rings(f["geometry"])
        for ring in rings:
            ax.add_patch(Polygon([p[:2] for p in ring], closed=True, facecolor=colour, edgecolor="white",
                                 linewidth=0.8, alpha=0.9))
        big = max(rings, key=_ring_area)
        cx = sum(p[0] for p in big) / len(big)
        cy = sum(p[1] for p in big) / len(big)
        ax.text(cx, cy, f["properties"].get("name") or "", fontsize=6.5 if len(features) > 12 else 8,
                ha="center", va="center", color=DARK)
    ax.autoscale_view()
    ax.set_aspect(1 / max(0.2, math.cos(math.radians(sum(ax.get_ylim()) / 2))))  # degrees → equal metres
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_color("#c8d0d8")
    handles = [Patch(facecolor=RISK_COLOUR_HEX[k], label=RISK_LEVEL_LONG[k]) for k in RISK_LEVEL_LONG]
    handles.append(Patch(facecolor=UNCLASSED, label="未定级"))
    ax.legend(handles=handles, loc="lower right", fontsize=7, frameon=True, framealpha=0.85)


def _kpi_boxes(doc: _Document, items: Sequence[tuple[str, str, str]]) -> None:
    """Draw a grid of KPI boxes (label, value, colour), four per row."""
    from matplotlib.patches import FancyBboxPatch

    per_row, h, gap = 4, 0.062, 0.008
    w = (RIGHT - LEFT - gap * (per_row - 1)) / per_row
    for i, (label, value, colour) in enumerate(items):
        if i % per_row == 0:
            doc.y -= h + gap
        x = LEFT + (i % per_row) * (w + gap)
        doc.fig.add_artist(FancyBboxPatch((x, doc.y), w, h, boxstyle="round,pad=0,rounding_size=0.006",
                                          transform=doc.fig.transFigure, facecolor="#f3f6f9",
                                          edgecolor="#d5dde5", linewidth=0.6))
        doc.fig.text(x + w / 2, doc.y + h * 0.58, value, fontsize=15, weight="bold", ha="center", color=colour)
        doc.fig.text(x + w / 2, doc.y + h * 0.2, label, fontsize=8, ha="center", color="#3a4756")


def kpi_items(b: Briefing) -> list[tuple[str, str, str]]:
    """Return the KPI boxes of page 1: label, value as printed, colour."""
    k = b.kpis
    deaths = sum(a.deaths for a in b.accidents)
    return [
        ("企业总数", str(k["enterprises"]), DARK),
        ("红色（重大风险）企业", str(k["ent_red"]), RISK_COLOUR_HEX["red"]),
        ("橙色（较大风险）企业", str(k["ent_orange"]), RISK_COLOUR_HEX["orange"]),
        ("黄色 / 蓝色企业", f"{k['ent_yellow']} / {k['ent_blue']}", "#8a6d00"),
        ("未销号隐患", str(k["hazards_open"]), DARK),
        ("逾期未整改隐患", str(k["hazards_overdue"]), RISK_COLOUR_HEX["red"]),
        ("未销号重大隐患", str(k["hazards_major_open"]), RISK_COLOUR_HEX["orange"]),
        ("挂牌督办（未销号）", str(k["hazards_supervised"]), DARK),
        ("四查滞后单位", str(k["inspection_behind"]), RISK_COLOUR_HEX["orange"] if k["inspection_behind"] else DARK),
        ("网格员空缺", str(k["vacancies"]), DARK),
        ("本期事故起数", str(len(b.accidents)), RISK_COLOUR_HEX["red"] if b.accidents else DARK),
        ("本期死亡人数", str(deaths), RISK_COLOUR_HEX["red"] if deaths else DARK),
    ]


def _hazard_rows(rows: Sequence[Any], *, supervised: bool) -> list[list[Any]]:
    out = []
    for i, h in enumerate(rows, start=1):
        place = h["enterprise_name"] or h["unit_name"] or ""
        tail = (SUPERVISION_LEVEL.get(h["supervision_level"], "") if supervised
                else f"{h['overdue_days']} 天" if h["overdue_days"] is not None else "")
        out.append([i, h["code"], h["title"], place, HAZARD_LEVEL.get(h["level"], h["level"]),
                    h["found_at"].isoformat(), h["deadline"].isoformat() if h["deadline"] else "—",
                    HAZARD_STATUS.get(h["status"], h["status"]) if supervised else tail,
                    tail if supervised else HAZARD_STATUS.get(h["status"], h["status"])])
    return out


def render_briefing_pdf(b: Briefing, *, generated: datetime) -> bytes:
    """Draw the briefing ``b`` into a PDF (A4 portrait) and return its bytes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    area = b.area.name
    with plt.rc_context({"font.sans-serif": FONT_FAMILIES, "font.family": "sans-serif",
                         "axes.unicode_minus": False, "pdf.fonttype": 3}):
        doc = _Document(f"{area}安全生产工作通报 · {b.period_label}")
        try:
            _write(doc, b, generated)
            total = len(doc.pages)
            for n, fig in enumerate(doc.pages, start=1):
                fig.text(0.5, BOTTOM - 0.03, f"第 {n} 页 共 {total} 页", fontsize=7.5, ha="center", color="#60707f")
            buf = io.BytesIO()
            with PdfPages(buf, metadata={"Title": f"{area}安全生产工作通报 {b.period_label}",
                                         "Creator": "SafeGrid"}) as pdf:
                for fig in doc.pages:
                    pdf.savefig(fig)
            return buf.getvalue()
        finally:
            for fig in doc.pages:
                plt.close(fig)


def _write(doc: _Document, b: Briefing, generated: datetime) -> None:
    area = b.area.name
    fig = doc.fig
    fig.text(0.5, doc.y - 0.02, "安全生产工作通报", fontsize=22, weight="bold", ha="center", color="#b3261e")
    doc.y -= 0.055
    fig.text(0.5, doc.y, f"{area} · {b.period_label}", fontsize=13, ha="center", color=DARK)
    doc.y -= 0.022
    fig.text(0.5, doc.y, f"统计期间 {b.start.isoformat()} 至 {b.end.isoformat()}　生成时间 "
             f"{generated.strftime('%Y-%m-%d %H:%M')}", fontsize=8.5, ha="center", color="#60707f")
    doc.y -= 0.012
    fig.add_artist(_hline(fig, doc.y, "#b3261e"))
    doc.heading("一、主要指标", f"企业、隐患、督办、四查为截至 {b.as_of.isoformat()} 的现状；事故为统计期间")
    _kpi_boxes(doc, kpi_items(b))
    doc.y -= 0.01
    doc.heading("二、风险四色图", "下级单位按四色定级（最近一次刷新）")
    bottom = BOTTOM + 0.01
    draw_map(doc.fig, (LEFT, bottom, RIGHT - LEFT, doc.y - bottom - 0.01), b.units, f"{area} 下级单位风险等级")
    doc.new_page()

    card = b.scorecard
    if card is not None:
        doc.heading(f"三、{card.quarter.label}考核排名（晾晒）", f"共 {len(card.rows)} 个单位，满分 100")
        rows = [[r.rank, r.change_label, r.kpis.name, f"{r.score:.1f}", percent(r.kpis.rates()["closure"]),
                 percent(r.kpis.rates()["timeliness"]), r.kpis.overdue_end, percent(r.kpis.rates()["supervised"]),
                 percent(r.kpis.rates()["cadence"]), r.kpis.accidents, r.kpis.deaths] for r in card.rows]
        doc.table(["排名", "较上季", "单位", "得分", "整改率", "按期整改率", "季末逾期", "督办按期", "四查达标",
                   "事故", "死亡"], rows, [0.6, 0.7, 2.4, 0.8, 0.9, 1.0, 0.8, 0.9, 0.9, 0.6, 0.6],
                  align=["right", "left", "left", *["right"] * 8], empty="本季度无可排名单位")
    k = b.kpis
    doc.heading("四、逾期未整改隐患", f"共 {k['hazards_overdue']} 条，列出逾期最久的 {len(b.overdue)} 条")
    head = ["序号", "隐患编号", "隐患名称", "企业 / 单位", "等级", "发现日期", "整改期限"]
    widths = [0.45, 1.9, 2.2, 2.0, 0.85, 1.05, 1.05, 0.8, 0.8]
    doc.table([*head, "逾期", "状态"], _hazard_rows(b.overdue, supervised=False), widths,
              align=["right", *["left"] * 6, "right", "left"], empty="无逾期未整改隐患")
    doc.heading("五、挂牌督办隐患（未销号）", f"共 {k['hazards_supervised']} 条，列出 {len(b.supervised)} 条")
    doc.table([*head, "状态", "督办级别"], _hazard_rows(b.supervised, supervised=True),
              [*widths[:2], 1.9, 1.8, *widths[4:-1], 1.3],
              align=["right", *["left"] * 8], empty="无未销号的挂牌督办隐患")

    doc.heading("六、生产安全事故", f"统计期间共 {len(b.accidents)} 起，死亡 {sum(a.deaths for a in b.accidents)} 人")
    doc.table(["日期", "事故名称", "事故单位", "所在单位", "死亡", "重伤", "等级", "调查处理"],
              [[a.occurred_on.isoformat(), a.title, a.enterprise_name or "—", a.unit_name or "—", a.deaths,
                a.injuries, ACCIDENT_GRADE.get(a.grade, a.grade),
                INVESTIGATION_STATUS.get(a.investigation or "", "—")] for a in b.accidents],
              [1.1, 2.6, 2.0, 1.6, 0.6, 0.6, 1.0, 1.0], align=["left", "left", "left", "left", "right", "right",
                                                                "left", "left"], empty="统计期间无生产安全事故")
    s = b.target_settings
    doc.heading(f"七、“十四五”目标进度（{b.target_year}年）",
                f"基准 {s.baseline_year} 年，目标 {s.target_year} 年，按直线进度考核")
    rows = [[t.indicator.label, t.indicator.unit, format_value(t.indicator, t.baseline),
             format_value(t.indicator, t.value), "—" if t.change_pct is None else f"{t.change_pct:+.1f}%",
             f"{format_value(t.indicator, t.target)}（−{t.reduction:g}%）", format_value(t.indicator, t.expected),
             t.missing or ("进度内" if t.on_track else "落后于进度")] for t in b.targets]
    doc.table(["指标", "单位", f"{s.baseline_year}年", f"{b.target_year}年", "较基准", "目标", "应不高于", "状态"],
              rows, [3.4, 0.9, 0.7, 0.7, 0.7, 1.2, 0.8, 2.2],
              align=["left", "left", "right", "right", "right", "right", "right", "left"])
