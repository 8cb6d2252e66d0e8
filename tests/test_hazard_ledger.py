"""Hazard ledger (geo/hazard_ledger.py): filters, sorting, paging, scope, whitelists."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Connection, text

from dashboard.components.hazard_ledger import display_row
from domain.hazard_flow import FIVE_IN_PLACE, five_in_place_missing
from geo import hazard_ledger as hl
from geo.hazard_ledger import LedgerError, LedgerFilters, hazard_export_rows, hazard_page, order_by, scope_industries
from tests.test_search_data import CITY, JIANAN, WEIDU, inspector_world

__all__ = ["inspector_world"]
pytestmark = pytest.mark.usefixtures("inspector_world")
TODAY = date(2026, 1, 10)
ALL = LedgerFilters(text="TT-", today=TODAY)  # only this module's fixture hazards


def codes(conn: Connection, scope: str, **kw) -> list[str]:  # type: ignore[no-untyped-def]
    rows, total = hazard_page(conn, scope=scope, filters=LedgerFilters(text="TT-", today=TODAY, **kw),
                              sort=[("code", "asc")])
    assert total == len(rows)
    return [r["code"] for r in rows]


def test_scope(conn: Connection) -> None:
    assert codes(conn, CITY) == ["TT-H1", "TT-H2", "TT-H3", "TT-H4", "TT-H5"]
    assert codes(conn, WEIDU) == ["TT-H1", "TT-H2", "TT-H3", "TT-H4"]
    assert codes(conn, JIANAN) == ["TT-H5"]


def test_filters(conn: Connection) -> None:
    assert codes(conn, CITY, statuses=("closed",)) == ["TT-H2"]
    assert codes(conn, CITY, open_only=True) == ["TT-H1", "TT-H3", "TT-H4", "TT-H5"]
    assert codes(conn, CITY, levels=("major",)) == ["TT-H1", "TT-H5"]
    assert codes(conn, CITY, overdue=True) == ["TT-H1", "TT-H4", "TT-H5"]
    assert codes(conn, CITY, supervised=True) == ["TT-H1", "TT-H5"]
    assert codes(conn, CITY, channels=("public_report", "self_check")) == ["TT-H2", "TT-H3"]
    assert codes(conn, CITY, industries=("烟花爆竹",)) == ["TT-H4"]
    assert codes(conn, CITY, found_from=date(2025, 8, 1), found_to=date(2025, 9, 30)) == ["TT-H1", "TT-H4"]
    assert codes(conn, WEIDU, overdue=True, levels=("major",)) == ["TT-H1"]


def test_text_filter_is_literal(conn: Connection) -> None:
    rows, _ = hazard_page(conn, scope=CITY, filters=LedgerFilters(text="液氨", today=TODAY))
    assert [r["code"] for r in rows] == ["TT-H1"]
    rows, total = hazard_page(conn, scope=CITY, filters=LedgerFilters(text="TT_%", today=TODAY))
    assert (rows, total) == ([], 0)


def test_row_contents(conn: Connection) -> None:
    rows, _ = hazard_page(conn, scope=CITY, filters=LedgerFilters(text="TT-H1", today=TODAY))
    (r,) = rows
    assert r["overdue"] is True and r["overdue_days"] == (TODAY - date(2025, 10, 1)).days
    assert (r["enterprise_name"], r["unit_code"], r["supervision_level"]) == (
        "许昌瑞恒化工有限公司", "41100200100101", 2)
    assert r["lat"] == pytest.approx(34.03)


def test_sorting_and_paging(conn: Connection) -> None:
    rows, total = hazard_page(conn, scope=CITY, filters=ALL, sort=[("found_at", "desc")], offset=1, limit=2)
    assert total == 5
    assert [r["code"] for r in rows] == ["TT-H1", "TT-H4"]  # H3 (2025-11-01) is on the first page
    default, _ = hazard_page(conn, scope=CITY, filters=ALL)
    assert default[0]["overdue_days"] == max(r["overdue_days"] or 0 for r in default)
    assert default[-1]["overdue"] is False


def test_default_order_pages_equal_one_order_by(conn: Connection) -> None:
    """The default page (two top-N reads merged) gives the rows of one ORDER BY over every match, at any window."""
    for filters in (ALL, LedgerFilters(today=TODAY), LedgerFilters(today=TODAY, open_only=True)):
        sql = f"{hl._SELECT} {hl._FROM} {hl._WHERE} {hl.order_by(None)} OFFSET :off LIMIT :lim"
        params = hl._params(CITY, filters)
        whole = [r["code"] for r in conn.execute(text(sql), {**params, "off": 0, "lim": 1000}).mappings()]
        assert len(whole) >= 3
        for off in range(len(whole) + 1):
            for lim in (1, 2, 3):
                rows, _ = hazard_page(conn, scope=CITY, filters=filters, offset=off, limit=lim)
                assert [r["code"] for r in rows] == whole[off:off + lim], (filters, off, lim)


def test_capped_count(conn: Connection) -> None:
    """count_cap: exact while at most cap hazards lie past the page, -1 ("超过", unknown to the grid) beyond."""
    page = {"scope": CITY, "filters": ALL, "sort": [("found_at", "desc")], "offset": 1, "limit": 2}
    assert hazard_page(conn, **page, count_cap=2)[1] == 5  # 5 <= 1 + 2 + 2: exact
    rows, more = hazard_page(conn, **page, count_cap=1)  # 5 > 1 + 2 + 1: more
    assert more == -1 and [r["code"] for r in rows] == ["TT-H1", "TT-H4"]  # the page itself unchanged


def test_overdue_list_sorts_by_deadline(conn: Connection) -> None:
    """With only overdue rows, days overdue sort as the deadline reversed (an index on it serves the briefing)."""
    assert order_by([("overdue_days", "desc")], overdue_only=True) == 'ORDER BY h."deadline" ASC, h."code"'
    assert order_by([("overdue_days", "asc")], overdue_only=True) == 'ORDER BY h."deadline" DESC, h."code"'
    filters = LedgerFilters(text="TT-", overdue=True, today=TODAY)
    for direction in ("desc", "asc"):
        rows = hazard_export_rows(conn, scope=CITY, filters=filters, sort=[("overdue_days", direction)])
        days = [int(r["overdue_days"] or 0) for r in rows]
        assert len(days) == 3 and min(days) > 0 and days == sorted(days, reverse=direction == "desc")
        page, _ = hazard_page(conn, scope=CITY, filters=filters, sort=[("overdue_days", direction)])
        assert page == rows


def test_export_rows_match_page(conn: Connection) -> None:
    page, _ = hazard_page(conn, scope=WEIDU, filters=ALL, limit=500)
    assert hazard_export_rows(conn, scope=WEIDU, filters=ALL) == page


def test_whitelists(conn: Connection) -> None:
    with pytest.raises(LedgerError):
        order_by([("h.code; DROP TABLE hazards", "asc")])
    with pytest.raises(LedgerError):
        order_by([("code", "sideways")])
    with pytest.raises(LedgerError):
        LedgerFilters(statuses=("bogus",))
    with pytest.raises(LedgerError):
        LedgerFilters(found_from=date(2025, 2, 1), found_to=date(2025, 1, 1))

def test_industry_choices_are_the_scopes_enterprises(conn: Connection) -> None:
    """An industry is offered where an enterprise of it stands (rolled back: other tests' enterprises vary)."""
    conn.execute(text(
        "INSERT INTO enterprises (credit_code, name, industry, unit_id) "
        "SELECT '91411002TTIND0001X', '行业选项测试企业', '测试行业甲', id FROM units WHERE path LIKE :p || '%' "
        "ORDER BY level DESC, code LIMIT 1"), {"p": WEIDU})
    assert "测试行业甲" in scope_industries(conn, scope=WEIDU)
    assert "测试行业甲" not in scope_industries(conn, scope=JIANAN)
    everyone = conn.execute(text(
        "SELECT DISTINCT industry FROM enterprises e JOIN units u ON u.id = e.unit_id "
        "WHERE u.path LIKE :p || '%' AND industry IS NOT NULL ORDER BY 1"), {"p": JIANAN}).scalars().all()
    assert scope_industries(conn, scope=JIANAN) == everyone


def test_five_in_place_flag_and_filter(conn: Connection) -> None:
    # The fixture's hazards have 责任人, 措施, 时限 and 资金 but no 预案; TT-H3 gets one, TT-H4's 措施 turns blank.
    conn.execute(text("UPDATE hazards SET contingency_plan = '专项应急预案' WHERE code = 'TT-H3'"))
    conn.execute(text("UPDATE hazards SET measures = '  ' WHERE code = 'TT-H4'"))
    rows, _ = hazard_page(conn, scope=CITY, filters=ALL, sort=[("code", "asc")])
    assert {r["code"]: r["five_missing"] for r in rows} == {
        "TT-H1": ["contingency_plan"], "TT-H2": ["contingency_plan"], "TT-H3": [],
        "TT-H4": ["measures", "contingency_plan"], "TT-H5": ["contingency_plan"]}
    # the SQL agrees with the domain rule the 提交验收 check uses
    for r in rows:
        assert [FIVE_IN_PLACE[k] for k in r["five_missing"]] == five_in_place_missing(r)  # type: ignore[arg-type]
    assert codes(conn, CITY, five_incomplete=True) == ["TT-H1", "TT-H2", "TT-H4", "TT-H5"]
    assert codes(conn, CITY, five_incomplete=True, open_only=True) == ["TT-H1", "TT-H4", "TT-H5"]
    labelled = display_row(next(r for r in rows if r["code"] == "TT-H4"))
    assert (labelled["five_label"], labelled["five_missing"]) == ("缺措施、预案", "整改措施、应急预案")
    assert display_row(next(r for r in rows if r["code"] == "TT-H3"))["five_label"] == "齐全"
