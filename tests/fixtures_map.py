"""Map test data: a unit tree of its own (测试市 419000, far from the 许昌 codes and coordinates other
tests commit), rectangles for every unit, unit_stats, enterprises, hazard sources, hazards, persons
and duties; committed and idempotent so live servers see them.

    419000 测试市 (box 100.0-101.0 × 25.8-26.4)
    ├── 419002 甲区 (west half)  ─ 419002001 甲一街道 (south) → 419002001001 甲一社区 → 41900200100101 甲一社区第1网格
    │                            └ 419002002 甲二街道 (north) → 419002002001 甲二社区 → 41900200200101 甲二社区第1网格
    └── 419003 乙区 (east half)  ─ 419003100 乙一镇 → 419003100200 乙一村 → 41900310020001 乙一村第1网格

Objects under 乙区 are "foreign" for a 甲区 account.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, Engine, text

# code, name, level, kind, parent code, box (w, s, e, n)
UNITS: list[tuple[str, str, int, str, str | None, tuple[float, float, float, float]]] = [
    ("419000", "测试市", 1, "city", None, (100.0, 25.8, 101.0, 26.4)),
    ("419002", "甲区", 2, "district", "419000", (100.0, 25.8, 100.5, 26.4)),
    ("419002001", "甲一街道", 3, "subdistrict", "419002", (100.0, 25.8, 100.5, 26.1)),
    ("419002001001", "甲一社区", 4, "community", "419002001", (100.0, 25.8, 100.5, 26.1)),
    ("41900200100101", "甲一社区第1网格", 5, "grid", "419002001001", (100.0, 25.8, 100.5, 26.1)),
    ("419002002", "甲二街道", 3, "subdistrict", "419002", (100.0, 26.1, 100.5, 26.4)),
    ("419002002001", "甲二社区", 4, "community", "419002002", (100.0, 26.1, 100.5, 26.4)),
    ("41900200200101", "甲二社区第1网格", 5, "grid", "419002002001", (100.0, 26.1, 100.5, 26.4)),
    ("419003", "乙区", 2, "district", "419000", (100.5, 25.8, 101.0, 26.4)),
    ("419003100", "乙一镇", 3, "town", "419003", (100.5, 25.8, 101.0, 26.4)),
    ("419003100200", "乙一村", 4, "village", "419003100", (100.5, 25.8, 101.0, 26.4)),
    ("41900310020001", "乙一村第1网格", 5, "grid", "419003100200", (100.5, 25.8, 101.0, 26.4)),
]
# Distinctive unit_stats enterprise counts (no count is a substring of another's decimal form).
STAT_ENTERPRISES = {code: 5000 + 111 * i for i, (code, *_) in enumerate(UNITS, start=1)}
OWN_GRID = "41900200100101"
FOREIGN_GRID = "41900310020001"
# credit code, name, risk, grid, lon, lat
ENTERPRISES = [
    ("91419000MAPT000001", "金地化工有限公司", "red", OWN_GRID, 100.10, 25.90),
    ("91419000MAPT000002", "金地机械厂", "yellow", OWN_GRID, 100.20, 25.95),
    ("91419000MAPT000003", "金地纺织公司", None, OWN_GRID, 100.30, 26.00),
    ("91419000MAPT000004", "乙区烟花厂", "orange", FOREIGN_GRID, 100.70, 26.00),
]
# code, enterprise credit code, grade, r_value
SOURCES = [("MAPT-S1", "91419000MAPT000001", 2, 60), ("MAPT-S2", "91419000MAPT000004", 1, 120)]
# code, title, enterprise, level, status, days from today to the deadline, supervision level
HAZARDS = [
    ("MAPT-H1", "储罐区可燃气体报警器失效", "91419000MAPT000001", "major", "rectifying", -10, 2),
    ("MAPT-H2", "车间安全出口堵塞", "91419000MAPT000002", "general", "reported", 20, None),
    ("MAPT-H3", "配电箱无防护", "91419000MAPT000002", "general", "closed", -5, None),
    ("MAPT-H4", "仓库超量储存", "91419000MAPT000004", "major", "rectifying", -3, 1),
]
# unit code, role, seq, person key, name, phone
DUTIES = [
    ("419002001", "first", 1, "MAPT-P1", "王建国", "13800000001"),
    ("419002001", "leader", 1, "MAPT-P2", "李红梅", "13800000002"),
    ("419002001", "supervisor", 1, "MAPT-P3", "赵志强", "13800000003"),
    (OWN_GRID, "first", 1, "MAPT-P4", "孙丽", "13800000004"),
    (OWN_GRID, "leader", 1, "MAPT-P5", "周勇", "13800000005"),
    (OWN_GRID, "supervisor", 1, "MAPT-P6", "吴敏", "13800000006"),
    (OWN_GRID, "supervisor", 2, "MAPT-P7", "郑伟", "13800000007"),
    (OWN_GRID, "grid_worker", 1, "MAPT-P8", "冯静", "13800000008"),
    (FOREIGN_GRID, "first", 1, "MAPT-P9", "陈外人", "13800000009"),
]


def insert_box_unit(conn: Connection, unit: tuple[str, str, int, str, str | None, tuple[float, float, float, float]],
                    *, demo_geometry: bool) -> None:
    """Insert one unit whose geometry is its bounding box ``(w, s, e, n)`` under its parent (idempotent)."""
    code, name, level, kind, parent, (w, s, e, n) = unit
    conn.execute(text(
        """
        INSERT INTO units (code, name, level, kind, parent_id, path, geom, geom_display, label_point,
                           is_demo_geometry)
        SELECT :code, :name, :level, :kind, p.id, coalesce(p.path, '') || :code || '.',
               ST_Multi(ST_MakeEnvelope(:w, :s, :e, :n, 4326)), ST_Multi(ST_MakeEnvelope(:w, :s, :e, :n, 4326)),
               ST_Centroid(ST_MakeEnvelope(:w, :s, :e, :n, 4326)), :demo
        FROM (SELECT 1) one LEFT JOIN units p ON p.code = :parent
        ON CONFLICT (code) DO NOTHING
        """
    ), {"code": code, "name": name, "level": level, "kind": kind, "parent": parent, "w": w, "s": s, "e": e,
        "n": n, "demo": demo_geometry})


def ensure_map_data(engine: Engine) -> None:
    """Insert the tree with geometry and unit_stats, and the map objects (idempotent, committed)."""
    with engine.begin() as conn:
        for unit in UNITS:
            code = unit[0]
            insert_box_unit(conn, unit, demo_geometry=unit[2] >= 3)
            conn.execute(text(
                """
                INSERT INTO unit_stats (unit_id, level, children, enterprises, ent_red, ent_orange, ent_yellow,
                                        ent_blue, hazards_open, hazards_overdue, hazards_major_open,
                                        persons_present, persons_required, risk_score, risk_class)
                SELECT u.id, u.level, (SELECT count(*) FROM units c WHERE c.parent_id = u.id), :n, 3, 5, 7, :n - 15,
                       40, 4, 2, 6, 8, 0.5, CASE WHEN u.code = '419002' THEN 'red' ELSE 'orange' END
                FROM units u WHERE u.code = :code
                ON CONFLICT (unit_id) DO NOTHING
                """
            ), {"code": code, "n": STAT_ENTERPRISES[code]})
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
