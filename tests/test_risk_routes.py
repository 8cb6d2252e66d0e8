"""The /risk Flask routes on the small demo: roles, scope, zstd / gzip + ETag, audited xlsx / PNG exports.

The app runs in a subprocess whose ``SAFEGRID_PG_DATABASE`` is the demo database (the in-process
``live_server`` serves the unit-tree test database, which has no refreshed heatmaps).
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from openpyxl import load_workbook
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from domain.crs import BBox
from geo import risk_queries as rq
from tests.browser import TEST_SECRET, http_login, make_user
from tests.demo_fixture import DEMO_AS_OF, DemoDb, demo_db  # noqa: F401  (session fixture)

ROOT = Path(__file__).resolve().parent.parent
CITY_VIEW = {"bbox": "112.9,33.5,114.5,34.6", "zoom": "9"}
_SERVE = """
import sys
from werkzeug.serving import make_server
from tests.browser import app_settings
from dashboard.app import create_app
srv = make_server("127.0.0.1", int(sys.argv[1]), create_app(app_settings()).server, threaded=True)
print("ready", flush=True)
srv.serve_forever()
"""


@dataclass
class RiskServer:
    """The app serving the demo database: base URL and an engine on that database."""

    url: str
    engine: Engine
    db_url: str


@pytest.fixture(scope="session")
def risk_server(demo_db: DemoDb) -> Iterator[RiskServer]:  # noqa: F811
    """Serve ``create_app()`` on the demo database in a subprocess; yield its URL and an engine."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "SAFEGRID_PG_DATABASE": str(make_url(demo_db.url).database),
           "SAFEGRID_SECRET_KEY": TEST_SECRET, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", _SERVE, str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        base = f"http://127.0.0.1:{port}"
        for _ in range(50):
            try:
                requests.get(f"{base}/login", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        engine = create_engine(demo_db.url)
        yield RiskServer(base, engine, demo_db.url)
        engine.dispose()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def login_as(server: RiskServer, role: str, scope: str = "411000") -> requests.Session:
    user, password = make_user(server.engine, role=role, scope=scope)
    session = http_login(server.url, user, password)
    session.headers["X-Test-User"] = user
    return session


def _audit(server: RiskServer, user: str, action: str) -> list[dict]:
    with server.engine.connect() as c:
        return [r[0] for r in c.execute(text("SELECT detail FROM audit_log WHERE username = :u AND action = :a"),
                                        {"u": user, "a": action})]


def test_heatmap_route_compressed_etag_and_roles(risk_server: RiskServer) -> None:
    planner = login_as(risk_server, "planner")
    r = planner.get(f"{risk_server.url}/api/risk/h3", params=CITY_VIEW, headers={"Accept-Encoding": "gzip"},
                    stream=True, timeout=20)
    raw = r.raw.read()
    assert r.status_code == 200 and r.headers["Content-Encoding"] == "gzip" and r.headers["ETag"]
    assert len(raw) < 300_000
    r = planner.get(f"{risk_server.url}/api/risk/h3", params=CITY_VIEW, stream=True, timeout=20)  # as browsers
    assert r.headers["Content-Encoding"] == "zstd" and len(r.raw.read()) < 300_000
    body = planner.get(f"{risk_server.url}/api/risk/h3", params=CITY_VIEW, timeout=20).json()
    assert body["res"] == 7 and body["source"] == "h3_stats" and body["features"]
    again = planner.get(f"{risk_server.url}/api/risk/h3", params=CITY_VIEW,
                        headers={"If-None-Match": r.headers["ETag"]}, timeout=20)
    assert again.status_code == 304 and not again.content
    filtered = planner.get(f"{risk_server.url}/api/risk/h3", params={**CITY_VIEW, "risk": "red"}, timeout=20).json()
    assert filtered["source"] == "points" and len(filtered["features"]) < len(body["features"])
    assert planner.get(f"{risk_server.url}/api/risk/h3", params={**CITY_VIEW, "metric": "x"}, timeout=20
                       ).status_code == 400
    assert planner.get(f"{risk_server.url}/api/risk/h3", params={**CITY_VIEW, "risk": "purple"}, timeout=20
                       ).status_code == 400
    inspector = login_as(risk_server, "inspector")
    assert inspector.get(f"{risk_server.url}/api/risk/h3", params=CITY_VIEW, timeout=20).status_code == 403
    assert inspector.get(f"{risk_server.url}/risk", timeout=20).status_code == 403
    leader = login_as(risk_server, "leader")
    assert leader.get(f"{risk_server.url}/api/risk/h3", params=CITY_VIEW, timeout=20).status_code == 200
    anonymous = requests.get(f"{risk_server.url}/api/risk/h3", params=CITY_VIEW, timeout=20)
    assert anonymous.status_code in (302, 401)


def test_county_planner_sees_only_the_county(risk_server: RiskServer) -> None:
    county = login_as(risk_server, "planner", scope="411002")
    heat = county.get(f"{risk_server.url}/api/risk/h3", params={**CITY_VIEW, "metric": "enterprises"},
                      timeout=20).json()
    with risk_server.engine.connect() as c:
        inside = c.execute(text("SELECT enterprises FROM unit_stats s JOIN units u ON u.id = s.unit_id "
                                "WHERE u.code = '411002'")).scalar_one()
    assert heat["source"] == "points" and sum(f["properties"]["v"] for f in heat["features"]) == inside
    units = county.get(f"{risk_server.url}/api/risk/units.geojson", params={"level": 3}, timeout=20).json()
    assert units["features"] and all(f["id"].startswith("411002") for f in units["features"])
    foreign = county.get(f"{risk_server.url}/export/risk/tables.xlsx", params={**CITY_VIEW, "unit": "411003"},
                         timeout=20)
    assert foreign.status_code == 403
    assert _audit(risk_server, county.headers["X-Test-User"], "forbidden")


def test_xlsx_export_matches_db_is_audited_and_neutralised(risk_server: RiskServer) -> None:
    planner = login_as(risk_server, "planner")
    with risk_server.engine.begin() as c:  # an industry name a spreadsheet would run as a formula
        grid = c.execute(text("SELECT id, code FROM units WHERE level = 5 AND code LIKE '411002%' ORDER BY code "
                              "LIMIT 1")).one()
        eid = c.execute(text(
            "INSERT INTO enterprises (credit_code, name, industry, unit_id, geom) VALUES ('91411002TESTRISK01', "
            "'公式测试企业', '=1+2', :u, ST_SetSRID(ST_MakePoint(113.82, 34.02), 4326)) RETURNING id"
        ), {"u": grid.id}).scalar_one()
        c.execute(text("INSERT INTO hazards (code, enterprise_id, unit_id, title, level, status, found_at) "
                       "VALUES ('YH-RISK-TEST-1', :e, :u, '测试隐患', 'general', 'reported', :d)"),
                  {"e": eid, "u": grid.id, "d": DEMO_AS_OF})
    try:
        r = planner.get(f"{risk_server.url}/export/risk/tables.xlsx", params={**CITY_VIEW, "unit": "411002"},
                        timeout=60)
        assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
        wb = load_workbook(io.BytesIO(r.content))
        industries = [row for row in wb["行业未销号隐患"].iter_rows(min_row=2, values_only=True)]
        assert ("'=1+2", 1, 0, 0) in industries
        with risk_server.engine.connect() as c:
            areas = rq.breakdowns(c, scope="411000.", filters=rq.RiskFilters(), as_of=DEMO_AS_OF,
                                  cutoff=rq.stock_cutoff(c, as_of=DEMO_AS_OF), parts=("areas",))["areas"]
            heat = json.loads(rq.heatmap_geojson(c, scope="411000.", metric="risk_score", zoom=9,
                                                 bbox=BBox.parse(CITY_VIEW["bbox"]), filters=rq.RiskFilters(),
                                                 as_of=DEMO_AS_OF))
            explain = rq.unit_explain(c, scope="411000.", code="411002")
        sheet = [row for row in wb["区域对比"].iter_rows(min_row=2, values_only=True)]
        assert [(a[0], a[2], a[3], a[5]) for a in sheet] == [(x["code"], x["found"], x["closed"], x["open"])
                                                             for x in areas]
        assert wb["H3六边形"].max_row - 1 == len(heat["features"])
        assert str(wb["定级依据"]["B1"].value) == f"{explain['name']}（411002）"
        logged = _audit(risk_server, planner.headers["X-Test-User"], "export_risk_tables")
        assert len(logged) == 1 and logged[0]["unit"] == "411002"
        assert logged[0]["rows"]["cells"] == len(heat["features"])
    finally:
        with risk_server.engine.begin() as c:
            c.execute(text("DELETE FROM hazards WHERE code = 'YH-RISK-TEST-1'"))
            c.execute(text("DELETE FROM enterprises WHERE id = :e"), {"e": eid})


def test_png_export_is_rendered_and_audited(risk_server: RiskServer) -> None:
    planner = login_as(risk_server, "planner")
    r = planner.get(f"{risk_server.url}/export/risk/heatmap.png",
                    params={**CITY_VIEW, "metric": "hazards_open", "units": "2"}, timeout=60)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
    assert r.content[:8] == b"\x89PNG\r\n\x1a\n" and len(r.content) > 20_000
    logged = _audit(risk_server, planner.headers["X-Test-User"], "export_risk_png")
    assert len(logged) == 1 and logged[0]["metric"] == "hazards_open" and logged[0]["cells"] > 0
    grid_manager = login_as(risk_server, "grid_manager")
    assert grid_manager.get(f"{risk_server.url}/export/risk/heatmap.png", params=CITY_VIEW, timeout=20
                            ).status_code == 403


def test_four_colour_map_by_industry(risk_server: RiskServer) -> None:
    """分行业: the units' colours recomputed from one industry's (or group's) enterprises only."""
    from domain.catalogues import Catalogue
    from domain.risk_rule import unit_class

    planner = login_as(risk_server, "planner")
    plain = planner.get(f"{risk_server.url}{UNITS}", params={"level": 2}, timeout=30).json()
    chem = planner.get(f"{risk_server.url}{UNITS}", params={"level": 2, "industry": "危险化学品"},
                       timeout=30).json()
    assert [f["id"] for f in chem["features"]] == [f["id"] for f in plain["features"]]
    with risk_server.engine.connect() as c:
        rule = rq.current_rule(c)
        counted = {r.code: dict(r._mapping) for r in c.execute(text(
            "SELECT split_part(u.path, '.', 2) AS code, count(*) AS enterprises, "
            "count(*) FILTER (WHERE e.risk_level = 'red') AS ent_red FROM enterprises e "
            "JOIN units u ON u.id = e.unit_id WHERE e.industry = '危险化学品' GROUP BY 1"))}
        majors = dict(c.execute(text(
            "SELECT split_part(u.path, '.', 2), count(*) FROM hazards h JOIN enterprises e ON e.id = h.enterprise_id "
            "JOIN units u ON u.id = e.unit_id WHERE e.industry = '危险化学品' AND h.status <> 'closed' "
            "AND h.level = 'major' GROUP BY 1")).all())
    for code, got in counted.items():
        got["hazards_major_open"] = majors.get(code, 0)
    for f in chem["features"]:
        got = counted.get(f["id"])
        assert f["properties"]["enterprises"] == (got["enterprises"] if got else 0)
        assert f["properties"]["mark"] == bool(got and (got["ent_red"] or got["hazards_major_open"]))
        if got and rule.mode(2) == "max" and (got["ent_red"] or got["hazards_major_open"]):
            assert f["properties"]["risk"] == "red"
        if not got:
            assert f["properties"]["risk"] is None
    # a group: the union of its industries, never more enterprises than the whole map
    group = planner.get(f"{risk_server.url}{UNITS}", params={"level": 2, "industry": "高危行业"},
                        timeout=30).json()
    total = {f["id"]: f["properties"]["enterprises"] for f in plain["features"]}
    members = Catalogue().members("高危行业")
    assert "危险化学品" in members
    for f in group["features"]:
        assert chem_count(chem, f["id"]) <= f["properties"]["enterprises"] <= total[f["id"]]
    assert unit_class({"level": 2, "ent_red": 1}, rule) in ("red", "orange", "yellow", "blue")
    # scope: a county planner gets only its county's units; unknown values are a Chinese 400
    county = login_as(risk_server, "planner", scope="411002")
    mine = county.get(f"{risk_server.url}{UNITS}", params={"level": 3, "industry": "危险化学品"},
                      timeout=30).json()
    assert mine["features"] and all(f["id"].startswith("411002") for f in mine["features"])
    bad = planner.get(f"{risk_server.url}{UNITS}", params={"level": 2, "industry": "不存在的行业"}, timeout=30)
    assert bad.status_code == 400 and "行业目录中没有" in bad.text


UNITS = "/api/risk/units.geojson"


def chem_count(collection: dict, code: str) -> int:
    return next(f["properties"]["enterprises"] for f in collection["features"] if f["id"] == code)
