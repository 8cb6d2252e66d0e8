"""SQL of the OGC API – Features service (``/ogc/``): collections as records, items pages, single items, extents.

A collection is an :class:`OgcCollection`: its FROM items (main table ``t``), id, geometry, constant filter,
the scope fragment of :mod:`geo.scope` and its properties (name, SQL expression, type). The unit levels are
built here (:func:`unit_collection`); a point collection is derived from a map layer's
:class:`~geo.map_queries.PointSource` (:func:`point_collection`), so a layer registered for the command map
becomes a collection too, with the source's properties, its class and the extra columns known for its table
(:data:`TABLE_EXTRAS`). Every function takes the caller's ``scope`` and binds it; property filters and the
time interval are bound values; only the records' constant SQL is spliced in. Features are assembled as
GeoJSON text in SQL (one value per page), geometry in CRS84 (the stored EPSG:4326, longitude first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from sqlalchemy import Connection, text

from geo.map_queries import PointSource, source_in_department
from geo.scope import path_in_scope, scope_params, unit_id_in_scope

PropType = Literal["string", "integer", "number", "date", "boolean"]
GEOJSON_DIGITS = 7  # decimals of a coordinate (~1 cm)
MATCH_COUNT_CAP = 1_000  # numberMatched is counted up to this many features, left out above (items)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_COLLECTION_ID = re.compile(r"^[a-z][a-z0-9-]*$")


@dataclass(frozen=True)
class OgcProperty:
    """One feature property: its name in the GeoJSON, SQL expression, type, Chinese title and allowed values."""

    name: str
    sql: str
    type: PropType = "string"
    title: str = ""
    enum: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Refuse a name that could not be spliced into ``json_build_object`` as a literal."""
        if not _NAME.match(self.name):
            raise ValueError(f"not a plain lower-case property name: {self.name!r}")


@dataclass(frozen=True)
class OgcCollection:
    """A feature collection of the OGC API as data; every query of it derives from this record."""

    id: str
    title: str
    description: str
    from_sql: str  # FROM items; the main table is aliased ``t``
    scope_sql: str  # the scope fragment (geo.scope), bound with scope_params
    properties: tuple[OgcProperty, ...]
    id_sql: str = 't."id"'
    id_type: Literal["integer", "string"] = "integer"
    geom_sql: str = 't."geom"'
    geometry_type: str = "Point"
    where: str = "TRUE"
    datetime: str | None = None  # name of the date property that is the feature's temporal geometry
    item_type: str = "feature"

    def __post_init__(self) -> None:
        """Refuse an id unusable in a URL path and a datetime naming no date property."""
        if not _COLLECTION_ID.match(self.id):
            raise ValueError(f"not a collection id: {self.id!r}")
        if self.datetime is not None and self.prop(self.datetime).type != "date":
            raise ValueError(f"datetime property {self.datetime!r} is not a date property")

    def prop(self, name: str) -> OgcProperty:
        """Return the property called ``name`` (KeyError when there is none)."""
        for p in self.properties:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def props_sql(self) -> str:
        """``json_build_object`` arguments of the properties."""
        return ", ".join(f"'{p.name}', {p.sql}" for p in self.properties)


@dataclass(frozen=True)
class Extent:
    """Spatial (CRS84) and temporal extent of a collection in a scope; None when it holds nothing."""

    bbox: tuple[float, float, float, float] | None
    interval: tuple[date | None, date | None] | None


@dataclass(frozen=True)
class ItemsQuery:
    """The selection of an items request, parsed and checked by the web layer."""

    limit: int
    offset: int = 0
    boxes: tuple[tuple[float, float, float, float], ...] = ()  # one box, or two across the antimeridian
    filters: tuple[tuple[str, Any], ...] = ()  # (property name, typed value): equality
    interval: tuple[date | None, date | None] | None = None  # inclusive; None ends are open


# --- the collections ---------------------------------------------------------------------------

UNIT_LEVEL_TITLES = {1: "市级单位", 2: "县级单位", 3: "乡镇（街道）", 4: "村（社区）", 5: "网格"}
_RISK = ("red", "orange", "yellow", "blue")


