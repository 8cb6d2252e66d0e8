"""Dry components (dashboard/dry.py) are what Dash sends for the same components, and they are checked the same."""

from __future__ import annotations

import json
from typing import Any

import pytest
from dash import dcc, html
from dash.development.base_component import Component
from plotly.io.json import to_json_plotly

from dashboard.dry import el, html_block, radio_group, static_children, to_html


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


def test_to_html_escapes_and_refuses_what_needs_dash() -> None:
    block = el(html.Div, ['<b>&"', el(html.A, "甲区", href="/?unit=1&x=<", className="cm-drill", **{"data-drill": "1"}),
                          None, 3, el(html.Button, "t", type="button", disabled=True, title='"q"')], className="x")
    assert to_html(block) == ('<div class="x">&lt;b&gt;&amp;&#34;<a href="/?unit=1&amp;x=&lt;" class="cm-drill" '
                              'data-drill="1">甲区</a>3<button type="button" disabled title="&#34;q&#34;">t</button>'
                              '</div>')
    for needs_dash in (el(dcc.Link, "x", href="/"), el(html.Button, "x", id={"type": "t", "index": 1}),
                       el(html.Div, "x", style={"color": "red"}), el(html.Div, "x", style={"--c": "red;x:y"}),
                       el(html.Div, "x", style={"--c": 'a"b'})):
        with pytest.raises(TypeError):
            to_html(needs_dash)
    assert html_block([el(html.B, "b")], "cm-html") == {
        "type": "Purify", "namespace": "dash_extensions", "props": {"html": "<b>b</b>", "className": "cm-html"}}


def test_static_children_keep_the_element_and_send_its_contents_as_html() -> None:
    legend = html.Div([html.Div("危险源", className="t"), html.Ul(html.Li(html.Span(style={"--swatch": "#b2182b"})))],
                      id="x-legend", className="sg-legend")
    kept = static_children(legend, "sg-legend-body")
    assert kept is legend and kept.id == "x-legend" and kept.className == "sg-legend"
    assert wire(kept.children) == {"type": "Purify", "namespace": "dash_extensions", "props": {
        "className": "sg-legend-body",
        "html": '<div class="t">危险源</div><ul><li><span style="--swatch: #b2182b"></span></li></ul>'}}


def test_radio_group_is_escaped_html_that_to_html_passes_through() -> None:
    group = radio_group("s", {"a": "甲", 'b"': "<乙>"}, "a", id="g", class_="x", aria_label='排"序')
    assert to_html(el(html.Div, group)) == (
        '<div><div id="g" class="x" aria-label="排&#34;序"><label><input type="radio" name="s" value="a" checked>甲'
        '</label><label><input type="radio" name="s" value="b&#34;">&lt;乙&gt;</label></div></div>')
