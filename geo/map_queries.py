"""SQL of the command map: drill-down units, breadcrumb, duty roster, open hazards and point layers.

Every function takes the caller's ``scope`` (a unit path, see :mod:`geo.scope`) and returns nothing
outside it. Polygon GeoJSON is assembled in SQL (``json_agg``) so the web layer streams one text
value; point layers are raw when the viewport holds few points and aggregated on a snap grid
otherwise, so no response grows with the size of the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, text

from domain import labels
from domain.crs import BBox
from geo.paging import COUNT_CAP, capped_count
from geo.refresh import staffing
from geo.rows import Crumb, OpenHazardRow, OpenHazards, UnitStatsRow, UnitView
from geo.scope import (
    DEPT_PARAM,
    enterprise_id_in_department,
    enterprise_in_department,
    path_in_scope,
    scope_department,
    scope_params,
    unit_id_in_scope,
)
from geo.units import open_in_subtree

PointKind = str  # a built-in point layer: a key of POINT_SOURCES
RAW_POINT_LIMIT = 2500  # above this many points in the viewport the layer is aggregated
MAX_CELLS_ACROSS = 48  # aggregation never yields more than ~48 x 48 cells, whatever the bbox
CELL_PIXELS = 56  # target aggregation cell size on screen

_STAT_COLUMNS = (
    "children", "enterprises", "ent_red", "ent_orange", "ent_yellow", "ent_blue", "ent_unassessed",
    "hazards_open", "hazards_overdue", "hazards_major_open", "hazards_supervised",
    "sources_g1", "sources_g2", "sources_g3", "sources_g4", "persons_present", "persons_required",
    "vacancies_subtree", "last_inspection_at", "inspection_overdue", "risk_score", "risk_class",
)
_STATS_SELECT = ", ".join(f's."{c}"' for c in _STAT_COLUMNS)
_CADENCE_COLUMNS = ("cadence", "cadence_period", "cadence_done", "cadence_streak")

# A short label for the map: drop the 居委会/村委会 suffix, and the village name from grid names.
_LABEL_SQL = (
    "coalesce(c.\"short_name\", CASE WHEN c.\"level\" = 5 AND p.\"name\" IS NOT NULL "
    "THEN nullif(replace(c.\"name\", regexp_replace(p.\"name\", '(居委会|村委会)$', ''), ''), '') END, "
    "regexp_replace(c.\"name\", '(社区居委会|居委会|村委会)$', '\\1'))"
)


def unit_view(conn: Connection, *, scope: str, code: str) -> UnitView | None:
    """Return a unit with stats, bounds and display flags, or None when it is not inside ``scope``."""
    sql = (
        'SELECT u."id", u."code", u."name", u."level", u."kind", u."path", u."is_demo_geometry", '  # noqa: S608 - scope fragment; values bound
        'u."area_km2", s."unit_id" IS NOT NULL AS has_stats, s."refreshed_at", '
        f"{_STATS_SELECT}, "
        'ST_XMin(b.env) AS west, ST_YMin(b.env) AS south, ST_XMax(b.env) AS east, ST_YMax(b.env) AS north, '
        '(SELECT count(*) FROM "units" k WHERE k."parent_id" = u."id") AS child_count, '
        '(SELECT bool_or(k."is_demo_geometry") FROM "units" k WHERE k."parent_id" = u."id") AS demo_children, '
        'cad."cadence", cad."period_start" AS cadence_period, cad."done" AS cadence_done, '
        'cad."streak" AS cadence_streak '
        'FROM "units" u LEFT JOIN "unit_stats" s ON s."unit_id" = u."id" '
        'LEFT JOIN "unit_cadence" cad ON cad."id" = u."id" '
        'CROSS JOIN LATERAL (SELECT ST_Envelope(coalesce(u."geom_display", u."geom")) AS env) b '
        f'WHERE u."code" = :code AND {path_in_scope("u.path")}'
    )
    row = conn.execute(text(sql), {"code": code, **scope_params(scope)}).mappings().one_or_none()
    if row is None:
        return None
    columns = (*_STAT_COLUMNS, *_CADENCE_COLUMNS)
    stats = UnitStatsRow(**{c: row[c] for c in columns}) if row["has_stats"] else None  # type: ignore[typeddict-item]
    has_bounds = row["west"] is not None
    return UnitView(
        id=row["id"], code=row["code"], name=row["name"], level=row["level"], kind=row["kind"], path=row["path"],
        area_km2=row["area_km2"], refreshed_at=row["refreshed_at"], stats=stats,
        bounds=[[row["south"], row["west"]], [row["north"], row["east"]]] if has_bounds else None,
        child_count=row["child_count"], demo_geometry=bool(row["is_demo_geometry"] or row["demo_children"]),
    )


def scope_root(conn: Connection, *, scope: str) -> str | None:
    """Return the code of the unit the scope is rooted at."""
    sql = 'SELECT "code" FROM "units" WHERE "path" = :scope'
    return conn.execute(text(sql), scope_params(scope)).scalar()


def breadcrumb(conn: Connection, *, scope: str, code: str) -> list[Crumb]:
    """Return the unit's ancestors inside ``scope`` and the unit itself, top-down (市 › 县 › 乡镇 › 村 › 网格)."""
    # One round trip: the ancestors are the codes of the unit's own path (empty when it is outside the scope).
    sql = (
        'SELECT a."code", a."name", a."level" FROM "units" t '  # noqa: S608 - scope fragment; values bound
        """JOIN "units" a ON a."code" = ANY(string_to_array(rtrim(t."path", '.'), '.')) """
        f'WHERE t."code" = :code AND {path_in_scope("t.path")} AND {path_in_scope("a.path")} ORDER BY a."level"'
    )
    rows = conn.execute(text(sql), {"code": code, **scope_params(scope)}).mappings()
    return [Crumb(code=r["code"], name=r["name"], level=r["level"]) for r in rows]


