"""SQL of the planners' risk analysis (``/risk``): H3 heatmaps, trends, breakdowns, comparison, explanation.

Every function takes the caller's ``scope`` (a unit path, :mod:`geo.scope`) and returns nothing outside it.

Heatmaps come from two sources (see ``docs/risk_analysis.md``):

* ``h3_stats`` (pre-aggregated by ``safegrid etl refresh``) when no filter is active and the scope is a
  top-level unit — its hexagons straddle unit boundaries, so a smaller scope cannot use them without
  leaking counts from the neighbours;
* otherwise the filtered points inside the (padded) viewport are summed per H3 cell in SQL, on the
  cells stored with every point (``h3_r6``..``h3_r9``, migration 0002, filled by the refresh; there is
  no H3 extension in PostGIS); points not given cells yet are indexed with h3-py on the fly.

Filters: ``industries`` and ``risk_levels`` select enterprises (and the hazards and hazard sources of
those enterprises); ``hazard_levels``, ``channels`` and the period (``found_at``) select hazards.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any, Literal

import h3.api.numpy_int as h3
import numpy as np
from sqlalchemy import Connection, RowMapping, text

from domain import clock
from domain.crs import BBox
from domain.labels import RISK_INPUT
from domain.risk_rule import RiskRule, has_mark, rule_from_config, score_unit, unit_class
from geo.models import HAZARD_CHANNELS, HAZARD_LEVELS, RISK_LEVELS
from geo.refresh import app_config
from geo.refresh import stock_cutoff as refresh_stock_cutoff
from geo.scope import (
    check_scope,
    enterprise_in_department,
    narrow,
    path_in_scope,
    scope_department,
    scope_params,
)

Metric = Literal["risk_score", "enterprises", "hazards_open", "hazards_major_open", "hazards_overdue", "sources"]
METRICS: tuple[Metric, ...] = (
    "risk_score", "enterprises", "hazards_open", "hazards_major_open", "hazards_overdue", "sources",
)
# Which point kinds feed a metric (the on-the-fly path fetches only these).
_METRIC_KINDS: dict[str, tuple[str, ...]] = {
    "risk_score": ("enterprises", "hazards", "sources"), "enterprises": ("enterprises",),
    "hazards_open": ("hazards",), "hazards_major_open": ("hazards",), "hazards_overdue": ("hazards",),
    "sources": ("sources",),
}
# Mean H3 hexagon edge length in degrees of latitude (km / 111), used to pad the viewport by one cell.
_EDGE_DEG = {6: 3.72 / 111, 7: 1.41 / 111, 8: 0.53 / 111, 9: 0.2 / 111}
HEAT_CLASSES = 7
MAX_PERIOD_MONTHS = 60
AGEING_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("1-7天", 1, 7), ("8-30天", 8, 30), ("31-90天", 31, 90), ("91-180天", 91, 180), (">180天", 181, None),
)


class RiskQueryError(ValueError):
    """A rejected analysis parameter (message in Chinese)."""


def resolution_for_zoom(zoom: float) -> int:
    """H3 resolution shown at a map zoom: ≤8 → 6, 9–10 → 7, 11–12 → 8, ≥13 → 9."""
    z = math.floor(zoom + 0.5)
    if z <= 8:
        return 6
    if z <= 10:
        return 7
    if z <= 12:
        return 8
    return 9


def is_top_scope(scope: str) -> bool:
    """Tell whether ``scope`` is the path of a top-level unit (a city: one path segment)."""
    return check_scope(scope).count(".") == 1


@dataclass(frozen=True)
class RiskFilters:
    """The filters of the analysis page; empty tuples / None mean "all"."""

    industries: tuple[str, ...] = ()
    risk_levels: tuple[str, ...] = ()
    hazard_levels: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None

    def __post_init__(self) -> None:
        """Reject values outside the vocabularies (they would silently match nothing)."""
        for values, allowed, label in ((self.risk_levels, RISK_LEVELS, "风险等级"),
                                       (self.hazard_levels, HAZARD_LEVELS, "隐患等级"),
                                       (self.channels, HAZARD_CHANNELS, "来源渠道")):
            bad = [v for v in values if v not in allowed]
            if bad:
                raise RiskQueryError(f"{label}取值无效：{'、'.join(bad)}")
        if any(len(i) > 30 for i in self.industries):
            raise RiskQueryError("行业名称过长")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise RiskQueryError("起始日期不能晚于结束日期")

    @property
    def active(self) -> bool:
        """Tell whether any filter is set (then ``h3_stats`` cannot answer)."""
        return bool(self.industries or self.risk_levels or self.hazard_levels or self.channels
                    or self.date_from or self.date_to)

    @classmethod
    def from_args(cls, args: Mapping[str, Sequence[str]]) -> RiskFilters:
        """Parse URL arguments (``industry``, ``risk``, ``level``, ``channel`` repeated; ``from``, ``to``)."""
        def many(key: str) -> tuple[str, ...]:
            return tuple(sorted({v for raw in args.get(key, ()) for v in str(raw).split(",") if v}))

        def day(key: str) -> date | None:
            raw = (list(args.get(key, ())) or [""])[0]
            if not raw:
                return None
            try:
                return date.fromisoformat(str(raw)[:10])
            except ValueError as exc:
                raise RiskQueryError(f"日期格式错误：{raw}（应为 YYYY-MM-DD）") from exc

        return cls(many("industry"), many("risk"), many("level"), many("channel"), day("from"), day("to"))

    def as_args(self) -> dict[str, str]:
        """URL arguments that :meth:`from_args` reads back (empty filters left out)."""
        out = {"industry": ",".join(self.industries), "risk": ",".join(self.risk_levels),
               "level": ",".join(self.hazard_levels), "channel": ",".join(self.channels),
               "from": self.date_from.isoformat() if self.date_from else "",
               "to": self.date_to.isoformat() if self.date_to else ""}
        return {k: v for k, v in out.items() if v}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (audit log)."""
        return {k: (v.isoformat() if isinstance(v, date) else list(v) if isinstance(v, tuple) else v)
                for k, v in asdict(self).items()}

    def params(self, *, period: bool = True) -> dict[str, Any]:
        """Bind parameters of the filter fragments (``period=False`` drops the date range)."""
        return {
            "f_industries": list(self.industries) or None, "f_risk": list(self.risk_levels) or None,
            "f_levels": list(self.hazard_levels) or None, "f_channels": list(self.channels) or None,
            "f_from": self.date_from if period else None, "f_to": self.date_to if period else None,
        }


