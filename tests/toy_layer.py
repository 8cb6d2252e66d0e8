"""A toy point layer declared through one record: open hazards under 挂牌督办, coloured by supervision level.

It reads the existing ``hazards`` table filtered differently from the built-in 未销号隐患 layer and has no
roll-up columns (above the raw limit it aggregates on the grid). ``tests/test_toy_point_layer.py``
registers it in-process; as a gunicorn config module (``--config python:tests.toy_layer``) its
``on_starting`` hook registers it in the server before the worker imports the app, as a deployment
adding a layer to ``layers/registry.py`` would.
"""

from __future__ import annotations

from typing import Any

from domain.labels import SUPERVISION_LEVEL
from geo.map_queries import PointSource
from layers.registry import point_layer, register
from layers.spec import LayerClass

TOY_COLOURS = {1: "#6a1b9a", 2: "#c2185b", 3: "#f06292"}
TOY = point_layer(
    "supervised", "挂牌督办隐患",
    tuple(LayerClass(key=f"s{k}", label=SUPERVISION_LEVEL[k], colour=c) for k, c in TOY_COLOURS.items()),
    "diamond",
    points=PointSource(
        table="hazards", joins='LEFT JOIN "enterprises" e ON e."id" = t."enterprise_id"',
        where="t.\"status\" <> 'closed' AND t.\"supervision_level\" IS NOT NULL",
        cls="'s' || t.\"supervision_level\"", classes=("s1", "s2", "s3"),
        props=(("name", 't."title"'), ("enterprise", 'e."name"')),
    ),
    details=(("enterprise", "所属企业 "),),
)


def on_starting(server: Any) -> None:
    """Gunicorn hook (master, before any worker loads ``dashboard.app``): put the toy layer on the map."""
    register(TOY)