def _unit_path(conn: Connection, *, scope: str, code: str) -> str | None:
    sql = f'SELECT "path" FROM "units" WHERE "code" = :code AND {path_in_scope("path")}'  # noqa: S608
    return conn.execute(text(sql), {"code": code, **scope_params(scope)}).scalar()


def children_geojson(conn: Connection, *, scope: str, code: str) -> str | None:
    """Return FeatureCollection text of the units to draw for ``code``: its children, or itself when it is a leaf.

    Each unit is a polygon feature (``geom_display``, falling back to ``geom``) plus a label point
    feature (``label_point``, falling back to a point on the surface) with ``kind: "label"``.
    None when ``code`` is outside ``scope``.
    """
    # One round trip: the target is resolved inside the scope, and no row comes back when it is not.
    sql = f"""
WITH target AS (
    SELECT t."id", t."path" FROM "units" t WHERE t."code" = :code AND {path_in_scope("t.path")}
), shown AS (
    SELECT c.* FROM "units" c, target
    WHERE {path_in_scope("c.path")} AND (
        c."parent_id" = target."id"
        OR (c."id" = target."id" AND NOT EXISTS (SELECT 1 FROM "units" k WHERE k."parent_id" = c."id")))
)
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(f ORDER BY o), '[]'::json))::text
FROM (
    SELECT 0 AS o, json_build_object(
        'type', 'Feature', 'id', c."code",
        'geometry', ST_AsGeoJSON(coalesce(c."geom_display", c."geom"), 6)::json,
        'properties', json_build_object(
            'kind', 'unit', 'code', c."code", 'name', c."name", 'level', c."level",
            'risk', s."risk_class", 'enterprises', s."enterprises", 'open', s."hazards_open",
            'overdue', s."hazards_overdue", 'major', s."hazards_major_open",
            'mark', coalesce(s."ent_red" > 0 OR s."hazards_major_open" > 0, false))) AS f
    FROM shown c LEFT JOIN "unit_stats" s ON s."unit_id" = c."id"
    WHERE coalesce(c."geom_display", c."geom") IS NOT NULL
    UNION ALL
    SELECT 1, json_build_object(
        'type', 'Feature', 'id', 'label-' || c."code",
        'geometry', ST_AsGeoJSON(coalesce(c."label_point", ST_PointOnSurface(c."geom")), 6)::json,
        'properties', json_build_object('kind', 'label', 'code', c."code", 'label', {_LABEL_SQL},
            'mark', coalesce(s."ent_red" > 0 OR s."hazards_major_open" > 0, false)))
    FROM shown c LEFT JOIN "units" p ON p."id" = c."parent_id" LEFT JOIN "unit_stats" s ON s."unit_id" = c."id"
    WHERE coalesce(c."label_point", c."geom") IS NOT NULL
) q
HAVING EXISTS (SELECT 1 FROM target)
"""  # noqa: S608 - scope fragment and constant expressions; values bound
    return conn.execute(text(sql), {"code": code, **scope_params(scope)}).scalar()


