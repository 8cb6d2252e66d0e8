"""Inspector test world on top of ``tests/fixtures_units.py``: enterprises at known geodesic offsets,
their hazards (with formula-like titles), events, hazard sources, inspections, risk history, duties.

Committed and idempotent so a live app server sees the same rows. Places (WGS84):

* A 许昌瑞恒化工有限公司 in 金地社区第1网格 (魏都区) at (34.0300, 113.8500);
* B 800 m east of A (same grid), C 1 200 m north of A (same grid), D 500 m west (东关, 魏都区),
* E 300 m south of A but in 张庄村第1网格 (建安区): outside a 魏都区 scope, named like A.
"""

from __future__ import annotations

from datetime import date

import pytest
from pyproj import Geod
from sqlalchemy import Engine, text

from domain.codes import make_credit_code
from tests.fixtures_units import ensure_unit_tree

GEOD = Geod(ellps="WGS84")
A_LAT, A_LON = 34.0300, 113.8500
WEIDU, JIANAN, CITY = "411000.411002.", "411000.411003.", "411000."
JINDI_GRID, DONGGUAN_GRID, ZHANGZHUANG_GRID = "41100200100101", "41100200200101", "41100310020001"


def offset(distance_m: float, azimuth: float) -> tuple[float, float]:
    """(lat, lon) at ``distance_m`` from A along ``azimuth`` degrees (geodesic)."""
    lon, lat, _ = GEOD.fwd(A_LON, A_LAT, azimuth, distance_m)
    return lat, lon


def code(n: int) -> str:
    """A valid credit code reserved for these tests (organisation body ``TT99000n``)."""
    return make_credit_code("91", "411002", f"TT99{n:04d}")


# key: (credit code, name, industry, risk, address, grid, (lat, lon))
ENTERPRISES = {
    "A": (code(1), "许昌瑞恒化工有限公司", "危险化学品", "orange", "许昌市魏都区西大街88号", JINDI_GRID,
          (A_LAT, A_LON)),
    "B": (code(2), "许昌恒达机械制造有限公司", "机械", "blue", "许昌市魏都区东大街12号", JINDI_GRID, offset(800, 90)),
    "C": (code(3), "魏都区金地加油站", "商贸", "yellow", "许昌市魏都区金地路3号", JINDI_GRID, offset(1200, 0)),
    "D": (code(4), "东关烟花爆竹批发部", "烟花爆竹", "red", "许昌市魏都区东关街5号", DONGGUAN_GRID, offset(500, 270)),
    "E": (code(5), "建安区瑞恒化工二厂", "危险化学品", "red", "许昌市建安区将官池镇工业路1号", ZHANGZHUANG_GRID,
          offset(300, 180)),
}
A_CODE, E_CODE = ENTERPRISES["A"][0], ENTERPRISES["E"][0]
OVERDUE_DEADLINE, FUTURE_DEADLINE = date(2025, 10, 1), date(2099, 12, 31)
# code, enterprise key, title, level, channel, status, found, deadline, closed, supervision, resp person
HAZARDS = [
    ("TT-H1", "A", "=1+2 液氨储罐区未设置泄漏报警", "major", "inspection", "rectifying", date(2025, 9, 1),
     OVERDUE_DEADLINE, None, 2, "+8613800000001"),
    ("TT-H2", "A", "-配电箱未接地", "general", "self_check", "closed", date(2025, 5, 1), date(2025, 6, 1),
     date(2025, 5, 20), None, "李强"),
    ("TT-H3", "A", "@员工未佩戴防护用品", "general", "public_report", "reported", date(2025, 11, 1),
     FUTURE_DEADLINE, None, None, "王敏"),
    ("TT-H4", "D", "仓库烟花堆放超量", "general", "inspection", "rectifying", date(2025, 8, 15),
     OVERDUE_DEADLINE, None, None, "赵刚"),
    ("TT-H5", "E", "建安区储罐区防火堤破损", "major", "inspection", "rectifying", date(2025, 7, 1),
     OVERDUE_DEADLINE, None, 1, "孙丽"),
]
EVENTS = [
    ("TT-H1", None, "reported", "2025-09-01 09:00+08", "市应急局", "检查发现"),
    ("TT-H1", "reported", "rectifying", "2025-09-03 10:00+08", "企业", "开始整改"),
    ("TT-H2", None, "reported", "2025-05-01 08:00+08", "企业", None),
    ("TT-H2", "reported", "rectifying", "2025-05-02 08:00+08", "企业", None),
    ("TT-H2", "rectifying", "verifying", "2025-05-15 08:00+08", "企业", "申请验收"),
    ("TT-H2", "verifying", "closed", "2025-05-20 08:00+08", "西大街道", "验收通过，销号"),
]


