"""覆盖质量 ``/coverage``: where the grid's picture is incomplete, counted per child unit, with the rows behind.

``?unit=CODE`` (default: the account's scope unit) and ``?check=KEY`` (a check of ``domain.coverage``: its
rows in the unit's subtree). Counts and rows come from the same SQL (``geo.coverage``). A unit outside the
scope is refused and audited like everywhere. Read-only; ids are prefixed ``cov-``.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from dash import dcc, html

from dashboard.components.enterprise_file import file_href
from dashboard.errors import BadRequestError
from dashboard.hazard.layout import hazard_href
from dashboard.pages import Page
from dashboard.readdb import run_read
from dashboard.roles import Capability
from dashboard.scope import Account, refuse_out_of_scope, unit_arg
from domain import clock
from domain.coverage import CHECKS, UNASSIGNED, CoverageCheck, detail_text, parse_check
from domain.labels import LEVEL
from geo.coverage import CoverageItem, CoverageUnit, coverage_counts, coverage_items, coverage_unit
from geo.map_queries import breadcrumb
from geo.rows import Crumb

ITEM_LIMIT = 500


def coverage_href(code: str, check: str | None = None) -> str:
    """URL of the page for a unit (and one check's rows)."""
    return "/coverage?" + urlencode({"unit": code} | ({"check": check} if check else {}))


def _crumbs(crumbs: list[Crumb]) -> html.Nav:
    links: list[Any] = []
    for i, c in enumerate(crumbs):
        links += [" › "] if i else []
        links.append(dcc.Link(c["name"], href=coverage_href(c["code"])) if i < len(crumbs) - 1 else c["name"])
    return html.Nav(links, className="cov-crumbs", id="cov-crumbs")


def _count_cell(n: int, href: str | None) -> html.Td:
    if not n:
        return html.Td("0", className="cov-zero")
    return html.Td(dcc.Link(str(n), href=href) if href else str(n), className="cov-bad")


def counts_table(unit: CoverageUnit, counts: dict[str, dict[str, int]]) -> html.Table:
    """One row per child (with its drill-down), the unit's own rows, rows of no unit, and the total."""
    head = html.Thead(html.Tr([html.Th(LEVEL.get(unit.level + 1, "下级"))]
                              + [html.Th(c.label, title=c.meaning) for c in CHECKS]))
    body = []
    for code, name in unit.children:
        row = counts.get(code, {})
        body.append(html.Tr([html.Td(dcc.Link(name, href=coverage_href(code)))]
                            + [_count_cell(row.get(c.key, 0), coverage_href(code, c.key)) for c in CHECKS],
                            className="cov-row", id=f"cov-row-{code}"))
    for key, label in (("", "本级"), (UNASSIGNED, "未归属（无网格、无坐标）")):
        if own := counts.get(key):
            body.append(html.Tr([html.Td(label)] + [_count_cell(own.get(c.key, 0), None) for c in CHECKS],
                                className="cov-row cov-own"))
    total = {c.key: sum(r.get(c.key, 0) for r in counts.values()) for c in CHECKS}
    body.append(html.Tr([html.Th("合计")] + [_count_cell(total[c.key], coverage_href(unit.code, c.key))
                                            for c in CHECKS], className="cov-total", id="cov-total"))
    return html.Table([head, html.Tbody(body)], className="sg-table cov-table", id="cov-counts")


def _first_cell(check: CoverageCheck, item: CoverageItem, account: Account) -> Any:
    if check.entity == "unit":
        return dcc.Link(item.name, href="/?" + urlencode({"unit": item.key}))
    if check.entity == "hazard":
        return dcc.Link(item.name, href=hazard_href(int(item.key)))
    return dcc.Link(item.name, href=file_href(item.key)) if account.can(Capability.ENTERPRISE_FILE) else item.name


_HEADS = {"unit": ("单位", "上级", "说明"), "enterprise": ("企业", "所在网格", "地址", "说明"),
          "hazard": ("隐患", "所在网格", "企业", "说明")}


def items_table(check: CoverageCheck, items: list[CoverageItem], total: int, account: Account) -> html.Section:
    """Render the rows a check found, with links to where each is mended (map, enterprise file, hazard page)."""
    rows = []
    for item in items:
        cells = [_first_cell(check, item, account), item.unit_name or "—"]
        cells += [] if check.entity == "unit" else [item.place or ""]
        cells.append(detail_text(check.key, item.detail))
        rows.append(html.Tr([html.Td(c) for c in cells], className="cov-item"))
    more = [html.P(f"仅显示前 {len(items)} 条，共 {total} 条。", className="sg-note")] if total > len(items) else []
    return html.Section([
        html.H3(f"{check.label}：{total} 条", id="cov-items-title"),
        html.P(check.meaning, className="sg-note"),
        html.Table([html.Thead(html.Tr([html.Th(h) for h in _HEADS[check.entity]])), html.Tbody(rows)],
                   className="sg-table") if rows else html.P("没有发现问题。", className="sg-note"),
        *more,
    ], id="cov-items")


def legend() -> html.Details:
    """Explain what each check means."""
    return html.Details([html.Summary("各项检查的含义"),
                         html.Dl([x for c in CHECKS for x in (html.Dt(c.label), html.Dd(c.meaning))])],
                        className="cov-legend")


def layout(account: Account, query: dict[str, str]) -> html.Div:
    """Build the page for ``?unit=`` (default the scope's root) and, with ``?check=``, that check's rows."""
    code = unit_arg(query.get("unit"))
    check = parse_check(query.get("check"))
    if query.get("check") and check is None:
        raise BadRequestError("没有这项检查。")
    as_of: date = clock.today()

    def read(conn: Any) -> tuple[Any, ...]:
        unit = coverage_unit(conn, scope=account.scope, code=code)
        if unit is None:
            return None, [], {}, ([], 0)
        items = coverage_items(conn, unit=unit, check=check.key, as_of=as_of, limit=ITEM_LIMIT) if check else ([], 0)
        return (unit, breadcrumb(conn, scope=account.scope, code=unit.code),
                coverage_counts(conn, unit=unit, as_of=as_of), items)

    unit, crumbs, counts, (items, total) = run_read(read)
    if unit is None:
        raise refuse_out_of_scope(code or account.scope)
    return html.Div([
        html.H2(f"覆盖质量 · {unit.name}", id="cov-title"),
        _crumbs(crumbs),
        html.P("网格化监管“一张图”是否完整：人员是否配齐、企业是否落图入格、风险是否评估、检查巡查是否覆盖、"
               "隐患是否有位置和期限。点击单位名称下钻，点击数字查看明细。", className="sg-note"),
        counts_table(unit, counts),
        legend(),
        items_table(check, items, total, account) if check else None,
    ], className="cov-page")


PAGE = Page(path="/coverage", title="覆盖质量", layout=layout, capability=Capability.MAP, order=39)