def child_units(conn: Connection, *, scope: str, code: str) -> list[dict[str, Any]]:
    """Return the direct children of ``code`` inside ``scope`` with their subtree KPIs, by code."""
    sql = (
        'SELECT c."code", c."name", c."level", c."kind", s."unit_id" IS NOT NULL AS has_stats, '  # noqa: S608 - scope fragment; values bound
        f"{_STATS_SELECT} "
        'FROM "units" c JOIN "units" p ON p."id" = c."parent_id" '
        'LEFT JOIN "unit_stats" s ON s."unit_id" = c."id" '
        f'WHERE p."code" = :code AND {path_in_scope("c.path")} AND {path_in_scope("p.path")} '
        'ORDER BY c."code"'
    )
    rows = conn.execute(text(sql), {"code": code, **scope_params(scope)}).mappings()
    out = []
    for r in rows:
        item = dict(r)
        item["stats"] = {c: item.pop(c) for c in _STAT_COLUMNS} if item.pop("has_stats") else None
        out.append(item)
    return out


def duty_roster(conn: Connection, *, scope: str, code: str, on: date | None = None) -> dict[str, Any] | None:
    """Return the persons on duty for unit ``code`` (by role, seq) and the vacancies against the required slots.

    The slots are the staffing rule in force (``app_config`` ``staffing``, /admin/rules), as the refresh and
    /coverage count them.
    """
    sql = (
        'SELECT u."level", d."role", d."seq", p."name", p."phone", p."org", p."title", d."since" '  # noqa: S608 - scope fragment; values bound
        'FROM "units" u LEFT JOIN "duties" d ON d."unit_id" = u."id" '
        'AND (d."until" IS NULL OR d."until" >= coalesce(:on, current_date)) '
        'AND (d."since" IS NULL OR d."since" <= coalesce(:on, current_date)) '
        'LEFT JOIN "persons" p ON p."id" = d."person_id" '
        f'WHERE u."code" = :code AND {path_in_scope("u.path")} '
        f"ORDER BY array_position(ARRAY[{labels.DUTY_ROLE.sql_list()}]::text[], "
        'd."role"::text), d."seq"'
    )
    rows = conn.execute(text(sql), {"code": code, "on": on, **scope_params(scope)}).mappings().all()
    if not rows:
        return None
    level = int(rows[0]["level"])
    persons = [
        {k: r[k] for k in ("role", "seq", "name", "phone", "org", "title", "since")}
        for r in rows if r["role"] is not None
    ]
    required = dict(staffing(conn).get(level, {}))
    present: dict[str, int] = {}
    for p in persons:
        present[p["role"]] = present.get(p["role"], 0) + 1
    vacancies = {role: n - present.get(role, 0) for role, n in required.items() if present.get(role, 0) < n}
    return {"level": level, "persons": persons, "required": required, "vacancies": vacancies}


