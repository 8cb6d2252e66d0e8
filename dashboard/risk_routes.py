"""Flask routes of the risk analysis page: heatmap and four-colour GeoJSON, audited xlsx / PNG exports.

* ``GET /api/risk/h3?bbox=w,s,e,n&zoom=z&metric=m&<filters>`` — H3 hexagons of the viewport (capability
  ``analysis``); gzip + ETag + server-side cache (:mod:`dashboard.cache`) like the command map's routes.
* ``GET /api/risk/units.geojson?level=N`` — the four-colour units of one level inside the scope.
* ``GET /export/risk/tables.xlsx?<same as h3>[&unit=CODE]`` — every table of the page for the current
  filters (trend, industries, areas, ageing, hexagons in view, and the class explanation of ``unit``),
  formula-like text neutralised; written to the audit log (capability ``export`` too).
* ``GET /export/risk/heatmap.png?<same as h3>&units=N`` — the current hexagon view rendered on the
  server with matplotlib (deterministic, scope-limited, audited), with the four-colour outlines.

Filters: ``industry``, ``risk``, ``level``, ``channel`` (comma-separated), ``from``, ``to`` (dates).
"""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

from flask import Blueprint, Flask, Response, request, send_file
from openpyxl import Workbook
from sqlalchemy.engine import Connection

from dashboard.cache import cached_text, send
from dashboard.components.xlsx import XLSX_MIME, fill_sheet, neutralise, workbook_bytes
from dashboard.errors import BadRequestError, ForbiddenError
from dashboard.readdb import run_read
from dashboard.roles import Capability
from dashboard.scope import client_ip, current_account, current_scope, ensure_unit_in_scope, scoped_route
from domain import clock
from domain.codes import looks_like_unit_code
from domain.crs import BBox
from domain.labels import (
    HAZARD_CHANNEL,
    HAZARD_LEVEL,
    LEVEL,
    RISK_INPUT,
    RISK_LEVEL,
    RISK_LEVEL_LONG,
    RISK_METRIC,
)
from geo import risk_queries as rq
from geo import rule_settings
from geo.db import connect
from geo.users import audit
from layers.risk import OVERLAY_LEVELS, render_heat_png

bp = Blueprint("risk_api", __name__)


def _filters() -> rq.RiskFilters:
    try:
        return rq.RiskFilters.from_args(request.args.to_dict(flat=False))
    except rq.RiskQueryError as exc:
        raise BadRequestError(str(exc)) from exc


def _view() -> tuple[str, float, BBox]:
    """Metric, zoom and bbox of the request (400 with a Chinese message when malformed)."""
    metric = request.args.get("metric", "risk_score")
    if metric not in rq.METRICS:
        raise BadRequestError(f"不支持的指标：{metric}")
    try:
        bbox = BBox.parse(request.args.get("bbox", ""))
        zoom = float(request.args.get("zoom", "9"))
    except ValueError as exc:
        raise BadRequestError(str(exc) if "bbox" in str(exc) else "zoom 参数应为数字。") from exc
    if not 0 <= zoom <= 22:
        raise BadRequestError("zoom 参数应在 0-22 之间。")
    return metric, zoom, bbox


@scoped_route(Capability.ANALYSIS)
def heat() -> Response:
    """Serve the H3 hexagons of the viewport for the metric and filters, within the caller's scope."""
    scope, filters = current_scope(), _filters()
    metric, zoom, bbox = _view()
    as_of = clock.today()
    params = {"metric": metric, "zoom": zoom, "filters": json.dumps(filters.as_dict()), **bbox.params()}
    body = cached_text("h3", params,
                       lambda: run_read(lambda conn: rq.heatmap_geojson(
                           conn, scope=scope, metric=metric, zoom=zoom, bbox=bbox, filters=filters, as_of=as_of)))
    assert body is not None  # heatmap_geojson always returns a collection
    return send(body)


def _overlay_level(default: int | None = None) -> int | None:
    raw = request.args.get("units") or request.args.get("level") or ""
    if not raw:
        return default
    if not raw.isdigit() or int(raw) not in OVERLAY_LEVELS:
        raise BadRequestError("单位层级只能是 2、3 或 4。")
    return int(raw)


