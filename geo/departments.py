"""Enterprises' supervising department (issue 18 part 5): the catalogue code from the free text or the industry.

``enterprises.supervising_dept`` keeps what the ledger says (“许昌市住建局”); ``enterprises.dept_code`` is the
department catalogue's code (domain/catalogues.py) it names, else the industry's default department. Matching runs
in Python over the distinct (text, industry) pairs — a few hundred even at a million enterprises — and the
result is written by one hash join.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, text

from domain.catalogues import DepartmentCatalogue
from geo.etl_sql import STAGE

_PAIRS = """
SELECT e."supervising_dept", e."industry", count(*) AS n FROM "enterprises" e {where} GROUP BY 1, 2
"""
_LOADED = f'JOIN "{STAGE}" s ON s."credit_code" = e."credit_code"'
_UPDATE = """
UPDATE "enterprises" e SET "dept_code" = m.c
FROM jsonb_to_recordset(CAST(:m AS jsonb)) AS m(t text, i text, c text) {join}
WHERE coalesce(e."supervising_dept", '') = m.t AND coalesce(e."industry", '') = m.i
  AND e."dept_code" IS DISTINCT FROM m.c {where}
"""


@dataclass(frozen=True)
class Unnamed:
    """A supervising-department text no department of the catalogue is found in, and how many enterprises carry it."""

    text: str
    enterprises: int


def assign_departments(conn: Connection, catalogue: DepartmentCatalogue, *, loaded: bool) -> tuple[int, list[Unnamed]]:
    """Set ``dept_code`` of the enterprises just loaded (``loaded``: those in the ETL stage) or of all of them.

    Return how many changed and the texts that name no department (those enterprises get their industry's default
    department), most frequent first.
    """
    where = _LOADED if loaded else ""
    pairs = conn.execute(text(_PAIRS.format(where=where))).all()
    rows: list[dict[str, str | None]] = []
    unnamed: dict[str, int] = {}
    for dept_text, industry, n in pairs:
        code, named = catalogue.assign(dept_text, industry)
        rows.append({"t": dept_text or "", "i": industry or "", "c": code})
        if not named and (dept_text or "").strip():
            unnamed[dept_text.strip()] = unnamed.get(dept_text.strip(), 0) + int(n)
    changed = 0
    if rows:
        sql = _UPDATE.format(join=f', "{STAGE}" s' if loaded else "",
                             where='AND s."credit_code" = e."credit_code"' if loaded else "")
        changed = conn.execute(text(sql), {"m": json.dumps(rows, ensure_ascii=False)}).rowcount
    return changed, sorted((Unnamed(t, n) for t, n in unnamed.items()), key=lambda u: (-u.enterprises, u.text))


def unnamed_note(unnamed: list[Unnamed], limit: int = 10) -> str:
    """Return the load note listing the department texts not recognised (empty when none)."""
    if not unnamed:
        return ""
    shown = "、".join(f"“{u.text}”（{u.enterprises} 家）" for u in unnamed[:limit])
    more = f" 等 {len(unnamed)} 种" if len(unnamed) > limit else ""
    return (f"行业主管部门未能对应部门目录，已按行业归入默认部门：{shown}{more}"
            "（可在 /admin/rules 的部门目录中添加别名）")