# The list's order: overdue first, then deadline today or later, then no deadline; major before general in each;
# then by deadline and id. As six groups (``grp`` 0-5 below), each can be read in (deadline, id) order up to
# the page's end: a top-N the open-deadline index serves, for a subtree of many open hazards; in a smaller one
# that index's order mostly passes other units' hazards, so there the subtree's rows are sorted and counted in one
# pass (ix_hazards_open per unit). Measured at 1M / 3M (bench/bench_scope_reads.py and by hand), sorted whole vs
# grouped: city (318k open) 530-670 vs 40-90 ms, a county of 79k 540-590 vs 87-90, one of 55k 126-151 vs 194-211,
# a township of 48k 131 vs 186-190, a county of 28k 78-91 vs 258-354 ms.
_OPEN_GROUPS = tuple(
    f'{when} AND h."level" {"=" if major else "<>"} \'major\''
    for when in ('h."deadline" < current_date', 'h."deadline" >= current_date', 'h."deadline" IS NULL')
    for major in (True, False)
)
_OPEN_GROUP = ('(CASE WHEN h."deadline" < current_date THEN 0 WHEN h."deadline" >= current_date THEN 2 ELSE 4 END '
               '+ CASE WHEN h."level" = \'major\' THEN 0 ELSE 1 END)')
GROUPED_FROM = 60_000  # open hazards in the subtree (unit_stats, the last roll-up) from which the groups are read


def open_hazards(conn: Connection, *, scope: str, code: str, limit: int = 100, offset: int = 0,
                 grouped: bool | None = None) -> OpenHazards | None:
    """Return a page of the open hazards of the subtree of ``code`` and their total (also past the last page).

    The order: overdue, major, then by deadline; ``limit`` hazards from ``offset``. ``grouped`` (None: when the
    subtree has :data:`GROUPED_FROM` open hazards or more): the page is read group by group and the total
    counted up to :data:`~geo.paging.COUNT_CAP` past the page (-1: more); else both in one pass, exactly.
    """
    path = _unit_path(conn, scope=scope, code=code)
    if path is None:
        return None
    from_where = (
        'FROM "hazards" h JOIN "units" u ON u."id" = h."unit_id" '
        'WHERE h."status" <> \'closed\' AND u."path" LIKE :path || \'%\' '
        f'AND {path_in_scope("u.path")} AND {enterprise_id_in_department("h.enterprise_id")}'
    )
    offset = max(offset, 0)
    params: dict[str, Any] = {"path": path, "limit": limit, "offset": offset, "upto": offset + limit,
                              **scope_params(scope)}
    if grouped is None:
        grouped = open_in_subtree(conn, path=path) >= GROUPED_FROM
    if grouped:
        params["total"] = capped_count(conn, from_where, params, offset=offset, limit=limit, count_cap=COUNT_CAP)
        groups = " UNION ALL ".join(f'(SELECT h."id", {i} AS grp, h."deadline" {from_where} AND {cond} '
                                    'ORDER BY h."deadline", h."id" LIMIT :upto)' for i, cond in enumerate(_OPEN_GROUPS))
        ctes, total = f"top AS MATERIALIZED (SELECT * FROM ({groups}) g", "CAST(:total AS bigint)"  # noqa: S608
    else:
        ctes = (f'open AS MATERIALIZED (SELECT h."id", {_OPEN_GROUP} AS grp, h."deadline" {from_where}), '  # noqa: S608
                'top AS (SELECT * FROM open')
        total = "(SELECT count(*) FROM open)"
    sql = f"""
WITH {ctes} ORDER BY grp, "deadline", "id" LIMIT :limit OFFSET :offset)
SELECT h."id", h."code", h."title", h."level", h."status", h."deadline", h."found_at", h."supervision_level",
       greatest(current_date - h."deadline", 0) AS days_overdue, h."deadline" < current_date AS overdue,
       e."name" AS enterprise, u."code" AS unit_code, u."name" AS unit_name, ST_X(h."geom") AS lon,
       ST_Y(h."geom") AS lat, c.total
FROM (SELECT {total} AS total) c
LEFT JOIN (top t JOIN "hazards" h ON h."id" = t."id" JOIN "units" u ON u."id" = h."unit_id"
           LEFT JOIN "enterprises" e ON e."id" = h."enterprise_id") ON true
ORDER BY t.grp, t."deadline", t."id"
"""  # noqa: S608 - fixed fragments; values bound
    rows = conn.execute(text(sql), params).mappings().all()  # one row at least: the total
    fields = OpenHazardRow.__annotations__
    return OpenHazards(total=int(rows[0]["total"]),
                       items=[OpenHazardRow(**{k: r[k] for k in fields}) for r in rows if r["id"] is not None])  # type: ignore[typeddict-item]


