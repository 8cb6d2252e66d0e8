"""geo.scope / geo.units / geo.users: scope applied in SQL, index-backed, users listed within scope."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text

from geo.scope import ScopeError, check_scope, path_in_scope, quote_ident, scope_params, unit_id_in_scope, unit_in_scope
from geo.units import get_unit, unit_summary, units_in_scope
from geo.users import create_user, hash_password, list_users, record_login_failure, verify_password

pytestmark = pytest.mark.db
WEIDU = "411000.411002."
XIDA = "411000.411002.411002001."


@pytest.mark.parametrize("bad", ["", "411000", "411000.%", "411000._", "x.", "411000.' OR 1=1 --.", "4110.", None])
def test_malformed_scope_never_reaches_sql(bad: str) -> None:
    with pytest.raises(ScopeError):
        check_scope(bad)


def test_identifiers_are_quoted() -> None:
    assert path_in_scope("u.path") == "\"u\".\"path\" LIKE :scope || '%'"
    with pytest.raises(ValueError, match="invalid SQL identifier"):
        quote_ident("path; drop table units")


def test_unit_in_scope(conn: Connection, unit_tree: dict[str, str]) -> None:
    assert unit_in_scope(conn, scope_path=WEIDU, code="411002002001")
    assert unit_in_scope(conn, scope_path=WEIDU, code="411002")
    assert not unit_in_scope(conn, scope_path=WEIDU, code="411000")
    assert not unit_in_scope(conn, scope_path=WEIDU, code="411003100")
    assert not unit_in_scope(conn, scope_path=XIDA, code="411002002")
    assert not unit_in_scope(conn, scope_path=XIDA, code="no-such")


def test_unit_queries_return_nothing_outside_scope(conn: Connection, unit_tree: dict[str, str]) -> None:
    assert get_unit(conn, scope=XIDA, code="411002") is None
    assert unit_summary(conn, scope=XIDA, code="411002002") is None
    weidu = unit_summary(conn, scope=WEIDU, code="411002")
    assert weidu is not None and [c["code"] for c in weidu["children"]] == ["411002001", "411002002"]
    # From a township scope, the summary of the township lists only its own villages.
    xida = unit_summary(conn, scope=XIDA, code="411002001")
    assert xida is not None and [c["code"] for c in xida["children"]] == ["411002001001"]
    codes = [u["code"] for u in units_in_scope(conn, scope=XIDA, max_depth=5)]
    assert codes == ["411002001", "411002001001", "41100200100101"]


def test_unit_id_fragment(conn: Connection, unit_tree: dict[str, str]) -> None:
    sql = f"SELECT count(*) FROM unit_stats WHERE {unit_id_in_scope('unit_stats.unit_id')}"
    assert conn.execute(text(sql), scope_params(XIDA)).scalar() == 3
    assert conn.execute(text(sql), scope_params("411000.")).scalar() >= len(unit_tree)


def test_scope_filter_uses_the_path_index(conn: Connection, unit_tree: dict[str, str]) -> None:
    conn.execute(text("SET LOCAL enable_seqscan = off"))
    sql = f'EXPLAIN SELECT "code" FROM "units" WHERE {path_in_scope("path")}'
    plan = "\n".join(conn.execute(text(sql), scope_params(WEIDU)).scalars())
    assert "ix_units_path_prefix" in plan, plan
    assert "~>=~" in plan  # the LIKE prefix became an index range condition


def test_users_listed_within_scope(conn: Connection, unit_tree: dict[str, str]) -> None:
    create_user(conn, username="scope_a", password_hash=hash_password("Aa-123456789"), role="grid_manager",
                scope_code="411002001")
    create_user(conn, username="scope_b", password_hash=hash_password("Aa-123456789"), role="grid_manager",
                scope_code="411003100")
    names = {u.username for u in list_users(conn, scope=WEIDU)}
    assert "scope_a" in names and "scope_b" not in names
    assert {"scope_a", "scope_b"} <= {u.username for u in list_users(conn, scope=None)}


def test_password_hashing_and_lock_counter(conn: Connection, unit_tree: dict[str, str]) -> None:
    h = hash_password("Correct-horse-1")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "Correct-horse-1") and not verify_password(h, "wrong")
    assert not verify_password(None, "Correct-horse-1")
    uid = create_user(conn, username="lock_me", password_hash=h, role="planner", scope_code="411000")
    results = [record_login_failure(conn, user_id=uid, max_failures=3, lockout_minutes=10) for _ in range(3)]
    assert results[0] is None and results[1] is None and results[2] is not None
