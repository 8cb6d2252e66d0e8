"""The 许昌 demo builder: tiling of the generated levels, reproducibility, plausible records."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import shapely

from domain.codes import is_valid_credit_code, parse_admin_code
from etl.demo import records
from etl.demo.geometry import DemoUnit, build_units, real_boundaries
from etl.demo.records import Scale

AS_OF = date(2026, 11, 23)


@pytest.fixture(scope="module")
def units() -> list[DemoUnit]:
    return build_units(4110)


def test_counts_codes_and_kinds(units: list[DemoUnit]) -> None:
    levels = [u.level for u in units]
    assert [levels.count(k) for k in (1, 2, 3, 4)] == [1, 7, 105, 2505]
    by_code = {u.code: u for u in units}
    per_village: dict[str, int] = {}
    for u in units:
        code = parse_admin_code(u.code)
        assert code.level == u.level and code.parent == u.parent, u.code
        assert u.is_demo_geometry == (u.level >= 3 or u.code in ("411003", "411071"))
        if u.level == 5:
            per_village[u.parent or ""] = per_village.get(u.parent or "", 0) + 1
            assert u.name.endswith("网格")
    assert len(per_village) == 2505 and set(per_village.values()) <= set(range(1, 7))
    urban = [n for v, n in per_village.items() if by_code[v[:9]].kind == "subdistrict"]
    rural = [n for v, n in per_village.items() if by_code[v[:9]].kind in ("town", "township")]
    assert np.mean(urban) > np.mean(rural) + 1  # more grid cells in the dense 街道


def test_every_level_tiles_the_city(units: list[DemoUnit]) -> None:
    city = units[0].geom
    for level in (2, 3, 4, 5):
        geoms = [u.geom for u in units if u.level == level]
        assert shapely.coverage_is_valid(geoms), level  # no overlaps, shared edges identical
        assert sum(g.area for g in geoms) == pytest.approx(city.area, rel=1e-9)
        assert shapely.symmetric_difference(shapely.coverage_union_all(geoms), city).area < 1e-12
        assert all(g.is_valid and not g.is_empty for g in geoms)


def test_children_inside_parents(units: list[DemoUnit]) -> None:
    by_code = {u.code: u for u in units}
    children = [u for u in units if u.parent]
    outside = shapely.area(shapely.difference([c.geom for c in children],
                                              [by_code[c.parent or ""].geom for c in children]))
    assert outside.max() < 1e-12
    for parent in (u for u in units if u.level < 5):  # children's union is the parent
        kids = [c.geom for c in children if c.parent == parent.code]
        assert shapely.symmetric_difference(shapely.coverage_union_all(kids), parent.geom).area < 1e-12


def test_real_polygons_kept_and_dev_zone_carved(units: list[DemoUnit]) -> None:
    real = real_boundaries()
    by_code = {u.code: u for u in units}
    # snap rounding moves edges by less than the 1e-6° grid: the difference is a sliver along the boundary
    for code in ("411000", "411002", "411024", "411025", "411081", "411082"):
        moved = shapely.symmetric_difference(by_code[code].geom, real[code][1]).area
        assert moved < real[code][1].length * 1e-6, code
    carved = shapely.union_all([by_code["411003"].geom, by_code["411071"].geom])
    assert shapely.symmetric_difference(carved, real["411003"][1]).area < real["411003"][1].length * 1e-6
    zone_km2 = by_code["411071"].geom.area * 111.3**2 * np.cos(np.radians(34))
    assert 40 < zone_km2 < 150
    assert by_code["411071"].geom.touches(by_code["411002"].geom)  # next to 魏都区


_BUILD = """
import json, sys
from datetime import date
from pathlib import Path
from etl.demo.build import BuildOptions, build
from etl.demo.records import Scale
scale = Scale(enterprises=300, village_days=2, township_days=14)
manifest = build(Path(sys.argv[1]), BuildOptions(seed=int(sys.argv[2]), as_of=date(2026, 11, 23), scale=scale,
                                                   xlsx_max_rows=400))
