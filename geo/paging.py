"""Counting the matches of a ledger page without counting millions: the count stops a while past the page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

COUNT_CAP = 10_000  # a ledger grid counts at most this many matches past the page it asks for (then: "超过")


def capped_count(conn: Connection, from_where: str, params: dict[str, Any], *, offset: int, limit: int,
                 count_cap: int | None) -> int:
    """Return how many rows ``SELECT … {from_where}`` matches, or -1 when more than ``count_cap`` past the page.

    -1 is how AG Grid's infinite model reads an unknown row count ("more"); ``count_cap`` None counts them all.
    At millions of rows an exact count costs more than the page itself (bench/bench_inspections.py).
    """
    if count_cap is None:
        return int(conn.execute(text(f"SELECT count(*) {from_where}"), params).scalar_one())
    cap = max(0, offset) + max(1, limit) + count_cap
    seen = int(conn.execute(text(f"SELECT count(*) FROM (SELECT 1 {from_where} LIMIT :cap_) t"),  # noqa: S608
                            {**params, "cap_": cap + 1}).scalar_one())
    return seen if seen <= cap else -1
