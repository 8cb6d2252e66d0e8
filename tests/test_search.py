"""Enterprise search (geo/search.py) on the inspector test world: matching, ranking, scope, index use."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text

from geo.search import escape_like, search_enterprises, search_params
from tests.test_search_data import A_CODE, CITY, E_CODE, ENTERPRISES, JIANAN, WEIDU, inspector_world

__all__ = ["inspector_world"]
pytestmark = pytest.mark.usefixtures("inspector_world")


def names(hits) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.name for h in hits]


def test_chinese_substring_finds_the_enterprise_first(conn: Connection) -> None:
    hits = search_enterprises(conn, scope=WEIDU, q="瑞恒化工")
    assert names(hits)[0] == "许昌瑞恒化工有限公司"
    assert hits[0].match == "name"
    assert hits[0].credit_code == A_CODE
    assert hits[0].unit_code == "41100200100101"
    assert hits[0].lat == pytest.approx(34.03) and hits[0].lon == pytest.approx(113.85)


def test_two_character_substring_matches(conn: Connection) -> None:
    assert "许昌恒达机械制造有限公司" in names(search_enterprises(conn, scope=WEIDU, q="机械"))
    assert names(search_enterprises(conn, scope=WEIDU, q="爆竹")) == ["东关烟花爆竹批发部"]
    assert search_enterprises(conn, scope=WEIDU, q="械") == []  # one character: codes only


def test_bigrams_function(conn: Connection) -> None:
    got = conn.execute(text("SELECT sg_bigrams('化工化工厂'), sg_bigrams('化'), sg_bigrams('')")).one()
    assert sorted(got[0]) == sorted(["化工", "工化", "工厂"]) and got[1] == [] and got[2] == []


def test_scope_hides_foreign_enterprises(conn: Connection) -> None:
    weidu = names(search_enterprises(conn, scope=WEIDU, q="瑞恒化工"))
    assert "建安区瑞恒化工二厂" not in weidu
    city = names(search_enterprises(conn, scope=CITY, q="瑞恒化工"))
    assert {"许昌瑞恒化工有限公司", "建安区瑞恒化工二厂"} <= set(city)
    jianan = names(search_enterprises(conn, scope=JIANAN, q="瑞恒化工"))
    assert "许昌瑞恒化工有限公司" not in jianan and "建安区瑞恒化工二厂" in jianan


def test_credit_code_exact_prefix_and_normalisation(conn: Connection) -> None:
    exact = search_enterprises(conn, scope=CITY, q=A_CODE)
    assert exact[0].credit_code == A_CODE and exact[0].match == "code"
    assert exact[0].score > max((h.score for h in exact[1:]), default=0)
    prefix = {h.credit_code for h in search_enterprises(conn, scope=CITY, q=A_CODE[:12])}
    assert {c for c, *_ in ENTERPRISES.values()} <= prefix  # all share 91411002TT99…
    lower = search_enterprises(conn, scope=CITY, q=" " + A_CODE.lower()[:14] + " ")
    assert A_CODE in {h.credit_code for h in lower}
    assert search_enterprises(conn, scope=WEIDU, q=E_CODE) == []
    assert search_params(A_CODE, limit=5)["trigram"] is False  # a code skips the text branches
    assert search_params("ABC", limit=5)["trigram"] is True  # letters only: could be a name


def test_address_match(conn: Connection) -> None:
    hits = search_enterprises(conn, scope=WEIDU, q="金地路3号")
    assert hits[0].name == "魏都区金地加油站" and hits[0].match == "address"


def test_fuzzy_name_with_a_wrong_character(conn: Connection) -> None:
    hits = search_enterprises(conn, scope=WEIDU, q="许昌恒达机械制造公司")  # 有限 missing
    assert names(hits)[0] == "许昌恒达机械制造有限公司"
    assert hits[0].match == "fuzzy"


def test_wildcards_are_literal_and_empty_query_is_empty(conn: Connection) -> None:
    assert search_enterprises(conn, scope=CITY, q="%") == []
    assert search_enterprises(conn, scope=CITY, q="_") == []
    assert search_enterprises(conn, scope=CITY, q="   ") == []
    assert escape_like("a%b_c\\") == "a\\%b\\_c\\\\"


def test_limit_is_respected(conn: Connection) -> None:
    assert len(search_enterprises(conn, scope=CITY, q="许昌", limit=2)) == 2


def test_bad_scope_is_refused(conn: Connection) -> None:
    with pytest.raises(ValueError):
        search_enterprises(conn, scope="411000.' OR 1=1 --", q="化工")


@pytest.mark.parametrize(("condition", "index"), [
    ("name LIKE '%瑞恒化工%'", "ix_enterprises_name_trgm"),
    ("'许昌恒达机械制造公司' <% name", "ix_enterprises_name_trgm"),
    ("address LIKE '%金地路%'", "ix_enterprises_address_trgm"),
    ("sg_bigrams(name) @> ARRAY['机械']", "ix_enterprises_name_bigrams"),
    ("credit_code >= '91411002TT' AND credit_code < '91411002TT~'", "uq_enterprises_credit_code"),
])
def test_search_conditions_are_index_backed(conn: Connection, condition: str, index: str) -> None:
    """Each branch condition of the search can be served by its index (the planner picks by cost)."""
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(conn.execute(text(f"EXPLAIN SELECT id FROM enterprises WHERE {condition}")).scalars())
    assert index in plan