def unit_collection(level: int) -> OgcCollection:
    """Return the collection of the level-``level`` units (polygons) with their refreshed roll-ups."""
    return OgcCollection(
        id=f"units-{level}", title=UNIT_LEVEL_TITLES[level],
        description=f"第 {level} 级网格单位的边界（多边形）及其辖区汇总统计（最近一次刷新）",
        from_sql=('"units" t LEFT JOIN "units" p ON p."id" = t."parent_id" '
                  'LEFT JOIN "unit_stats" s ON s."unit_id" = t."id"'),
        scope_sql=path_in_scope("t.path"), where=f't."level" = {int(level)}',
        id_sql='t."code"', id_type="string", geometry_type="MultiPolygon",
        properties=(
            OgcProperty("code", 't."code"', title="单位代码"),
            OgcProperty("name", 't."name"', title="单位名称"),
            OgcProperty("level", 't."level"', "integer", "层级"),
            OgcProperty("kind", 't."kind"', title="类型"),
            OgcProperty("parent_code", 'p."code"', title="上级单位代码"),
            OgcProperty("risk_class", 's."risk_class"', title="四色风险", enum=_RISK),
            OgcProperty("risk_score", 's."risk_score"', "number", "风险分值"),
            OgcProperty("enterprises", 's."enterprises"', "integer", "生产经营单位数"),
            OgcProperty("hazards_open", 's."hazards_open"', "integer", "未销号隐患"),
            OgcProperty("hazards_overdue", 's."hazards_overdue"', "integer", "逾期隐患"),
            OgcProperty("hazards_major_open", 's."hazards_major_open"', "integer", "未销号重大隐患"),
            OgcProperty("area_km2", 't."area_km2"', "number", "面积（平方千米）"),
            OgcProperty("is_demo_geometry", 't."is_demo_geometry"', "boolean", "示意边界"),
        ),
    )


UNIT_COLLECTIONS: tuple[OgcCollection, ...] = tuple(unit_collection(level) for level in range(1, 6))

# Titles and types of the properties point sources name (a source's own properties are text otherwise).
_KNOWN_PROPS: dict[str, tuple[PropType, str]] = {
    "name": ("string", "名称"), "industry": ("string", "行业"), "enterprise": ("string", "企业名称"),
    "deadline": ("date", "整改期限"),
}
_GRID_CODE = '(SELECT g."code" FROM "units" g WHERE g."id" = t."unit_id")'

# Columns offered by every collection over a table besides its source's properties: (properties, datetime).
TABLE_EXTRAS: dict[str, tuple[tuple[OgcProperty, ...], str | None]] = {
    "enterprises": ((
        OgcProperty("credit_code", 't."credit_code"', title="统一社会信用代码"),
        OgcProperty("risk_level", 't."risk_level"', title="风险等级", enum=_RISK),
        OgcProperty("scale", 't."scale"', title="企业规模"),
        OgcProperty("address", 't."address"', title="地址"),
        OgcProperty("has_major_hazard_source", 't."has_major_hazard_source"', "boolean", "涉及重大危险源"),
        OgcProperty("grid_code", _GRID_CODE, title="所在网格代码"),
    ), None),
    "hazard_sources": ((
        OgcProperty("code", 't."code"', title="危险源编码"),
        OgcProperty("grade", 't."grade"', "integer", "危险源级别"),
        OgcProperty("r_value", 't."r_value"', "number", "R 值"),
        OgcProperty("recorded_at", 't."recorded_at"', "date", "备案日期"),
        OgcProperty("grid_code", _GRID_CODE, title="所在网格代码"),
    ), None),
    "hazards": ((
        OgcProperty("code", 't."code"', title="隐患编号"),
        OgcProperty("level", 't."level"', title="隐患等级", enum=("major", "general")),
        OgcProperty("status", 't."status"', title="隐患状态"),
        OgcProperty("found_at", 't."found_at"', "date", "发现日期"),
        OgcProperty("supervision_level", 't."supervision_level"', "integer", "挂牌督办级别"),
        OgcProperty("grid_code", _GRID_CODE, title="所在网格代码"),
    ), "found_at"),
}


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def point_collection(collection_id: str, title: str, source: PointSource, *,
                     class_labels: dict[str, str], description: str = "") -> OgcCollection:
    """Derive the collection of a map point layer from its source: class, class label, properties, table extras."""
    label_case = ("CASE " + " ".join(f"WHEN ({source.cls}) = {_literal(k)} THEN {_literal(v)}"
                                     for k, v in class_labels.items()) + " END")
    props = [OgcProperty("class", source.cls, title="图层分类", enum=source.classes),
             OgcProperty("class_label", label_case, title="图层分类名称")]
    for name, expr in source.props:
        kind, prop_title = _KNOWN_PROPS.get(name, ("string", name))
        props.append(OgcProperty(name, expr, kind, prop_title))
    extras, datetime_prop = TABLE_EXTRAS.get(source.table, ((), None))
    taken = {p.name for p in props}
    props.extend(p for p in extras if p.name not in taken)
    return OgcCollection(
        id=collection_id, title=title, description=description or f"{title}（点）",
        from_sql=source.from_sql, scope_sql=f'{unit_id_in_scope("t.unit_id")} AND {source_in_department(source)}',
        where=source.where,
        properties=tuple(props), datetime=datetime_prop,
    )


