"""The command map's side panel, breadcrumb and child-unit table, built as dry components (:mod:`dashboard.dry`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from dash import html

from dashboard.dry import Dry, attrs, el, html_block, radio_group
from dashboard.errors import AppError
from domain import clock
from domain.cadence import CADENCE_LABEL, Cadence, period_label
from domain.labels import (
    DUTY_ROLE,
    HAZARD_LEVEL,
    HAZARD_STATUS,
    LEVEL,
    RISK_LEVEL,
    RISK_LEVEL_LONG,
    SOURCE_GRADE,
    SUPERVISION_LEVEL,
    UNIT_KIND,
)
from domain.risk_rule import has_mark
from geo.paging import COUNT_CAP

SORTS = {"risk": "风险", "hazards": "未销号隐患", "overdue": "逾期隐患", "enterprises": "企业数", "code": "代码"}
_RISK_RANK = {"red": 0, "orange": 1, "yellow": 2, "blue": 3}


def unit_href(code: str) -> str:
    """Return the shareable URL of a unit on the command map."""
    return f"/?unit={code}"


def message(error: AppError) -> Dry:
    """Show an error's Chinese message in place of the panel."""
    return el(html.Div, error.message, className="sg-alert cm-message", role="alert")


def _kpi(label: str, value: Any, tone: str = "", title: str | None = None) -> Dry:
    return el(html.Div, [el(html.Div, str(value), className="cm-kpi-value"),
                         el(html.Div, label, className="cm-kpi-label")],
              className=f"cm-kpi {tone}".strip(), title=title or label)


def _inspection(stats: dict[str, Any]) -> Dry:
    """四查 by calendar period, as the refresh read it (``unit_cadence``): cadence, this period, streak, last record."""
    last: date | None = stats.get("last_inspection_at")
    last_text = f"{last:%Y-%m-%d}（{(clock.today() - last).days} 天前）" if last else "无记录"
    cadence, period = stats.get("cadence"), stats.get("cadence_period")
    if not cadence or period is None:  # grid cells, or a level set to 不考核 on /admin/rules
        return el(html.Div, ["最近检查/巡查：", el(html.B, last_text)], className="cm-inspection", id="cm-inspection")
    behind = bool(stats.get("inspection_overdue"))
    streak = int(stats.get("cadence_streak") or 0)
    done = "已检查" if stats.get("cadence_done") else "尚未检查"
    return el(html.Div, [
        f"四查要求{CADENCE_LABEL.get(cadence, cadence)}：本期（{period_label(period, Cadence(cadence))}）{done}",
        f"，连续 {streak} 期按期" if streak else "", f"；最近 {last_text}，",
        el(html.B, "落后（本期和上期均无本级检查或巡查）" if behind else "按期"),
    ], className=f"cm-inspection {'cm-overdue' if behind else 'cm-ok'}", id="cm-inspection")


def kpi_block(level: int, stats: dict[str, Any] | None) -> Dry:
    """KPIs of the unit's subtree: enterprises by colour, sources by grade, hazards, last inspection."""
    if not stats:
        return el(html.Div, "统计数据尚未生成：请先导入台账并执行 safegrid etl refresh。", className="sg-note",
                  id="cm-kpis")
    return el(html.Div, [
        el(html.H3, "辖区概况"),
        el(html.Div, [
            _kpi("生产经营单位", stats["enterprises"]),
            _kpi("红", stats["ent_red"], "cm-red", RISK_LEVEL_LONG["red"]),
            _kpi("橙", stats["ent_orange"], "cm-orange", RISK_LEVEL_LONG["orange"]),
            _kpi("黄", stats["ent_yellow"], "cm-yellow", RISK_LEVEL_LONG["yellow"]),
            _kpi("蓝", stats["ent_blue"], "cm-blue", RISK_LEVEL_LONG["blue"]),
            _kpi("未评估", stats["ent_unassessed"]),
        ], className="cm-kpis cm-kpis-6", id="cm-kpi-enterprises"),
        el(html.Div, [_kpi(f"{SOURCE_GRADE[g]}危险源", stats[f"sources_g{g}"]) for g in (1, 2, 3, 4)],
           className="cm-kpis cm-kpis-4", id="cm-kpi-sources"),
        el(html.Div, [
            _kpi("未销号隐患", stats["hazards_open"]),
            _kpi("逾期", stats["hazards_overdue"], "cm-red" if stats["hazards_overdue"] else ""),
            _kpi("重大隐患", stats["hazards_major_open"], "cm-orange" if stats["hazards_major_open"] else ""),
            _kpi("挂牌督办", stats["hazards_supervised"]),
        ], className="cm-kpis cm-kpis-4", id="cm-kpi-hazards"),
        _inspection(stats),
    ], id="cm-kpis")


