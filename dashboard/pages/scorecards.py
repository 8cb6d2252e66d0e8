"""季度考核 ``/scorecards?unit=CODE&quarter=2026Q3&rows=township|children|department``: the 晾晒 ranking.

Rows are the townships of the area (default: the account's scope unit) or, with ``rows=children`` or
below the county, its child units, or with ``rows=department`` the supervising departments of its
enterprises; per row the quarter's KPIs, the score (weights: ``app_config``
``scorecard_weights``), the rank and its change against the previous quarter (``domain.scorecards``,
counts ``geo.scorecards``). Default quarter: the last complete one on the business clock. A unit
outside the scope is refused and audited. The ranking downloads as xlsx (``/export/scorecards.xlsx``,
audited). Read-only; ids are prefixed ``sc-``. Capability ``targets`` (leaders, planners, administrators).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from dash import dcc, html

from dashboard.errors import BadRequestError
from dashboard.pages import Page
from dashboard.readdb import run_read
from dashboard.roles import Capability
from dashboard.scope import Account, refuse_out_of_scope, unit_arg
from domain import clock
from domain.cadence import CADENCE_LABEL
from domain.scorecards import KPI_LABELS, Quarter, last_complete_quarter, parse_quarter, table_header, table_row
from geo.scorecards import MODES, Scorecard, load_scorecard

QUARTERS_SHOWN = 8
MODE_LABELS = {"township": "乡镇（街道）", "children": "下级单位", "department": "监管部门"}


def scorecards_href(code: str, quarter: Quarter, rows: str = "township") -> str:
    """URL of the page for an area, a quarter and a row mode."""
    return "/scorecards?" + urlencode({"unit": code, "quarter": quarter.key, "rows": rows})


def export_href(code: str, quarter: Quarter, rows: str) -> str:
    """URL of the xlsx export of the same ranking."""
    return "/export/scorecards.xlsx?" + urlencode({"unit": code, "quarter": quarter.key, "rows": rows})


def briefing_href(code: str, quarter: Quarter) -> str:
    """URL of the printable briefing (通报, PDF) of the same area and quarter."""
    return "/export/briefing.pdf?" + urlencode({"unit": code, "quarter": quarter.key})


def _change_class(label: str) -> str:
    return "sc-up" if label.startswith("↑") else "sc-down" if label.startswith("↓") else "sc-same"


def ranking_table(card: Scorecard) -> html.Table:
    """Render the ranked rows; each unit name drills down to its own children (departments: no drill-down)."""
    dept = card.mode == "department"
    body = []
    for r in card.rows:
        cells = table_row(r, department=dept)
        name: Any = (cells[2] if dept or card.level >= 5
                     else dcc.Link(cells[2], href=scorecards_href(r.kpis.code, card.quarter, "children")))
        score_at = 3 if dept else 4
        tds: list[Any] = [html.Td(cells[0], className="sc-rank"),
                          html.Td(cells[1], className=f"sc-change {_change_class(cells[1])}"), html.Td(name)]
        tds += [html.Td(f"{c:.1f}", className="sc-score") if i == score_at else html.Td(c)
                for i, c in enumerate(cells) if i > 2]
        code: Any = {"data-code": r.kpis.code}
        body.append(html.Tr(tds, className="sc-row", **code))
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in table_header(dept)])), html.Tbody(body)],
                      className="sg-table", id="sc-table")


def layout(account: Account, query: dict[str, str]) -> html.Div:
    """Build the page for ``?unit=`` (default: the scope unit), ``?quarter=`` and ``?rows=``."""
    code = unit_arg(query.get("unit"))
    raw_quarter = (query.get("quarter") or "").strip()
    default = last_complete_quarter(clock.today())
    quarter = parse_quarter(raw_quarter) if raw_quarter else default
    if quarter is None:
        raise BadRequestError("季度格式应为 2026Q3。")
    raw_mode = query.get("rows") or ""
    mode = raw_mode if raw_mode in MODES else "township"
    card = run_read(lambda conn: load_scorecard(conn, scope=account.scope, code=code, quarter=quarter, mode=mode))
    if card is None:
        raise refuse_out_of_scope(code or account.scope)
    area = card.area
    shown = _last(default)
    quarters: list[Any] = []
    for q in shown if quarter in shown else [quarter, *shown]:
        quarters.append(html.B(q.label, className="sc-quarter-now") if q == quarter
                        else dcc.Link(q.label, href=scorecards_href(area.code, q, mode), className="sc-quarter"))
        quarters.append(" ")
    modes: list[Any] = []
    for key, label in MODE_LABELS.items():
        modes += [html.B(label) if key == mode else dcc.Link(label, href=scorecards_href(area.code, quarter, key)), " "]
    weights = "，".join(f"{label} {card.weights[k]:g}" for k, label in KPI_LABELS.items())
    cadence = (f"本级四查周期：{CADENCE_LABEL[card.cadence.value]}" if card.cadence is not None
               else "本级不考核四查" if mode != "department"
               else "监管部门按其监管企业的隐患和事故排名，不考核四查和网格空缺；无企业的事故（如道路交通）不计入")
    return html.Div([
        html.H2(f"季度考核 · {area.name} · {quarter.label}"),
        html.Div(["季度：", *quarters], id="sc-quarters"),
        html.Div(["排名对象：", *modes], id="sc-modes"),
        html.P(f"得分 = 各指标得分按权重加权（满分 100）。比率指标取比率，数量指标 n 取 1/(1+n)；无分母的比率不计入。"
               f"权重：{weights}。{cadence}。网格空缺为当前数。", className="sg-note", id="sc-method"),
        html.P([f"共 {len(card.rows)} 个{'部门' if mode == 'department' else '单位'}。 ",
                html.A("导出晾晒排名（xlsx）", href=export_href(area.code, quarter, mode), id="sc-export"), " ",
                html.A("下载通报（PDF）", href=briefing_href(area.code, quarter), id="sc-briefing")],
               className="insp-count", id="sc-summary"),
        ranking_table(card),
    ], className="sc-page")


def _last(start: Quarter) -> list[Quarter]:
    """Return the ``QUARTERS_SHOWN`` quarters up to ``start``, newest first."""
    out, q = [], start
    for _ in range(QUARTERS_SHOWN):
        out.append(q)
        q = q.previous()
    return out


PAGE = Page(path="/scorecards", title="季度考核", layout=layout, capability=Capability.TARGETS, order=37)