# Filter fragments: a NULL array means "all"; psycopg2 binds on the client, so the planner sees constants.
# The scope's department (geo/scope.py) rides on the enterprise filter: every query below binds scope_params.
_ENT_FILTER = (
    "(CAST(:f_industries AS text[]) IS NULL OR e.\"industry\" = ANY(CAST(:f_industries AS text[]))) "
    "AND (CAST(:f_risk AS text[]) IS NULL OR e.\"risk_level\" = ANY(CAST(:f_risk AS text[]))) "
    f"AND {enterprise_in_department('e')}"
)
_HAZ_FILTER = (
    f"{_ENT_FILTER} "
    "AND (CAST(:f_levels AS text[]) IS NULL OR h.\"level\" = ANY(CAST(:f_levels AS text[]))) "
    "AND (CAST(:f_channels AS text[]) IS NULL OR h.\"channel\" = ANY(CAST(:f_channels AS text[]))) "
    "AND (CAST(:f_from AS date) IS NULL OR h.\"found_at\" >= CAST(:f_from AS date)) "
    "AND (CAST(:f_to AS date) IS NULL OR h.\"found_at\" <= CAST(:f_to AS date))"
)
# Scoped, filtered hazards with the path of the unit holding them (charts start from this): a hazard stands in
# its own unit, else in its enterprise's. Two branches, not one join on coalesce(h.unit_id, e.unit_id): that join
# read every hazard of the city whatever the scope (a grid cell's charts took 1.9 s at 3M hazards); each branch
# starts from the scope's units.
_OPEN = 'h."status" <> \'closed\''


def _hazards_cte(where: str | None = None, open_expr: str = _OPEN) -> str:
    """Return the CTE ``hz``: the scope's filtered hazards matching ``where``, ``open_expr`` as their ``open``."""
    also = f" AND ({where})" if where else ""
    columns = (f'h."id", h."level", {open_expr} AS "open", h."found_at", h."closed_at", h."deadline", '
               'e."industry", u."path" AS upath')
    return (
        f'hz AS (SELECT {columns} FROM "hazards" h JOIN "units" u ON u."id" = h."unit_id" '  # noqa: S608
        'LEFT JOIN "enterprises" e ON e."id" = h."enterprise_id" '
        f'WHERE {path_in_scope("u.path")} AND {_HAZ_FILTER}{also} '
        f'UNION ALL SELECT {columns} FROM "hazards" h JOIN "enterprises" e ON e."id" = h."enterprise_id" '
        'JOIN "units" u ON u."id" = e."unit_id" '
        f'WHERE h."unit_id" IS NULL AND {path_in_scope("u.path")} AND {_HAZ_FILTER}{also})'
    )


def current_rule(conn: Connection) -> RiskRule:
    """Return the four-colour rule in force (``app_config`` key ``risk_rule`` over the defaults)."""
    return rule_from_config(app_config(conn, "risk_rule"))


def stock_cutoff(conn: Connection, *, as_of: date) -> date:
    """Return the last day of 动态清零's 存量 (``geo.refresh.stock_cutoff``: ``app_config`` or 2023-12-31)."""
    return refresh_stock_cutoff(conn, as_of=as_of)


# --- heatmap -------------------------------------------------------------------------------------


def heat_breaks(values: Sequence[float] | np.ndarray, classes: int = HEAT_CLASSES) -> list[float]:
    """Class breaks [min, quantiles…, max] (ascending, unique) as ``percentile_disc`` would pick them."""
    v = np.sort(np.asarray(values, dtype=float))
    if not len(v):
        return []
    picks = [v[max(0, math.ceil(k / classes * len(v)) - 1)] for k in range(1, classes)]
    return sorted({round(float(x), 3) for x in (v[0], *picks, v[-1])})


def _h3_stats_geojson(conn: Connection, *, metric: Metric, res: int, bbox: BBox) -> str:
    """Build the heatmap of the cells of ``h3_stats`` touching ``bbox`` (pre-aggregated by the refresh).

    The SELECT reads values only; hexagon geometries come memoised from h3-py (``ST_AsGeoJSON`` per
    cell cost more than the rest of the query).
    """
    column = f'"{metric}"'  # metric is one of METRICS (checked by the caller)
    sql = (f'SELECT "cell", {column}, "ent_red", "ent_orange", "ent_yellow", "ent_blue" FROM "h3_stats" '  # noqa: S608 - whitelisted column
           f'WHERE "res" = :res AND "geom" && ST_MakeEnvelope(:w, :s, :e, :n, 4326) AND {column} > 0 ORDER BY "cell"')
    rows = conn.execute(text(sql), {"res": res, **bbox.params()}).fetchall()
    cells = np.fromiter((h3.str_to_int(r[0]) for r in rows), dtype=np.int64, count=len(rows))
    values = np.array([float(r[1]) for r in rows])
    colours = np.array([r[2:6] for r in rows], dtype=float).reshape(-1, 4)
    return cells_geojson(cells, values, colours, res=res, metric=metric, source="h3_stats")


