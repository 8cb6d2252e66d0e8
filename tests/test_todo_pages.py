"""The 待办 list a page at a time (``/todo?page=N``): 50 rows a page, the pager, bad page numbers clamped."""

from __future__ import annotations

import json
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
from dash import html
from sqlalchemy import Engine

from dashboard.hazard.layout import TODO_PAGE_SIZE, todo_page
from domain import clock
from tests.browser import http_login, make_user, route_payload
from tests.fixtures_map import map_data  # noqa: F401

ACCOUNT = cast(Any, SimpleNamespace(record=SimpleNamespace(scope_name="测试市")))


def _items(n: int) -> list[dict[str, Any]]:
    late = clock.today() - timedelta(days=3)
    return [{"id": i, "code": f"YH-T{i:04d}", "title": f"隐患{i}", "level": "general", "status": "rectifying",
             "deadline": late, "enterprise_name": None, "unit_name": "甲一社区第1网格", "verify": i % 2 == 0,
             "rectify": False, "supervised": False, "overdue": True} for i in range(n)]


def _find(node: Any, pred: Any) -> list[Any]:
    """Every component under ``node`` matching ``pred``."""
    found = [node] if pred(node) else []
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list) else [children] if children is not None else []:
        found += _find(child, pred)
    return found


def _codes(page: html.Div) -> list[str]:
    return [tr.to_plotly_json()["props"]["data-code"] for tr in _find(page, lambda c: isinstance(c, html.Tr)
                                                                     and "data-code" in c.to_plotly_json()["props"])]


def _text(node: Any) -> str:
    return json.dumps(node.to_plotly_json(), default=lambda c: c.to_plotly_json(), ensure_ascii=False)


def test_a_page_lists_fifty_rows_and_counts_every_item() -> None:
    items = _items(120)
    first = todo_page(items, None, ACCOUNT, page=1, listed_max=300)
    assert _codes(first) == [f"YH-T{i:04d}" for i in range(TODO_PAGE_SIZE)]
    body = _text(first)
    assert "待验收 60" in body and "已逾期 120" in body  # the summary counts all 120, not the page
    assert "第 1 / 3 页 · 共 120 条" in body and "/todo?page=2" in body and "列出最紧急" not in body
    last = todo_page(items, None, ACCOUNT, page=3, listed_max=300)
    assert _codes(last) == [f"YH-T{i:04d}" for i in range(100, 120)]
    assert "/todo?page=2" in _text(last) and "/todo?page=4" not in _text(last)
    assert _codes(todo_page(items, None, ACCOUNT, page=99)) == _codes(last)  # past the end: the last page
    assert _codes(todo_page(items, None, ACCOUNT, page=-5)) == _codes(first)


def test_one_page_has_no_pager_and_a_full_list_says_where_it_stops() -> None:
    assert "todo-pager" not in _text(todo_page(_items(TODO_PAGE_SIZE), None, ACCOUNT))
    assert "共 300 条（列出最紧急的 300 条）" in _text(todo_page(_items(300), None, ACCOUNT, listed_max=300))


@pytest.mark.db
@pytest.mark.usefixtures("map_data")
@pytest.mark.parametrize("search", ["?page=abc", "?page=-1", "?page=99999999999", "?page=2&page=x", "?page=",
                                    "?page=²"])
def test_a_bad_page_number_shows_the_first_or_last_page(live_server: str, engine: Engine, search: str) -> None:
    session = http_login(live_server, *make_user(engine, role="leader", scope="419002"))
    r = session.post(f"{live_server}/_dash-update-component", json=route_payload("/todo", search), timeout=20)
    assert r.status_code == 200, r.text[:300]
    assert "todo-title" in r.text and "Traceback" not in r.text
