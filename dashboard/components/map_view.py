"""The first view of a page's map: the centre and an approximate zoom of a unit's bounds (``[[s, w], [n, e]]``)."""

from __future__ import annotations

import math


def centre(bounds: list[list[float]]) -> list[float]:
    """Return the ``[lat, lon]`` middle of ``bounds``."""
    return [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]


def fit_zoom(bounds: list[list[float]], width_px: int) -> float:
    """Approximate zoom (quarter steps, 3-18) that fits ``bounds`` into a map ``width_px`` wide.

    dash-leaflet's viewport tracking needs a ``center`` and ``zoom`` to start with; a callback or
    ``viewport`` then fits the bounds exactly.
    """
    span = max(bounds[1][1] - bounds[0][1], (bounds[1][0] - bounds[0][0]) * 1.3, 1e-4)
    return max(3.0, min(18.0, math.floor(math.log2(360 * width_px / 256 / span) * 4) / 4))