def _points_sql(kind: str, metric: Metric, top: bool, res: int) -> str:
    """SELECT cell (stored H3 id at ``res``, NULL until the refresh sets it), point, value, colour of one kind.

    Colour: 0-3 red…blue, 4 not assessed, -1 not an enterprise. ``res`` is one of 6-9 (checked by the caller).
    """
    env = "ST_MakeEnvelope(:w, :s, :e, :n, 4326)"
    unit_ok = f"({path_in_scope('u.path')}" + (' OR u."id" IS NULL)' if top else ")")
    colour = ("CASE e.\"risk_level\" WHEN 'red' THEN 0 WHEN 'orange' THEN 1 WHEN 'yellow' THEN 2 "
              "WHEN 'blue' THEN 3 ELSE 4 END")
    if kind == "enterprises":
        value = ("CASE e.\"risk_level\" WHEN 'red' THEN :w_red WHEN 'orange' THEN :w_orange WHEN 'yellow' "
                 "THEN :w_yellow WHEN 'blue' THEN :w_blue ELSE :w_unassessed END") if metric == "risk_score" else "1"
        return (f'SELECT e."h3_r{res}" AS cell, e."geom" AS g, {value} AS v, {colour} AS c FROM "enterprises" e '  # noqa: S608 - constant fragments
                f'LEFT JOIN "units" u ON u."id" = e."unit_id" WHERE e."geom" && {env} AND {unit_ok} AND {_ENT_FILTER}')
    # Hazards and sources without a point of their own stand on their enterprise's point (and cell).
    if kind == "hazards":
        overdue = 'h."deadline" < CAST(:as_of AS date)'
        value = {
            "risk_score": (f"CAST(:w_open AS float8) + CASE WHEN h.\"level\" = 'major' THEN :w_major ELSE 0 END "
                           f"+ CASE WHEN {overdue} THEN :w_overdue ELSE 0 END "
                           "+ CASE WHEN h.\"supervision_level\" IS NOT NULL THEN :w_supervised ELSE 0 END"),
            "hazards_open": "1",
        }.get(metric, "1")
        only = {"hazards_major_open": " AND h.\"level\" = 'major'",
                "hazards_overdue": f" AND {overdue}"}.get(metric, "")
        return (f'SELECT CASE WHEN h."geom" IS NULL THEN e."h3_r{res}" ELSE h."h3_r{res}" END, '  # noqa: S608
                f'coalesce(h."geom", e."geom"), {value}, -1 '
                'FROM "hazards" h LEFT JOIN "enterprises" e ON e."id" = h."enterprise_id" '
                'LEFT JOIN "units" u ON u."id" = coalesce(h."unit_id", e."unit_id") '
                f"WHERE h.\"status\" <> 'closed' "
                f"AND (h.\"geom\" && {env} OR (h.\"geom\" IS NULL AND e.\"geom\" && {env})) "
                f"AND {unit_ok} AND {_HAZ_FILTER}{only}")
    value = ("CASE s.\"grade\" WHEN 1 THEN :w_g1 WHEN 2 THEN :w_g2 WHEN 3 THEN :w_g3 WHEN 4 THEN :w_g4 ELSE 0 END"
             if metric == "risk_score" else "1")
    return (f'SELECT CASE WHEN s."geom" IS NULL THEN e."h3_r{res}" ELSE s."h3_r{res}" END, '  # noqa: S608
            f'coalesce(s."geom", e."geom"), {value}, -1 '
            'FROM "hazard_sources" s JOIN "enterprises" e ON e."id" = s."enterprise_id" '
            'LEFT JOIN "units" u ON u."id" = coalesce(s."unit_id", e."unit_id") '
            f'WHERE (s."geom" && {env} OR (s."geom" IS NULL AND e."geom" && {env})) AND {unit_ok} AND {_ENT_FILTER}')


def heat_aggregate_rows(conn: Connection, *, scope: str, metric: Metric, filters: RiskFilters, bbox: BBox, res: int,
                        as_of: date, rule: RiskRule | None = None) -> list[Any]:
    """Run the heatmap's aggregate SQL: (cell, lon, lat, value, red, orange, yellow, blue) rows.

    One row per stored H3 cell at ``res`` (lon/lat NULL), plus one per distinct point that has no stored
    cell yet (cell NULL). Also the benchmark's "bare aggregate SQL" baseline (bench/bench_risk.py).
    """
    if res not in _EDGE_DEG:
        raise RiskQueryError(f"不支持的 H3 分辨率：{res}")
    rule = rule or current_rule(conn)
    top = is_top_scope(scope)
    points = " UNION ALL ".join(_points_sql(k, metric, top, res) for k in _METRIC_KINDS[metric])
    sql = (
        "SELECT cell, CASE WHEN cell IS NULL THEN ST_X(g) END AS x, CASE WHEN cell IS NULL THEN ST_Y(g) END AS y, "  # noqa: S608
        "sum(v), count(*) FILTER (WHERE c = 0), count(*) FILTER (WHERE c = 1), count(*) FILTER (WHERE c = 2), "
        f"count(*) FILTER (WHERE c = 3) FROM ({points}) p(cell, g, v, c) WHERE g IS NOT NULL GROUP BY 1, 2, 3"
    )
    w = rule.weights
    params = {
        **scope_params(scope), **filters.params(), **bbox.params(), "as_of": as_of,
        "w_red": w["ent_red"], "w_orange": w["ent_orange"], "w_yellow": w["ent_yellow"], "w_blue": w["ent_blue"],
        "w_unassessed": w["ent_unassessed"], "w_open": w["hazards_open"], "w_major": w["hazards_major_open"],
        "w_overdue": w["hazards_overdue"], "w_supervised": w["hazards_supervised"], "w_g1": w["sources_g1"],
        "w_g2": w["sources_g2"], "w_g3": w["sources_g3"], "w_g4": w["sources_g4"],
    }
    return list(conn.execute(text(sql), params).fetchall())


