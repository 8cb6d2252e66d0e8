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

import re
from typing import Any

from dash.development.base_component import Component
from dash_extensions import Purify
from markupsafe import Markup, escape

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


def attrs(extra: dict[str, Any]) -> Any:
    """Pass ``aria-*``/``data-*`` attributes to a component as ``**attrs({...})`` (its typed signature lacks them)."""
    return extra


# Attributes a dry html.* component may carry into :func:`to_html` (besides ``data-*`` / ``aria-*``), by prop name.
_HTML_ATTRS = {"className": "class", "id": "id", "title": "title", "href": "href", "type": "type", "role": "role",
               "disabled": "disabled", "colSpan": "colspan", "rowSpan": "rowspan", "hidden": "hidden",
               "download": "download"}
# A style may only set CSS custom properties (a legend swatch's ``--swatch`` colour) to plain values.
_CUSTOM_PROPERTY = re.compile(r"--[a-z0-9-]+")
_PLAIN_VALUE = re.compile(r"[#\w.%, ()-]*")


def _style(value: Any) -> str:
    """Return a ``style`` dict of CSS custom properties as the attribute's text; anything else raises TypeError."""
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and _CUSTOM_PROPERTY.fullmatch(k) and isinstance(v, str) and _PLAIN_VALUE.fullmatch(v)
            for k, v in value.items()):
        raise TypeError(f"style {value!r:.80} has no HTML form (custom properties with plain values only)")
    return "; ".join(f"{k}: {v}" for k, v in value.items())


def to_html(node: Any) -> str:
    """Return ``html.*`` components, dry or not (and strings, numbers, None, lists of them) as escaped HTML text.

    For large read-only parts of a callback's answer, sent as one :func:`html_block` instead of hundreds of
    components (dash-renderer keeps a React wrapper and a store subscription per component: a side panel of
    400 took ~100 ms of a drill-down step to mount and unmount), and for static parts of a layout
    (:func:`static_children`). Anything that needs Dash — a ``dcc`` component, a pattern-matching id, a style
    other than custom properties, or an event prop — raises ``TypeError``: it has no HTML form.
    """
    if isinstance(node, Component):
        node = node.to_plotly_json()
    if isinstance(node, Markup):  # HTML text already escaped (e.g. radio_group)
        return str(node)
    if node is None or node is False:
        return ""
    if isinstance(node, (list, tuple)):
        return "".join(to_html(n) for n in node)
    if isinstance(node, (str, int, float)) and not isinstance(node, bool):
        return str(escape(str(node)))
    if not isinstance(node, dict) or node.get("namespace") != "dash_html_components":
        raise TypeError(f"no HTML form for {node!r:.80}")
    tag = node["type"].lower()
    attrs = []
    for key, value in node["props"].items():
        if key == "children" or value is None or value is False:
            continue
        if key == "style":
            attrs.append(f' style="{escape(_style(value))}"')
            continue
        name = _HTML_ATTRS.get(key) or (key if key.startswith(("data-", "aria-")) else None)
        if name is None or isinstance(value, (dict, list)):
            raise TypeError(f"{node['type']}.{key} has no HTML form")
        attrs.append(f" {name}" if value is True else f' {name}="{escape(str(value))}"')
    return f"<{tag}{''.join(attrs)}>{to_html(node['props'].get('children'))}</{tag}>"


def radio_group(name: str, choices: dict[str, str], value: str, **attrs: str) -> Markup:
    """Return native radio buttons (``choices``: value → label; ``value`` checked) in a ``div`` with ``attrs``.

    html.* has no ``<input>``, and ``dcc.RadioItems`` measures its options on every mount (a forced layout of
    ~18 ms in a drill-down step); a change reaches Dash through a delegated listener (``assets/map.js``).
    """
    buttons = Markup("").join(
        Markup('<label><input type="radio" name="{}" value="{}"{}>{}</label>').format(
            name, key, Markup(" checked") if key == value else "", label)
        for key, label in choices.items())
    div_attrs = Markup("").join(Markup(' {}="{}"').format(k.rstrip("_").replace("_", "-"), v) for k, v in attrs.items())
    return Markup("<div{}>{}</div>").format(div_attrs, buttons)


def html_block(node: Any, class_name: str, *, block_id: str | None = None) -> Dry:
    """Return dry components as one ``Purify`` component (dash-extensions: DOMPurify, then ``innerHTML``).

    Its ``div`` carries ``class_name``; ``block_id`` is the component's Dash id (a callback may write its
    ``html`` with :func:`to_html`), not an attribute of the ``div``. Links and buttons inside work through
    delegated listeners (``assets/map.js``), not callbacks.
    """
    return el(Purify, html=to_html(node), className=class_name, **({"id": block_id} if block_id else {}))


def static_html(node: Any, class_name: str) -> Purify:
    """Return components that never change on a page as one ``Purify`` block of class ``class_name``.

    A layout's :func:`html_block`: a real component, not a dry one.
    """
    return Purify(html=to_html(node), className=class_name)


def static_children(component: Component, class_name: str) -> Component:
    """Return ``component`` with its children as one :func:`static_html` block of class ``class_name``.

    The element itself stays a Dash component (its id, and callbacks that write its style); what it holds is
    mounted as HTML, not as a component each (a legend: ~20 components → 1).
    """
    component.children = static_html(component.children, class_name)
    return component
