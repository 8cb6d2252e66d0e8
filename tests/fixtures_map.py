"""Map test data on top of tests/fixtures_units.py: rectangles for every unit, enterprises, hazard
sources, hazards, persons and duties; committed and idempotent so live servers see them.

Geometry (lon/lat): 许昌市 is the box 113.0-114.0 × 33.8-34.4; 魏都区 the west half, 建安区 the
east half; 西大街道 the south part of 魏都区, 东大街道 the north part; each village and grid cell
fills its township. Objects under 建安区 are "foreign" for a 魏都区 account.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from tests.fixtures_units import ensure_unit_tree

BOXES: dict[str, tuple[float, float, float, float]] = {
    "411000": (113.0, 33.8, 114.0, 34.4),
    "411002": (113.0, 33.8, 113.5, 34.4),
    "411003": (113.5, 33.8, 114.0, 34.4),
    "411002001": (113.0, 33.8, 113.5, 34.1),
    "411002001001": (113.0, 33.8, 113.5, 34.1),
    "41100200100101": (113.0, 33.8, 113.5, 34.1),
    "411002002": (113.0, 34.1, 113.5, 34.4),
    "411002002001": (113.0, 34.1, 113.5, 34.4),
    "41100200200101": (113.0, 34.1, 113.5, 34.4),
    "411003100": (113.5, 33.8, 114.0, 34.4),
    "411003100200": (113.5, 33.8, 114.0, 34.4),
    "41100310020001": (113.5, 33.8, 114.0, 34.4),
}
OWN_GRID = "41100200100101"
FOREIGN_GRID = "41100310020001"
# credit code, name, risk, grid, lon, lat
ENTERPRISES = [
    ("91411000MAPT000001", "金地化工有限公司", "red", OWN_GRID, 113.10, 33.90),
    ("91411000MAPT000002", "金地机械厂", "yellow", OWN_GRID, 113.20, 33.95),
    ("91411000MAPT000003", "金地纺织公司", None, OWN_GRID, 113.30, 34.00),
    ("91411000MAPT000004", "建安烟花厂", "orange", FOREIGN_GRID, 113.70, 34.00),
]
# code, enterprise credit code, grade, r_value
SOURCES = [("MAPT-S1", "91411000MAPT000001", 2, 60), ("MAPT-S2", "91411000MAPT000004", 1, 120)]
# code, title, enterprise, level, status, days from today to the deadline, supervision level
HAZARDS = [
    ("MAPT-H1", "储罐区可燃气体报警器失效", "91411000MAPT000001", "major", "rectifying", -10, 2),
    ("MAPT-H2", "车间安全出口堵塞", "91411000MAPT000002", "general", "reported", 20, None),
    ("MAPT-H3", "配电箱无防护", "91411000MAPT000002", "general", "closed", -5, None),
    ("MAPT-H4", "仓库超量储存", "91411000MAPT000004", "major", "rectifying", -3, 1),
]
# unit code, role, seq, person key, name, phone
DUTIES = [
    ("411002001", "first", 1, "MAPT-P1", "王建国", "13800000001"),
    ("411002001", "leader", 1, "MAPT-P2", "李红梅", "13800000002"),
    ("411002001", "supervisor", 1, "MAPT-P3", "赵志强", "13800000003"),
    (OWN_GRID, "first", 1, "MAPT-P4", "孙丽", "13800000004"),
    (OWN_GRID, "leader", 1, "MAPT-P5", "周勇", "13800000005"),
    (OWN_GRID, "supervisor", 1, "MAPT-P6", "吴敏", "13800000006"),
    (OWN_GRID, "supervisor", 2, "MAPT-P7", "郑伟", "13800000007"),
    (OWN_GRID, "grid_worker", 1, "MAPT-P8", "冯静", "13800000008"),
    (FOREIGN_GRID, "first", 1, "MAPT-P9", "陈外人", "13800000009"),
]


def ensure_map_data(engine: Engine) -> None:
    """Insert the unit tree, geometry and map objects (idempotent, committed)."""
    ensure_unit_tree(engine)
    with engine.begin() as conn:
        for code, (w, s, e, n) in BOXES.items():
            conn.execute(text(
                """
                UPDATE units SET geom = ST_Multi(ST_MakeEnvelope(:w, :s, :e, :n, 4326)),
                       geom_display = ST_Multi(ST_MakeEnvelope(:w, :s, :e, :n, 4326)),
                       label_point = ST_Centroid(ST_MakeEnvelope(:w, :s, :e, :n, 4326)),
                       is_demo_geometry = level >= 3
                WHERE code = :code
                """
            ), {"code": code, "w": w, "s": s, "e": e, "n": n})
        conn.execute(text("UPDATE unit_stats SET risk_class = 'red' WHERE unit_id = "
                          "(SELECT id FROM units WHERE code = '411002')"))
        for credit, name, risk, grid, lon, lat in ENTERPRISES:
            conn.execute(text(
                """
                INSERT INTO enterprises (credit_code, name, industry, risk_level, unit_id, geom)
                SELECT :c, :name, '危险化学品', :risk, u.id, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)
                FROM units u WHERE u.code = :grid
                ON CONFLICT (credit_code) DO NOTHING
                """
            ), {"c": credit, "name": name, "risk": risk, "grid": grid, "lon": lon, "lat": lat})
        for code, credit, grade, r in SOURCES:
            conn.execute(text(
                """
                INSERT INTO hazard_sources (code, enterprise_id, name, grade, r_value, unit_id, geom)
                SELECT :code, e.id, e.name || '储罐区', :grade, :r, e.unit_id, e.geom
                FROM enterprises e WHERE e.credit_code = :c
                ON CONFLICT (code) DO NOTHING
                """
            ), {"code": code, "c": credit, "grade": grade, "r": r})
        for code, title, credit, level, status, days, sup in HAZARDS:
            conn.execute(text(
                """
                INSERT INTO hazards (code, enterprise_id, unit_id, title, level, channel, status, found_at,
                                     deadline, closed_at, supervision_level, geom)
                SELECT :code, e.id, e.unit_id, :title, :level, 'inspection', :status, current_date - 30,
                       current_date + :days, CASE WHEN :status = 'closed' THEN current_date END, :sup,
                       ST_Translate(e.geom, 0.001, 0.001)
                FROM enterprises e WHERE e.credit_code = :c
                ON CONFLICT (code) DO NOTHING
                """
            ), {"code": code, "title": title, "c": credit, "level": level, "status": status, "days": days,
                "sup": sup})
        for unit, role, seq, key, name, phone in DUTIES:
            conn.execute(text(
                """
                INSERT INTO persons (person_key, name, phone, org) VALUES (:k, :name, :phone, '测试单位')
                ON CONFLICT (person_key) DO NOTHING
                """
            ), {"k": key, "name": name, "phone": phone})
            conn.execute(text(
                """
                INSERT INTO duties (unit_id, person_id, role, seq)
                SELECT u.id, p.id, :role, :seq FROM units u, persons p WHERE u.code = :unit AND p.person_key = :k
                ON CONFLICT DO NOTHING
                """
            ), {"unit": unit, "role": role, "seq": seq, "k": key})


@pytest.fixture(scope="session")
def map_data(engine: Engine) -> None:
    """The committed map test data."""
    ensure_map_data(engine)
