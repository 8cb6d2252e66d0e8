"""The side panel of the command map in the response cache: a hit answers the same, a committed write
invalidates, the scope is part of the key and a foreign unit is refused although another scope has it cached."""

from __future__ import annotations

import gzip
import json
import re
from typing import Any

import pytest
from dash import Dash
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from dashboard.app import create_app
from tests.browser import app_settings
from tests.fixtures_map import map_data  # noqa: F401
from tests.test_cache import cache_of, login

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("map_data")]
OUTPUTS = [("cm-panel", "children"), ("cm-breadcrumb", "children"), ("cm-state", "data"), ("cm-target", "data"),
           ("search-open", "data")]
STATE = [{"id": "cm-crs", "property": "data", "value": "wgs84"}, {"id": "map-focus", "property": "data"},
         {"id": "search-drawer", "property": "hidden", "value": True},
         {"id": "cm-url", "property": "pathname", "value": "/"}, {"id": "cm-target", "property": "data"}]


@pytest.fixture(scope="module")
def app() -> Dash:
    """An app of this module's own (its own cache)."""
    return create_app(app_settings())


def panel(client: FlaskClient, search: str, shown_target: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST the panel callback for ``?…`` as the browser does (``shown_target``: cm-target's data); return the
    response's outputs."""
    state = [*STATE[:-1], {"id": "cm-target", "property": "data", "value": shown_target}]
    payload = {"output": ".." + "...".join(f"{i}.{p}" for i, p in OUTPUTS) + "..",
               "outputs": [{"id": i, "property": p} for i, p in OUTPUTS],
               "inputs": [{"id": "cm-url", "property": "search", "value": search}], "state": state,
               "changedPropIds": ["cm-url.search"]}
    r = client.post("/_dash-update-component", json=payload, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    data = gzip.decompress(r.data) if r.headers.get("Content-Encoding") == "gzip" else r.data
    return dict(json.loads(data)["response"])


def unit_risk(outputs: dict[str, Any]) -> str | None:
    """The risk badge of the current unit (``#cm-unit-risk``) in the panel."""

    def find(node: Any) -> Any:
        if isinstance(node, list):
            return next((f for f in map(find, node) if f is not None), None)
        if isinstance(node, dict):
            props = node.get("props", {})
            if isinstance(props.get("html"), str):  # an HTML block (dashboard.dry.html_block)
                badge = re.search(r'id="cm-unit-risk">([^<]*)<', props["html"])
                return badge[1] if badge else None
            return props.get("children") if props.get("id") == "cm-unit-risk" else find(props.get("children"))
        return None

    return find(outputs["cm-panel"]["children"])


def test_panel_hit_answers_the_same_and_a_commit_invalidates(app: Dash, engine: Engine) -> None:
    city = login(app, engine, role="leader", scope="419000")
    first = panel(city, "?unit=419002")
    hits = cache_of(app).hits
    second = panel(city, "?unit=419002")
    assert cache_of(app).hits > hits and second == first
    assert unit_risk(first) == "重大风险"
    set_class = text("UPDATE unit_stats SET risk_class = :c WHERE unit_id = (SELECT id FROM units WHERE code = :u)")
    try:
        with engine.begin() as conn:  # what a refresh commits
            conn.execute(set_class, {"c": "orange", "u": "419002"})
        assert unit_risk(panel(city, "?unit=419002")) == "较大风险"
    finally:
        with engine.begin() as conn:
            conn.execute(set_class, {"c": "red", "u": "419002"})


def test_panel_cache_keeps_scopes_apart(app: Dash, engine: Engine) -> None:
    city = login(app, engine, role="leader", scope="419000")
    jia = login(app, engine, role="grid_manager", scope="419002")
    assert panel(city, "?unit=419000")["cm-state"]["data"]["code"] == "419000"
    panel(city, "?unit=419000")  # certainly cached for the city scope now
    refused = panel(jia, "?unit=419000")
    assert refused["cm-state"]["data"] is None and "无权查看" in json.dumps(refused, ensure_ascii=False)
    with engine.connect() as conn:  # the refusal is audited on every request, cache or not
        audited = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'forbidden' "
                                    "AND detail->>'target' = '419000'")).scalar_one()
    panel(jia, "?unit=419000")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'forbidden' "
                                 "AND detail->>'target' = '419000'")).scalar_one() == audited + 1
    # Without ?unit= each account gets its own scope's root, not the entry of another scope.
    assert panel(city, "")["cm-state"]["data"]["code"] == "419000"
    assert panel(jia, "")["cm-state"]["data"]["code"] == "419002"


def test_focus_is_not_served_from_the_cache(app: Dash, engine: Engine) -> None:
    jia = login(app, engine, role="grid_manager", scope="419002")
    grid = "41900200100101"
    plain = panel(jia, f"?unit={grid}")
    assert "cm-target" not in plain  # nothing to ring and nothing ringed: cm-target left as it is
    focused = panel(jia, f"?unit={grid}&focus=hazard%3AMAPT-H1")
    assert focused["cm-target"]["data"]["key"] == "hazard:MAPT-H1" and "cm-map" not in focused
    assert focused["cm-panel"] == plain["cm-panel"]
    # Leaving the focus: the ring shown is taken down.
    assert panel(jia, f"?unit={grid}", shown_target=focused["cm-target"]["data"])["cm-target"]["data"] is None
