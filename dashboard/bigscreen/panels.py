"""The big screen's pieces as pure functions of the data read once (:mod:`.data`): tiles, rankings, ticker, legend."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
from dash import html

from dashboard.bigscreen.settings import get_bigscreen_settings
from domain.enforcement import yuan_text
from domain.labels import LEVEL, RISK_COLOUR_HEX, RISK_LEVEL, RISK_LEVEL_LONG
from geo import bigscreen_queries as bq

RANK_LIMIT = 10
UNASSESSED_COLOUR = "#7d8ea3"


def fmt(value: int | None) -> str:
    """Format a count with thousands separators (— for missing)."""
    return "—" if value is None else f"{value:,}"


def fmt_rate(rate: float | None) -> str:
    """Format a rate 0..1 as a percentage with one decimal (— when undefined)."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


KPI_TILES: tuple[tuple[str, str, str], ...] = (
    # (key, Chinese label, tone)
    ("enterprises", "生产经营单位", "bs-tone-plain"),
    ("ent_red", "红色企业", "bs-tone-red"),
    ("ent_orange", "橙色企业", "bs-tone-orange"),
    ("sources", "重大危险源", "bs-tone-amber"),
    ("hazards_open", "未销号隐患", "bs-tone-plain"),
    ("hazards_overdue", "逾期隐患", "bs-tone-red"),
    ("hazards_major_open", "重大隐患", "bs-tone-orange"),
    ("hazards_supervised", "挂牌督办", "bs-tone-violet"),
    ("closure_rate", "本月销号率", "bs-tone-green"),
)


def kpi_values(kpis: dict[str, Any]) -> dict[str, str]:
    """Return the text of every KPI tile (key → value) and of the closure-rate hint (``closure_hint``)."""
    out = {key: fmt_rate(kpis[key]) if key == "closure_rate" else fmt(kpis[key]) for key, _, _ in KPI_TILES}
    out["closure_hint"] = f"{fmt(kpis['month_closed'])} / {fmt(kpis['month_open_at_start'] + kpis['month_found'])}"
    return out


def kpi_ribbon(kpis: dict[str, Any]) -> list[html.Div]:
    """Build the KPI tiles (ids ``bs-kpi-<key>``; the values ``bs-kpi-<key>-value`` are refreshed in place)."""
    values = kpi_values(kpis)
    tiles = []
    for key, label, tone in KPI_TILES:
        hint = html.Span(values["closure_hint"], className="bs-kpi-hint", id="bs-kpi-closure-hint") \
            if key == "closure_rate" else None
        tiles.append(html.Div([
            html.Div(values[key], className="bs-kpi-value", id=f"bs-kpi-{key}-value"),
            html.Div([label, hint], className="bs-kpi-label"),
        ], className=f"bs-kpi {tone}", id=f"bs-kpi-{key}",
            title="本月销号数 ÷（月初未销号 + 本月新发现）" if key == "closure_rate" else label))
    return tiles


def _risk_badge(cls: str | None) -> html.Span:
    if not cls:
        return html.Span("—", className="bs-badge bs-badge-none")
    return html.Span(RISK_LEVEL[cls], className=f"bs-badge bs-badge-{cls}", title=RISK_LEVEL_LONG[cls])