def hazard_location(conn: Connection, *, scope: str, hazard_id: int) -> dict[str, Any] | None:
    """Locate hazard ``hazard_id`` (lon/lat and its grid cell), or None outside ``scope``."""
    sql = (
        'SELECT h."id", h."code", h."title", u."code" AS unit_code, '  # noqa: S608 - scope fragment; values bound
        'ST_X(coalesce(h."geom", e."geom")) AS lon, ST_Y(coalesce(h."geom", e."geom")) AS lat '
        'FROM "hazards" h JOIN "units" u ON u."id" = h."unit_id" '
        'LEFT JOIN "enterprises" e ON e."id" = h."enterprise_id" '
        f'WHERE h."id" = :id AND {path_in_scope("u.path")} AND {enterprise_in_department("e")}'
    )
    row = conn.execute(text(sql), {"id": hazard_id, **scope_params(scope)}).mappings().one_or_none()
    return dict(row) if row else None


# --- point layers -------------------------------------------------------------------------------

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Rollup:
    """The refreshed ``unit_stats`` columns (alias ``s``) that count a point layer per unit subtree."""

    total: str  # SQL expression of the count
    classes: tuple[tuple[str, str], ...]  # (class key, SQL expression of its count); classes may overlap


@dataclass(frozen=True)
class PointSource:
    """Where a point layer's rows come from, as data: its raw, count, grid and roll-up SQL all derive from it.

    The table is aliased ``t`` and has ``id``, ``geom`` (points in EPSG:4326 with a GiST index) and
    ``unit_id`` (the scope filter). The expressions are constant SQL of a layer's author, never user
    input; table, property and class names are checked because they are spliced in as literals.
    A layer record (:mod:`layers.registry`) adds the title, labels, colours and legend.
    """

    table: str
    cls: str  # SQL expression of a point's class: one of ``classes``
    classes: tuple[str, ...]  # class keys, most severe first
    props: tuple[tuple[str, str], ...]  # (feature property, SQL expression) of a raw point
    joins: str = ""  # further FROM items, e.g. a JOIN for the enterprise's name
    where: str = "TRUE"
    rollup: Rollup | None = None  # without: above the raw limit, grid aggregation only
    # Alias of the enterprise a point belongs to (``t`` itself, or a joined ``e``), for the department scope;
    # None: the points belong to no enterprise, and a department account sees none of them.
    enterprise: str | None = None

    def __post_init__(self) -> None:
        """Refuse names that could not be spliced in safely, and roll-up classes that are not classes."""
        names = [self.table, *self.classes, *self.prop_names, *([self.enterprise] if self.enterprise else [])]
        bad = [n for n in names if not _NAME.match(n)]
        if bad:
            raise ValueError(f"not a plain lower-case name: {bad}")
        extra = {k for k, _ in self.rollup.classes} - set(self.classes) if self.rollup else set()
        if extra:
            raise ValueError(f"roll-up classes that are not classes of the source: {sorted(extra)}")

    @property
    def prop_names(self) -> tuple[str, ...]:
        """Names of the properties of a raw point (besides ``id`` and ``cls``)."""
        return tuple(name for name, _ in self.props)

    @property
    def from_sql(self) -> str:
        """The FROM clause: the table as ``t`` and its joins."""
        return f'"{self.table}" t {self.joins}'

    @property
    def props_sql(self) -> str:
        """``json_build_object`` arguments of the properties."""
        return ", ".join(f"'{name}', {expr}" for name, expr in self.props)