@scoped_route(Capability.ANALYSIS)
def units() -> Response:
    """Serve the four-colour units of one level inside the caller's scope."""
    level = _overlay_level()
    if level is None:
        raise BadRequestError("缺少参数 level")
    scope = current_scope()
    chosen = (request.args.get("industry") or "").strip()
    if not chosen:
        body = cached_text("risk-units", {"level": level},
                           lambda: run_read(lambda conn: rq.risk_units_geojson(conn, scope=scope, level=level)))
    else:  # 分行业: the colours recomputed over one industry or key-industry group of the catalogue
        catalogue, version = run_read(rule_settings.catalogue_state)
        if chosen not in catalogue.groups and chosen not in catalogue.names:
            raise BadRequestError("行业目录中没有这个行业或行业组。")
        members, as_of = catalogue.members(chosen), clock.today()
        body = cached_text("risk-units-industry", {"level": level, "industry": chosen, "catalogue": version},
                           lambda: run_read(lambda conn: rq.industry_units_geojson(
                               conn, scope=scope, level=level, industries=members, rule=rq.current_rule(conn),
                               as_of=as_of)))
    assert body is not None  # both always return a collection
    return send(body)


def _require_export() -> None:
    if not current_account().can(Capability.EXPORT):
        raise ForbiddenError()


def _unit_arg() -> str | None:
    code = request.args.get("unit") or None
    if code is not None and not looks_like_unit_code(code):
        raise BadRequestError("单位代码格式错误：应为 6-14 位数字。")
    return code


def _filter_text(filters: rq.RiskFilters) -> str:
    parts = []
    if filters.industries:
        parts.append("行业：" + "、".join(filters.industries))
    if filters.risk_levels:
        parts.append("企业风险：" + "、".join(RISK_LEVEL[v] for v in filters.risk_levels))
    if filters.hazard_levels:
        parts.append("隐患等级：" + "、".join(HAZARD_LEVEL[v] for v in filters.hazard_levels))
    if filters.channels:
        parts.append("来源：" + "、".join(HAZARD_CHANNEL[v] for v in filters.channels))
    if filters.date_from or filters.date_to:
        parts.append(f"发现日期：{filters.date_from or '…'} 至 {filters.date_to or '…'}")
    return "；".join(parts) or "无筛选"


def _sheet(wb: Workbook, title: str, header: list[str], rows: list[list[Any]]) -> None:
    fill_sheet(wb.create_sheet(title), header, rows)


def explain_rows(doc: dict[str, Any]) -> list[list[Any]]:
    """Rows of the explanation sheet: inputs with weights and points, thresholds, top contributors."""
    rows: list[list[Any]] = [["定级结果", RISK_LEVEL_LONG.get(doc.get("class", ""), ""), doc.get("summary", "")],
                             ["得分", doc.get("score"), doc.get("formula", "")],
                             ["分母", doc.get("denominator"), f"企业数 {doc.get('enterprises')}，最小企业数 "
                                                            f"{doc.get('min_enterprises')}"]]
    rows += [[f"阈值·{RISK_LEVEL[k]}", v, ""] for k, v in (doc.get("thresholds") or {}).items()]
    for key, weight in (doc.get("weights") or {}).items():
        count = (doc.get("inputs") or {}).get(key, 0)
        rows.append([f"输入·{RISK_INPUT.get(key, key)}", count, f"权重 {weight:g}，计 {count * weight:g} 分"])
    for e in doc.get("top_enterprises") or []:
        rows.append(["主要企业", e.get("name"), f"{e.get('code')} · {e.get('points'):g} 分"])
    for h in doc.get("top_hazards") or []:
        rows.append(["主要隐患", h.get("name"), f"{h.get('code')} · {h.get('points'):g} 分"])
    return rows


