"""Test fixtures: a real PostGIS (the project-local cluster, or SAFEGRID_DATABASE_URL's server).

The suite uses its own database ``safegrid_test``, dropped and re-created from the migrations once
per session. Nothing is mocked and nothing skips when the database is missing: it fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ["SAFEGRID_PG_DATABASE"] = os.environ.get("SAFEGRID_TEST_DB", "safegrid_test")

from sqlalchemy import Connection, Engine, create_engine

from geo import migrate
from geo.localpg import Cluster
from geo.settings import get_settings
from tests.browser import browser_page, chromium, live_server  # noqa: F401  (shared web-app fixtures)
from tests.db_support import rolled_back
from tests.fixtures_units import unit_tree  # noqa: F401  (shared unit tree fixture)

TEST_DB = os.environ.get("SAFEGRID_TEST_DB", "safegrid_test")



@pytest.fixture(scope="session")
def db_url() -> Iterator[str]:
    """URL of a freshly migrated test database."""
    settings = get_settings()
    if settings.uses_local_cluster:
        cluster = Cluster(settings)
        cluster.ensure_packages()
        cluster.init()
        cluster.start()
    url = migrate.fresh_database(TEST_DB)
    yield url


@pytest.fixture(scope="session")
def engine(db_url: str) -> Engine:
    """Engine on the test database."""
    return create_engine(db_url)


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    """A connection whose transaction is rolled back after the test."""
    with rolled_back(engine) as c:
        yield c
