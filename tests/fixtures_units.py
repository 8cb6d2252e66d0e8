"""A small committed unit tree with unit_stats, for tests of scope, pages and routes (reusable).

    411000 许昌市
    ├── 411002 魏都区
    │   ├── 411002001 西大街道 → 411002001001 金地社区 → 41100200100101 金地社区第1网格
    │   └── 411002002 东大街道 → 411002002001 东关社区 → 41100200200101 东关社区第1网格
    └── 411003 建安区
        └── 411003100 将官池镇 → 411003100200 张庄村 → 41100310020001 张庄村第1网格

Every unit gets a ``unit_stats`` row whose ``enterprises`` count is distinctive (``ENTERPRISES``),
so a test can assert that a foreign unit's numbers do not appear in a response. Use the session
fixture ``unit_tree`` (import it into a conftest or a test module) or call :func:`ensure_unit_tree`.
Inserts are idempotent (``ON CONFLICT DO NOTHING``) and committed, so live servers see them.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

# code, name, level, kind, parent code
UNITS: list[tuple[str, str, int, str, str | None]] = [
    ("411000", "许昌市", 1, "city", None),
    ("411002", "魏都区", 2, "district", "411000"),
    ("411002001", "西大街道", 3, "subdistrict", "411002"),
    ("411002001001", "金地社区", 4, "community", "411002001"),
    ("41100200100101", "金地社区第1网格", 5, "grid", "411002001001"),
    ("411002002", "东大街道", 3, "subdistrict", "411002"),
    ("411002002001", "东关社区", 4, "community", "411002002"),
    ("41100200200101", "东关社区第1网格", 5, "grid", "411002002001"),
    ("411003", "建安区", 2, "district", "411000"),
    ("411003100", "将官池镇", 3, "town", "411003"),
    ("411003100200", "张庄村", 4, "village", "411003100"),
    ("41100310020001", "张庄村第1网格", 5, "grid", "411003100200"),
]
NAMES = {code: name for code, name, *_ in UNITS}
# Distinctive enterprise counts per unit (no count is a substring of another's decimal form).
ENTERPRISES = {code: 7000 + 111 * i for i, (code, *_) in enumerate(UNITS, start=1)}


def ensure_unit_tree(engine: Engine) -> dict[str, str]:
    """Insert the tree and its unit_stats (idempotent, committed); return code → name."""
    with engine.begin() as conn:
        for code, name, level, kind, parent in UNITS:
            conn.execute(text(
                """
                INSERT INTO units (code, name, level, kind, parent_id, path)
                SELECT :code, :name, :level, :kind, p.id, coalesce(p.path, '') || :code || '.'
                FROM (SELECT 1) one LEFT JOIN units p ON p.code = :parent
                ON CONFLICT (code) DO NOTHING
                """
            ), {"code": code, "name": name, "level": level, "kind": kind, "parent": parent})
        for code, *_ in UNITS:
            n = ENTERPRISES[code]
            conn.execute(text(
                """
                INSERT INTO unit_stats (unit_id, level, children, enterprises, ent_red, ent_orange, ent_yellow,
                                        ent_blue, hazards_open, hazards_overdue, hazards_major_open,
                                        persons_present, persons_required, risk_score, risk_class)
                SELECT u.id, u.level, (SELECT count(*) FROM units c WHERE c.parent_id = u.id), :n, 3, 5, 7, :n - 15,
                       40, 4, 2, 6, 8, 0.5, 'orange'
                FROM units u WHERE u.code = :code
                ON CONFLICT (unit_id) DO UPDATE SET enterprises = EXCLUDED.enterprises
                """
            ), {"code": code, "n": n})
    return dict(NAMES)


@pytest.fixture(scope="session")
def unit_tree(engine: Engine) -> dict[str, str]:
    """The committed test unit tree (code → name)."""
    return ensure_unit_tree(engine)