_WITH_ENTERPRISE = 'JOIN "enterprises" e ON e."id" = t."enterprise_id"'

# The built-in point layers by kind; their layer records (title, labels, colours, legend) are in
# layers/registry.py, which may add sources of its own.
POINT_SOURCES: dict[str, PointSource] = {
    "enterprises": PointSource(
        table="enterprises", enterprise="t",
        cls="coalesce(t.\"risk_level\", 'none')",
        classes=("red", "orange", "yellow", "blue", "none"),
        props=(("name", 't."name"'), ("industry", 't."industry"')),
        rollup=Rollup('s."enterprises"', (("red", 's."ent_red"'), ("orange", 's."ent_orange"'),
                                           ("yellow", 's."ent_yellow"'), ("blue", 's."ent_blue"'),
                                           ("none", 's."ent_unassessed"'))),
    ),
    "sources": PointSource(
        table="hazard_sources", joins=_WITH_ENTERPRISE, enterprise="e",
        cls="'g' || coalesce(t.\"grade\", 4)",
        classes=("g1", "g2", "g3", "g4"),
        props=(("name", 't."name"'), ("enterprise", 'e."name"')),
        rollup=Rollup('s."sources_g1" + s."sources_g2" + s."sources_g3" + s."sources_g4"',
                      tuple((f"g{g}", f's."sources_g{g}"') for g in (1, 2, 3, 4))),
    ),
    "hazards": PointSource(
        table="hazards", joins=f"LEFT {_WITH_ENTERPRISE}", enterprise="e",
        where="t.\"status\" <> 'closed'",
        cls="CASE WHEN t.\"deadline\" < current_date THEN 'overdue' ELSE t.\"level\" END",
        classes=("overdue", "major", "general"),
        props=(("name", 't."title"'), ("enterprise", 'e."name"'), ("deadline", 't."deadline"')),
        # 逾期 counts overdue hazards of both levels, so the classes of a hazard bubble may overlap.
        rollup=Rollup('s."hazards_open"', (("overdue", 's."hazards_overdue"'), ("major", 's."hazards_major_open"'),
                                            ("general", 's."hazards_open" - s."hazards_major_open"'))),
    ),
}
POINT_KINDS: tuple[PointKind, ...] = tuple(POINT_SOURCES)


def point_source(kind: PointKind | PointSource) -> PointSource:
    """Return the source of a built-in ``kind``, or ``kind`` itself when it is already a :class:`PointSource`."""
    return kind if isinstance(kind, PointSource) else POINT_SOURCES[kind]


def _point_where(src: PointSource) -> str:
    return (
        f'{src.where} AND t."geom" && ST_MakeEnvelope(:w, :s, :e, :n, 4326) '
        f'AND {unit_id_in_scope("t.unit_id")} AND {source_in_department(src)}'
    )


def source_in_department(src: PointSource) -> str:
    """Return the department predicate of a source (one of no enterprise shows nothing to a department account)."""
    return enterprise_in_department(src.enterprise) if src.enterprise else f"CAST(:{DEPT_PARAM} AS text) IS NULL"


