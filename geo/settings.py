"""Database settings (env prefix ``SAFEGRID_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import SettingsConfigDict

from domain.clock import ClockSettings

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class DatabaseSettings(ClockSettings):
    """Where the database lives; without ``SAFEGRID_DATABASE_URL`` the project-local cluster is used."""

    model_config = SettingsConfigDict(env_prefix="SAFEGRID_", env_file=".env", extra="ignore")

    database_url: str | None = None
    home: Path = PROJECT_ROOT
    pg_bindir: Path = Path("/usr/lib/postgresql/15/bin")
    pg_database: str = "safegrid"
    pg_user: str = "safegrid"
    pool_size: int = 5
    statement_timeout_ms: int = 30_000

    def pg_options(self, statement_timeout_ms: int | None = None) -> str:
        """Libpq ``options`` of every session: statement timeout and the business time zone."""
        ms = self.statement_timeout_ms if statement_timeout_ms is None else statement_timeout_ms
        return f"-c statement_timeout={ms} -c timezone={self.timezone}"

    @property
    def pg_dir(self) -> Path:
        """Root of the project-local cluster."""
        return self.home / ".local" / "pg"

    @property
    def socket_dir(self) -> Path:
        """Directory of the unix socket of the project-local cluster."""
        return self.pg_dir / "run"

    @property
    def uses_local_cluster(self) -> bool:
        """Tell whether no external database URL is configured."""
        return not self.database_url

    def url(self, database: str | None = None) -> str:
        """SQLAlchemy URL of the project database (or of ``database`` on the same server)."""
        if self.database_url:
            if database is None:
                return self.database_url
            base, _, _ = self.database_url.rpartition("/")
            query = ""
            if "?" in self.database_url.rsplit("/", 1)[1]:
                query = "?" + self.database_url.rsplit("?", 1)[1]
            return f"{base}/{database}{query}"
        return f"postgresql+psycopg2://{self.pg_user}@/{database or self.pg_database}?host={self.socket_dir}"


@lru_cache
def get_settings() -> DatabaseSettings:
    """Return the cached database settings."""
    return DatabaseSettings()