def roster_block(roster: dict[str, Any] | None) -> Dry:
    """Persons on duty with role and ``tel:`` phone, and every vacant slot highlighted."""
    if roster is None:
        return el(html.Div, id="cm-persons")
    rows = [
        el(html.Tr, [
            el(html.Td, DUTY_ROLE.get(p["role"], p["role"])),
            el(html.Td, p["name"], className="cm-person-name"),
            el(html.Td, el(html.A, p["phone"], href=f"tel:{p['phone']}") if p["phone"] else "—"),
            el(html.Td, p["org"] or ""),
        ], className="cm-person")
        for p in roster["persons"]
    ]
    for role, missing in roster["vacancies"].items():
        rows += [el(html.Tr, [el(html.Td, DUTY_ROLE.get(role, role)), el(html.Td, "空缺", className="cm-vacant-label"),
                              el(html.Td, "—"), el(html.Td, "")], className="cm-vacant") for _ in range(missing)]
    required = "、".join(f"{DUTY_ROLE[r]} {n} 名" for r, n in roster["required"].items())
    vacant = sum(roster["vacancies"].values())
    summary = el(html.Span, f"空缺 {vacant} 人", className="cm-vacant-count") if vacant else el(
        html.Span, "配备齐全", className="cm-ok")
    return el(html.Div, [
        el(html.H3, ["网格责任人 ", summary]),
        el(html.Table, [el(html.Thead, el(html.Tr, [el(html.Th, h) for h in ("职责", "姓名", "电话", "单位")])),
                        el(html.Tbody, rows)],
           className="sg-table cm-table") if rows else el(html.Div, "未登记责任人。", className="sg-note"),
        el(html.Div, f"应配：{required}", className="cm-hint"),
    ], id="cm-persons")


HAZARD_PAGE = 10  # open hazards per page of the panel's list