def cell_size(bbox: BBox, zoom: float) -> float:
    """Return the aggregation cell in degrees: ~CELL_PIXELS on screen, at most MAX_CELLS_ACROSS cells across."""
    at_zoom = 360.0 / (256.0 * 2.0 ** max(0.0, min(zoom, 22.0))) * CELL_PIXELS
    span = max(bbox.east - bbox.west, bbox.north - bbox.south)
    return max(at_zoom, span / MAX_CELLS_ACROSS)


def count_points(conn: Connection, *, scope: str, kind: PointKind | PointSource, bbox: BBox, limit: int) -> int:
    """Count the ``kind`` points in ``bbox`` and ``scope``, counted up to ``limit + 1``."""
    src = point_source(kind)
    sql = f"SELECT count(*) FROM (SELECT 1 FROM {src.from_sql} WHERE {_point_where(src)} LIMIT :lim) q"  # noqa: S608
    return int(conn.execute(text(sql), {"lim": limit + 1, **bbox.params(), **scope_params(scope)}).scalar() or 0)


def _raw_sql(src: PointSource) -> str:
    return f"""
SELECT t."id", ST_X(t."geom") AS lon, ST_Y(t."geom") AS lat, {src.cls} AS cls,
       json_build_object({src.props_sql}) AS props, t."id"::text AS fid,
       json_build_object('id', t."id", 'cls', {src.cls}, {src.props_sql}) AS fprops
FROM {src.from_sql} WHERE {_point_where(src)} ORDER BY t."id" LIMIT :lim
"""  # noqa: S608 - constant SQL of the point source and the scope fragment; values bound


def raw_points(
    conn: Connection, *, scope: str, kind: PointKind | PointSource, bbox: BBox, limit: int
) -> list[dict[str, Any]]:
    """Return the individual points (id, lon, lat, class, name…) of ``kind`` in ``bbox`` and ``scope``."""
    sql = _raw_sql(point_source(kind))
    rows = conn.execute(text(sql), {"lim": limit, **bbox.params(), **scope_params(scope)}).mappings()
    return [dict(r) for r in rows]


def _class_counts(pairs: list[tuple[str, str]]) -> str:
    """JSON object of per-class counts without the zero ones (``nullif`` + ``json_strip_nulls``)."""
    return "json_strip_nulls(json_build_object(" + ", ".join(f"'{k}', nullif({e}, 0)" for k, e in pairs) + "))"


def _grid_sql(src: PointSource) -> str:
    # Integer cell keys and avg() are far cheaper than grouping on ST_SnapToGrid geometries and
    # ST_Centroid(ST_Collect(...)); the per-class counts are FILTERed aggregates of the fixed classes.
    classes = _class_counts([(c, f"count(*) FILTER (WHERE q.cls = '{c}')") for c in src.classes])
    return f"""
SELECT count(*)::int AS n, avg(q.x) AS lon, avg(q.y) AS lat, {classes} AS classes,
       'c' || floor(q.x / :cell)::bigint || '_' || floor(q.y / :cell)::bigint AS fid,
       json_build_object('n', count(*), 'classes', {classes}) AS fprops
FROM (
    SELECT ST_X(t."geom") AS x, ST_Y(t."geom") AS y, {src.cls} AS cls
    FROM {src.from_sql} WHERE {_point_where(src)}
) q
GROUP BY floor(q.x / :cell), floor(q.y / :cell)
"""  # noqa: S608 - constant SQL of the point source, class keys checked by PointSource; values bound


def aggregated_points(
    conn: Connection, *, scope: str, kind: PointKind | PointSource, bbox: BBox, cell: float
) -> list[dict[str, Any]]:
    """Count ``kind`` points in ``bbox`` and ``scope`` per ``cell``° square: count, per-class counts, mean position."""
    sql = _grid_sql(point_source(kind))
    rows = conn.execute(text(sql), {"cell": cell, **bbox.params(), **scope_params(scope)}).mappings()
    return [dict(r) for r in rows]


