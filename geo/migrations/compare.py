"""What Alembic compares: only SafeGrid's own tables."""

from __future__ import annotations

from typing import Any

from geo.models import Base

OWN_TABLES = set(Base.metadata.tables)


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Compare only SafeGrid's own tables (not PostGIS's spatial_ref_sys and friends)."""
    if type_ == "table":
        return name in OWN_TABLES
    table = getattr(obj, "table", None)
    return not (table is not None and table.name not in OWN_TABLES)
