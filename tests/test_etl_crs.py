"""GCJ-02 / BD-09 conversions against the published reference pairs (wandergis/coordtransform test/app.js)."""

from __future__ import annotations

import numpy as np
import pytest

from domain.crs import (
    CrsError,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    parse_crs,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

# Input (116.404, 39.915) and the outputs printed in coordtransform's test/app.js.
LON, LAT = 116.404, 39.915


def test_wgs84_to_gcj02_matches_reference() -> None:
    x, y = wgs84_to_gcj02(LON, LAT)
    assert float(x) == pytest.approx(116.41024449916938, abs=1e-10)
    assert float(y) == pytest.approx(39.91640428150164, abs=1e-10)


def test_gcj02_to_bd09_matches_reference() -> None:
    x, y = gcj02_to_bd09(LON, LAT)
    assert float(x) == pytest.approx(116.41036949371029, abs=1e-10)
    assert float(y) == pytest.approx(39.92133699351021, abs=1e-10)


def test_inverse_conversions_match_reference_within_published_error() -> None:
    # The reference inverses are one-step approximations (error ~1e-6 deg); ours iterate to exactness.
    x, y = bd09_to_gcj02(LON, LAT)
    assert float(x) == pytest.approx(116.39762729119315, abs=1e-6)
    assert float(y) == pytest.approx(39.90865673957631, abs=1e-6)
    x, y = gcj02_to_wgs84(LON, LAT)
    assert float(x) == pytest.approx(116.39775550083061, abs=2e-5)
    assert float(y) == pytest.approx(39.91359571849836, abs=2e-5)


def test_round_trips_are_exact_on_xuchang_points() -> None:
    lon = np.array([113.8526, 113.49, 114.16, 113.75])
    lat = np.array([34.0357, 34.14, 34.10, 33.82])
    for forward, back in ((wgs84_to_gcj02, gcj02_to_wgs84), (wgs84_to_bd09, bd09_to_wgs84)):
        x, y = back(*forward(lon, lat))
        assert np.max(np.abs(x - lon)) < 1e-8
        assert np.max(np.abs(y - lat)) < 1e-8
        fx, _ = forward(lon, lat)
        assert np.all(np.abs(fx - lon) > 1e-3)  # the shift is real (hundreds of metres)


def test_outside_china_is_not_shifted() -> None:
    x, y = wgs84_to_gcj02(2.35, 48.85)
    assert (float(x), float(y)) == (2.35, 48.85)


@pytest.mark.parametrize(
    ("spec", "name"),
    [("wgs84", "EPSG:4326"), ("CGCS2000", "EPSG:4490"), ("gcj02", "gcj02"), ("BD-09", "bd09"),
     ("EPSG:4547", "EPSG:4547"), ("4490", "EPSG:4490"), ("urn:ogc:def:crs:EPSG::4490", "EPSG:4490"),
     (None, "EPSG:4326")],
)
def test_parse_crs(spec: str | None, name: str) -> None:
    assert parse_crs(spec).name == name


def test_projected_cgcs2000_converts_to_lonlat() -> None:
    # EPSG:4547 = CGCS2000 / 3-degree Gauss-Kruger CM 114E: the central meridian maps to lon 114.
    x, y = parse_crs("EPSG:4547").to_wgs84(np.array([500000.0]), np.array([3770000.0]))
    assert float(x[0]) == pytest.approx(114.0, abs=1e-9)
    assert 33.9 < float(y[0]) < 34.1


def test_unknown_crs_is_a_chinese_error() -> None:
    with pytest.raises(CrsError, match="无法识别的坐标系"):
        parse_crs("mars")
