"""Ledger columns per kind: the contract between bureau spreadsheets, the loaders and the demo builder.

The columns of each ledger kind are part of its record (``geo.ledger_kinds``: headers, aliases, cell
types, required); this module gives them to the ``etl`` side by kind and holds the properties of
boundary files, which are loaded by their own path (``etl/boundaries.py``).
"""

from __future__ import annotations

from geo.ledger_kinds import LEDGER_KINDS, Column, RegistryView

__all__ = ["BOUNDARY_PROPERTIES", "LEDGERS", "Column"]

# Kind → columns, following the registry (kinds registered later included).
LEDGERS: RegistryView[tuple[Column, ...]] = RegistryView(
    lambda: {name: record.columns for name, record in LEDGER_KINDS.items()})

# Boundary files carry these properties (GeoJSON/Shapefile/GeoPackage attribute names).
BOUNDARY_PROPERTIES = (
    Column("code", "代码", "admin_code", True, ("区划代码", "CODE", "gb", "adcode")),
    Column("name", "名称", "str", True, ("NAME", "区划名称")),
    Column("is_demo_geometry", "示意边界", "bool", aliases=("demo",), note="生成的示意几何为 是"),
)
