"""/api/export/gis: the map's layers as a GeoPackage and as a zipped Shapefile, opened again with pyogrio (GDAL):
CGCS2000 (EPSG:4490), Chinese field names (≤ 10 GBK bytes in the .dbf, GBK with a .cpg) and Chinese values, only
the caller's scope and bbox, refused without the export capability, audited."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pyogrio
import pytest
from dash import Dash
from sqlalchemy import Engine, text

from dashboard.app import create_app
from dashboard.gis_export import dbf_names
from dashboard.ogc import collections_for
from geo.ogc_queries import UNIT_COLLECTIONS
from tests.browser import app_settings, login, make_user
from tests.fixtures_map import ENTERPRISES, OWN_GRID, map_data  # noqa: F401
from tests.test_cache import login as client_login

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("map_data")]
OWN_NAMES = {name for _, name, _, grid, _, _ in ENTERPRISES if grid == OWN_GRID}
LAYERS = "units-3,enterprises,hazard-sources,open-hazards"
BBOX = "99.9,25.7,101.1,26.5"


@pytest.fixture(scope="module")
def app() -> Dash:
    return create_app(app_settings())


def download(app: Dash, engine: Engine, fmt: str, role: str = "grid_manager", scope: str = "419002",
             layers: str = LAYERS, bbox: str = BBOX) -> Any:
    client = client_login(app, engine, role=role, scope=scope)
    return client.get(f"/api/export/gis?layers={layers}&bbox={bbox}&format={fmt}")


def test_geopackage(app: Dash, engine: Engine, tmp_path: Path) -> None:
    r = download(app, engine, "gpkg")
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    assert r.headers["Content-Disposition"].startswith("attachment") and ".gpkg" in r.headers["Content-Disposition"]
    path = tmp_path / "export.gpkg"
    path.write_bytes(r.data)
    assert [name for name, _ in pyogrio.list_layers(path)] == LAYERS.split(",")
    ents = pyogrio.read_info(path, layer="enterprises")
    assert ents["crs"] == "EPSG:4490" and ents["features"] == 3 and ents["geometry_type"] == "Point"
    assert {"名称", "行业", "统一社会信用代码", "风险等级", "所在网格代码"} <= set(ents["fields"])
    _, _, _, fields = pyogrio.raw.read(path, layer="enterprises")
    by_field = dict(zip(ents["fields"], fields, strict=True))
    assert set(by_field["名称"]) == OWN_NAMES
    assert "重大风险" in set(by_field["风险等级"])  # coded values in Chinese
    units = pyogrio.read_info(path, layer="units-3")
    assert units["geometry_type"] == "MultiPolygon" and units["features"] == 2  # 甲区's two townships only
    hazards = pyogrio.read_info(path, layer="open-hazards")
    _, _, _, hfields = pyogrio.raw.read(path, layer="open-hazards")
    assert set(dict(zip(hazards["fields"], hfields, strict=True))["隐患等级"]) == {"重大隐患", "一般隐患"}
    with engine.begin() as conn:
        detail = conn.execute(text("SELECT detail FROM audit_log WHERE action = 'export_gis' ORDER BY id DESC "
                                   "LIMIT 1")).scalar_one()
    assert detail["format"] == "gpkg" and detail["layers"]["enterprises"] == 3


def test_zipped_shapefile_gbk_cgcs2000(app: Dash, engine: Engine, tmp_path: Path) -> None:
    r = download(app, engine, "shp", bbox="100.15,25.8,100.5,26.4")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.data)) as zf:
        zf.extractall(tmp_path)
        names = zf.namelist()
    folder = next(p for p in tmp_path.iterdir() if p.is_dir())
    for layer in LAYERS.split(","):
        assert {f"{layer}.{ext}" for ext in ("shp", "shx", "dbf", "prj", "cpg")} <= {Path(n).name for n in names}
    assert (folder / "enterprises.cpg").read_text().strip() == "GBK"
    assert (folder / "enterprises.prj").read_text().startswith(  # ESRI WKT of EPSG:4490
        'GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000"')
    info = pyogrio.read_info(folder / "enterprises.shp")
    assert info["crs"] == "EPSG:4490" and info["features"] == 2  # the bbox leaves 金地化工 (100.10) out
    assert all(len(name.encode("gbk")) <= 10 for name in info["fields"]) and "名称" in info["fields"]
    _, _, _, fields = pyogrio.raw.read(folder / "enterprises.shp")
    assert set(dict(zip(info["fields"], fields, strict=True))["名称"]) == OWN_NAMES - {"金地化工有限公司"}
    dbf = (folder / "enterprises.dbf").read_bytes()
    assert "金地机械厂".encode("gbk") in dbf  # GBK in the file itself, as older tools read it


def test_dbf_names_are_short_and_unique() -> None:
    class _Account:
        class record:  # noqa: N801 - a stand-in for UserRecord
            scope_level = 1

    for c in [*UNIT_COLLECTIONS, *collections_for(_Account())]:  # type: ignore[arg-type]
        names = dbf_names(c)
        assert len(set(names.values())) == len(names), c.id
        assert all(0 < len(n.encode("gbk")) <= 10 for n in names.values()), (c.id, names)


def test_refusals(app: Dash, engine: Engine) -> None:
    assert download(app, engine, "kml").status_code == 400
    assert download(app, engine, "gpkg", layers="units-1").status_code == 400  # above the scope
    assert download(app, engine, "gpkg", layers="nope").status_code == 400
    assert download(app, engine, "gpkg", bbox="1,2,3").status_code == 400
    assert download(app, engine, "gpkg", role="inspector").status_code == 403  # no export capability
    assert app.server.test_client().get(f"/api/export/gis?layers={LAYERS}&format=gpkg").status_code == 401


def test_the_command_map_links_follow_the_view(browser_page: Any, live_server: str, engine: Engine) -> None:
    page = browser_page
    username, password = make_user(engine, role="grid_manager", scope="419002")
    login(page, live_server, username, password, expect_path="/")
    page.wait_for_function("(document.querySelector('#cm-export-gpkg')?.getAttribute('href') || '')"
                           ".includes('bbox=')")
    href = page.get_attribute("#cm-export-gpkg", "href")
    assert href.startswith("/api/export/gis?layers=units-3%2Centerprises%2Chazard-sources%2Copen-hazards&bbox=")
    assert page.get_attribute("#cm-export-shp", "href").endswith("&format=shp")
    r = page.request.get(f"{live_server}{href}")  # the page's own session
    assert r.status == 200 and r.body().startswith(b"SQLite format 3")
    assert page.console_errors == []
