"""ETL settings (env prefix ``SAFEGRID_ETL_``)."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class EtlSettings(BaseSettings):
    """Limits and locations of the loaders and of the inbox scheduler."""

    model_config = SettingsConfigDict(env_prefix="SAFEGRID_ETL_", env_file=".env", extra="ignore")

    # Inbox watched by ``safegrid etl schedule``; loaded files move to done/ or failed/ beside it.
    inbox: Path = Path(".local/inbox")
    poll_seconds: float = 30.0
    # Excel's own limit is 32,767 characters per cell; longer cells reject their row.
    max_cell_chars: int = 32_767
    # A CSV field or XLSX part larger than this refuses the whole file (memory guard, zip bombs).
    max_field_mb: int = 64
    max_xlsx_uncompressed_mb: int = 2_048
    chunk_rows: int = 20_000
    code_edition: str = "2023"
    # A child unit with less than this share of its area inside its parent is reported.
    parent_overlap_min: float = 0.5
    # Load-time statement timeout in ms (0 = none): loads of 1M rows run longer than web queries.
    statement_timeout_ms: int = 0
    max_rejects_shown: int = 20
    # --- derived-layer refresh (etl/refresh.py) ---
    # 存量/增量 cut-off of open major hazards when app_config 'stock_cutoff' is not set (default: 2023-12-31).
    refresh_stock_cutoff: date | None = None
    # coverage_simplify tolerance in degrees per unit level for units.geom_display (shared edges stay shared).
    refresh_display_tolerance: dict[int, float] = {1: 0.0005, 2: 0.0005, 3: 0.001, 4: 0.001, 5: 0.0005}
    refresh_h3_resolutions: tuple[int, ...] = (6, 7, 8, 9)
    # top enterprises / hazards kept per unit in unit_stats.risk_explain
    refresh_top_n: int = 5


@lru_cache
def get_etl_settings() -> EtlSettings:
    """Return the cached ETL settings."""
    return EtlSettings()
