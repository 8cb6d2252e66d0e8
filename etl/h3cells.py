"""H3 cells of points with h3-py (PostGIS here has no H3 extension): used by the loaders and the refresh."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat

import h3.api.numpy_int as h3
import numpy as np

from geo.models import POINT_H3_RESOLUTIONS


def _h3_index(lat: list[float], lon: list[float], res: int) -> np.ndarray:
    """H3 cell (int64) of every point at ``res`` (h3-py takes (lat, lng) and is scalar: ``map`` is its fastest loop)."""
    return np.fromiter(map(h3.latlng_to_cell, lat, lon, repeat(res, len(lat))), dtype=np.int64, count=len(lat))


def point_cells(lon: np.ndarray, lat: np.ndarray, resolutions: Sequence[int] = POINT_H3_RESOLUTIONS) -> np.ndarray:
    """H3 cell of every point at each resolution: an (n, len(resolutions)) int64 array (same cells as h3_stats).

    Each resolution is indexed with ``latlng_to_cell``, not ``cell_to_parent`` (H3 children do not
    exactly cover their parent), and each distinct point once.
    """
    out = np.empty((len(lon), len(resolutions)), dtype=np.int64)
    if not len(lon):
        return out
    _, first, back = np.unique(lon + 1j * lat, return_index=True, return_inverse=True)
    lat_list, lon_list = lat[first].tolist(), lon[first].tolist()
    for j, res in enumerate(resolutions):
        out[:, j] = _h3_index(lat_list, lon_list, res)[back]
    return out
