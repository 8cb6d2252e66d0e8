"""``safegrid etl refresh``: rebuild the derived layers every map view reads.

1. display geometry per level (``units.geom_display``): shapely ``coverage_simplify`` of each level's
   coverage, so neighbours keep identical shared edges; label points inside them;
2. ``unit_stats`` of every unit's subtree, rolled up by path in one set-based statement;
3. the four-colour class with its explanation (``domain.risk_rule``) and top contributors;
4. H3 aggregates (``h3_stats``) of the same inputs at several resolutions;
5. publish everything in one short transaction (staging tables + DELETE/INSERT/UPDATE), so map
   requests during a refresh read the previous data and never wait.

Open hazards are staged once for steps 2-4; the Python work of steps 1 and 4 runs in a worker
thread beside the SQL of steps 2-3. Numbers at 20k and 1M: ``docs/benchmarks.md``.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import h3.api.numpy_int as h3
import numpy as np
import shapely
from sqlalchemy import Connection, create_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from domain import clock
from domain.risk_rule import RiskRule, explain, rule_from_config
from etl.h3cells import point_cells
from etl.settings import get_etl_settings
from geo import etl_sql
from geo import refresh as sql
from geo.settings import get_settings
from geo.timing import timed

log = logging.getLogger(__name__)

H3_MEASURES = (
    "enterprises", "ent_red", "ent_orange", "ent_yellow", "ent_blue", "hazards_open", "hazards_major_open",
    "hazards_overdue", "sources", "risk_score",
)


class RefreshBusyError(RuntimeError):
    """Another refresh is running on the same database."""


@dataclass
class RefreshResult:
    """Outcome of one refresh: run id, status, rows written and seconds per step."""

    run_id: int
    status: str
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    message: str = ""


# --- pure computations (no database) ------------------------------------------------------------

def display_geometries(
    items: Sequence[tuple[int, int, bytes]], tolerance: Mapping[int, float]
) -> list[tuple[int, str, str]]:
    """Simplify each level as one coverage; return (id, display EWKB hex, label point EWKB hex)."""
    by_level: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
    for uid, level, wkb in items:
        by_level[level].append((uid, wkb))
    out: list[tuple[int, str, str]] = []
    for level, rows in sorted(by_level.items()):
        geoms = shapely.from_wkb([w for _, w in rows])
        tol = tolerance.get(level, 0.0)
        simple = shapely.coverage_simplify(geoms, tol) if tol > 0 else geoms
        labels = shapely.point_on_surface(simple)
        hex_geom = shapely.to_wkb(shapely.set_srid(simple, 4326), hex=True, include_srid=True)
        hex_label = shapely.to_wkb(shapely.set_srid(labels, 4326), hex=True, include_srid=True)
        out.extend(zip([u for u, _ in rows], hex_geom.tolist(), hex_label.tolist(), strict=True))
    return out


def fill_point_h3(conn: Connection) -> int:
    """Give every enterprise, hazard source and hazard point without them its H3 cells (res 6-9); return rows set."""
    written = 0
    for table in sql.POINT_H3_TABLES:
        pts = sql.points_missing_h3(conn, table)
        if not len(pts):
            continue
        cells = point_cells(pts[:, 1], pts[:, 2])
        rows = zip(pts[:, 0].astype(np.int64).tolist(), pts[:, 1].tolist(), pts[:, 2].tolist(),
                   *cells.T.tolist(), strict=True)
        written += sql.store_point_h3(conn, table, rows)
    return written


def h3_measures(points: Mapping[str, np.ndarray], rule: RiskRule) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack every input point as (lon, lat, measures[H3_MEASURES]) for the H3 aggregation."""
    w = rule.weights
    ent, haz, src = points["enterprises"], points["hazards"], points["sources"]
    m_ent = np.zeros((len(ent), len(H3_MEASURES)))
    m_ent[:, 0] = 1
    colour = ent[:, 2].astype(int)
    for k in range(4):
        m_ent[:, 1 + k] = colour == k
    colour_w = np.array([w["ent_red"], w["ent_orange"], w["ent_yellow"], w["ent_blue"], w["ent_unassessed"]])
    m_ent[:, 9] = colour_w[colour]
    m_haz = np.zeros((len(haz), len(H3_MEASURES)))
    m_haz[:, 5] = 1
    m_haz[:, 6] = haz[:, 2]
    m_haz[:, 7] = haz[:, 3]
    m_haz[:, 9] = (w["hazards_open"] + w["hazards_major_open"] * haz[:, 2] + w["hazards_overdue"] * haz[:, 3]
                   + w["hazards_supervised"] * haz[:, 4])
    m_src = np.zeros((len(src), len(H3_MEASURES)))
    m_src[:, 8] = 1
    grade_w = np.array([0.0, w["sources_g1"], w["sources_g2"], w["sources_g3"], w["sources_g4"]])
    m_src[:, 9] = grade_w[src[:, 2].astype(int)]
    lon = np.concatenate([ent[:, 0], haz[:, 0], src[:, 0]])
    lat = np.concatenate([ent[:, 1], haz[:, 1], src[:, 1]])
    return lon, lat, np.vstack([m_ent, m_haz, m_src])


