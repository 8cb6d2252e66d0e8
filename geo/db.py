"""Engine and connection helpers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Connection, Engine, create_engine

from geo.settings import get_settings


@lru_cache(maxsize=8)
def engine(url: str | None = None) -> Engine:
    """Return a pooled engine for ``url`` (default: the project database)."""
    settings = get_settings()
    return create_engine(
        url or settings.url(),
        pool_size=settings.pool_size,
        pool_pre_ping=True,
        connect_args={"options": settings.pg_options()},
    )


@contextmanager
def connect(url: str | None = None) -> Iterator[Connection]:
    """Yield a connection inside a transaction that commits on success."""
    with engine(url).begin() as conn:
        yield conn
