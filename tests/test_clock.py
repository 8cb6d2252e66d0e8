"""The business clock: Python's "today" and SQL's current_date follow SAFEGRID_TIMEZONE, not the server's zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlalchemy import create_engine, text

from dashboard.readdb import read_engine
from domain import clock
from geo.db import engine as pooled_engine
from geo.settings import DatabaseSettings, get_settings


@pytest.mark.parametrize("zone", ["Mars/Olympus", "UTC -c work_mem=1GB", "Asia/Shanghai'"])
def test_unknown_or_unsafe_zone_is_refused(zone: str) -> None:
    with pytest.raises(ValidationError):
        DatabaseSettings(timezone=zone)


def test_app_sessions_run_in_the_business_zone(db_url: str) -> None:
    zone = get_settings().timezone
    for eng in (pooled_engine(db_url), read_engine(db_url)):
        with eng.connect() as c:
            assert c.execute(text("SHOW timezone")).scalar_one() == zone
            assert c.execute(text("SELECT current_date")).scalar_one() == clock.today()


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Etc/GMT+12"])  # UTC+14 and UTC-12: never the same day
def test_a_configured_zone_reaches_sql(db_url: str, zone: str) -> None:
    settings = DatabaseSettings(timezone=zone)
    eng = create_engine(db_url, connect_args={"options": settings.pg_options()})
    try:
        with eng.connect() as c:
            assert c.execute(text("SHOW timezone")).scalar_one() == zone
            assert c.execute(text("SELECT current_date")).scalar_one() == datetime.now(ZoneInfo(zone)).date()
    finally:
        eng.dispose()
