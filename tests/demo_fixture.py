"""Reusable fixtures: a fresh migrated database of its own, and a small 许昌 demo loaded and refreshed in one.

Usage in a test module (or a conftest)::

    from tests.demo_fixture import demo_db  # noqa: F401  (pytest finds the fixture by name)

    def test_something(demo_db):
        engine = create_engine(demo_db.url)
        ...

``demo_db`` is session-scoped. It builds the demo with ``DEMO_ENTERPRISES`` (2,000) enterprises,
fewer hazards and one week of daily village inspections (all ledgers as csv) into a temporary
directory, loads it through the public loaders (``etl.load.load_file``) into the database
``<SAFEGRID_TEST_DB>_demo`` — separate from the session database, so tests that commit their own
rows there are not disturbed — and runs the refresh. All five levels are the full city
(2,505 villages, ~6,800 grid cells); only the ledgers are small. It yields a ``DemoDb`` with the
URL, the build directory, the manifest and the refresh result.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from geo import migrate

DEMO_ENTERPRISES = 2_000
DEMO_AS_OF = date(2026, 11, 23)


def fresh_database(name: str) -> str:
    """Drop and re-create database ``name`` on the test server, migrate it and return its URL."""
    return migrate.fresh_database(name)


@dataclass
class DemoDb:
    """A database holding the small demo: URL, build directory, manifest and refresh result."""

    url: str
    directory: Path
    manifest: dict[str, Any]
    refresh: Any


def build_small_demo(directory: Path, *, enterprises: int = DEMO_ENTERPRISES) -> dict[str, Any]:
    """Build the small demo (csv ledgers, 7 days of village inspections) into ``directory``."""
    from etl.demo.build import BuildOptions, build
    from etl.demo.records import Scale

    scale = Scale(enterprises=enterprises, hazards_per_enterprise=0.5, village_days=7, township_days=90,
                  enterprise_inspections_per_enterprise=0.2)
    return build(directory, BuildOptions(seed=4110, as_of=DEMO_AS_OF, scale=scale, xlsx_max_rows=0))


@pytest.fixture(scope="session")
def demo_db(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoDb]:
    """The small 许昌 demo, loaded through the loaders and refreshed, in its own database."""
    from etl.demo.load import load_demo

    name = os.environ.get("SAFEGRID_TEST_DB", "safegrid_test") + "_demo"
    url = fresh_database(name)
    directory = tmp_path_factory.mktemp("demo")
    manifest = build_small_demo(directory)
    result = load_demo(directory, url=url, as_of=DEMO_AS_OF)
    yield DemoDb(url, directory, manifest, result.refresh)
