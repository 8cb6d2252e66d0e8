"""The enterprise ledger's 行业主管部门 on load (issue 18 part 5): mapped to the department catalogue, unknown text
reported in the load's notes and kept as written, the industry's default department where the text names none.

Own ETL database (tests/etl_support.py).
"""

from __future__ import annotations

from pathlib import Path

from etl.load import load_file
from tests.etl_support import (
    ENTERPRISE_HEADER,
    clean_fixture,  # noqa: F401
    enterprise_rows,
    etl_url_fixture,  # noqa: F401
    query,
    write_csv,
)


def test_a_load_maps_the_department_text(clean: str, tmp_path: Path) -> None:
    rows = enterprise_rows(4)
    texts = ("许昌市住建局", "魏都区交通运输局", "某某管理中心", "")
    header = [*ENTERPRISE_HEADER, "行业主管部门"]
    result = load_file("enterprises", write_csv(tmp_path / "ent.csv", header, [[*r, t] for r, t in
                                                                           zip(rows, texts, strict=True)]), url=clean)
    assert result.status == "ok", (result.message, result.rejects)
    assert any("某某管理中心" in note and "1 家" in note for note in result.notes), result.notes
    stored = query(clean, "SELECT supervising_dept, dept_code FROM enterprises ORDER BY credit_code")
    assert [(r.supervising_dept, r.dept_code) for r in stored] == [
        ("许昌市住建局", "zhujian"), ("魏都区交通运输局", "jiaotong"),
        ("某某管理中心", "yingji"),  # 机械's default department; the text is kept as written
        (None, "yingji")]
    # a later ledger without the column changes the industry: the enterprise follows its new industry's department,
    # the others keep the department their text named
    rows[3][2] = "建筑施工"
    again = load_file("enterprises", write_csv(tmp_path / "ent2.csv", ENTERPRISE_HEADER, rows), url=clean)
    assert again.status == "ok", again.message
    assert any("某某管理中心" in n for n in again.notes)  # still carried by a loaded enterprise: still reported
    stored = query(clean, "SELECT dept_code FROM enterprises ORDER BY credit_code")
    assert [r.dept_code for r in stored] == ["zhujian", "jiaotong", "yingji", "zhujian"]