def heat_cells(conn: Connection, *, scope: str, metric: Metric, filters: RiskFilters, bbox: BBox, res: int,
               as_of: date, rule: RiskRule | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum the filtered, scoped points of a metric inside ``bbox`` per H3 cell at ``res``.

    The grouping runs in SQL on the cells stored with each point (migration 0002); points the refresh
    has not given cells yet come back one per distinct point and are indexed here with h3-py, so the
    answer never depends on when the refresh ran. Returns (cells int64, sums, colour counts (n, 4):
    red, orange, yellow, blue enterprises), one row per cell, cells ascending.
    """
    rows = heat_aggregate_rows(conn, scope=scope, metric=metric, filters=filters, bbox=bbox, res=res, as_of=as_of,
                               rule=rule)
    stored = [r for r in rows if r[0] is not None]
    loose = [r for r in rows if r[0] is None]
    cells = np.fromiter((r[0] for r in stored), dtype=np.int64, count=len(stored))
    if loose:
        to_cell = h3.latlng_to_cell
        cells = np.concatenate([cells, np.fromiter((to_cell(r[2], r[1], res) for r in loose), dtype=np.int64,
                                                   count=len(loose))])
    sums = np.array([[float(r[3]), *r[4:8]] for r in (*stored, *loose)], dtype=float).reshape(-1, 5)
    unique, inv = np.unique(cells, return_inverse=True)
    grouped = np.zeros((len(unique), 5))
    for j in range(5):
        grouped[:, j] = np.bincount(inv, weights=sums[:, j], minlength=len(unique))
    return unique, grouped[:, 0], grouped[:, 1:]


@lru_cache(maxsize=1 << 17)
def _cell_geometry(cell: int) -> str:
    """GeoJSON text of a cell's hexagon (5 decimals), memoised: a city has a bounded set of cells per resolution."""
    ring = [[round(lng, 5), round(lat, 5)] for lat, lng in h3.cell_to_boundary(cell)]  # h3 gives (lat, lng)
    ring.append(ring[0])
    return json.dumps({"type": "Polygon", "coordinates": [ring]}, separators=(",", ":"))


def cells_geojson(cells: np.ndarray, values: np.ndarray, colours: np.ndarray, *, res: int, metric: Metric,
                  bbox: BBox | None = None, source: str = "points") -> str:
    """GeoJSON text of the cells with a positive value (whose centre lies in ``bbox`` padded by one cell).

    Written as text from memoised hexagon geometries (building dicts for ``json.dumps`` cost more than
    the SQL at 500+ cells); members ``res``, ``metric``, ``source`` and ``breaks`` (:func:`heat_breaks`).
    """
    pad = _EDGE_DEG[res]
    features, kept = [], []
    with_colours = metric == "enterprises"
    for i, cell in enumerate(cells.tolist()):
        value = round(float(values[i]), 3)
        if value <= 0:
            continue
        if bbox is not None:
            lat, lng = h3.cell_to_latlng(cell)
            if not (bbox.west - pad <= lng <= bbox.east + pad and bbox.south - pad <= lat <= bbox.north + pad):
                continue  # a cell of the padding: partly counted, and off screen anyway
        r, o, y, b = (int(c) for c in colours[i]) if with_colours else (0, 0, 0, 0)
        props = f'"r":{r},"o":{o},"y":{y},"b":{b},' if with_colours else ""
        features.append(f'{{"type":"Feature","id":"{h3.int_to_str(cell)}","geometry":{_cell_geometry(cell)},'
                        f'"properties":{{{props}"v":{value!r}}}}}')
        kept.append(value)
    # metric (one of METRICS) and source are identifiers: no escaping needed
    return (f'{{"type":"FeatureCollection","res":{res},"metric":"{metric}","source":"{source}",'
            f'"breaks":{json.dumps(heat_breaks(kept), separators=(",", ":"))},"features":[{",".join(features)}]}}')


def heatmap_geojson(conn: Connection, *, scope: str, metric: str, zoom: float, bbox: BBox, filters: RiskFilters,
                    as_of: date, force_points: bool = False) -> str:
    """Return the H3 heatmap of ``metric`` in the viewport as GeoJSON text (``res``, ``source``, ``breaks`` members)."""
    if metric not in METRICS:
        raise RiskQueryError(f"不支持的指标：{metric}")
    typed: Metric = metric  # checked against METRICS above
    res = resolution_for_zoom(zoom)
    if not filters.active and is_top_scope(scope) and scope_department(scope) is None and not force_points:
        return _h3_stats_geojson(conn, metric=typed, res=res, bbox=bbox)
    pad = 2 * _EDGE_DEG[res]
    padded = BBox(bbox.west - pad, bbox.south - pad, bbox.east + pad, bbox.north + pad)
    cells, values, colours = heat_cells(conn, scope=scope, metric=typed, filters=filters, bbox=padded, res=res,
                                        as_of=as_of)
    return cells_geojson(cells, values, colours, res=res, metric=typed, bbox=bbox)


def bare_h3_stats(conn: Connection, *, metric: Metric, res: int, bbox: BBox) -> list[tuple[Any, ...]]:
    """Baseline for the benchmark: the plain aggregate rows (cell, value, GeoJSON geometry) of a view."""
    sql = (f'SELECT "cell", "{metric}", ST_AsGeoJSON("geom", 5) FROM "h3_stats" '  # noqa: S608 - whitelisted column
           f'WHERE "res" = :res AND "geom" && ST_MakeEnvelope(:w, :s, :e, :n, 4326) AND "{metric}" > 0')
    return [tuple(r) for r in conn.execute(text(sql), {"res": res, **bbox.params()})]


# --- four-colour units and explanation -------------------------------------------------------------


def scope_level(conn: Connection, *, scope: str) -> int:
    """Level of the scope's root unit."""
    sql = 'SELECT "level" FROM "units" WHERE "path" = :scope'
    return int(conn.execute(text(sql), scope_params(scope)).scalar_one())


def risk_units_geojson(conn: Connection, *, scope: str, level: int) -> str:
    """Units of ``level`` inside the scope with their four-colour class, as GeoJSON text.

    A department scope gets its department's four-colour map, recomputed like the map by industry
    (:func:`industry_units_geojson`): ``unit_stats`` count every department.
    """
    if scope_department(scope) is not None:
        return industry_units_geojson(conn, scope=scope, level=level, industries=None, rule=current_rule(conn),
                                      as_of=clock.today())
    sql = (
        "SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object("  # noqa: S608 - scope fragment
        "'type', 'Feature', 'id', u.\"code\", "
        "'geometry', ST_AsGeoJSON(coalesce(u.\"geom_display\", u.\"geom\"), 5)::json, "
        "'properties', json_build_object('kind', 'unit', 'code', u.\"code\", 'name', u.\"name\", 'level', u.\"level\", "
        "'risk', s.\"risk_class\", 'score', round(CAST(s.\"risk_score\" AS numeric), 3), "
        "'enterprises', s.\"enterprises\", 'open', s.\"hazards_open\", 'overdue', s.\"hazards_overdue\", "
        "'mark', coalesce(s.\"ent_red\" > 0 OR s.\"hazards_major_open\" > 0, false))) "
        "ORDER BY u.\"code\"), "
        "'[]'::json))::text "
        'FROM "units" u LEFT JOIN "unit_stats" s ON s."unit_id" = u."id" '
        f'WHERE u."level" = :level AND u."geom" IS NOT NULL AND {path_in_scope("u.path")}'
    )
    return str(conn.execute(text(sql), {"level": level, **scope_params(scope)}).scalar_one())


# The rule's inputs of each unit of a level, counted over the enterprises of some industries only (their open
# hazards and their hazard sources): the four-colour map by industry (分行业, 招贤镇 plan).
_INDUSTRY_INPUTS_SQL = """
WITH ent AS (
    SELECT e."id", e."risk_level", split_part(c."path", '.', :level) AS code
    FROM "enterprises" e JOIN "units" c ON c."id" = e."unit_id"
    WHERE (CAST(:industries AS text[]) IS NULL OR e."industry" = ANY(CAST(:industries AS text[])))
      AND c."path" LIKE :scope || '%' AND {dept}
), e_agg AS (
    SELECT code, count(*) AS enterprises,
           count(*) FILTER (WHERE "risk_level" = 'red') AS ent_red,
           count(*) FILTER (WHERE "risk_level" = 'orange') AS ent_orange,
           count(*) FILTER (WHERE "risk_level" = 'yellow') AS ent_yellow,
           count(*) FILTER (WHERE "risk_level" = 'blue') AS ent_blue,
           count(*) FILTER (WHERE "risk_level" IS NULL) AS ent_unassessed
    FROM ent GROUP BY code
), h_agg AS (
    SELECT ent.code, count(*) AS hazards_open,
           count(*) FILTER (WHERE h."level" = 'major') AS hazards_major_open,
           count(*) FILTER (WHERE h."deadline" < :as_of) AS hazards_overdue,
           count(*) FILTER (WHERE h."supervision_level" IS NOT NULL) AS hazards_supervised
    FROM "hazards" h JOIN ent ON ent."id" = h."enterprise_id" WHERE h."status" <> 'closed' GROUP BY ent.code
), s_agg AS (
    SELECT ent.code, count(*) FILTER (WHERE s."grade" = 1) AS sources_g1,
           count(*) FILTER (WHERE s."grade" = 2) AS sources_g2,
           count(*) FILTER (WHERE s."grade" = 3) AS sources_g3,
           count(*) FILTER (WHERE s."grade" = 4) AS sources_g4
    FROM "hazard_sources" s JOIN ent ON ent."id" = s."enterprise_id" GROUP BY ent.code
)
SELECT u."code", u."name", u."level", ST_AsGeoJSON(coalesce(u."geom_display", u."geom"), 5) AS geometry,
       e_agg.enterprises, e_agg.ent_red, e_agg.ent_orange, e_agg.ent_yellow, e_agg.ent_blue, e_agg.ent_unassessed,
       h_agg.hazards_open, h_agg.hazards_major_open, h_agg.hazards_overdue, h_agg.hazards_supervised,
       s_agg.sources_g1, s_agg.sources_g2, s_agg.sources_g3, s_agg.sources_g4
FROM "units" u
LEFT JOIN e_agg ON e_agg.code = u."code" LEFT JOIN h_agg ON h_agg.code = u."code"
LEFT JOIN s_agg ON s_agg.code = u."code"
WHERE u."level" = :level AND u."geom" IS NOT NULL AND u."path" LIKE :scope || '%'
ORDER BY u."code"
""".replace("{dept}", enterprise_in_department("e"))


def industry_units_geojson(conn: Connection, *, scope: str, level: int, industries: Sequence[str] | None,
                           rule: RiskRule, as_of: date) -> str:
    """Units of ``level`` coloured by ``rule`` over the enterprises of ``industries`` only, as GeoJSON text.

    Same properties as :func:`risk_units_geojson`; a unit without such enterprises is 未评定 (no class).
    ``industries`` None: every industry (a department scope's own map). The scope's department applies.
    """
    rows = conn.execute(text(_INDUSTRY_INPUTS_SQL), {"level": level,
                                                     "industries": list(industries) if industries is not None else None,
                                                     "as_of": as_of, **scope_params(scope)}).mappings()
    features = []
    for r in rows:
        inputs = {k: int(r[k] or 0) for k in (*RISK_INPUT, "enterprises")} | {"level": r["level"]}
        risk = unit_class(inputs, rule) if inputs["enterprises"] else None
        features.append({"type": "Feature", "id": r["code"], "geometry": json.loads(r["geometry"]), "properties": {
            "kind": "unit", "code": r["code"], "name": r["name"], "level": r["level"], "risk": risk,
            "score": round(score_unit(inputs, rule).score, 3), "enterprises": inputs["enterprises"],
            "open": inputs["hazards_open"], "overdue": inputs["hazards_overdue"], "mark": has_mark(inputs)}})
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


def unit_explain(conn: Connection, *, scope: str, code: str) -> dict[str, Any] | None:
    """Return a unit's class, score and stored ``risk_explain`` (None when outside the scope or unknown)."""
    sql = (
        'SELECT u."code", u."name", u."level", u."path", s."risk_class", s."risk_score", s."risk_explain", '  # noqa: S608
        's."refreshed_at" FROM "units" u LEFT JOIN "unit_stats" s ON s."unit_id" = u."id" '
        f'WHERE u."code" = :code AND {path_in_scope("u.path")}'
    )
    row = conn.execute(text(sql), {"code": code, **scope_params(scope)}).mappings().one_or_none()
    if row is None:
        return None
    found = dict(row)
    if scope_department(scope) is not None and found["risk_explain"]:  # names of every department's rows
        found["risk_explain"] = {k: v for k, v in found["risk_explain"].items() if k not in _NAMED_CONTRIBUTORS}
    return found


_NAMED_CONTRIBUTORS = ("top_enterprises", "top_hazards", "driver_items")


def hazard_places(conn: Connection, *, scope: str, hazard_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Grid-cell code and enterprise credit code of hazards (for "locate" links), within the scope."""
    if not hazard_ids:
        return {}
    sql = (
        'SELECT h."id", u."code" AS unit_code, e."credit_code" FROM "hazards" h '  # noqa: S608
        'LEFT JOIN "enterprises" e ON e."id" = h."enterprise_id" '
        'JOIN "units" u ON u."id" = coalesce(h."unit_id", e."unit_id") '
        f'WHERE h."id" = ANY(CAST(:ids AS int[])) AND {path_in_scope("u.path")} AND {enterprise_in_department("e")}'
    )
    rows = conn.execute(text(sql), {"ids": [int(i) for i in hazard_ids], **scope_params(scope)}).mappings()
    return {int(r["id"]): dict(r) for r in rows}


def compare_candidates(conn: Connection, *, scope: str) -> list[dict[str, Any]]:
    """Units that can be compared: the scope unit and the two levels below it, in code order."""
    sql = (
        'SELECT u."code", u."name", u."level" FROM "units" u '  # noqa: S608
        f'WHERE {path_in_scope("u.path")} AND u."level" <= (SELECT "level" + 2 FROM "units" WHERE "path" = :scope) '
        'ORDER BY u."level", u."code"'
    )
    return [dict(r) for r in conn.execute(text(sql), scope_params(scope)).mappings()]


_KPI_COLUMNS = (
    "enterprises", "ent_red", "ent_orange", "ent_yellow", "ent_blue", "ent_unassessed", "hazards_open",
    "hazards_overdue", "hazards_major_open", "hazards_supervised", "hazards_stock_open", "hazards_increment_open",
    "sources_g1", "sources_g2", "sources_g3", "sources_g4", "risk_score", "risk_class",
)


def unit_kpis(conn: Connection, *, scope: str, code: str) -> dict[str, Any] | None:
    """Return a unit's name, level, path and unit_stats KPIs (None when outside the scope).

    ``path`` is the unit's scope (a :class:`geo.scope.Scope` keeping the caller's department), so queries
    narrowed to it stay in the department.
    """
    cols = ", ".join(f's."{c}"' for c in _KPI_COLUMNS)
    sql = (
        f'SELECT u."code", u."name", u."level", u."path", {cols} FROM "units" u '  # noqa: S608 - constant columns
        'LEFT JOIN "unit_stats" s ON s."unit_id" = u."id" '
        f'WHERE u."code" = :code AND {path_in_scope("u.path")}'
    )
    row = conn.execute(text(sql), {"code": code, **scope_params(scope)}).mappings().one_or_none()
    return {**row, "path": narrow(scope, row["path"])} if row else None


# --- charts --------------------------------------------------------------------------------------


def month_window(filters: RiskFilters, *, as_of: date) -> tuple[date, date]:
    """First days of the first and last month of the trend: the period, else the 12 months up to ``as_of``."""
    end = filters.date_to or as_of
    start = filters.date_from or date(end.year - 1 + (end.month == 12), end.month % 12 + 1, 1)
    first, last = date(start.year, start.month, 1), date(end.year, end.month, 1)
    if (last.year - first.year) * 12 + last.month - first.month >= MAX_PERIOD_MONTHS:
        raise RiskQueryError(f"时间段过长：趋势图最多 {MAX_PERIOD_MONTHS} 个月")
    return first, last


def monthly_found_closed(conn: Connection, *, scope: str, filters: RiskFilters, as_of: date,
                         cutoff: date) -> list[dict[str, Any]]:
    """Count MAJOR hazards found and closed per month, 存量 (found on or before ``cutoff``) apart from 增量.

    Also the stock / increment still open at each month's end (动态清零). The period sets the months.
    """
    return breakdowns(conn, scope=scope, filters=filters, as_of=as_of, cutoff=cutoff, parts=("trend",))["trend"]


# --- the breakdowns of /risk's charts ---------------------------------------------------------------------
# Each chart reads only the hazards it counts, grouped up to five ways at once (GROUPING SETS; the period is not a
# condition — the trend ignores it, the others count ``inp``, found in the period): the trend the MAJOR hazards
# (ix_hazards_major, 0018) found / closed per (month, 存量); the industries, the ageing and the areas' open / major /
# overdue the OPEN ones (ix_hazards_open, 0016); the areas' found and closed every hazard of a child unit — summed
# from hazard_months (0015) when no filter is set and the scope is no department, else counted in a scan.
# One scan of every hazard for all four took 6.1 s city-wide at 3M hazards (bench_scope_reads.py).
_GROUPINGS = {  # part → its grouping sets (columns of x below)
    "trend": (("fm", "stock"), ("cm", "stock")),
    "industries": (("industry",),),
    "areas": (("code",),),
    "ageing": (("days", "level"),),
}
_GROUPED = ("fm", "stock", "cm", "industry", "code", "days", "level")
PARTS = tuple(_GROUPINGS)
_BREAKDOWN_SQL = """
WITH {hz}, x AS (
    SELECT CASE WHEN "level" = 'major' THEN date_trunc('month', "found_at")::date END AS fm,
           CASE WHEN "level" = 'major' AND "closed_at" IS NOT NULL THEN date_trunc('month', "closed_at")::date END
               AS cm,
           "found_at" <= :cutoff AS stock, coalesce("industry", '未填写') AS industry,
           split_part(substr(upath, char_length(:scope) + 1), '.', 1) AS code,
           CASE WHEN "open" AND "deadline" < :as_of THEN CAST(:as_of AS date) - "deadline" END AS days,
           "level", "open", "closed_at" IS NOT NULL AS dated_closed,
           (CAST(:p_from AS date) IS NULL OR "found_at" >= CAST(:p_from AS date))
           AND (CAST(:p_to AS date) IS NULL OR "found_at" <= CAST(:p_to AS date)) AS inp
    FROM hz
)
SELECT GROUPING({grouped}) AS g, {columns},
       count(*) AS n, count(*) FILTER (WHERE inp) AS found, count(*) FILTER (WHERE inp AND NOT open) AS closed,
       count(*) FILTER (WHERE inp AND open) AS open,
       count(*) FILTER (WHERE inp AND open AND "level" = 'major') AS major,
       count(*) FILTER (WHERE inp AND open AND days IS NOT NULL) AS overdue,
       count(*) FILTER (WHERE inp AND open AND dated_closed) AS open_dated_closed
FROM x GROUP BY GROUPING SETS ({sets})
"""
# The hazards of each child unit's subtree found / closed in any month (hazard_months counts a closing date).
_CHILD_MONTHS_SQL = (
    'SELECT c."code", sum(m."found") AS found, sum(m."closed") AS closed FROM "units" c '
    'JOIN "hazard_months" m ON m."unit_id" = c."id" '
    'WHERE c."parent_id" = (SELECT "id" FROM "units" WHERE "path" = :scope) GROUP BY c."code"'
)
_CHILDREN_SQL = ('SELECT c."code", c."name" FROM "units" c '
                 'WHERE c."parent_id" = (SELECT "id" FROM "units" WHERE "path" = :scope) ORDER BY c."code"')
_AREA_COUNTS = ("found", "closed", "open", "major", "overdue")
_AREA_READ = (*_AREA_COUNTS, "open_dated_closed")  # and the open ones with a closing date (the roll-up's mend)
_MAJOR = 'h."level" = \'major\''


def _grouped_rows(conn: Connection, params: Mapping[str, Any], sets: Sequence[tuple[str, ...]], *,
                  where: str | None, open_expr: str = _OPEN) -> Iterator[tuple[str, RowMapping]]:
    """Count the scope's hazards matching ``where`` grouped by ``sets``; yield (the set's first column, row)."""
    grouped = [c for c in _GROUPED if any(c in g for g in sets)]  # GROUPING() takes grouped columns only
    kind_of = {sum(1 << (len(grouped) - 1 - i) for i, c in enumerate(grouped) if c not in g): g[0] for g in sets}

    def quoted(columns: Sequence[str]) -> str:
        return ", ".join(f'"{c}"' for c in columns)

    columns = ", ".join(f'"{c}"' if c in grouped else f'NULL AS "{c}"' for c in _GROUPED)
    sql = _BREAKDOWN_SQL.format(hz=_hazards_cte(where, open_expr), grouped=quoted(grouped), columns=columns,
                                sets=", ".join(f"({quoted(g)})" for g in sets))
    for r in conn.execute(text(sql), params).mappings():
        yield kind_of[r["g"]], r


def breakdowns(conn: Connection, *, scope: str, filters: RiskFilters, as_of: date, cutoff: date,
               parts: Sequence[str] = PARTS) -> dict[str, list[dict[str, Any]]]:
    """Return /risk's breakdowns of the scope's hazards (``parts`` of :data:`PARTS`).

    * ``trend``: MAJOR hazards found and closed per month of the period's window (:func:`month_window`), 存量
      (found on or before ``cutoff``) apart from 增量, and both still open at each month's end (动态清零);
    * ``industries``: open hazards found in the period per industry: total, major, overdue; largest first;
    * ``areas``: per child unit of the scope (all listed): found in the period, closed of those, closure rate,
      open / major / overdue now;
    * ``ageing``: open overdue hazards by days past the deadline (:data:`AGEING_BUCKETS`), general vs major.
    """
    first, last = month_window(filters, as_of=as_of)
    params = {**scope_params(scope), **filters.params(period=False), "cutoff": cutoff, "as_of": as_of,
              "p_from": filters.date_from, "p_to": filters.date_to}
    rolled_up = "areas" in parts and not filters.active and scope_department(scope) is None
    passes: list[tuple[list[tuple[str, ...]], str | None, str]] = []  # (grouping sets, where, open)
    if "trend" in parts:
        passes.append((list(_GROUPINGS["trend"]), _MAJOR, _OPEN))
    open_parts = [p for p in ("industries", "ageing") if p in parts] + (["areas"] if rolled_up else [])
    if open_parts:
        passes.append(([g for p in open_parts for g in _GROUPINGS[p]], _OPEN, "true"))
    if "areas" in parts and not rolled_up:
        passes.append((list(_GROUPINGS["areas"]), None, _OPEN))
    found: dict[tuple[date, bool], int] = {}
    closed: dict[tuple[date, bool], int] = {}
    industries: dict[str, list[int]] = {}
    areas: dict[str, dict[str, int]] = {}
    overdue: list[tuple[int, str, int]] = []
    for sets, where, open_expr in passes:
        for kind, r in _grouped_rows(conn, params, sets, where=where, open_expr=open_expr):
            if kind == "fm" and r["fm"] is not None:
                found[(r["fm"], r["stock"])] = int(r["n"])
            elif kind == "cm" and r["cm"] is not None:
                closed[(r["cm"], r["stock"])] = int(r["n"])
            elif kind == "industry" and r["open"]:
                industries[r["industry"]] = [int(r["open"]), int(r["major"]), int(r["overdue"])]
            elif kind == "code":
                areas[r["code"]] = {k: int(r[k]) for k in _AREA_READ}
            elif kind == "days" and r["days"] is not None and r["overdue"]:
                overdue.append((int(r["days"]), r["level"], int(r["overdue"])))
    if rolled_up:  # found / closed from hazard_months; it counts a closing date, the scan a closed status
        for c in areas.values():  # the open pass counted only open hazards
            c["found"] = c["closed"] = 0
        for code, n_found, n_closed in conn.execute(text(_CHILD_MONTHS_SQL), params).all():
            c = areas.setdefault(code, dict.fromkeys(_AREA_READ, 0))
            c["found"], c["closed"] = int(n_found), int(n_closed) - c["open_dated_closed"]
    out: dict[str, list[dict[str, Any]]] = {}
    if "trend" in parts:
        out["trend"] = _trend(found, closed, first, last)
    if "industries" in parts:
        out["industries"] = [{"industry": k, "open": v[0], "major": v[1], "overdue": v[2]}
                             for k, v in sorted(industries.items(), key=lambda kv: (-kv[1][0], kv[0]))]
    if "areas" in parts:
        out["areas"] = _areas(conn, scope, areas)
    if "ageing" in parts:
        out["ageing"] = _ageing(overdue)
    return out


def _trend(found: dict[tuple[date, bool], int], closed: dict[tuple[date, bool], int], first: date,
           last: date) -> list[dict[str, Any]]:
    """Return the ``trend`` rows from counts per (month, 存量)."""
    def before(counts: dict[tuple[date, bool], int], stock: bool) -> int:
        return sum(n for (m, s), n in counts.items() if s is stock and m < first)

    open_stock = before(found, True) - before(closed, True)
    open_increment = before(found, False) - before(closed, False)
    rows = []
    month = first
    while month <= last:
        fs, fi = found.get((month, True), 0), found.get((month, False), 0)
        cs, ci = closed.get((month, True), 0), closed.get((month, False), 0)
        open_stock += fs - cs
        open_increment += fi - ci
        rows.append({"month": month, "found_stock": fs, "found_increment": fi, "closed_stock": cs,
                     "closed_increment": ci, "open_stock": open_stock, "open_increment": open_increment})
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return rows


def _areas(conn: Connection, scope: str, counts: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """Return the ``areas`` rows: every child unit of the scope, with zeros where nothing was counted."""
    rows = []
    for code, name in conn.execute(text(_CHILDREN_SQL), scope_params(scope)).all():
        c = counts.get(code, dict.fromkeys(_AREA_COUNTS, 0))
        # as PostgreSQL's round(numeric, 4): half away from zero
        rate = float((Decimal(c["closed"]) / c["found"]).quantize(Decimal("0.0001"), ROUND_HALF_UP)) if c["found"] \
            else None
        rows.append({"code": code, "name": name, **{k: c[k] for k in _AREA_COUNTS}, "closure_rate": rate})
    return rows


def _ageing(overdue: list[tuple[int, str, int]]) -> list[dict[str, Any]]:
    """Return the ``ageing`` rows from counts per (days past the deadline, level)."""
    def count(level: str, lo: int, hi: int | None) -> int:
        return sum(n for d, lv, n in overdue if lv == level and d >= lo and (hi is None or d <= hi))

    return [{"bucket": label, "general": count("general", lo, hi), "major": count("major", lo, hi)}
            for label, lo, hi in AGEING_BUCKETS]
