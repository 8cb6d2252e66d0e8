"""Small database helpers shared by fixtures in several test modules."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine


@contextmanager
def rolled_back(engine: Engine) -> Iterator[Connection]:
    """Yield a connection in a transaction that is rolled back at the end, whatever the test did."""
    with engine.connect() as c:
        trans = c.begin()
        try:
            yield c
        finally:
            trans.rollback()