def tables_workbook(conn: Connection, *, scope: str, scope_name: str, username: str, metric: str, zoom: float,
                    bbox: BBox, filters: rq.RiskFilters, unit: str | None, as_of: date) -> tuple[bytes, dict[str, int]]:
    """Build the workbook of every table on the page for the current view; return bytes and row counts."""
    cutoff = rq.stock_cutoff(conn, as_of=as_of)
    parts = rq.breakdowns(conn, scope=scope, filters=filters, as_of=as_of, cutoff=cutoff)
    monthly, industries, areas, ageing = (parts[p] for p in ("trend", "industries", "areas", "ageing"))
    heat = json.loads(rq.heatmap_geojson(conn, scope=scope, metric=metric, zoom=zoom, bbox=bbox, filters=filters,
                                         as_of=as_of))
    wb = Workbook()
    info = wb.active
    info.title = "说明"
    for row in (["数据范围", scope_name], ["导出人", username], ["统计日期", as_of.isoformat()],
                ["存量截止日期（动态清零）", cutoff.isoformat()], ["筛选条件", _filter_text(filters)],
                ["热力图指标", RISK_METRIC[metric]], ["H3 分辨率", heat["res"]],
                ["视图范围(西,南,东,北)", f"{bbox.west},{bbox.south},{bbox.east},{bbox.north}"]):
        info.append([neutralise(v) for v in row])
    info.column_dimensions["A"].width = 26
    info.column_dimensions["B"].width = 60
    _sheet(wb, "月度发现与销号", ["月份", "新发现·存量", "新发现·增量", "销号·存量", "销号·增量", "月末未销号·存量",
                                "月末未销号·增量"],
           [[r["month"].strftime("%Y-%m"), r["found_stock"], r["found_increment"], r["closed_stock"],
             r["closed_increment"], r["open_stock"], r["open_increment"]] for r in monthly])
    _sheet(wb, "行业未销号隐患", ["行业", "未销号隐患", "其中重大", "其中逾期"],
           [[r["industry"], r["open"], r["major"], r["overdue"]] for r in industries])
    _sheet(wb, "区域对比", ["单位代码", "单位名称", "发现隐患", "已销号", "销号率", "未销号", "重大", "逾期"],
           [[r["code"], r["name"], r["found"], r["closed"], r["closure_rate"], r["open"], r["major"], r["overdue"]]
            for r in areas])
    _sheet(wb, "逾期账龄", ["逾期天数", "一般隐患", "重大隐患"],
           [[r["bucket"], r["general"], r["major"]] for r in ageing])
    _sheet(wb, "H3六边形", ["H3 编号", "分辨率", RISK_METRIC[metric]],
           [[f["id"], heat["res"], f["properties"]["v"]] for f in heat["features"]])
    counts = {"monthly": len(monthly), "industries": len(industries), "areas": len(areas),
              "cells": len(heat["features"])}
    if unit:
        found = rq.unit_explain(conn, scope=scope, code=unit)
        if found and found["risk_explain"]:
            rows = explain_rows(found["risk_explain"])
            _sheet(wb, "定级依据", ["项目", f"{found['name']}（{found['code']}）", "说明"], rows)
            counts["explain"] = len(rows)
    return workbook_bytes(wb), counts


@scoped_route(Capability.ANALYSIS)
def export_tables() -> Response:
    """Send the page's tables for the current view as xlsx; scope-limited and audited."""
    _require_export()
    account = current_account()
    metric, zoom, bbox = _view()
    filters = _filters()
    unit = _unit_arg()
    today = clock.today()  # one business day for the data and the file name
    with connect() as conn:
        if unit:
            ensure_unit_in_scope(conn, unit)
        data, counts = tables_workbook(conn, scope=account.scope, scope_name=account.record.scope_name,
                                       username=account.username, metric=metric, zoom=zoom, bbox=bbox,
                                       filters=filters, unit=unit, as_of=today)
        audit(conn, username=account.username, action="export_risk_tables", ip=client_ip(), detail={
            "scope": account.record.scope_code, "metric": metric, "zoom": zoom, "filters": filters.as_dict(),
            "unit": unit, "rows": counts,
        })
    name = f"风险分析_{account.record.scope_name}_{today:%Y%m%d}.xlsx"
    return send_file(io.BytesIO(data), as_attachment=True, download_name=name, mimetype=XLSX_MIME)


@scoped_route(Capability.ANALYSIS)
def export_png() -> Response:
    """Render the current hexagon view (and the four-colour outlines) to PNG on the server; audited."""
    _require_export()
    account = current_account()
    metric, zoom, bbox = _view()
    filters = _filters()
    level = _overlay_level()
    today = clock.today()
    with connect() as conn:
        heat = json.loads(rq.heatmap_geojson(conn, scope=account.scope, metric=metric, zoom=zoom, bbox=bbox,
                                             filters=filters, as_of=today))
        units_fc = json.loads(rq.risk_units_geojson(conn, scope=account.scope, level=level)) if level else None
        audit(conn, username=account.username, action="export_risk_png", ip=client_ip(), detail={
            "scope": account.record.scope_code, "metric": metric, "zoom": zoom, "filters": filters.as_dict(),
            "cells": len(heat["features"]), "units_level": level,
        })
    subtitle = f"H3 分辨率 {heat['res']} · {len(heat['features'])} 个六边形 · {_filter_text(filters)}"
    if level:
        subtitle += f" · 轮廓：{LEVEL[level]}四色分区"
    png = render_heat_png(heat, units_fc, title=f"{account.record.scope_name} · {RISK_METRIC[metric]}",
                          subtitle=subtitle, metric_label=RISK_METRIC[metric])
    name = f"风险热力图_{account.record.scope_name}_{today:%Y%m%d}.png"
    return send_file(io.BytesIO(png), as_attachment=True, download_name=name, mimetype="image/png")


bp.add_url_rule("/api/risk/h3", "heat", heat)
bp.add_url_rule("/api/risk/units.geojson", "units", units)
bp.add_url_rule("/export/risk/tables.xlsx", "export_tables", export_tables)
bp.add_url_rule("/export/risk/heatmap.png", "export_png", export_png)


def init_app(server: Flask) -> None:
    """Register the risk analysis routes."""
    server.register_blueprint(bp)