# --- queries -----------------------------------------------------------------------------------


def _conditions(c: OgcCollection, q: ItemsQuery, params: dict[str, Any]) -> str:
    """WHERE of an items request: constant filter, scope, bbox (features without geometry match), filters, time."""
    parts = [f"({c.where})", c.scope_sql]
    if q.boxes:
        boxes = []
        for i, (w, s, e, n) in enumerate(q.boxes):
            params.update({f"bw{i}": w, f"bs{i}": s, f"be{i}": e, f"bn{i}": n})
            boxes.append(f"{c.geom_sql} && ST_MakeEnvelope(:bw{i}, :bs{i}, :be{i}, :bn{i}, 4326)")
        parts.append(f"({' OR '.join(boxes)} OR {c.geom_sql} IS NULL)")
    for i, (name, value) in enumerate(q.filters):
        params[f"f{i}"] = value
        parts.append(f"({c.prop(name).sql}) = :f{i}")
    if q.interval is not None and c.datetime is not None:
        column = c.prop(c.datetime).sql
        bounds = []
        if q.interval[0] is not None:
            params["t0"] = q.interval[0]
            bounds.append(f"({column}) >= :t0")
        if q.interval[1] is not None:
            params["t1"] = q.interval[1]
            bounds.append(f"({column}) <= :t1")
        if bounds:  # features without a date match any interval (/req/core/fc-time-response C)
            parts.append(f"(({column}) IS NULL OR ({' AND '.join(bounds)}))")
    return " AND ".join(parts)


def _feature_sql(c: OgcCollection, alias: str = "q") -> str:
    return (f"json_build_object('type', 'Feature', 'id', {alias}.fid, "
            f"'geometry', ST_AsGeoJSON({alias}.g, {GEOJSON_DIGITS})::json, 'properties', {alias}.p)")


def items(conn: Connection, *, scope: str, collection: OgcCollection, query: ItemsQuery
          ) -> tuple[int | None, int, str, bool]:
    """Return (numberMatched, numberReturned, JSON array text of the page's features, more after this page).

    Features are ordered by id; the page is ``query.limit`` features from ``query.offset``, read with one feature
    more to tell whether a next page exists. ``numberMatched`` (optional in the standard) is exact or None: the
    page's end when it is the last page, a count when the whole selection may hold at most
    :data:`MATCH_COUNT_CAP` features (stopped after that many), None beyond — counting a city's million enterprises
    cost 25 times a 1,000-feature page, and even a count stopped at 10,001 a fifth of it.
    """
    c = collection
    params: dict[str, Any] = {"limit": query.limit, "offset": query.offset, **scope_params(scope)}
    where = _conditions(c, query, params)
    sql = f"""
SELECT count(*) AS n, coalesce(json_agg({_feature_sql(c)} ORDER BY q.fid) FILTER (WHERE q.k <= :limit),
                               '[]'::json)::text AS features
FROM (
    SELECT r.*, row_number() OVER (ORDER BY r.fid) AS k FROM (
        SELECT {c.id_sql} AS fid, {c.geom_sql} AS g, json_build_object({c.props_sql}) AS p
        FROM {c.from_sql} WHERE {where}
        ORDER BY {c.id_sql} LIMIT :limit + 1 OFFSET :offset
    ) r
) q
"""  # noqa: S608 - constant SQL of the collection record and the scope fragment; values bound
    fetched, features = conn.execute(text(sql), params).one()
    more = int(fetched) > query.limit
    returned = min(int(fetched), query.limit)
    matched: int | None = None
    if not more and (returned or not query.offset):
        matched = query.offset + returned
    elif query.offset + query.limit < MATCH_COUNT_CAP or not returned:
        counted = conn.execute(text(
            f"SELECT count(*) FROM (SELECT 1 FROM {c.from_sql} WHERE {where} LIMIT :cap) m"  # noqa: S608
        ), {**params, "cap": MATCH_COUNT_CAP + 1}).scalar_one()
        matched = int(counted) if counted <= MATCH_COUNT_CAP else None
    return matched, returned, str(features), more