def rank_rows(children: list[dict[str, Any]], *, by: bq.RankKey, thresholds: dict[str, float]) -> Any:
    """Rows of one ranking: position, name, colour, a bar and the value.

    Risk bars are drawn against the red threshold of the four-colour rule (full bar = red), with
    ticks at the yellow and orange thresholds; overdue bars against the largest value shown.
    """
    ranked = bq.ranking(children, by=by, limit=RANK_LIMIT)
    if not ranked:
        return html.Div("没有下级单位。", className="bs-empty")
    field = "risk_score" if by == "risk" else "overdue"
    top = thresholds["red"] if by == "risk" else max((c[field] for c in ranked), default=0)
    top = top or 1
    ticks = [html.Span(className="bs-rank-tick", style={"left": f"{100 * thresholds[k] / top:.1f}%"})
             for k in ("yellow", "orange")] if by == "risk" else []
    rows = []
    for i, c in enumerate(ranked, start=1):
        value = c[field]
        share = min(100.0, max(2.0, 100.0 * value / top)) if value else 0.0
        colour = RISK_COLOUR_HEX.get(c["risk_class"] or "", UNASSESSED_COLOUR)
        extra = f"{value:.1f}" if by == "risk" else fmt(value)
        sub = (f"企业 {fmt(c['enterprises'])} · 红 {c['ent_red']} 橙 {c['ent_orange']}" if by == "risk"
               else f"未销号 {fmt(c['open'])} · 重大 {fmt(c['major'])}")
        rows.append(html.Li([
            html.Span(str(i), className=f"bs-rank-no{' bs-rank-top' if i <= 3 else ''}"),
            html.Div([
                html.Div([html.Span(c["name"], className="bs-rank-name"), _risk_badge(c["risk_class"]),
                          html.Span(sub, className="bs-rank-sub")], className="bs-rank-head"),
                html.Div([html.Div(className="bs-rank-fill", style={"width": f"{share:.1f}%", "--bar": colour}),
                          *ticks], className="bs-rank-bar"),
            ], className="bs-rank-main"),
            html.Span(extra, className="bs-rank-value"),
        ], className="bs-rank-row", **{"data-code": c["code"]}))
    return html.Ol(rows, className="bs-rank-list")


def distribution(kpis: dict[str, Any]) -> html.Div:
    """Enterprises by risk colour: one stacked bar and a labelled row per colour."""
    parts = [(k, RISK_LEVEL_LONG[k], kpis[f"ent_{k}"], RISK_COLOUR_HEX[k]) for k in RISK_COLOUR_HEX]
    parts.append(("unassessed", "未评估", kpis["ent_unassessed"], UNASSESSED_COLOUR))
    total = sum(p[2] for p in parts) or 1
    stack = html.Div([html.Div(className="bs-stack-part", style={"flexGrow": str(n), "background": colour},
                               title=f"{label} {n}")
                      for _, label, n, colour in parts if n], className="bs-stack")
    rows = [html.Div([
        html.Span(className="bs-dot", style={"background": colour}),
        html.Span(label, className="bs-dist-label"),
        html.Span(fmt(n), className="bs-dist-value"),
        html.Span(f"{100 * n / total:.1f}%", className="bs-dist-share"),
    ], className="bs-dist-row", id=f"bs-dist-{key}") for key, label, n, colour in parts]
    return html.Div([stack, html.Div(rows, className="bs-dist-rows")])


def enforcement_lines(e: dict[str, Any]) -> list[html.Div]:
    """Return the month's 检查执法 as two lines: inspections (found, 责令整改, 停产整顿) and penalties (元)."""
    return [
        html.Div([html.Span("本月检查", className="bs-line-label"),
                  html.Span(fmt(e["inspections"]), className="bs-line-value bs-good", id="bs-enf-inspections"),
                  html.Span(f"发现隐患 {fmt(e['hazards_found'])} · 责令整改 {fmt(e['ordered_rectify'])} · "
                            f"停产整顿 {fmt(e['closed_down'])}", className="bs-line-sub", id="bs-enf-sub")],
                 className="bs-line", title="本月检查次数（导入和系统录入的检查记录）"),
        html.Div([html.Span("本月处罚", className="bs-line-label"),
                  html.Span(fmt(e["penalties"]), className="bs-line-value bs-warn", id="bs-enf-penalties"),
                  html.Span(f"起 · 罚款 {yuan_text(e['penalty_yuan'])}", className="bs-line-sub", id="bs-enf-yuan")],
                 className="bs-line", title="本月行政处罚起数和罚款金额"),
    ]


