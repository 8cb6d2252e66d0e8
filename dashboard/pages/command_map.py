"""The command map (一张图), the main page ``/``: drill city → county → township → village → grid cell.

The URL names the current unit (``/?unit=411002001``): links, breadcrumb and map clicks only change
the URL, and one callback renders the side panel from it, so deep links and back/forward work. Map
data comes from the Flask routes in :mod:`dashboard.map_routes`, never through server callback JSON:
the unit layer loads its ``url=``, and the clientside ``safegrid_cm.pointData`` fetches every checked
point layer of a view in one request. Callbacks call ``geo`` with the caller's scope and answer
nothing for a foreign unit.

One drill-down step is one callback request: the panel carries its child table (only a new sort
order asks again), is built as plain component dicts (:mod:`dashboard.dry`, serialised by orjson)
and is kept in the response cache per scope and data version (:func:`unit_panel`).
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl

import dash_leaflet as dl
from dash import ALL, ClientsideFunction, Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate
from sqlalchemy.engine import Connection

from dashboard.basemaps import available_basemaps, base_layers, crs_by_name, default_basemap, get_map_settings
from dashboard.cache import cached_value
from dashboard.dry import Dry, el
from dashboard.errors import AppError, to_app_error
from dashboard.map_routes import POINTS_BUNDLE_URL
from dashboard.pages import Page
from dashboard.readdb import run_read
from dashboard.roles import Capability
from dashboard.scope import Account, callback_scope, current_account, refuse_out_of_scope
from domain import clock
from domain.crs import latlng_for_display
from domain.labels import (
    DUTY_ROLE,
    HAZARD_LEVEL,
    HAZARD_STATUS,
    INSPECTION_CADENCE_DAYS,
    LEVEL,
    RISK_LEVEL,
    RISK_LEVEL_LONG,
    SOURCE_GRADE,
    SUPERVISION_LEVEL,
    UNIT_KIND,
)
from geo import map_queries as mq
from geo.enterprise_file import enterprise_basic
from geo.hazard_ledger import hazard_location as hazard_by_code
from layers.builder import build_legend, build_overlay, layer_id
from layers.registry import ENTERPRISES, HAZARDS, LAYERS, POINT_LAYERS, UNITS

PAGE_PATH = "/"
PREFIX = "cm-layer-"
HAZARD_LIST_LIMIT = 50
FOCUS_ZOOM = 16  # a focused enterprise or hazard: raw points, a few streets around it
# Keep the unit clear of the zoom buttons (top left), the layers control (top right) and the legend (bottom
# right). No zoom animation: Leaflet drops a setView that arrives while one is running (a quick second click
# left the map behind).
FIT_OPTIONS = {"paddingTopLeft": [52, 24], "paddingBottomRight": [236, 24], "animate": False}
SORTS = {"risk": "风险", "hazards": "未销号隐患", "overdue": "逾期隐患", "enterprises": "企业数", "code": "代码"}
_RISK_RANK = {"red": 0, "orange": 1, "yellow": 2, "blue": 3}
# What safegrid_cm.pointData needs: the one route serving every point layer of a view, and each layer
# (below its ``min_zoom`` it gets an empty collection without a request).
POINT_META = {"url": POINTS_BUNDLE_URL,
              "layers": [{"id": s.id, "title": s.title, "min_zoom": s.min_zoom} for s in POINT_LAYERS]}


def unit_href(code: str) -> str:
    """Return the shareable URL of a unit on the command map."""
    return f"/?unit={code}"


def code_from_search(search: str | None) -> str | None:
    """Return the ``unit`` parameter of a query string, when it looks like a unit code."""
    code = dict(parse_qsl((search or "").lstrip("?"))).get("unit", "")
    return code if code.isdigit() and 6 <= len(code) <= 14 else None


def focus_from_search(search: str | None) -> tuple[str, str] | None:
    """Return ``(kind, code)`` of the ``focus`` parameter (``enterprise:<信用代码>`` or ``hazard:<编号>``)."""
    kind, _, code = dict(parse_qsl((search or "").lstrip("?"))).get("focus", "").partition(":")
    code = code.strip()
    return (kind, code) if kind in ("enterprise", "hazard") and 0 < len(code) <= 64 else None


def focus_target(conn: Connection, *, scope: str, kind: str, code: str, crs: str) -> dict[str, Any] | None:
    """Return the :func:`target` of a ``?focus=``, or None when it is unknown, unplaced or outside ``scope``."""
    if kind == "enterprise":
        e = enterprise_basic(conn, scope=scope, credit_code=code)
        if e is None or e["lat"] is None:
            return None
        lat, lon, label, key, layer = e["lat"], e["lon"], e["name"], f"enterprise:{e['credit_code']}", ENTERPRISES
    else:
        h = hazard_by_code(conn, scope=scope, code=code)
        if h is None or h["lat"] is None:
            return None
        lat, lon, label, key, layer = h["lat"], h["lon"], f"隐患 {h['code']}", f"hazard:{h['code']}", HAZARDS
    return target(lat, lon, label=label, key=key, overlay=layer.title, crs=crs)


def target(lat: float, lon: float, *, label: str, key: str, overlay: str, crs: str) -> dict[str, Any]:
    """Build the ``cm-target`` store: a display point to fly to and ring (``safegrid_cm.showTarget``)."""
    display = latlng_for_display(float(lat), float(lon), crs)
    return {"lat": display[0], "lon": display[1], "zoom": FOCUS_ZOOM, "label": label, "key": key,
            "overlay": overlay}


def _attrs(attrs: dict[str, Any]) -> Any:
    """Pass ``aria-*``/``data-*`` attributes to a component (its typed signature does not list them)."""
    return attrs


def _message(error: AppError) -> Dry:
    return el(html.Div, error.message, className="sg-alert cm-message", role="alert")


# --- side panel -----------------------------------------------------------------------------------


def _kpi(label: str, value: Any, tone: str = "", title: str | None = None) -> Dry:
    return el(html.Div, [el(html.Div, str(value), className="cm-kpi-value"),
                         el(html.Div, label, className="cm-kpi-label")],
              className=f"cm-kpi {tone}".strip(), title=title or label)


def _inspection(level: int, stats: dict[str, Any]) -> Dry:
    """Last inspection against the level's cadence; the overdue verdict is the refresh's (unit_stats)."""
    cadence = INSPECTION_CADENCE_DAYS.get(level)  # grid cells have no cadence of their own
    last: date | None = stats.get("last_inspection_at")
    rule = f"，要求每 {cadence} 天" if cadence else ""
    if last is None:
        return el(html.Div, ["最近检查：", el(html.B, "无记录"), f"（{rule.lstrip('，')}）" if rule else ""],
                  className="cm-inspection cm-overdue" if cadence else "cm-inspection", id="cm-inspection")
    age = (clock.today() - last).days  # the business day, as the cache key and SQL current_date
    overdue = bool(stats.get("inspection_overdue"))
    status = [el(html.B, f"已超期 {age - cadence} 天" if cadence and age > cadence else "已超期")] if overdue else (
        ["，", el(html.B, "按期")] if cadence else [])
    return el(html.Div, [f"最近检查：{last:%Y-%m-%d}（{age} 天前{rule}", *(["，"] if overdue else []), *status, "）"],
              className=f"cm-inspection {'cm-overdue' if overdue else 'cm-ok' if cadence else ''}".strip(),
              id="cm-inspection")


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
        _inspection(level, stats),
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


def hazards_block(hazards: dict[str, Any] | None) -> Dry:
    """Open hazards of the subtree, each a button that locates it on the map."""
    if not hazards or not hazards["items"]:
        return el(html.Div, [el(html.H3, "未销号隐患"), el(html.Div, "辖区内没有未销号隐患。", className="sg-note")],
                  id="cm-hazards")
    items = []
    for h in hazards["items"]:
        badges = [el(html.Span, HAZARD_LEVEL.get(h["level"], h["level"]), className=f"cm-badge cm-level-{h['level']}")]
        if h["overdue"]:
            badges.append(el(html.Span, f"逾期 {h['days_overdue']} 天", className="cm-badge cm-overdue-badge"))
        if h["supervision_level"]:
            badges.append(el(html.Span, SUPERVISION_LEVEL[h["supervision_level"]], className="cm-badge cm-supervised"))
        deadline = f"整改期限 {h['deadline']:%Y-%m-%d}" if h["deadline"] else "未定整改期限"
        items.append(el(html.Li, el(html.Button, [
            el(html.Div, [el(html.Span, h["title"], className="cm-hazard-title"), *badges]),
            el(html.Div, f"{h['enterprise'] or '—'} · {h['unit_name']} · {deadline} · "
               f"{HAZARD_STATUS.get(h['status'], h['status'])}", className="cm-hazard-meta"),
        ], id={"type": "cm-hazard", "index": h["id"]}, className="cm-hazard", type="button",
            title="在地图上定位", **{"data-code": h["code"]})))
    more = hazards["total"] - len(hazards["items"])
    return el(html.Div, [
        el(html.H3, f"未销号隐患（{hazards['total']}）"),
        el(html.Ul, items, className="cm-hazard-list"),
        el(html.Div, f"另有 {more} 条未显示（按逾期、等级、期限排序）。", className="cm-hint") if more > 0 else None,
    ], id="cm-hazards")


def panel(view: dict[str, Any], roster: dict[str, Any] | None, hazards: dict[str, Any] | None,
          children: list[dict[str, Any]] | None = None) -> Dry:
    """Build the side panel of the current unit; ``children`` (its child units) fill the table sorted by risk."""
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
    ], className="cm-head")
    sort = el(html.Div, [
        el(html.H3, "下级单位"),
        el(dcc.RadioItems, id="cm-sort", options=[{"label": v, "value": k} for k, v in SORTS.items()], value="risk",
           inline=True, className="cm-sort", inputClassName="cm-sort-input"),
        el(html.Div, children_list(children or [], "risk"), id="cm-children"),
    ], className="cm-children-block") if view["child_count"] else None
    return el(html.Div, [head, roster_block(roster), kpi_block(view["level"], stats), sort, hazards_block(hazards)],
              className="cm-panel-body", **{"data-unit": view["code"]})


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
            el(html.Td, el(dcc.Link, child["name"], href=unit_href(child["code"]), className="cm-drill",
                           id={"type": "cm-child", "code": child["code"]})),
            el(html.Td, el(html.Span, RISK_LEVEL[risk], className=f"sg-badge sg-{risk}", title=RISK_LEVEL_LONG[risk])
               if risk else "—"),
            el(html.Td, st.get("enterprises", "—")),
            el(html.Td, f"{st['ent_red']}/{st['ent_orange']}" if st else "—"),
            el(html.Td, st.get("hazards_open", "—")),
            el(html.Td, st.get("hazards_overdue", "—"), className="cm-red-text" if st.get("hazards_overdue") else ""),
            el(html.Td, st.get("hazards_major_open", "—")),
            el(html.Td, vacancies if vacancies is not None else "—", className="cm-red-text" if vacancies else ""),
        ], className="cm-child-row"))
    return el(html.Table, [el(html.Thead, el(html.Tr, [el(html.Th, h) for h in head])), el(html.Tbody, rows)],
              className="sg-table cm-table cm-children-table")


def children_list(children: list[dict[str, Any]], how: str) -> Dry:
    """Return the table of child units sorted by ``how``, or a note when none is in scope."""
    if not children:
        return el(html.Div, "没有可查看的下级单位。", className="sg-note")
    return children_table(children, how if how in SORTS else "risk")


def breadcrumb(crumbs: list[dict[str, Any]]) -> list[Any]:
    """Build the 市 › 县 › 乡镇 › 村 › 网格 links; the current unit is plain text."""
    out: list[Any] = []
    for i, c in enumerate(crumbs):
        if i:
            out.append(el(html.Span, "›", className="cm-crumb-sep", **{"aria-hidden": "true"}))
        if i == len(crumbs) - 1:
            out.append(el(html.Span, c["name"], className="cm-crumb cm-crumb-current", **{"aria-current": "page"}))
        else:
            out.append(el(dcc.Link, c["name"], href=unit_href(c["code"]), className="cm-crumb",
                          id={"type": "cm-crumb", "code": c["code"]}, title=LEVEL.get(c["level"], "")))
    return out


# --- layout ---------------------------------------------------------------------------------------


def _center(bounds: list[list[float]]) -> list[float]:
    return [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]


def _zoom(bounds: list[list[float]], width_px: int = 680) -> float:
    """Approximate zoom that fits ``bounds`` into a map ``width_px`` wide (the callback then fits exactly)."""
    span = max(bounds[1][1] - bounds[0][1], (bounds[1][0] - bounds[0][0]) * 1.3, 1e-4)
    return max(3.0, min(18.0, math.floor(math.log2(360 * width_px / 256 / span) * 4) / 4))


def create_command_map(account: Account, query: dict[str, str]) -> html.Div:
    """Build the page for ``account``; ``?unit=CODE`` opens that unit (if inside the scope)."""
    settings = get_map_settings()
    maps = available_basemaps(settings)
    selected = default_basemap(maps, settings)
    code = query.get("unit") or account.record.scope_code
    try:
        view = run_read(lambda conn: mq.unit_view(conn, scope=account.scope, code=code) or mq.unit_view(
            conn, scope=account.scope, code=account.record.scope_code))
    except Exception as exc:  # database down: a Chinese message instead of a stack trace
        return html.Div(to_app_error(exc).message, className="sg-alert cm-message", role="alert")
    bounds = (view or {}).get("bounds") or [[33.7, 113.4], [34.4, 114.2]]
    units = build_overlay(UNITS, prefix=PREFIX)
    # A click on the unit shown as itself (a leaf) drills nowhere: it asks "what is around here" (cm-spot).
    units.children.eventHandlers = {"click": {"variable": "safegrid.map.unitSpot"}}
    overlays = [units] + [build_overlay(s, prefix=PREFIX) for s in POINT_LAYERS]
    the_map = dl.Map(
        [
            # ``overlays``/``baseLayer`` must start set: dash-leaflet 1.1.3 filters an undefined list on the
            # first overlayremove (TypeError) otherwise.
            dl.LayersControl(base_layers(maps, selected) + overlays, id="cm-layers", collapsed=False,
                             position="topright", baseLayer=selected.name,
                             overlays=[s.title for s in LAYERS.values() if s.checked]),
            dl.ScaleControl(position="bottomleft", imperial=False),
            dl.LayerGroup(id="cm-around"),
            dl.LayerGroup(id="cm-focus"),
        ],
        # dash-leaflet's viewport tracking needs ``center`` and ``zoom`` (``bounds`` alone breaks it).
        id="cm-map", center=_center(bounds), zoom=_zoom(bounds), zoomSnap=0.25, attributionControl=True,
        eventHandlers={"click": {"variable": "safegrid.map.mapSpot"}},
        className=f"cm-map cm-basemap-{selected.id}",
    )
    legends = [build_legend(spec, prefix=PREFIX) for spec in LAYERS.values()]
    return html.Div([
        dcc.Location(id="cm-url", refresh="callback-nav"),
        dcc.Store(id="cm-state"),
        dcc.Store(id="cm-target"),  # the point to fly to and ring: a ?focus= or a located hazard
        dcc.Store(id="cm-spot"),  # a click on a free spot (written by safegrid.map.mapSpot / unitSpot)
        dcc.Store(id="cm-crs", data=selected.crs),
        dcc.Store(id="cm-crs-table", data=crs_by_name(maps)),
        dcc.Store(id="cm-point-meta", data=POINT_META),
        dcc.Store(id="cm-legend-titles", data=[s.title for s in LAYERS.values()]),
        html.Section([
            html.Nav(id="cm-breadcrumb", className="cm-breadcrumb", **_attrs({"aria-label": "层级导航"})),
            html.Div([
                the_map,
                html.Div(id="cm-points-status", className="cm-points-status", role="status"),
                html.Details([html.Summary("图例"), *legends], open=True, className="cm-legends", id="cm-legends"),
            ], className="cm-map-wrap"),
        ], className="cm-main"),
        html.Aside(dcc.Loading(html.Div(id="cm-panel"), type="circle", className="cm-loading"),
                   className="cm-side", **_attrs({"aria-label": "单位详情"})),
    ], className="cm-page", id="cm-page")


# --- callbacks ------------------------------------------------------------------------------------


def panel_data(conn: Connection, *, scope: str, search: str | None, focus: tuple[str, str] | None,
               crs: str) -> dict[str, Any]:
    """Read everything the panel shows for ``?unit=`` (default: the scope's root); ``view`` None outside ``scope``.

    Read-only, so :func:`dashboard.readdb.run_read` may run it again on a fresh connection.
    """
    code = code_from_search(search) or mq.scope_root(conn, scope=scope) or ""
    view = mq.unit_view(conn, scope=scope, code=code)
    if view is None:
        return {"code": code, "view": None}
    return {
        "code": code, "view": view,
        "crumbs": mq.breadcrumb(conn, scope=scope, code=code),
        "roster": mq.duty_roster(conn, scope=scope, code=code),
        "hazards": mq.open_hazards(conn, scope=scope, code=code, limit=HAZARD_LIST_LIMIT),
        "children": mq.child_units(conn, scope=scope, code=code) if view["child_count"] else [],
        "spot": focus and focus_target(conn, scope=scope, kind=focus[0], code=focus[1], crs=crs),
    }


def unit_panel(*, scope: str, search: str | None, focus: tuple[str, str] | None, crs: str) -> dict[str, Any]:
    """Return the side panel, breadcrumb, ``cm-state`` and focus target of ``?unit=`` for the caller.

    Outside the scope: :class:`~dashboard.errors.OutOfScopeError` (audited). Without a focus the result is
    kept in the response cache of :mod:`dashboard.cache` like the map routes' bodies — keyed by the
    caller's scope path, the data version read with the account on this request and today, and stored
    only after it was built inside that scope — so walking back to a unit does not query it again.
    """

    def build() -> dict[str, Any]:
        data = run_read(lambda conn: panel_data(conn, scope=scope, search=search, focus=focus, crs=crs))
        view = data["view"]
        if view is None:
            raise refuse_out_of_scope(data["code"])
        bounds = view["bounds"] and [latlng_for_display(lat, lon, crs) for lat, lon in view["bounds"]]
        return {"panel": panel(view, data["roster"], data["hazards"], data["children"]),
                "crumbs": breadcrumb(data["crumbs"]),
                "state": {"code": view["code"], "level": view["level"], "bounds": bounds},
                "spot": data["spot"] or None}

    if focus:
        return build()
    return cached_value("panel", {"unit": code_from_search(search) or "", "crs": crs}, build)


def register(app: Dash) -> None:
    """Add the command map callbacks (server side: panel, children, locate; clientside: URLs, legends)."""

    @app.callback(
        Output("cm-panel", "children"), Output("cm-breadcrumb", "children"), Output("cm-state", "data"),
        Output("cm-map", "viewport"), Output("cm-target", "data"), Output("search-open", "data"),
        Input("cm-url", "search"), State("cm-crs", "data"), State("map-focus", "data"),
        State("search-drawer", "hidden"), State("cm-url", "pathname"),
    )
    def show_unit(search: str | None, crs: str | None, picked: dict[str, Any] | None,
                  drawer_hidden: bool | None, pathname: str | None) -> tuple[Any, ...]:
        if pathname not in (None, PAGE_PATH):
            # Leaving the map for another page: no panel, and above all no fitBounds animation that the
            # unmounted map would finish on a removed pane (Leaflet "_leaflet_pos" errors).
            raise PreventUpdate
        focus = focus_from_search(search)
        try:
            scope = callback_scope(Capability.MAP)
            shown_unit = unit_panel(scope=scope, search=search, focus=focus, crs=crs or "wgs84")
        except Exception as exc:
            return _message(to_app_error(exc)), [], None, no_update, None, no_update
        state, spot = shown_unit["state"], shown_unit["spot"]
        # fitBounds, not flyToBounds: a fly fires moveend at many zooms and so many point-layer fetches.
        # With a focus the clientside showTarget flies to the point instead.
        viewport = {"bounds": state["bounds"], "transition": "fitBounds", "options": FIT_OPTIONS} \
            if state["bounds"] and not spot else no_update
        # A deep link (or back/forward) to an enterprise opens its file in the header drawer, unless the drawer
        # already shows it (the header search picked it: map-focus names the same enterprise).
        shown = not drawer_hidden and (picked or {}).get("highlight") == (spot or {}).get("key")
        open_file = spot["key"].partition(":")[2] if spot and spot["key"].startswith("enterprise:") and not shown \
            and current_account().can(Capability.ENTERPRISE_FILE) else no_update
        return shown_unit["panel"], shown_unit["crumbs"], state, viewport, spot, open_file

    # The panel arrives with its child table sorted by risk; only a change of the sort order asks again
    # (prevent_initial_call: not when the panel inserts a new cm-sort).
    @app.callback(Output("cm-children", "children"), Input("cm-sort", "value"), State("cm-state", "data"),
                  prevent_initial_call=True)
    def sort_children(how: str | None, state: dict[str, Any] | None) -> Any:
        if not state or not isinstance(state.get("code"), str):
            raise PreventUpdate
        scope = callback_scope(Capability.MAP)
        code = state["code"]
        children = run_read(lambda conn: mq.child_units(conn, scope=scope, code=code))
        return children_list(children, how or "risk")

    @app.callback(
        Output("cm-target", "data", allow_duplicate=True),
        Input({"type": "cm-hazard", "index": ALL}, "n_clicks"), State("cm-crs", "data"), prevent_initial_call=True,
    )
    def locate_hazard(clicks: list[int | None], crs: str | None) -> Any:
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not any(clicks):
            raise PreventUpdate
        scope = callback_scope(Capability.MAP)
        hazard_id = int(trigger["index"])
        where = run_read(lambda conn: mq.hazard_location(conn, scope=scope, hazard_id=hazard_id))
        if where is None or where["lon"] is None:
            return None
        return target(where["lat"], where["lon"], label=where["title"], key=f"hazard:{where['code']}",
                      overlay=HAZARDS.title, crs=crs or "wgs84")

    # Fly to the target and ring it (pure UI); the ring lives in its own layer group, so layer refreshes keep it.
    app.clientside_callback(
        ClientsideFunction("safegrid_cm", "showTarget"),
        Output("cm-map", "viewport", allow_duplicate=True), Output("cm-focus", "children"),
        Input("cm-target", "data"), prevent_initial_call=True,
    )
    # The header search picked an enterprise: go to its grid cell with ?focus= (show_unit does the rest).
    app.clientside_callback(
        ClientsideFunction("safegrid_cm", "focusUrl"), Output("cm-url", "search", allow_duplicate=True),
        Input("map-focus", "data"), State("cm-url", "search"), prevent_initial_call=True,
    )
    # A click on a free spot or on the leaf unit (cm-spot) → the around-a-point drawer (dashboard/search.py).
    app.clientside_callback(
        ClientsideFunction("safegrid_cm", "spot"), Output("map-click", "data"),
        Input("cm-spot", "data"), State("cm-crs", "data"), prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("safegrid_cm", "aroundCircle"), Output("cm-around", "children"),
        Input("search-around-point", "data"), Input("search-around-radius", "value"),
        Input("search-around", "hidden"), State("cm-crs", "data"), prevent_initial_call=True,
    )

    units_id = layer_id(UNITS, PREFIX)
    app.clientside_callback(
        ClientsideFunction("safegrid_cm", "drill"), Output("cm-url", "search"),
        Input(units_id, "clickData"), State("cm-state", "data"), prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("safegrid_cm", "unitsUrl"),
        Output(units_id, "url"), Output(units_id, "hideout"),
        Input("cm-state", "data"), Input("cm-crs", "data"), State(units_id, "hideout"),
    )
    app.clientside_callback(
        ClientsideFunction("safegrid_cm", "crs"), Output("cm-crs", "data"),
        Input("cm-layers", "baseLayer"), State("cm-crs-table", "data"), prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("safegrid_cm", "pointData"),
        [Output(layer_id(s, PREFIX), "data") for s in POINT_LAYERS], Output("cm-points-status", "children"),
        Input("cm-map", "bounds"), Input("cm-map", "zoom"), Input("cm-crs", "data"), Input("cm-layers", "overlays"),
        Input("cm-state", "data"), State("cm-point-meta", "data"),
        [State(layer_id(s, PREFIX), "data") for s in POINT_LAYERS],
    )
    app.clientside_callback(
        ClientsideFunction("safegrid_cm", "legends"),
        [Output(f"{layer_id(s, PREFIX)}-legend", "style") for s in LAYERS.values()],
        Input("cm-layers", "overlays"), State("cm-legend-titles", "data"),
    )


PAGE = Page(path=PAGE_PATH, title="一张图", layout=create_command_map, register=register, capability=Capability.MAP,
            order=0, own_query=True)
