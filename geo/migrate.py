"""Run and inspect Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from geo.db import engine
from geo.migrations.compare import include_object
from geo.models import Base


def alembic_config(url: str | None = None) -> Config:
    """Alembic config pointing at ``geo/migrations`` (a path: the editable install breaks resource lookup)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).resolve().parent / "migrations"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision``."""
    cfg = alembic_config()
    with engine(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def head() -> str | None:
    """Head revision of the migration scripts."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current(conn: Connection) -> str | None:
    """Revision the database is at (None when never migrated)."""
    return MigrationContext.configure(conn).get_current_revision()


def drift(conn: Connection) -> list[Any]:
    """Differences between the models and the database, as Alembic autogenerate sees them."""
    ctx = MigrationContext.configure(
        conn, opts={"include_object": include_object, "compare_type": True}
    )
    return list(compare_metadata(ctx, Base.metadata))