def grid_block(grid: dict[str, Any], enforcement: dict[str, Any] | None = None) -> html.Div:
    """Show the grid system (units per level, duty slots filled, vacancies, units behind) and this month's 检查执法."""
    levels = grid["levels"]
    present, required = grid["persons_present"], grid["persons_required"]
    rate = present / required if required else None
    overdue = grid["inspection_overdue"]
    cells = [html.Div([html.Div(fmt(levels.get(lv)), className="bs-mini-value"),
                       html.Div(LEVEL[lv], className="bs-mini-label")], className="bs-mini")
             for lv in sorted(levels) if lv > min(levels)]
    return html.Div([
        html.Div(cells, className="bs-minis"),
        html.Div([
            html.Div([html.Span("责任人在岗率", className="bs-line-label"),
                      html.Span(fmt_rate(rate), className="bs-line-value bs-good"),
                      html.Span(f"{fmt(present)} / {fmt(required)}", className="bs-line-sub")], className="bs-line"),
            html.Div([html.Span("责任人空缺", className="bs-line-label"),
                      html.Span(fmt(grid["vacancies"]), className="bs-line-value bs-warn"),
                      html.Span("个岗位", className="bs-line-sub")], className="bs-line"),
            html.Div([html.Span("四查落后单位", className="bs-line-label"),
                      html.Span(fmt(sum(overdue.values())), className="bs-line-value bs-bad"),
                      html.Span(" · ".join(f"{LEVEL[lv]} {n}" for lv, n in sorted(overdue.items()) if n) or "无",
                                className="bs-line-sub")], className="bs-line"),
            *(enforcement_lines(enforcement) if enforcement is not None else []),
        ], className="bs-lines"),
    ], id="bs-grid-body")


def trend_figure(trend: list[dict[str, Any]]) -> dict[str, Any]:
    """Found vs closed hazards per month (plotly, dark); fonts are scaled in the browser (assets/bigscreen.js)."""
    months = [f"{r['month'].month}月" for r in trend]
    top = max((max(r["found"], r["closed"]) for r in trend), default=0)
    years = [f"{r['month']:%Y}年" for r in trend]
    fig = go.Figure([
        go.Bar(x=months, y=[r["found"] for r in trend], name="新发现", marker_color="#ff9f43", customdata=years,
               hovertemplate="%{customdata}%{x} 新发现 %{y}<extra></extra>"),
        go.Bar(x=months, y=[r["closed"] for r in trend], name="已销号", marker_color="#2ee6a8", customdata=years,
               hovertemplate="%{customdata}%{x} 已销号 %{y}<extra></extra>"),
    ])
    fig.update_layout(
        template="plotly_dark", barmode="group", bargap=0.25, bargroupgap=0.08,
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
        font={"family": "Noto Sans CJK SC, Microsoft YaHei, sans-serif", "size": 15, "color": "#cfe3ff"},
        margin={"l": 44, "r": 8, "t": 30, "b": 34},
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.14, "font": {"size": 15}},
        xaxis={"showgrid": False, "tickfont": {"size": 13}},
        yaxis={"gridcolor": "rgba(120,170,255,0.15)", "zeroline": False, "tickfont": {"size": 13},
               "rangemode": "tozero", **({"dtick": 1} if top < 5 else {})},  # counts: no 0.2 steps
        uirevision="bs-trend",  # keep hover/zoom state across refreshes
    )
    return dict(json.loads(fig.to_json()))  # JSON-clean, so a refresh can compare it with the store


def _place(item: dict[str, Any]) -> str:
    return "·".join(p for p in (item.get("county"), item.get("township")) if p)


def _href(hazard: dict[str, Any]) -> dict[str, str]:
    """Return the link of a hazard's ticker entry to its page (issue 15), when the row names the hazard."""
    return {"href": f"/hazard?id={hazard['id']}"} if hazard.get("id") else {}