def hazard_pages(total: int) -> int:
    """Return how many pages of :data:`HAZARD_PAGE` the panel's list of ``total`` open hazards has."""
    return max(1, -(-total // HAZARD_PAGE))


def hazard_items(hazards: dict[str, Any]) -> list[Dry]:
    """Build one list item per hazard: a button that locates it on the map, and 办理 (its hazard page)."""
    items = []
    for h in hazards["items"]:
        badges = [el(html.Span, HAZARD_LEVEL.get(h["level"], h["level"]), className=f"cm-badge cm-level-{h['level']}")]
        if h["overdue"]:
            badges.append(el(html.Span, f"逾期 {h['days_overdue']} 天", className="cm-badge cm-overdue-badge"))
        if h["supervision_level"]:
            badges.append(el(html.Span, SUPERVISION_LEVEL[h["supervision_level"]], className="cm-badge cm-supervised"))
        deadline = f"整改期限 {h['deadline']:%Y-%m-%d}" if h["deadline"] else "未定整改期限"
        items.append(el(html.Li, [el(html.Button, [
            el(html.Div, [el(html.Span, h["title"], className="cm-hazard-title"), *badges]),
            el(html.Div, f"{h['enterprise'] or '—'} · {h['unit_name']} · {deadline} · "
               f"{HAZARD_STATUS.get(h['status'], h['status'])}", className="cm-hazard-meta"),
        ], className="cm-hazard", type="button", title="在地图上定位", **{"data-id": h["id"], "data-code": h["code"]}),
            el(html.A, "办理", href=f"/hazard?id={h['id']}", className="cm-hazard-open", title="打开隐患页",
               **{"data-link": "page"})]))
    return items


def hazards_content(hazards: dict[str, Any] | None, page: int = 0) -> Dry:
    """Build ``#cm-hazards``: page ``page`` (0-based) of the open hazards, as dry HTML components.

    :data:`HAZARD_PAGE` a page in the order read (overdue, major, deadline), with 上一页/下一页 when there are
    more: HTML buttons carrying the page they ask (``data-hz-page``), which a delegated listener writes to
    ``cm-hz-want`` (assets/map.js).
    """
    total = hazards["total"] if hazards else 0
    if not hazards or not total:
        return el(html.Div, [el(html.H3, "未销号隐患"), el(html.Div, "辖区内没有未销号隐患。", className="sg-note")],
                  id="cm-hazards")
    if total < 0:  # counted up to COUNT_CAP past this page (geo.map_queries.open_hazards): more than that
        counted, of_pages, last = f"超过 {(page + 1) * HAZARD_PAGE + COUNT_CAP:,}", "", False
    else:
        pages = hazard_pages(total)
        counted, of_pages, last = str(total), f"/{pages}", page >= pages - 1
    pager = el(html.Div, [
        el(html.Button, "上一页", id="cm-hz-prev", type="button", className="cm-pager-btn", disabled=page <= 0,
           **attrs({"data-hz-page": page - 1})),
        el(html.Span, f"第 {page + 1}{of_pages} 页 · 按逾期、等级、期限排序", className="cm-pager-text",
           id="cm-hz-text"),
        el(html.Button, "下一页", id="cm-hz-next", type="button", className="cm-pager-btn", disabled=last,
           **attrs({"data-hz-page": page + 1})),
    ], className="cm-pager") if page > 0 or not last else None
    return el(html.Div, [
        el(html.H3, f"未销号隐患（{counted}）"),
        el(html.Ul, hazard_items(hazards), className="cm-hazard-list"),
        pager,
    ], id="cm-hazards")


def patrol_href(cell_code: str) -> str:
    """Return the URL of the patrol form preselecting a grid cell."""
    return "/patrol?" + urlencode({"cell": cell_code})


def panel(view: dict[str, Any], roster: dict[str, Any] | None, hazards: dict[str, Any] | None,
          children: list[dict[str, Any]] | None = None, *, can_patrol: bool = False) -> Dry:
    """Build the side panel of the current unit; ``children`` (its child units) fill the table sorted by risk.

    ``can_patrol`` (the caller's role has the ``patrol`` capability, decided by the server): a grid cell's
    panel links to 巡查此网格 (``/patrol?cell=CODE``).
    """
    stats = view["stats"]
    risk = (stats or {}).get("risk_class")
    head = el(html.Div, [
        el(html.H2, view["name"], id="cm-unit-name"),
        el(html.Div, [
            el(html.Span, LEVEL.get(view["level"], ""), className="cm-tag", id="cm-unit-level"),
            el(html.Span, UNIT_KIND.get(view["kind"] or "", ""), className="cm-tag") if view["kind"] else None,
            el(html.Span, view["code"], className="cm-tag cm-code", id="cm-unit-code"),
            el(html.Span, RISK_LEVEL_LONG[risk], className=f"sg-badge sg-{risk}", id="cm-unit-risk") if risk else None,
        ], className="cm-tags"),
        el(html.Div, f"统计截至 {view['refreshed_at']:%Y-%m-%d %H:%M}", className="cm-hint", id="cm-refreshed")
        if isinstance(view.get("refreshed_at"), datetime) else None,
        el(html.Div, "本级及下级边界为示意边界（演示数据），不代表实际行政区划。", className="cm-demo-note",
           id="cm-demo-note") if view["demo_geometry"] else None,
        el(html.A, "巡查此网格", href=patrol_href(view["code"]), id="cm-patrol-link",
           className="hz-go hz-primary cm-patrol-link", title="记录本网格的巡查（无隐患或发现隐患）",
           **{"data-link": "page"})
        if can_patrol and view["level"] == 5 else None,
    ], className="cm-head")
    return el(html.Div, [html_block([head, roster_block(roster), kpi_block(view["level"], stats)], "cm-html"),
                         html_block(children_section(children or [], "risk"), "cm-html", block_id="cm-children-html")
                         if view["child_count"] else None,
                         html_block(hazards_content(hazards), "cm-html", block_id="cm-hazards-html")],
              className="cm-panel-body", **attrs({"data-unit": view["code"]}))


def _sort_key(how: str) -> Any:
    def key(child: dict[str, Any]) -> Any:
        st = child["stats"] or {}
        if how == "risk":
            return (_RISK_RANK.get(st.get("risk_class") or "", 9), -(st.get("risk_score") or 0), child["code"])
        if how == "hazards":
            return (-(st.get("hazards_open") or 0), child["code"])
        if how == "overdue":
            return (-(st.get("hazards_overdue") or 0), child["code"])
        if how == "enterprises":
            return (-(st.get("enterprises") or 0), child["code"])
        return child["code"]

    return key


def children_table(children: list[dict[str, Any]], how: str) -> Dry:
    """Build the table of child units with their KPIs; each name is a link that drills into the unit."""
    head = ["名称", "风险", "企业", "红/橙", "隐患", "逾期", "重大", "空缺"]
    rows = []
    for child in sorted(children, key=_sort_key(how)):
        st = child["stats"] or {}
        risk = st.get("risk_class")
        vacancies = st.get("vacancies_subtree")
        rows.append(el(html.Tr, [
            el(html.Td, el(html.A, child["name"], href=unit_href(child["code"]), className="cm-drill",
                           **{"data-drill": child["code"]})),
            el(html.Td, [el(html.Span, RISK_LEVEL[risk], className=f"sg-badge sg-{risk}", title=RISK_LEVEL_LONG[risk])
                         if risk else "—",
                         # ▲ whatever the rule: a 红 enterprise or an open 重大隐患 is here (domain.risk_rule.has_mark)
                         el(html.B, "▲", className="cm-mark", title="含红色企业或未销号重大隐患")
                         if has_mark(st) else ""]),
            el(html.Td, st.get("enterprises", "—")),
            el(html.Td, f"{st['ent_red']}/{st['ent_orange']}" if st else "—"),
            el(html.Td, st.get("hazards_open", "—")),
            el(html.Td, st.get("hazards_overdue", "—"), className="cm-red-text" if st.get("hazards_overdue") else ""),
            el(html.Td, st.get("hazards_major_open", "—")),
            el(html.Td, vacancies if vacancies is not None else "—", className="cm-red-text" if vacancies else ""),
        ], className="cm-child-row"))
    return el(html.Table, [el(html.Thead, el(html.Tr, [el(html.Th, h) for h in head])), el(html.Tbody, rows)],
              className="sg-table cm-table cm-children-table")


def children_section(children: list[dict[str, Any]], how: str) -> Dry:
    """Build the child units' block: title, sort order and the table sorted by ``how`` (or a note: none in scope).

    The sort order is radio buttons with ``how`` checked; a change reaches ``cm-sort-by`` through a delegated
    listener in assets/map.js.
    """
    how = how if how in SORTS else "risk"
    table = children_table(children, how) if children else el(html.Div, "没有可查看的下级单位。", className="sg-note")
    return el(html.Div, [
        el(html.H3, "下级单位"),
        radio_group("cm-sort", SORTS, how, id="cm-sort", class_="cm-sort", role="radiogroup",
                    aria_label="下级单位排序"),
        el(html.Div, table, id="cm-children"),
    ], className="cm-children-block")


def breadcrumb(crumbs: list[dict[str, Any]]) -> Dry:
    """Build the 市 › 县 › 乡镇 › 村 › 网格 links (drilling as the child table's do); the current unit is plain text."""
    out: list[Any] = []
    for i, c in enumerate(crumbs):
        if i:
            out.append(el(html.Span, "›", className="cm-crumb-sep", **{"aria-hidden": "true"}))
        if i == len(crumbs) - 1:
            out.append(el(html.Span, c["name"], className="cm-crumb cm-crumb-current", **{"aria-current": "page"}))
        else:
            out.append(el(html.A, c["name"], href=unit_href(c["code"]), className="cm-crumb",
                          title=LEVEL.get(c["level"], ""), **{"data-drill": c["code"]}))
    return html_block(out, "cm-crumbs")
