"""Run and inspect Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, text

from geo.db import engine
from geo.migrations.compare import include_object
from geo.models import Base
from geo.settings import get_settings


def alembic_config(url: str | None = None) -> Config:
    """Alembic config pointing at ``geo/migrations`` (a path: the editable install breaks resource lookup)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).resolve().parent / "migrations"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision``.

    A migration may rewrite a large table (0012 backfills every enterprise: 2 min 40 s at 1M), so the app's
    statement timeout (``SAFEGRID_STATEMENT_TIMEOUT_MS``, 30 s) does not apply to it: cleared for this
    transaction only (``SET LOCAL``), the pooled connection keeps the app's setting afterwards.
    """
    cfg = alembic_config()
    with engine(url).begin() as conn:
        conn.execute(text("SET LOCAL statement_timeout = 0"))
        conn.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))
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


def fresh_database(name: str, *, template: str | None = None, migrated: bool = True) -> str:
    """Drop and re-create database ``name`` on the configured server (migrated, or copied from ``template``).

    Used by the test fixtures and the benchmarks; returns the new database's URL.
    """
    settings = get_settings()
    admin = create_engine(settings.url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"
            ), {"d": name})
            conn.execute(text(f"DROP DATABASE IF EXISTS {quote_ident(name)}"))
            suffix = f" TEMPLATE {quote_ident(template)}" if template else ""
            conn.execute(text(f"CREATE DATABASE {quote_ident(name)}{suffix}"))
    finally:
        admin.dispose()
    url = settings.url(name)
    if migrated and not template:
        upgrade(url)
    return url


def quote_ident(name: str) -> str:
    """Quote a PostgreSQL identifier."""
    return '"' + name.replace('"', '""') + '"'