def ticker_items(alarms: dict[str, Any], *, as_of: date) -> list[dict[str, str]]:
    """Flatten the alarms into ticker entries ``{kind, tag, text[, href]}`` (most urgent kind first)."""
    out: list[dict[str, str]] = []
    for h in alarms["new_major"]:
        out.append({"kind": "major", "tag": "新增重大隐患", **_href(h),
                    "text": f"{h['found_at']:%m-%d} {_place(h)} {h['enterprise'] or ''}：{h['title']}"})
    for h in alarms["newly_overdue"]:
        days = (as_of - h["deadline"]).days
        out.append({"kind": "overdue", "tag": f"逾期{days}天", **_href(h),
                    "text": f"{_place(h)} {h['enterprise'] or ''}：{h['title']}（期限 {h['deadline']:%m-%d}）"})
    for u in alarms["inspection_overdue"]:
        last = u["last_inspection_at"]
        when = f"最近检查 {last:%m-%d}" if last else "无检查记录"
        out.append({"kind": "inspection", "tag": "四查落后",
                    "text": f"{u['parent'] or ''} {u['name']}（{LEVEL.get(u['level'], '')}，{when}）"})
    return out


def ticker(items: list[dict[str, str]], counts: dict[str, int]) -> list[Any]:
    """Build the ticker track: the entries twice (a seamless CSS loop), speed independent of the length."""
    summary = html.Span([
        html.Span(f"近7日新增重大隐患 {counts['new_major']}", className="bs-tick-count bs-tick-major"),
        html.Span(f"新增逾期 {counts['newly_overdue']}", className="bs-tick-count bs-tick-overdue"),
        html.Span(f"四查落后单位 {counts['inspection_overdue']}", className="bs-tick-count bs-tick-inspection"),
    ], className="bs-tick-summary")
    if not items:
        return [summary, html.Span("近7日无新增预警", className="bs-tick-quiet")]
    entries = [html.A([html.B(i["tag"], className=f"bs-tag bs-tag-{i['kind']}"), i["text"]], className="bs-tick",
                      href=i["href"], target="_blank") if i.get("href") else
               html.Span([html.B(i["tag"], className=f"bs-tag bs-tag-{i['kind']}"), i["text"]], className="bs-tick")
               for i in items]
    chars = sum(len(i["text"]) + len(i["tag"]) + 4 for i in items)
    duration = max(30, round(chars * 0.28))  # ~3.5 characters a second at any screen size
    return [summary, html.Div(html.Div([html.Div(entries, className="bs-tick-run"),
                                        html.Div(entries, className="bs-tick-run", **{"aria-hidden": "true"})],  # type: ignore[arg-type]
                                       className="bs-tick-track", style={"animationDuration": f"{duration}s"}),
                              className="bs-tick-window")]


def freshness_text(at: datetime | None) -> str:
    """Return the data freshness line of the header (in the screen's time zone)."""
    if at is None:
        return "统计数据尚未刷新"
    return f"统计更新于 {at.astimezone(ZoneInfo(get_bigscreen_settings().timezone)):%m-%d %H:%M}"



def units_url(code: str, at: datetime | None) -> str:
    """Return the unit layer route; the refresh time busts the browser cache only when the tables changed."""
    return f"/api/map/units/{code}/children.geojson?v={at:%Y%m%d%H%M%S}" if at else \
        f"/api/map/units/{code}/children.geojson"


def legend(level: int | None, counts: dict[str, int], child_level: int | None) -> list[Any]:
    """Map legend: the four colours with how many filled units carry each, and what the outlines are."""
    unit = LEVEL.get(level or 0, "单位")
    items: list[Any] = [html.Div(f"四色风险分区 · {unit}", className="bs-legend-title")]
    items += [html.Div([html.Span(className="bs-legend-swatch", style={"background": RISK_COLOUR_HEX[k]}),
                        html.Span(RISK_LEVEL_LONG[k]), html.B(fmt(counts.get(k, 0)))], className="bs-legend-item",
                       id=f"bs-legend-{k}")
              for k in RISK_COLOUR_HEX]
    if child_level and child_level != level:
        items.append(html.Div([html.Span(className="bs-legend-outline"), f"{LEVEL[child_level]}边界"],
                              className="bs-legend-item"))
    return items



