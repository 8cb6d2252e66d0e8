"""Every use of a private Dash attribute, in one place: Dash promises none of them.

Written against Dash 4.4. ``tests/test_dash_internals.py`` checks each one against the installed Dash
and fails naming the version when an upgrade changes them; it also refuses a private Dash attribute
used anywhere else in ``dashboard/``. What the app relies on:

* ``Dash._setup_server()`` — the first-request setup (component-suite paths, scripts, callback list),
  idempotent, run inside a request context; :mod:`dashboard.app` runs it before serving.
* a component class's ``_type`` and ``_namespace``, and an instance's ``_prop_names`` and
  ``_valid_wildcard_attributes`` (``data-``, ``aria-``) — what ``Component.to_plotly_json`` builds the
  wire form from; :mod:`dashboard.dry` builds the same dicts without the constructor.
"""

from __future__ import annotations

from dash import Dash
from dash.development.base_component import Component

TESTED_WITH = "4.4"  # the Dash minor version these internals were last checked against


def setup_server(app: Dash) -> None:
    """Run Dash's first-request setup now (``Dash._setup_server``, in a request context); later calls do nothing."""
    with app.server.test_request_context("/"):
        app._setup_server()


def wire_name(component: type[Component]) -> tuple[str, str]:
    """Return the ``(type, namespace)`` a component class is sent as (its ``_type``, ``_namespace``)."""
    return component._type, component._namespace


def prop_names(sample: Component) -> tuple[frozenset[str], tuple[str, ...]]:
    """Return the props a component accepts and its wildcard attribute prefixes, read from an instance."""
    return frozenset(sample._prop_names), tuple(sample._valid_wildcard_attributes)
