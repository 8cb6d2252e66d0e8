"""一企一档 and around-a-point (geo/enterprise_file.py, geo/around.py): contents, order, scope, metres."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Connection, text

from geo.around import around_point, around_sql, check_point, enterprises_around, expand_degrees
from geo.enterprise_file import enterprise_file
from geo.scope import scope_params
from tests.test_search_data import (
    A_CODE,
    A_LAT,
    A_LON,
    CITY,
    E_CODE,
    ENTERPRISES,
    GEOD,
    JIANAN,
    WEIDU,
    inspector_world,
)

__all__ = ["inspector_world"]
pytestmark = pytest.mark.usefixtures("inspector_world")
TODAY = date(2026, 1, 10)


def geodesic(key: str) -> float:
    lat, lon = ENTERPRISES[key][6]
    return float(GEOD.inv(A_LON, A_LAT, lon, lat)[2])


def test_file_has_basic_facts_chain_and_risk_history(conn: Connection) -> None:
    f = enterprise_file(conn, scope=WEIDU, credit_code=A_CODE, today=TODAY)
    assert f is not None
    e = f["enterprise"]
    assert (e["name"], e["risk_level"], e["std_grade"], e["legal_rep"], e["safety_manager"]) == (
        "许昌瑞恒化工有限公司", "orange", "grade2", "周法人", "吴安全")
    assert e["unit_code"] == "41100200100101"
    assert [u["name"] for u in f["units"]] == ["许昌市", "魏都区", "西大街道", "金地社区", "金地社区第1网格"]
    assert [r["risk_level"] for r in f["risk_history"]] == ["orange", "yellow"]


def test_grid_persons_show_the_vacancy(conn: Connection) -> None:
    f = enterprise_file(conn, scope=WEIDU, credit_code=A_CODE, today=TODAY)
    assert f is not None
    slots = [(p["role"], p["seq"], p["name"], p["vacant"]) for p in f["grid_persons"]]
    assert ("leader", 1, "褚主任", False) in slots
    assert ("supervisor", 1, "卫监管", False) in slots
    assert ("supervisor", 2, None, True) in slots
    assert ("grid_worker", 1, "蒋网格", False) in slots


def test_hazards_open_first_with_events(conn: Connection) -> None:
    f = enterprise_file(conn, scope=WEIDU, credit_code=A_CODE, today=TODAY)
    assert f is not None
    hz = f["hazards"]
    assert [h["code"] for h in hz] == ["TT-H1", "TT-H3", "TT-H2"]  # overdue open, open, closed
    assert hz[0]["overdue"] is True and hz[1]["overdue"] is False
    assert [ev["to_status"] for ev in hz[2]["events"]] == ["reported", "rectifying", "verifying", "closed"]
    assert [ev["to_status"] for ev in hz[0]["events"]] == ["reported", "rectifying"]


def test_sources_and_inspections(conn: Connection) -> None:
    f = enterprise_file(conn, scope=WEIDU, credit_code=A_CODE, today=TODAY)
    assert f is not None
    (src,) = f["hazard_sources"]
    assert (src["grade"], src["r_value"], src["main_person"], src["tech_person"], src["op_person"]) == (
        2, 62.5, "周法人", "钱工", "郑班长")
    assert [i["code"] for i in f["inspections"]] == ["TT-I2", "TT-I1"]


def test_nearby_in_metres_and_scope(conn: Connection) -> None:
    f = enterprise_file(conn, scope=WEIDU, credit_code=A_CODE, nearby_radius_m=1000, today=TODAY)
    assert f is not None
    near = {n["name"]: n["distance_m"] for n in f["nearby"]}
    # B 800 m and D 500 m are inside 1 km; C 1 200 m is not; E (建安区) is outside the scope; A itself excluded.
    assert set(near) == {"许昌恒达机械制造有限公司", "东关烟花爆竹批发部"}
    assert near["许昌恒达机械制造有限公司"] == pytest.approx(geodesic("B"), abs=0.5)
    assert near["东关烟花爆竹批发部"] == pytest.approx(geodesic("D"), abs=0.5)
    assert [n["name"] for n in f["nearby"]] == ["东关烟花爆竹批发部", "许昌恒达机械制造有限公司"]
    wider = enterprise_file(conn, scope=WEIDU, credit_code=A_CODE, nearby_radius_m=1300, today=TODAY)
    assert wider is not None and "魏都区金地加油站" in {n["name"] for n in wider["nearby"]}
    # Own hazard source at 0 m; E's (300 m away, 建安区) is hidden from a 魏都区 user but seen by the city.
    assert [(s["code"], s["distance_m"]) for s in f["nearby_sources"]] == [("TT-S1", 0.0)]
    city = enterprise_file(conn, scope=CITY, credit_code=A_CODE, today=TODAY)
    assert city is not None
    assert [s["code"] for s in city["nearby_sources"]] == ["TT-S1", "TT-S2"]
    assert city["nearby_sources"][1]["distance_m"] == pytest.approx(geodesic("E"), abs=0.5)


def test_file_outside_scope_is_none(conn: Connection) -> None:
    assert enterprise_file(conn, scope=WEIDU, credit_code=E_CODE) is None
    assert enterprise_file(conn, scope=JIANAN, credit_code=A_CODE) is None
    assert enterprise_file(conn, scope=CITY, credit_code="91411002XXXXXXXXXX") is None
    assert enterprise_file(conn, scope=CITY, credit_code=A_CODE.lower()) is not None


def test_around_point_radius_boundary_in_metres(conn: Connection) -> None:
    r = around_point(conn, scope=CITY, lat=A_LAT, lon=A_LON, radius_m=810)
    got = {e["name"] for e in r["enterprises"]}
    assert got == {"许昌瑞恒化工有限公司", "许昌恒达机械制造有限公司", "东关烟花爆竹批发部", "建安区瑞恒化工二厂"}
    r = around_point(conn, scope=CITY, lat=A_LAT, lon=A_LON, radius_m=790)
    assert "许昌恒达机械制造有限公司" not in {e["name"] for e in r["enterprises"]}
    assert [s["code"] for s in r["hazard_sources"]] == ["TT-S1", "TT-S2"]
    weidu = enterprises_around(conn, scope=WEIDU, lat=A_LAT, lon=A_LON, radius_m=2000)
    assert "建安区瑞恒化工二厂" not in {e["name"] for e in weidu}


def test_bbox_prefilter_never_cuts_the_circle() -> None:
    for lat in (0.0, 34.03, 60.0, -45.0):
        for radius in (100.0, 3000.0, 20000.0):
            dlon, dlat = expand_degrees(lat, radius)
            for az in range(0, 360, 15):
                lon2, lat2, _ = GEOD.fwd(100.0, lat, az, radius)
                assert abs(lon2 - 100.0) <= dlon and abs(lat2 - lat) <= dlat, (lat, radius, az)


def test_bad_points_are_refused() -> None:
    for lat, lon, r in ((91, 0, 100), (0, 181, 100), (0, 0, 0), (0, 0, 10**6), (float("nan"), 0, 100)):
        with pytest.raises(ValueError):
            check_point(lat, lon, r)


def test_radius_query_uses_the_gist_index(conn: Connection) -> None:
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    dlon, dlat = expand_degrees(A_LAT, 1000)
    plan = "\n".join(conn.execute(text("EXPLAIN " + around_sql()), {
        "lat": A_LAT, "lon": A_LON, "r": 1000.0, "dlon": dlon, "dlat": dlat, "lim": 10, "exclude": None,
        **scope_params(CITY)}).scalars())
    assert "ix_enterprises_geom" in plan
