"""Boundary geometries made fit to store, and a report of what was changed per feature.

A polygon is stored valid, 2D and as a MultiPolygon. Invalid input is repaired with GEOS ``MakeValid``
(shapely.make_valid, the algorithm of PostGIS ``ST_MakeValid``, method ``linework``): every part of
the area the rings draw is kept, so a bow-tie becomes two triangles. ``buffer(0)`` is not used: it
drops the part of a bow-tie whose ring runs the other way. What the repair leaves as lines or points
(collapsed spikes, zero-width slivers) is dropped and counted; a feature that keeps no area is refused.
Areas are geodesic (GRS 80, km²) so the report reads like the ``area_km2`` stored for the unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon

_GEOD = Geod(ellps="GRS80")
POLYGONAL = ("Polygon", "MultiPolygon")


@dataclass(frozen=True)
class Repair:
    """What was changed in one feature's geometry (for the run's findings and the printed report)."""

    row_number: int
    code: str | None
    problem: str  # what was wrong (GEOS' reason, or the type)
    parts_before: int
    parts_after: int
    area_before_km2: float
    area_after_km2: float
    dropped: int = 0  # parts dropped: collapsed to lines/points, or non-polygons of a collection

    @property
    def area_change(self) -> str:
        """The area change in words: before → after (relative change when the input had an area)."""
        text = f"{self.area_before_km2:.4f} → {self.area_after_km2:.4f} km²"
        if self.area_before_km2 > 0:
            text += f" ({(self.area_after_km2 - self.area_before_km2) / self.area_before_km2:+.2%})"
        return text

    def describe(self) -> str:
        """One line: the problem, the parts and the area before and after."""
        dropped = f"，丢弃非面/退化部分 {self.dropped} 个" if self.dropped else ""
        return (f"几何无效 ({self.problem})，已修复 (MakeValid)：部件 {self.parts_before} → {self.parts_after}"
                f"{dropped}，面积 {self.area_change}")


def area_km2(geom: Any) -> float:
    """Geodesic area in km² (each polygon's rings as drawn; 0 for what has no area)."""
    total = 0.0
    for part in _polygons(geom):
        total += abs(_GEOD.geometry_area_perimeter(part)[0])
    return total / 1e6


def _polygons(geom: Any) -> list[Polygon]:
    """Return the non-empty polygons in ``geom`` (collections flattened)."""
    if geom is None or geom.is_empty:
        return []
    if geom.geom_type == "Polygon":
        return [geom]
    if geom.geom_type in ("MultiPolygon", "GeometryCollection"):
        return [p for g in geom.geoms for p in _polygons(g)]
    return []


def _count_parts(geom: Any) -> int:
    if geom is None or geom.is_empty:
        return 0
    if hasattr(geom, "geoms"):
        return sum(_count_parts(g) for g in geom.geoms)
    return 1


def prepare(geom: Any, *, row_number: int, code: str | None) -> tuple[Any, Repair | None, str | None]:
    """Return (geometry to store, repair report or None, refusal or None) for one feature."""
    if geom is None or shapely.is_empty(geom):
        return None, None, "几何为空"
    if shapely.has_z(geom):
        geom = shapely.force_2d(geom)
    kind = geom.geom_type
    if kind not in (*POLYGONAL, "GeometryCollection"):
        return None, None, f"几何类型为 {kind}，应为面 (Polygon/MultiPolygon)"
    problem = None
    dropped = 0
    work = geom
    if kind == "GeometryCollection":
        polygons = _polygons(geom)
        dropped = _count_parts(geom) - len(polygons)
        if not polygons:
            return None, None, "几何集合中没有面 (Polygon/MultiPolygon)"
        work = MultiPolygon(polygons)
        problem = f"几何集合 (GeometryCollection)，取出面 {len(polygons)} 个"
    if not work.is_valid:
        problem = str(shapely.is_valid_reason(work))
        fixed = shapely.make_valid(work)
        polygons = _polygons(fixed)
        dropped += _count_parts(fixed) - len(polygons)
        work = MultiPolygon(polygons) if polygons else None
    if work is None or shapely.area(work) <= 0:
        reason = problem or "面积为 0"
        return None, None, f"几何无效且无法修复：{reason}，修复后没有面积 (退化的面)"
    if problem is None:
        return work, None, None
    repair = Repair(row_number, code, problem, _count_parts(geom), _count_parts(work), area_km2(geom),
                    area_km2(work), dropped)
    return work, repair, None
