"""Alembic environment: runs migrations on the connection handed over by ``geo.migrate``."""

from __future__ import annotations

from typing import Any

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine

from geo.migrations.compare import include_object
from geo.models import Base


def run() -> None:
    """Run migrations online, on ``config.attributes['connection']`` or the configured URL."""
    config = context.config
    connection = config.attributes.get("connection")
    opts: dict[str, Any] = {
        "target_metadata": Base.metadata,
        "include_object": include_object,
        "render_item": alembic_helpers.render_item,
        "compare_type": True,
        "transaction_per_migration": True,
    }
    if connection is not None:
        context.configure(connection=connection, **opts)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        context.configure(connection=conn, **opts)
        with context.begin_transaction():
            context.run_migrations()


run()
