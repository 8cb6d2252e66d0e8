"""Shared helpers of the ETL tests: an own database and a small real + generated boundary set.

The ETL tests commit (a load is its own transaction), so they use their own database
``<SAFEGRID_TEST_DB>_etl`` instead of the shared session database of tests/conftest.py.
City and county polygons are the real ones of etl/demo_data/xuchang/counties.geojson (EPSG:4490);
townships, villages and grid cells are generated inside 魏都区 by splitting its polygon in strips.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pytest
import shapely
from shapely.geometry import box, mapping
from sqlalchemy import create_engine, text

from geo import migrate

ROOT = Path(__file__).resolve().parent.parent
COUNTIES = ROOT / "etl" / "demo_data" / "xuchang" / "counties.geojson"
ETL_DB = os.environ.get("SAFEGRID_TEST_DB", "safegrid_test") + "_etl"
LEDGER_TABLES = ("hazard_events", "hazards", "hazard_sources", "inspections", "enterprise_risk_history",
                 "enterprises", "duties", "persons", "dq_findings")


def fresh_database(name: str = ETL_DB) -> str:
    """Drop, create and migrate database ``name``; return its URL."""
    return migrate.fresh_database(name)


def county_geometry(code: str) -> Any:
    """Shapely geometry of one real county (or the city) from counties.geojson."""
    data = json.loads(COUNTIES.read_text(encoding="utf-8"))
    feature = next(f for f in data["features"] if f["properties"]["code"] == code)
    return shapely.geometry.shape(feature["geometry"])


def strips(geom: Any, n: int, vertical: bool = True) -> list[Any]:
    """Cut ``geom`` into ``n`` strips of its bounding box (non-empty parts only)."""
    xmin, ymin, xmax, ymax = geom.bounds
    parts = []
    for i in range(n):
        if vertical:
            cut = box(xmin + (xmax - xmin) * i / n, ymin, xmin + (xmax - xmin) * (i + 1) / n, ymax)
        else:
            cut = box(xmin, ymin + (ymax - ymin) * i / n, xmax, ymin + (ymax - ymin) * (i + 1) / n)
        part = geom.intersection(cut)
        parts.append(part)
    return parts


def write_geojson(path: Path, features: list[dict[str, Any]], crs: str | None = None) -> Path:
    """Write a FeatureCollection (optionally with the legacy ``crs`` member)."""
    collection: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if crs:
        collection["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    return path


def feature(code: str, name: str, geom: Any, **props: Any) -> dict[str, Any]:
    """A GeoJSON feature with code, name and demo flag."""
    return {"type": "Feature", "properties": {"code": code, "name": name, "is_demo_geometry": True, **props},
            "geometry": mapping(geom) if geom is not None else None}


def weidu_tree() -> dict[int, list[dict[str, Any]]]:
    """Generated levels 3-5 inside 魏都区: 4 townships × 2 villages × 2 grid cells."""
    county = county_geometry("411002")
    levels: dict[int, list[dict[str, Any]]] = {3: [], 4: [], 5: []}
    for t, town in enumerate(strips(county, 4), start=1):
        tcode = f"411002{t:03d}"
        levels[3].append(feature(tcode, f"测试街道{t}", town))
        for v, village in enumerate(strips(town, 2, vertical=False), start=1):
            vcode = f"{tcode}{v:03d}"
            levels[4].append(feature(vcode, f"测试社区{t}-{v}", village))
            for g, cell in enumerate(strips(village, 2), start=1):
                levels[5].append(feature(f"{vcode}{g:02d}", f"测试网格{t}-{v}-{g}", cell))
    return levels


def write_boundaries(folder: Path) -> dict[int, Path]:
    """Write the test boundary files: level 1+2 (the real file) and generated levels 3, 4, 5."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {2: COUNTIES}
    for level, feats in weidu_tree().items():
        files[level] = write_geojson(folder / f"level{level}.geojson", feats)
    return files


def write_csv(path: Path, header: list[str], rows: list[list[Any]], encoding: str = "utf-8") -> Path:
    """Write a CSV ledger in ``encoding``."""
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def counts(url: str) -> dict[str, int]:
    """Row counts of every ledger table and of units."""
    eng = create_engine(url)
    with eng.connect() as conn:
        result = {t: int(conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one())
                  for t in (*LEDGER_TABLES, "units")}
    eng.dispose()
    return result


def clear_ledgers(url: str) -> None:
    """Delete every ledger row (units and the run log stay; CASCADE: accounts may name an enterprise)."""
    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in LEDGER_TABLES) + " RESTART IDENTITY CASCADE"))
    eng.dispose()


def query(url: str, sql: str, **params: Any) -> list[Any]:
    """Run a read query on ``url`` and return all rows."""
    eng = create_engine(url)
    with eng.connect() as conn:
        rows = list(conn.execute(text(sql), params))
    eng.dispose()
    return rows


def load_test_boundaries(url: str, folder: Path) -> None:
    """Load the real city + counties and the generated levels 3-5 through the loader."""
    from etl.load import load_file

    files = write_boundaries(folder)
    for level in (2, 3, 4, 5):
        result = load_file("boundaries", files[level], url=url)
        assert result.status == "ok", result.message


@pytest.fixture(scope="session", name="etl_url")
def etl_url_fixture(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database of its own with the test boundaries loaded (re-created per test module)."""
    url = fresh_database()
    load_test_boundaries(url, tmp_path_factory.mktemp("boundaries"))
    return url


@pytest.fixture(name="clean")
def clean_fixture(etl_url: str) -> str:
    """The ETL database with empty ledger tables."""
    clear_ledgers(etl_url)
    return etl_url


def cell_points() -> list[tuple[str, float, float]]:
    """(grid code, lon, lat) of a point inside each generated grid cell."""
    return [(f["properties"]["code"], *shapely.geometry.shape(f["geometry"]).representative_point().coords[0])
            for f in weidu_tree()[5]]


def credit(i: int, division: str = "411002") -> str:
    """A valid credit code numbered ``i``."""
    from domain.codes import make_credit_code

    return make_credit_code("91", division, f"MA{i:06d}")


ENTERPRISE_HEADER = ["统一社会信用代码", "企业名称", "行业", "风险等级", "评估日期", "标准化等级", "重点监管危险化学品",
                     "经度", "纬度"]


def enterprise_rows(n: int, start: int = 0) -> list[list[Any]]:
    """``n`` valid enterprise rows spread over the generated grid cells."""
    points = cell_points()
    colours = ["红", "橙色", "黄", "蓝色", ""]
    rows = []
    for i in range(start, start + n):
        _code, lon, lat = points[i % len(points)]
        rows.append([credit(i), f"测试企业{i}", "机械", colours[i % 5], "2025-06-30", "三级", "否",
                     round(lon, 6), round(lat, 6)])
    return rows
