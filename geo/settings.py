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
    # Availability (docs/security.md "Availability: timeouts"): how long the app waits on PostgreSQL.
    connect_timeout_s: int = 3  # libpq connect_timeout (per host address; libpq's minimum is 2)
    pool_timeout_s: float = 5.0  # wait for a free connection of the main pool (geo.db)
    read_statement_timeout_ms: int = 15_000  # statement_timeout of the read pool (dashboard.readdb)
    read_pool_timeout_s: float = 5.0  # wait for a free connection of the read pool
    idle_in_transaction_timeout_ms: int = 120_000  # idle_in_transaction_session_timeout (0 = off)
    tcp_keepalives_idle_s: int = 10  # TCP keepalives (libpq; not used on unix sockets)
    tcp_keepalives_interval_s: int = 3
    tcp_keepalives_count: int = 3
    tcp_user_timeout_ms: int = 10_000  # libpq tcp_user_timeout: unacknowledged data for this long breaks the link
    hang_check_ms: int = 1_500  # a statement unanswered this long makes geo.db probe the server (0 = never)
    probe_timeout_ms: int = 2_000  # a probe unanswered this long means the server hangs
    healthz_timeout_ms: int = 2_000  # /healthz, the app's start-up check and `safegrid db status`
    # A streaming replica for read-only page and data queries (dashboard.readdb; docs/stack.md)
    database_replica_url: str | None = None
    replica_max_lag_s: float = 5.0  # a replica further behind than this is skipped (reads go to the primary)
    replica_check_interval_s: float = 1.0  # how often a process re-reads the replica's lag and data version
    read_your_writes_s: float = 10.0  # a session's reads go to the primary this long after its own write

    def pg_options(self, statement_timeout_ms: int | None = None) -> str:
        """Libpq ``options`` of every session: statement timeout and the business time zone."""
        ms = self.statement_timeout_ms if statement_timeout_ms is None else statement_timeout_ms
        return f"-c statement_timeout={ms} -c timezone={self.timezone}"

    def libpq_args(self, statement_timeout_ms: int | None = None) -> dict[str, object]:
        """Libpq parameters of a pooled session: :meth:`pg_options` plus the connect, idle and TCP timeouts."""
        options = self.pg_options(statement_timeout_ms)
        options += f" -c idle_in_transaction_session_timeout={self.idle_in_transaction_timeout_ms}"
        return {"options": options, "connect_timeout": self.connect_timeout_s, "keepalives": 1,
                "keepalives_idle": self.tcp_keepalives_idle_s, "keepalives_interval": self.tcp_keepalives_interval_s,
                "keepalives_count": self.tcp_keepalives_count, "tcp_user_timeout": self.tcp_user_timeout_ms}

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
