"""The private Dash attributes of dashboard/dash_internals.py exist and behave as assumed; nothing else uses any.

Every failure names the installed Dash version: after a Dash upgrade, fix the adapter (one module) and this
test, not the callers.
"""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path
from typing import Any

import dash
import pytest
from dash import Dash, Input, Output, dcc, html
from dash.development.base_component import Component
from plotly.io.json import to_json_plotly

from dashboard import dash_internals
from dashboard.dry import el

ROOT = Path(__file__).resolve().parent.parent
ADAPTER = ROOT / "dashboard" / "dash_internals.py"


def changed(what: str) -> str:
    """The message of a failed check: which internal, which Dash, where to fix it."""
    return (f"Dash {dash.__version__}: {what} — dashboard/dash_internals.py was written for Dash "
            f"{dash_internals.TESTED_WITH}; adapt it there (and this test) to the new Dash")


def _app() -> Dash:
    app = Dash("internals_probe", serve_locally=True, suppress_callback_exceptions=True)
    app.layout = html.Div([dcc.Input(id="in"), html.Div(id="out"), dcc.Store(id="store")])
    return app


def test_setup_server_is_the_first_request_setup() -> None:
    setup = getattr(Dash, "_setup_server", None)
    assert callable(setup), changed("Dash._setup_server is gone")
    assert list(inspect.signature(setup).parameters) == ["self"], changed(
        f"Dash._setup_server takes {inspect.signature(setup)}, not (self)")
    app = _app()
    assert not app.registered_paths, changed("component-suite paths are registered before _setup_server runs")
    dash_internals.setup_server(app)
    paths = {k: set(v) for k, v in app.registered_paths.items()}
    assert "dash" in paths, changed(
        f"_setup_server no longer registers the component-suite paths (got {sorted(paths)})")
    dash_internals.setup_server(app)  # idempotent: a second run changes nothing and does not raise
    assert {k: set(v) for k, v in app.registered_paths.items()} == paths, changed("_setup_server is not idempotent")


def test_setup_server_makes_the_suites_servable_before_any_request() -> None:
    app = _app()
    dash_internals.setup_server(app)
    client = app.server.test_client()
    index = client.get("/").get_data(as_text=True)
    scripts = [s.split('"')[0] for s in index.split('src="')[1:] if "_dash-component-suites" in s]
    assert scripts, changed("the index page lists no component-suite script")
    for src in scripts[:3]:
        assert client.get(src.split("?")[0]).status_code == 200, changed(f"{src} is not served after the setup")


@pytest.mark.parametrize(("component", "required"), [
    (html.Div, {}), (html.Span, {}), (dcc.Link, {"href": "/"}), (dcc.RadioItems, {}), (dcc.Store, {}),
])
def test_component_wire_attributes(component: type[Component], required: dict[str, Any]) -> None:
    sample = component(id="x", **required)
    kind, namespace = dash_internals.wire_name(component)
    wire = sample.to_plotly_json()
    assert (kind, namespace) == (wire["type"], wire["namespace"]), changed(
        f"{component.__name__}._type/_namespace are not what to_plotly_json sends")
    names, wildcards = dash_internals.prop_names(sample)
    assert "id" in names and set(wire["props"]) <= names, changed(
        f"{component.__name__}()._prop_names does not list the props it sends")
    if component.__module__.startswith("dash.html"):
        assert {"data-", "aria-"} <= set(wildcards), changed(
            f"{component.__name__}()._valid_wildcard_attributes lost data-/aria-")


def test_a_dry_component_in_a_callback_answer_is_sent_as_the_component() -> None:
    # dashboard/dry.py: Dash's response writer passes callback values through as they are.
    answers: dict[str, Any] = {}
    for kind, value in (("dry", el(html.B, "x", className="y")), ("component", html.B("x", className="y"))):
        app = _app()

        @app.callback(Output("out", "children"), Input("in", "value"))
        def answer(_v: Any, value: Any = value) -> Any:
            return value

        dash_internals.setup_server(app)
        body = {"output": "out.children", "outputs": {"id": "out", "property": "children"},
                "inputs": [{"id": "in", "property": "value", "value": "a"}], "changedPropIds": ["in.value"],
                "state": []}
        r = app.server.test_client().post("/_dash-update-component", json=body)
        assert r.status_code == 200, changed(f"a {kind} callback answer fails: {r.status_code}")
        answers[kind] = r.get_json()
    assert answers["dry"] == answers["component"], changed("a dry component is not sent as the component is")
    assert answers["dry"]["response"]["out"]["children"] == json.loads(to_json_plotly(html.B("x", className="y")))


def _private_dash_names() -> set[str]:
    """Every ``_name`` attribute of a Dash app or component (class or instance), dunders excluded."""
    objects: list[Any] = [Dash, _app(), Component, html.Div, html.Div(id="x"), dcc.Store, dcc.Store(id="x")]
    names = {n for obj in objects for n in (*dir(obj), *getattr(obj, "__dict__", {}))}
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def test_no_private_dash_attribute_outside_the_adapter() -> None:
    private = _private_dash_names()
    assert "_setup_server" in private and "_prop_names" in private
    bad = []
    for path in (ROOT / "dashboard").rglob("*.py"):
        if path == ADAPTER:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in private and not (
                    isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    assert bad == [], f"private Dash attributes belong in dashboard/dash_internals.py: {bad}"