print(json.dumps({f["file"]: f["sha256"] for f in manifest["load_order"]}))
"""


def test_same_seed_same_files_other_seed_differs(tmp_path: Path) -> None:
    # Each build in a fresh interpreter: reproducible across processes (hash seeds, imports), and untouched
    # by threads other tests of this session left running.
    digests = []
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        out = subprocess.run([sys.executable, "-c", _BUILD, str(tmp_path / name), str(seed)], capture_output=True,
                             text=True, check=True, cwd=Path(__file__).resolve().parent.parent)
        digests.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert digests[0] == digests[1]
    for name in digests[0]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert digests[0]["enterprises.xlsx"] != digests[2]["enterprises.xlsx"]
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text(encoding="utf-8"))
    assert [f["file"] for f in manifest["load_order"]][:4] == [
        "boundaries_level1_2.geojson", "boundaries_level3.geojson", "boundaries_level4.geojson",
        "boundaries_level5.geojson"]
    assert manifest["seed"] == 1 and manifest["as_of"] == "2026-11-23"
    assert {f["file"] for f in manifest["load_order"]} == {
        p.name for p in (tmp_path / "a").iterdir() if p.name != "manifest.json"}


@pytest.fixture(scope="module")
def ledgers(units: list[DemoUnit]) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(7)
    scale = Scale(enterprises=6000)
    ent, gidx = records.enterprises(rng, units, scale, AS_OF)
    src = records.hazard_sources(rng, ent, scale, AS_OF)
    grids = [u for u in units if u.level == 5]
    codes = np.array([g.code for g in grids])
    cells = np.array([g.geom for g in grids], dtype=object)
    haz = records.hazards(rng, ent, codes, gidx, cells, scale, AS_OF)
    insp = records.inspections(rng, units, ent, codes, gidx, scale, AS_OF)
    persons = records.persons(rng, units, AS_OF)
    ent["grid"] = codes[gidx]
    return {"enterprises": ent, "sources": src, "hazards": haz, "inspections": insp, "persons": persons}


def test_enterprises_plausible(ledgers: dict[str, dict[str, np.ndarray]], units: list[DemoUnit]) -> None:
    ent = ledgers["enterprises"]
    n = len(ent["credit_code"])
    assert len(set(ent["credit_code"].tolist())) == n
    assert all(is_valid_credit_code(c) for c in ent["credit_code"].tolist())
    assert all(c[2:8] == g[:6] for c, g in zip(ent["credit_code"].tolist(), ent["grid"].tolist(), strict=True))
    share = {c: float(np.mean(ent["risk_level"] == c)) for c in ("red", "orange", "yellow", "blue", "")}
    assert share["red"] == pytest.approx(0.02, abs=0.006) and share["orange"] == pytest.approx(0.08, abs=0.015)
    assert share["yellow"] == pytest.approx(0.30, abs=0.03) and 0.02 < share[""] < 0.12
    industries = ent["industry"].tolist()
    assert industries.count("机械") > industries.count("危险化学品") * 5 > 0
    assert all(name.endswith("公司") for name in ent["name"].tolist())
    by_code = {u.code: u for u in units}
    cells = np.array([by_code[g].geom for g in ent["grid"].tolist()], dtype=object)
    assert shapely.contains_xy(cells, ent["lon"], ent["lat"]).all()  # strictly inside its cell, 6 decimals
    urban = np.array([by_code[g[:9]].kind in ("subdistrict", "dev_zone") for g in ent["grid"].tolist()])
    urban_area = sum(u.geom.area for u in units if u.level == 3 and u.kind in ("subdistrict", "dev_zone"))
    assert urban.mean() > 3 * urban_area / units[0].geom.area  # denser in 街道 and 开发区


def test_sources_hazards_inspections(ledgers: dict[str, dict[str, np.ndarray]]) -> None:
    src, haz, insp = ledgers["sources"], ledgers["hazards"], ledgers["inspections"]
    assert len(src["code"]) == 90 and len(set(src["code"].tolist())) == 90
    r = src["r_value"]
    assert (src["grade"] == np.select([r >= 100, r >= 50, r >= 10], [1, 2, 3], 4)).all()
    assert len(set(src["grade"].tolist())) >= 3
    n = len(haz["code"])
    assert n == 4500 and len(set(haz["code"].tolist())) == n
    assert set(haz["status"].tolist()) == {"reported", "rectifying", "verifying", "closed"}
    assert set(haz["channel"].tolist()) == {"self_check", "inspection", "public_report"}
    assert np.mean(haz["level"] == "major") == pytest.approx(0.08, abs=0.02)
    open_ = haz["status"] != "closed"
    overdue = open_ & (haz["deadline"] < np.datetime64(AS_OF))
    assert 0 < overdue.sum() < open_.sum()
    assert set(haz["supervision_level"][haz["level"] == "major"].tolist()) >= {0, 1, 2, 3}
    assert not np.isnat(haz["closed_at"][~open_]).any() and np.isnat(haz["closed_at"][open_]).all()
    assert (haz["closed_at"][~open_] >= haz["found_at"][~open_]).all()
    assert (haz["found_at"] >= np.datetime64(AS_OF) - np.timedelta64(3 * 365, "D")).all()
    levels = insp["inspector_level"]
    assert set(levels.tolist()) == {1, 2, 3, 4}
    village = insp["inspected_at"][levels == 4]
    assert village.min() >= np.datetime64(AS_OF) - np.timedelta64(60, "D")  # daily patrols: last 60 days only
    assert len(set(insp["code"].tolist())) == len(insp["code"])


def test_persons_fill_duties_with_vacancies(ledgers: dict[str, dict[str, np.ndarray]], units: list[DemoUnit]) -> None:
    p = ledgers["persons"]
    slots = sum(4 + (u.level in (4, 5)) for u in units)
    assert 0.95 * slots < len(p["name"]) < 0.99 * slots  # ~3% vacancies
    assert all(ph[:2] in ("13", "15", "18") and len(ph) == 11 for ph in p["phone"].tolist()[:2000])
    assert set(p["role"].tolist()) == {"first", "leader", "supervisor", "info_officer", "grid_worker"}
