"""The app is fully set up when create_app returns (gunicorn's threaded workers must not race Dash's setup)."""

import pytest

from dashboard.app import create_app
from tests.browser import TEST_SECRET


def test_component_suites_registered_before_the_first_request(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without the eager setup Dash fills registered_paths during the first request only, and the
    # parallel script requests of a fresh gthread worker got 500 "not a registered library".
    monkeypatch.setenv("SAFEGRID_SECRET_KEY", TEST_SECRET)
    app = create_app()
    assert {"dash", "dash_leaflet", "dash_ag_grid"} <= set(app.registered_paths)