def aggregate_h3(lon: np.ndarray, lat: np.ndarray, measures: np.ndarray,
                 resolutions: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Sum ``measures`` per H3 cell at each resolution: {res: (cells int64, sums (n_cells, n_measures))}.

    Every point is indexed at every resolution (``cell_to_parent`` would follow the logical H3
    hierarchy, whose children do not exactly cover their parent's hexagon), then grouped with numpy
    (``bincount`` adds in point order, like ``np.add.at``, at a fraction of its cost).
    """
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    # each distinct point is indexed once (hazards and sources mostly stand on their enterprise's point)
    per_point = point_cells(lon, lat, resolutions)
    for j, res in enumerate(resolutions):
        cells, inv = np.unique(per_point[:, j], return_inverse=True)
        sums = np.empty((len(cells), measures.shape[1]))
        for j in range(measures.shape[1]):
            sums[:, j] = np.bincount(inv, weights=measures[:, j], minlength=len(cells))
        out[res] = (cells, sums)
    return out


def h3_rows(aggregates: Mapping[int, tuple[np.ndarray, np.ndarray]]) -> list[tuple[Any, ...]]:
    """Rows for ``h3_stats`` (H3_COLUMNS order) with hexagon polygons as hex EWKB."""
    rows: list[tuple[Any, ...]] = []
    for res, (cells, sums) in sorted(aggregates.items()):
        rings = [[(lng, lat) for lat, lng in h3.cell_to_boundary(int(c))] for c in cells.tolist()]  # (lat, lng)!
        polys = shapely.set_srid(shapely.polygons(rings), 4326) if rings else np.empty(0, dtype=object)
        geoms = shapely.to_wkb(polys, hex=True, include_srid=True) if rings else []
        counts = np.rint(sums[:, :9]).astype(np.int64).tolist()  # half to even, like round()
        for cell, count, score, geom in zip(cells.tolist(), counts, sums[:, 9].tolist(), list(geoms), strict=True):
            rows.append((res, h3.int_to_str(int(cell)), *count, round(score, 3), geom))
    return rows


# --- orchestration -------------------------------------------------------------------------------

def _group_top(rows: list[dict[str, Any]]) -> dict[int, dict[str, list[dict[str, Any]]]]:
    out: dict[int, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        item = {"id": r["id"], "code": r["code"], "name": r["label"], "points": round(float(r["points"]), 3)}
        item |= dict(r["extra"] or {})
        out[r["anc_id"]][r["kind"]].append(item)
    return out


def _compute(conn: Connection, *, as_of: date, rule: RiskRule, timings: dict[str, float]) -> dict[str, int]:
    """Fill every staging table (inside the caller's REPEATABLE READ transaction).

    The inputs are read first; the Python work (display simplification, H3 indexing) then runs in a
    worker thread while the database computes the roll-ups and the top contributors (the
    connection waits without the GIL), so the two use both cores. Results do not depend on it.
    """
    settings = get_etl_settings()
    rows: dict[str, int] = {}
    sql.tune(conn)
    with timed(timings, "fetch"):
        geometries = sql.unit_geometries(conn)
        sql.stage_open_hazards(conn, as_of=as_of)  # read by unit_stats, top contributors and H3
        lon, lat, measures = h3_measures(sql.h3_points(conn), rule)

    def python_side() -> tuple[list[tuple[int, str, str]], list[tuple[Any, ...]]]:
        with timed(timings, "display"):
            display = display_geometries(geometries, settings.refresh_display_tolerance)
        with timed(timings, "h3_aggregate"):
            aggregates = aggregate_h3(lon, lat, measures, settings.refresh_h3_resolutions)
        with timed(timings, "h3_rows"):
            return display, h3_rows(aggregates)

    with ThreadPoolExecutor(max_workers=1) as pool:
        job = pool.submit(python_side)
        with timed(timings, "unit_stats"):
            cutoff = sql.stock_cutoff(conn, as_of=as_of, default=settings.refresh_stock_cutoff)
            rows["unit_stats"] = sql.stage_unit_stats(
                conn, as_of=as_of, stock_cutoff=cutoff, cadence=sql.cadence_rule(conn), staffing=sql.staffing(conn)
            )
        with timed(timings, "risk"):
            top = _group_top(sql.top_contributors(conn, as_of=as_of, weights=rule.weights,
                                                  top_n=settings.refresh_top_n))
            risk = []
            for inputs in sql.staged_inputs(conn):
                score, cls, doc = explain(inputs, rule, as_of, top.get(inputs["unit_id"], {}))
                risk.append((inputs["unit_id"], score, cls, doc))
            sql.stage_risk(conn, risk)
        with timed(timings, "wait_python"):
            display, h3_staged = job.result()

    with timed(timings, "stage"):
        rows["units_display"] = sql.stage_display(conn, display)
        rows["h3_stats"] = sql.stage_h3(conn, h3_staged)
    return rows


def refresh_all(
    url: str | None = None, *, as_of: date | None = None, on_swap: Callable[[], None] | None = None
) -> RefreshResult:
    """Refresh every derived layer of the database at ``url`` (default: the project database).

    ``as_of`` is the reference date for overdue hazards and inspections (default today).
    ``on_swap`` is called inside the publishing transaction just before it commits (tests use it
    to check that readers still see the previous data and do not wait).
    """
    as_of = as_of or clock.today()
    timeout = get_etl_settings().statement_timeout_ms
    engine = create_engine(url or get_settings().url(), poolclass=NullPool,
                           connect_args={"options": get_settings().pg_options(timeout)})
    started = time.perf_counter()
    timings: dict[str, float] = {}
    try:
        with engine.connect() as conn:
            if not sql.try_lock(conn):
                conn.rollback()
                raise RefreshBusyError("另一个刷新任务正在运行，请稍后再试")
            conn.commit()
            try:
                with conn.begin():
                    run_id = etl_sql.start_run(conn, job="refresh", source=None, sha256=None,
                                               options={"as_of": as_of.isoformat()})
                try:
                    with timed(timings, "point_h3"), conn.begin():  # its own short transaction
                        point_h3 = fill_point_h3(conn)
                    with timed(timings, "hazard_months"), conn.begin():  # writers wait for it: its own
                        hazard_months = sql.rebuild_hazard_months(conn)
                    rule = rule_from_config(sql.app_config(conn, "risk_rule"))
                    conn.rollback()
                    compute = conn.execution_options(isolation_level="REPEATABLE READ")
                    with compute.begin():  # one snapshot for every input
                        rows = _compute(compute, as_of=as_of, rule=rule, timings=timings)
                    conn.execution_options(isolation_level="READ COMMITTED")
                    with timed(timings, "swap"), conn.begin():
                        written = sql.swap(conn, run_id=run_id)
                        if on_swap is not None:
                            on_swap()
                    with timed(timings, "vacuum"):  # published: the readers' covering indexes stay index-only
                        try:
                            sql.vacuum_ledgers(conn.execution_options(isolation_level="AUTOCOMMIT"))
                        except DBAPIError as exc:  # the refresh is published: a VACUUM that fails only warns
                            log.warning("refresh: VACUUM failed, index-only scans may read the heap: %s", exc)
                        conn.rollback()  # ends SQLAlchemy's autobegun (autocommit) transaction
                        conn.execution_options(isolation_level="READ COMMITTED")
                except Exception as exc:
                    conn.rollback()
                    with conn.begin():
                        etl_sql.finish_run(conn, run_id=run_id, status="failed", rows_in=0, rows_loaded=0,
                                           rows_rejected=0, message=f"刷新失败：{exc}"[:2000])
                    raise
                timings["total"] = time.perf_counter() - started
                total_rows = sum(rows.values())
                message = (f"已刷新：单位统计 {written['unit_stats']} 行，H3 {written['h3_stats']} 格，"
                           f"显示边界 {written['units_display']} 个，用时 {timings['total']:.1f} 秒")
                with conn.begin():
                    etl_sql.finish_run(conn, run_id=run_id, status="ok", rows_in=total_rows, rows_loaded=total_rows,
                                       rows_rejected=0, message=message)
                return RefreshResult(run_id, "ok", rows | {f"written_{k}": v for k, v in written.items()}
                                     | {"point_h3": point_h3, "hazard_months": hazard_months},
                                     {k: round(v, 3) for k, v in timings.items()}, message)
            finally:
                sql.unlock(conn)
                conn.commit()
    finally:
        engine.dispose()
