"""Dry components (dashboard/dry.py) are what Dash sends for the same components, and they are checked the same."""

from __future__ import annotations

import json
from typing import Any

import pytest
from dash import dcc, html
from dash.development.base_component import Component
from plotly.io.json import to_json_plotly

from dashboard.dry import el


def wire(value: Any) -> Any:
    """The JSON value Dash sends for ``value`` (components serialised as Dash does)."""
    return json.loads(to_json_plotly(value, engine="json"))


CASES = [
    (el(html.Div, ["a", el(html.B, "b"), None, 3], className="x", **{"data-unit": "1", "aria-label": "y"}),
     html.Div(["a", html.B("b"), None, 3], className="x", **{"data-unit": "1", "aria-label": "y"})),
    (el(dcc.Link, "甲区", href="/?unit=419002", className="cm-drill", id={"type": "cm-child", "code": "419002"}),
     dcc.Link("甲区", href="/?unit=419002", className="cm-drill", id={"type": "cm-child", "code": "419002"})),
    (el(dcc.RadioItems, id="s", options=[{"label": "风险", "value": "risk"}], value="risk", inline=True),
     dcc.RadioItems(id="s", options=[{"label": "风险", "value": "risk"}], value="risk", inline=True)),
    (el(html.Button, [el(html.Span, "t")], id={"type": "cm-hazard", "index": 7}, type="button", title="定位"),
     html.Button([html.Span("t")], id={"type": "cm-hazard", "index": 7}, type="button", title="定位")),
]


@pytest.mark.parametrize(("dry", "component"), CASES)
def test_dry_component_is_what_dash_sends(dry: dict[str, Any], component: Component) -> None:
    assert wire(dry) == wire(component)


def test_unknown_props_are_refused_like_the_constructor() -> None:
    el(html.Span, "warm-up")  # the first use of a class goes through its constructor
    with pytest.raises(TypeError):
        el(html.Span, "x", colour="red")
    with pytest.raises(TypeError):
        el(html.Table, [], colour="red")  # first use of the class: the constructor refuses


def test_orjson_engine_sends_the_same_json() -> None:
    pytest.importorskip("orjson")
    response = {"multi": True, "response": {"cm-panel": {"children": [dry for dry, _ in CASES]}}}
    assert json.loads(to_json_plotly(response, engine="orjson")) == wire(response)
