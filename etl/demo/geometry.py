"""Demo geometry: the real city and county polygons plus synthetic townships, villages and grid cells.

Every generated level is one coverage of the city: all grid cells come from ONE noded linework
(Voronoi edges of seeded points + the county boundaries, snap-rounded on a 1e-6° grid and
polygonized), so neighbouring cells share identical edges; villages are unions of their grid cells
and townships unions of their villages, so children tile their parents exactly.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from importlib import resources

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, shape

from domain.codes import parse_admin_code

GRID = 1e-6  # precision grid in degrees (~0.1 m): every generated coordinate is a multiple of it
DEV_ZONE_CODE = "411071"  # 许昌经济技术开发区: has codes but no polygon in the source data
DEV_ZONE_HOST = "411003"  # carved out of 建安区 …
DEV_ZONE_NEXT_TO = "411002"  # … on the south-east side of 魏都区
URBAN_KINDS = ("subdistrict", "dev_zone", "township_other")


@dataclass
class DemoUnit:
    """One unit of the five-level grid as the demo builder writes it."""

    code: str
    name: str
    level: int
    kind: str
    parent: str | None
    geom: MultiPolygon
    is_demo_geometry: bool

    @property
    def urban(self) -> bool:
        """Tell whether the unit is (or lies in) an urban 街道/开发区-type township."""
        return self.kind in URBAN_KINDS or self.kind == "community"


def _read(name: str) -> str:
    return resources.files("etl").joinpath("demo_data", "xuchang", name).read_text(encoding="utf-8")


def read_csv(name: str) -> list[dict[str, str]]:
    """Rows of one committed reference CSV (codes kept as strings)."""
    return list(csv.DictReader(io.StringIO(_read(name))))


def _multi(geom: shapely.Geometry) -> MultiPolygon:
    """Return the polygonal part of ``geom`` as a MultiPolygon."""
    parts = [g for g in shapely.get_parts(geom) if isinstance(g, Polygon) and not g.is_empty]
    return MultiPolygon(parts)


def real_boundaries() -> dict[str, tuple[str, MultiPolygon]]:
    """Return the committed city and county polygons by code (EPSG:4490, treated as WGS84)."""
    data = json.loads(_read("counties.geojson"))
    out = {}
    for feature in data["features"]:
        props = feature["properties"]
        geom = shapely.set_precision(shape(feature["geometry"]), GRID)
        out[props["code"]] = (props["name"], _multi(geom))
    return out


def carve_dev_zone(host: MultiPolygon, neighbour: MultiPolygon) -> tuple[MultiPolygon, MultiPolygon]:
    """Cut a synthetic 开发区 polygon out of ``host`` along the south-east side of ``neighbour``.

    Returns (host minus zone, zone). The zone is the part of the host within ~5 km of the
    neighbour in a wedge opening to the east and south of the neighbour's centre.
    """
    cx, cy = neighbour.centroid.x, neighbour.centroid.y
    wedge = Polygon([(cx, cy), (cx + 0.5, cy + 0.12), (cx + 0.5, cy - 0.5), (cx - 0.12, cy - 0.5)])
    ring = shapely.difference(shapely.buffer(neighbour, 0.05), neighbour)
    zone = shapely.intersection(shapely.intersection(ring, wedge), host, grid_size=GRID)
    # keep only the largest piece so the zone is one contiguous polygon
    largest = max(shapely.get_parts(zone), key=lambda g: g.area)
    rest = shapely.difference(host, largest, grid_size=GRID)
    return _multi(rest), _multi(largest)


def _sample_in(rng: np.random.Generator, geom: shapely.Geometry, n: int) -> np.ndarray:
    """``n`` uniform random points inside ``geom`` (rejection sampling in bulk)."""
    shapely.prepare(geom)
    x0, y0, x1, y1 = geom.bounds
    out = np.empty((0, 2))
    while len(out) < n:
        m = max(64, 3 * (n - len(out)))
        pts = np.column_stack([rng.uniform(x0, x1, m), rng.uniform(y0, y1, m)])
        out = np.vstack([out, pts[shapely.contains_xy(geom, pts[:, 0], pts[:, 1])]])
    return out[:n]


def _sample_near(rng: np.random.Generator, geom: shapely.Geometry, centre: tuple[float, float],
                 sigma: float, n: int) -> np.ndarray:
    """``n`` random points inside ``geom``, normally distributed around ``centre``."""
    shapely.prepare(geom)
    out = np.empty((0, 2))
    tries = 0
    while len(out) < n:
        m = max(64, 4 * (n - len(out)))
        pts = rng.normal(centre, sigma, size=(m, 2))
        out = np.vstack([out, pts[shapely.contains_xy(geom, pts[:, 0], pts[:, 1])]])
        tries += 1
        if tries > 50:  # the centre is far from the polygon: widen the spread
            sigma *= 1.5
    return out[:n]


def _voronoi(points: np.ndarray, frame: shapely.Geometry) -> np.ndarray:
    """Voronoi cells of ``points`` (in input order) clipped to ``frame``."""
    if len(points) == 1:
        return np.array([frame], dtype=object)
    cells = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=frame, ordered=True)
    return shapely.intersection(np.asarray(shapely.get_parts(cells)), frame)


def _relax(rng: np.random.Generator, points: np.ndarray, frame: shapely.Geometry, rounds: int = 2) -> np.ndarray:
    """Lloyd relaxation: move points half-way to their cell centroids for nicer cell shapes."""
    for _ in range(rounds):
        if len(points) < 2:
            return points
        cells = _voronoi(points, frame)
        centres = shapely.get_coordinates(shapely.point_on_surface(cells))
        points = (points + centres) / 2
    inside = shapely.contains_xy(frame, points[:, 0], points[:, 1])
    if not inside.all():
        points[~inside] = _sample_in(rng, frame, int((~inside).sum()))
    return points


def _assign(points: np.ndarray, cells: np.ndarray) -> list[int]:
    """Index of the cell containing each point (nearest cell for snap-rounding crumbs on an edge)."""
    tree = shapely.STRtree(cells)
    point_idx, cell_idx = tree.query(points, predicate="within")
    chosen = np.full(len(points), -1)
    chosen[point_idx[::-1]] = cell_idx[::-1]  # first match wins
    return [int(c) if c >= 0 else int(tree.nearest(points[i])) for i, c in enumerate(chosen.tolist())]


def _grid_count(rng: np.random.Generator, urban: bool) -> int:
    if urban:
        return int(rng.choice([2, 3, 4, 5, 6], p=[0.15, 0.3, 0.3, 0.15, 0.1]))
    return int(rng.choice([1, 2, 3, 4], p=[0.3, 0.4, 0.2, 0.1]))


def _county_seat(
    code: str, county: MultiPolygon, boundaries: dict[str, tuple[str, MultiPolygon]]
) -> tuple[float, float]:
    if code in (DEV_ZONE_HOST, DEV_ZONE_CODE):  # both wrap around the city centre (魏都区)
        c = boundaries[DEV_ZONE_NEXT_TO][1].centroid
    else:
        c = county.centroid if county.contains(county.centroid) else county.point_on_surface()
    return c.x, c.y


def build_units(seed: int) -> list[DemoUnit]:
    """Generate every unit of the five levels, parents before children, reproducibly from ``seed``."""
    rng = np.random.default_rng([seed, 4110])
    boundaries = real_boundaries()
    host, zone = carve_dev_zone(boundaries[DEV_ZONE_HOST][1], boundaries[DEV_ZONE_NEXT_TO][1])
    counties_csv = read_csv("counties.csv")
    townships = read_csv("townships.csv")
    villages = read_csv("villages.csv")

    city_name, city_geom = boundaries["411000"]
    units = [DemoUnit("411000", city_name, 1, "city", None, city_geom, False)]
    county_geom: dict[str, MultiPolygon] = {}
    for row in counties_csv:
        code = row["code"]
        synthetic = code in (DEV_ZONE_CODE, DEV_ZONE_HOST)
        geom = zone if code == DEV_ZONE_CODE else host if code == DEV_ZONE_HOST else boundaries[code][1]
        county_geom[code] = geom
        units.append(DemoUnit(code, row["name"], 2, parse_admin_code(code).kind, "411000", geom, synthetic))

    villages_of: dict[str, list[dict[str, str]]] = {}
    for v in villages:
        villages_of.setdefault(v["township_code"], []).append(v)

    # grid seeds per county, with the code of the grid cell each seed becomes
    lines = [shapely.boundary(g) for g in county_geom.values()]
    county_cells: dict[str, tuple[np.ndarray, list[tuple[np.ndarray, list[str]]]]] = {}
    grid_parent: dict[str, str] = {}
    for ccode, cgeom in county_geom.items():
        towns = [t for t in townships if t["county_code"] == ccode]
        kinds = [parse_admin_code(t["code"]).kind for t in towns]
        urban = np.array([k in URBAN_KINDS for k in kinds])
        seat = _county_seat(ccode, cgeom, boundaries)
        sigma = 0.12 * float(np.sqrt(cgeom.area))
        pts = np.empty((len(towns), 2))
        if urban.any():
            pts[urban] = _sample_near(rng, cgeom, seat, sigma, int(urban.sum()))
        if (~urban).any():
            far = shapely.difference(cgeom, shapely.buffer(shapely.Point(seat), 1.5 * sigma)) if urban.any() else cgeom
            frame = far if not far.is_empty else cgeom
            pts[~urban] = _relax(rng, _sample_in(rng, frame, int((~urban).sum())), cgeom, 1)
        frames = _voronoi(pts, cgeom)
        # villages: one Voronoi of all the county's village seeds (each seed inside its township frame)
        vseeds: list[np.ndarray] = []
        vcodes: list[str] = []
        vurban: list[bool] = []
        for town, frame, is_urban in zip(towns, frames, urban, strict=True):
            vrows = villages_of[town["code"]]
            vseeds.append(_relax(rng, _sample_in(rng, frame, len(vrows)), frame))
            for vrow in vrows:
                vcodes.append(vrow["code"])
                vurban.append(bool(is_urban) or parse_admin_code(vrow["code"]).kind == "community")
        vcells = _voronoi(np.vstack(vseeds), cgeom)
        lines.append(shapely.boundary(vcells))
        # grid cells: each village split by a Voronoi of 1-6 seeds inside it
        splits: list[tuple[np.ndarray, list[str]]] = []
        for vcode, vcell, is_urban in zip(vcodes, vcells, vurban, strict=True):
            k = _grid_count(rng, is_urban)
            gcells = _voronoi(_sample_in(rng, vcell, k), vcell)
            gcodes = [f"{vcode}{i + 1:02d}" for i in range(k)]
            grid_parent.update(dict.fromkeys(gcodes, vcode))
            splits.append((gcells, gcodes))
            if k > 1:
                lines.append(shapely.boundary(gcells))
        county_cells[ccode] = (vcells, splits)

    # one noded linework for the whole city → faces that share identical edges
    noded = shapely.unary_union(np.concatenate([np.atleast_1d(x) for x in lines]), grid_size=GRID)
    faces = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(noded))))
    reps = shapely.point_on_surface(faces)
    county_codes = list(county_geom)
    county_tree = shapely.STRtree([county_geom[c] for c in county_codes])
    rep_idx, county_idx = county_tree.query(reps, predicate="within")
    face_county = np.full(len(faces), -1)
    face_county[rep_idx] = county_idx
    for f in np.flatnonzero(face_county < 0):  # a crumb on a county edge: nearest county
        face_county[f] = int(county_tree.nearest(reps[f]))
    grid_faces: dict[str, list[Polygon]] = {}
    county_faces: dict[str, list[Polygon]] = {}
    for k, ccode in enumerate(county_codes):
        mask = face_county == k
        masked, mreps = faces[mask], reps[mask]
        county_faces[ccode] = list(masked)
        vcells, splits = county_cells[ccode]
        for j, vidx in enumerate(_assign(mreps, vcells)):
            gcells, gcodes = splits[vidx]
            gidx = _assign(mreps[j:j + 1], gcells)[0] if len(gcodes) > 1 else 0
            grid_faces.setdefault(gcodes[gidx], []).append(masked[j])
    # the real polygons are rebuilt from the same faces: identical to the source except for the
    # vertices the noding added on their edges (moved by < 1e-6°)
    for unit in units:
        if unit.level == 2:
            unit.geom = _multi(shapely.coverage_union_all(county_faces[unit.code]))
    units[0].geom = _multi(shapely.coverage_union_all(faces[face_county >= 0]))

    grids: dict[str, MultiPolygon] = {g: _multi(shapely.coverage_union_all(fs)) for g, fs in grid_faces.items()}
    village_grids: dict[str, list[str]] = {}
    for gcode in sorted(grids):
        village_grids.setdefault(grid_parent[gcode], []).append(gcode)
    village_geom: dict[str, MultiPolygon] = {}
    for vcode, gcodes in village_grids.items():
        village_geom[vcode] = _multi(shapely.coverage_union_all([grids[g] for g in gcodes]))
    town_geom: dict[str, MultiPolygon] = {}
    for tcode, vrows in villages_of.items():
        town_geom[tcode] = _multi(shapely.coverage_union_all([village_geom[v["code"]] for v in vrows]))

    for t in townships:
        units.append(DemoUnit(t["code"], t["name"], 3, parse_admin_code(t["code"]).kind, t["county_code"],
                              town_geom[t["code"]], True))
    for v in villages:
        units.append(DemoUnit(v["code"], v["name"], 4, parse_admin_code(v["code"]).kind, v["township_code"],
                              village_geom[v["code"]], True))
    names = {v["code"]: v["name"] for v in villages}
    for gcode in sorted(grids):
        vname = _short_village_name(names[grid_parent[gcode]])
        gname = f"{vname}第{int(gcode[-2:])}网格"
        units.append(DemoUnit(gcode, gname, 5, "grid", grid_parent[gcode], grids[gcode], True))
    return units


def _short_village_name(name: str) -> str:
    for suffix in ("社区居民委员会", "居民委员会", "村民委员会", "社区居委会", "村委会", "居委会"):
        if name.endswith(suffix) and len(name) > len(suffix):
            stem = name[: -len(suffix)]
            return stem + ("社区" if "社区" in suffix or "居" in suffix else "村")
    return name