def item(conn: Connection, *, scope: str, collection: OgcCollection, feature_id: str | int) -> str | None:
    """Return one feature of ``collection`` as GeoJSON text, or None when it does not exist inside ``scope``."""
    c = collection
    sql = f"""
SELECT {_feature_sql(c)}::text FROM (
    SELECT {c.id_sql} AS fid, {c.geom_sql} AS g, json_build_object({c.props_sql}) AS p
    FROM {c.from_sql} WHERE ({c.where}) AND {c.scope_sql} AND {c.id_sql} = :fid
) q
"""  # noqa: S608 - constant SQL of the collection record and the scope fragment; values bound
    return conn.execute(text(sql), {"fid": feature_id, **scope_params(scope)}).scalar()


def extents(conn: Connection, *, scope: str, collections: list[OgcCollection]) -> dict[str, Extent]:
    """Return the extent of each collection inside ``scope`` (one statement; exact, so it scans each collection)."""
    if not collections:
        return {}
    parts = []
    for i, c in enumerate(collections):
        temporal = c.prop(c.datetime).sql if c.datetime else "NULL::date"
        parts.append(
            f"SELECT {i} AS i, ST_XMin(x.e) AS w, ST_YMin(x.e) AS s, ST_XMax(x.e) AS e, ST_YMax(x.e) AS n, "  # noqa: S608
            f"x.t0, x.t1, x.k FROM (SELECT ST_Extent({c.geom_sql}) AS e, min({temporal}) AS t0, "
            f"max({temporal}) AS t1, count(*) AS k FROM {c.from_sql} WHERE ({c.where}) AND {c.scope_sql}) x"
        )
    sql = " UNION ALL ".join(parts)
    out: dict[str, Extent] = {}
    for row in conn.execute(text(sql), scope_params(scope)).mappings():
        c = collections[int(row["i"])]
        bbox = (row["w"], row["s"], row["e"], row["n"]) if row["w"] is not None else None
        interval = (row["t0"], row["t1"]) if c.datetime and row["k"] else None
        out[c.id] = Extent(bbox=bbox, interval=interval)
    return out


def _export_sql(c: OgcCollection, where: str) -> str:
    columns = ", ".join(f'{p.sql} AS "{p.name}"' for p in c.properties)
    return (f"SELECT ST_AsBinary({c.geom_sql}) AS wkb, {columns} FROM {c.from_sql} "  # noqa: S608 - constant SQL
            f"WHERE {where} ORDER BY {c.id_sql} LIMIT :limit")


def export_rows(conn: Connection, *, scope: str, collection: OgcCollection,
                boxes: tuple[tuple[float, float, float, float], ...], limit: int) -> list[dict[str, Any]]:
    """Return up to ``limit`` features of ``collection`` in ``scope`` and ``boxes`` for a file export.

    Each row has ``wkb`` (the geometry as WKB, None without) and one column per property, typed as stored.
    """
    params: dict[str, Any] = {"limit": limit, **scope_params(scope)}
    where = _conditions(collection, ItemsQuery(limit=limit, boxes=boxes), params)
    return [dict(r) for r in conn.execute(text(_export_sql(collection, where)), params).mappings()]


def export_columns(conn: Connection, *, scope: str, collection: OgcCollection,
                   boxes: tuple[tuple[float, float, float, float], ...], limit: int
                   ) -> tuple[list[bytes | None], dict[str, list[Any]]]:
    """:func:`export_rows` as columns: the WKB geometries and each property's values, in the same order.

    Read with the driver's cursor: a county's 100k+ features as SQLAlchemy rows and then dicts cost more than
    the query (``docs/benchmarks.md``, the GeoPackage export against ``ogr2ogr``).
    """
    params: dict[str, Any] = {"limit": limit, **scope_params(scope)}
    where = _conditions(collection, ItemsQuery(limit=limit, boxes=boxes), params)
    statement = text(_export_sql(collection, where)).compile(dialect=conn.dialect)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(str(statement), params)
    rows = cursor.fetchall()
    names = [p.name for p in collection.properties]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in range(len(names) + 1)]
    wkb = [None if v is None else bytes(v) for v in columns[0]]
    return wkb, {name: list(values) for name, values in zip(names, columns[1:], strict=True)}