def carousel_step(children: list[dict[str, Any]], index: int) -> tuple[int, dict[str, Any] | None]:
    """Next carousel position after ``index`` (wraps; skips children without geometry)."""
    shown = [c for c in children if c.get("bounds")]
    if not shown:
        return -1, None
    nxt = (index + 1) % len(shown)
    return nxt, shown[nxt]


def carousel_card(child: dict[str, Any]) -> list[Any]:
    """Build the KPI card of the child unit the carousel shows."""
    cls = child["risk_class"]
    return [
        html.Div([html.Span(child["name"], className="bs-card-name"), _risk_badge(cls)], className="bs-card-head"),
        html.Div(RISK_LEVEL_LONG.get(cls or "", "尚未评定") + f" · 风险指数 {child['risk_score']:.1f}",
                 className="bs-card-sub"),
        html.Div([
            html.Div([html.B(fmt(child[k])), html.Span(label)], className="bs-card-kpi")
            for k, label in (("enterprises", "企业"), ("ent_red", "红色企业"), ("open", "未销号隐患"),
                             ("overdue", "逾期"), ("major", "重大"), ("supervised", "挂牌督办"))
        ], className="bs-card-kpis"),
    ]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+.0f}%"


def accident_block(acc: dict[str, Any]) -> html.Div:
    """Show this year's accidents and deaths against last year's, the five-year targets' and 动态清零's lines."""
    lines = [html.Div([
        html.Span("本年事故", className="bs-line-label"),
        html.Span(fmt(acc["accidents"]), className="bs-line-value bs-bad", id="bs-acc-accidents"),
        html.Span(f"起 · 死亡 {fmt(acc['deaths'])} 人 · 去年同期 {fmt(acc['last_accidents'])} 起 / "
                  f"{fmt(acc['last_deaths'])} 人", className="bs-line-sub", id="bs-acc-sub"),
    ], className="bs-line", title="本年截至今日的生产安全事故起数和死亡人数，与去年同期比较")]
    t = acc.get("targets")
    if t is not None:
        lines.append(html.Div([
            html.Span("五年目标", className="bs-line-label"),
            html.Span(f"{t['on_track']}/{t['total']}", className="bs-line-value "
                      + ("bs-good" if t["behind"] == 0 else "bs-warn"), id="bs-acc-targets"),
            html.Span(f"项进度内 · 事故 {_pct(t['accidents_pct'])} · 死亡 {_pct(t['deaths_pct'])}",
                      className="bs-line-sub", id="bs-acc-targets-sub"),
        ], className="bs-line", title=f"{t['year']}年各项指标与{t['baseline_year']}年基准及{t['target_year']}年目标的"
                                     "比较：进度内的项数，事故起数和死亡人数较基准年的变化（详见“五年目标”页）"))
    if (g := acc.get("goals")) is not None and g["areas"]:
        lines.append(html.Div([
            html.Span("动态清零", className="bs-line-label"),
            html.Span(f"{g['on_track']}/{g['areas']}", className="bs-line-value "
                      + ("bs-good" if g["on_track"] == g["areas"] else "bs-warn"), id="bs-goals"),
            html.Span(f"个区域按期 · 存量未销号 {fmt(g['stock_open'])} 项 · 增量逾期 {fmt(g['increment_overdue'])} 项",
                      className="bs-line-sub", id="bs-goals-sub"),
        ], className="bs-line", title="重大隐患动态清零：存量按期清零、增量随查随改（招贤镇方案），各下级区域是否按期"))
    return html.Div(html.Div(lines, className="bs-lines"), id="bs-acc-body")