def _insert(conn, sql: str, **params) -> int:  # type: ignore[no-untyped-def]
    return int(conn.execute(text(sql), params).scalar_one())


def ensure_inspector_world(engine: Engine) -> None:
    """Insert the inspector test world once (committed)."""
    ensure_unit_tree(engine)
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(880808)"))
        if conn.execute(text("SELECT 1 FROM enterprises WHERE credit_code = :c"), {"c": A_CODE}).first():
            return
        ids: dict[str, int] = {}
        for key, (cc, name, industry, risk, address, grid, (lat, lon)) in ENTERPRISES.items():
            ids[key] = _insert(conn, """
                INSERT INTO enterprises (credit_code, name, industry, risk_level, std_grade, address, legal_rep,
                    legal_rep_phone, safety_manager, safety_manager_phone, unit_id, geom, risk_assessed_at)
                SELECT :cc, :name, :industry, :risk, 'grade2', :address, '周法人', '13900000001', '吴安全',
                       '13900000002', u.id, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), DATE '2025-03-01'
                FROM units u WHERE u.code = :grid RETURNING id""",
                cc=cc, name=name, industry=industry, risk=risk, address=address, grid=grid, lat=lat, lon=lon)
        for level, day in (("yellow", date(2024, 3, 1)), ("orange", date(2025, 3, 1))):
            conn.execute(text(
                "INSERT INTO enterprise_risk_history (enterprise_id, risk_level, risk_method, assessed_at) "
                "VALUES (:e, :l, 'LEC 法', :d)"), {"e": ids["A"], "l": level, "d": day})
        hazard_ids = {}
        for hcode, key, title, level, channel, status, found, deadline, closed, sup, person in HAZARDS:
            hazard_ids[hcode] = _insert(conn, """
                INSERT INTO hazards (code, enterprise_id, unit_id, title, level, channel, status, found_at, deadline,
                    closed_at, supervision_level, resp_person, measures, funds_yuan, geom)
                SELECT :code, e.id, e.unit_id, :title, :level, :channel, :status, :found, :deadline, :closed, :sup,
                       :person, '限期整改', 12000, e.geom FROM enterprises e WHERE e.id = :e RETURNING id""",
                code=hcode, e=ids[key], title=title, level=level, channel=channel, status=status, found=found,
                deadline=deadline, closed=closed, sup=sup, person=person)
        for hcode, frm, to, at, by, note in EVENTS:
            conn.execute(text(
                "INSERT INTO hazard_events (hazard_id, from_status, to_status, at, by, note) "
                "VALUES (:h, :f, :t, CAST(:at AS timestamptz), :by, :note)"),
                {"h": hazard_ids[hcode], "f": frm, "t": to, "at": at, "by": by, "note": note})
        for hs_code, key, grade, r_value in (("TT-S1", "A", 2, 62.5), ("TT-S2", "E", 1, 130.0)):
            conn.execute(text("""
                INSERT INTO hazard_sources (code, enterprise_id, name, grade, r_value, main_person, tech_person,
                    op_person, unit_id, geom)
                SELECT :code, e.id, '液氨储罐区', :grade, :r, '周法人', '钱工', '郑班长', e.unit_id, e.geom
                FROM enterprises e WHERE e.id = :e"""), {"code": hs_code, "e": ids[key], "grade": grade, "r": r_value})
        for icode, day, kind, result in (("TT-I1", date(2025, 9, 1), "unannounced", "hazards_found"),
                                         ("TT-I2", date(2025, 10, 8), "review", "ordered_rectify")):
            conn.execute(text("""
                INSERT INTO inspections (code, unit_id, enterprise_id, inspector_level, kind, inspected_at,
                    inspectors, result, hazards_found)
                SELECT :code, e.unit_id, e.id, 2, :kind, :day, '陈检查、林检查', :result, 1
                FROM enterprises e WHERE e.id = :e"""), {"code": icode, "e": ids["A"], "kind": kind, "day": day,
                                                        "result": result})
        grid_id = conn.execute(text("SELECT id FROM units WHERE code = :c"), {"c": JINDI_GRID}).scalar_one()
        for role, seq, name in (("first", 1, "冯书记"), ("leader", 1, "褚主任"), ("supervisor", 1, "卫监管"),
                                ("grid_worker", 1, "蒋网格")):
            pid = _insert(conn, "INSERT INTO persons (name, phone) VALUES (:n, '13700000000') RETURNING id", n=name)
            conn.execute(text("INSERT INTO duties (unit_id, person_id, role, seq) VALUES (:u, :p, :r, :s)"),
                         {"u": grid_id, "p": pid, "r": role, "s": seq})


@pytest.fixture(scope="session")
def inspector_world(engine: Engine) -> None:
    """The committed inspector test world."""
    ensure_inspector_world(engine)