def point_classes(kind: PointKind | PointSource) -> tuple[str, ...]:
    """Return the classes a point of ``kind`` may carry, most severe first."""
    return point_source(kind).classes


def rollup_level(zoom: float) -> int:
    """Return the unit level whose roll-ups stand for the points at ``zoom`` (county … grid cell)."""
    if zoom < 10:
        return 2
    if zoom < 13:
        return 3
    if zoom < 15:
        return 4
    return 5


def _rollup_sql(rollup: Rollup) -> str:
    total = rollup.total
    counts = _class_counts(list(rollup.classes))
    return f"""
SELECT ({total})::int AS n, ST_X(u."label_point") AS lon, ST_Y(u."label_point") AS lat,
       {counts} AS classes, u."code" AS unit_code, 'u' || u."code" AS fid,
       json_build_object('n', ({total})::int, 'classes', {counts}) AS fprops
FROM "units" u JOIN "unit_stats" s ON s."unit_id" = u."id"
WHERE u."level" = :level AND u."label_point" && ST_MakeEnvelope(:w, :s, :e, :n, 4326)
  AND {path_in_scope("u.path")} AND ({total}) > 0
"""  # noqa: S608 - constant column expressions of the point source and the scope fragment; values bound


def unit_rollup_points(
    conn: Connection, *, scope: str, kind: PointKind | PointSource, bbox: BBox, level: int
) -> list[dict[str, Any]]:
    """Aggregate ``kind`` by unit: ``unit_stats`` counts of the ``level`` units in scope labelled inside ``bbox``.

    Precomputed by the refresh, so it costs the same for 1,000 or 1,000,000 points; the counts are
    those of the last refresh. A source without a roll-up has none (empty list).
    """
    rollup = point_source(kind).rollup
    if rollup is None or scope_department(scope) is not None:  # unit_stats count every department
        return []
    params = {"level": level, **bbox.params(), **scope_params(scope)}
    return [dict(r) for r in conn.execute(text(_rollup_sql(rollup)), params).mappings()]


def _feature_collection(conn: Connection, inner_sql: str, params: dict[str, Any]) -> tuple[int, str]:
    """Run a point query (columns ``fid, lon, lat, fprops``) as one FeatureCollection text; return (features, text)."""
    sql = f"""
SELECT count(*), json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object(
    'type', 'Feature', 'id', q.fid,
    'geometry', json_build_object('type', 'Point', 'coordinates',
                                  json_build_array(round(q.lon::numeric, 6), round(q.lat::numeric, 6))),
    'properties', q.fprops)), '[]'::json))::text
FROM ({inner_sql}) q
"""  # noqa: S608 - wraps the constant point queries above
    n, body = conn.execute(text(sql), params).one()
    return int(n), str(body)


def points_geojson(
    conn: Connection, *, scope: str, kind: PointKind | PointSource, bbox: BBox, zoom: float, limit: int
) -> str:
    """Return the ``kind`` points of a viewport as FeatureCollection text: raw up to ``limit``, else per-unit roll-ups.

    The roll-up level fits the zoom but is never above the scope unit (its path depth is its level);
    grid aggregation is the fallback when no roll-up is labelled in view (or before the first refresh),
    and the only aggregation of a source without roll-up columns.
    """
    src = point_source(kind)
    params: dict[str, Any] = {**bbox.params(), **scope_params(scope)}
    if count_points(conn, scope=scope, kind=src, bbox=bbox, limit=limit) <= limit:
        return _feature_collection(conn, _raw_sql(src), {**params, "lim": limit})[1]
    if src.rollup is not None and scope_department(scope) is None:  # unit_stats count every department
        level = max(rollup_level(zoom), scope.count("."))
        n, body = _feature_collection(conn, _rollup_sql(src.rollup), {**params, "level": level})
        if n:
            return body
    return _feature_collection(conn, _grid_sql(src), {**params, "cell": cell_size(bbox, zoom)})[1]
