"""Big-screen settings (env prefix ``SAFEGRID_BIGSCREEN_``), documented in ``.env.example``."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from geo.settings import get_settings


class BigScreenSettings(BaseSettings):
    """Big-screen settings (env prefix ``SAFEGRID_BIGSCREEN_``)."""

    model_config = SettingsConfigDict(env_prefix="SAFEGRID_BIGSCREEN_", env_file=".env", extra="ignore")

    refresh_seconds: float = Field(default=60, ge=1)  # how often the figures are re-read
    carousel_seconds: float = Field(default=12, ge=2)  # how long the carousel stays on each child unit
    # Clock and "统计更新于" are shown in this zone, whatever the browser's; by default the business zone
    # (SAFEGRID_TIMEZONE, domain.clock), the one the counts' "today" uses.
    timezone: str = Field(default_factory=lambda: get_settings().timezone)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"未知时区：{value}") from exc
        return value


@lru_cache
def get_bigscreen_settings() -> BigScreenSettings:
    """Return the cached big-screen settings."""
    return BigScreenSettings()
