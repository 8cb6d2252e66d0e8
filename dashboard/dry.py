"""Dash components as plain dicts ("dry" components) for callbacks that return large trees.

A component crosses the wire as ``{"type", "namespace", "props"}`` (what ``Component.to_plotly_json``
returns), and dash-renderer takes any object of that shape as a component (``isDryComponent`` in
``dash_renderer``); Dash's ``_prepare_response`` puts callback return values into the response as they
are. Building the dict directly skips the component constructor (its argument checks cost ~15-30 µs a
component: 10 ms for a side panel of 50 hazards) and lets plotly's JSON encoder serialise the whole
response with orjson in one pass — it falls back to a slow recursive walk as soon as one Component
object is in the response, so a callback should return dry components only.

Props are still checked against the component class's own list, as its constructor does. The private
attributes this reads go through :mod:`dashboard.dash_internals`.
"""

from __future__ import annotations

from typing import Any

from dash.development.base_component import Component

from dashboard import dash_internals

Dry = dict[str, Any]

# Per component class: its prop names, wildcard prefixes, and the type and namespace it is sent as.
_KNOWN: dict[type[Component], tuple[frozenset[str], tuple[str, ...], str, str]] = {}


def el(component: type[Component], children: Any = None, /, **props: Any) -> Dry:
    """Return ``component(children, **props)`` as the dict Dash would send; unknown props raise ``TypeError``.

    ``children`` may hold other dry components, strings, numbers and None (as for a component).
    ``data-*``/``aria-*`` attributes go in as ``**{"data-x": ...}``.
    """
    known = _KNOWN.get(component)
    if known is None:  # the first use builds one real component: its constructor checks, and lists the props
        sample = component(**props, **({} if children is None else {"children": children}))
        known = _KNOWN[component] = (*dash_internals.prop_names(sample), *dash_internals.wire_name(component))
    names, wildcards, kind, namespace = known
    for key in props:
        if key not in names and not key.startswith(wildcards):
            raise TypeError(f"{component.__name__} has no prop {key!r}")
    if children is not None:
        props["children"] = children
    return {"type": kind, "namespace": namespace, "props": props}
