"""Web app settings (env prefix ``SAFEGRID_``): secret key, cookies, sessions, login throttling."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """The app cannot start with these settings (message in Chinese)."""


class DashboardSettings(BaseSettings):
    """Settings of the Dash/Flask app; ``env=prod`` requires an explicit secret key."""

    model_config = SettingsConfigDict(env_prefix="SAFEGRID_", env_file=".env", extra="ignore")

    env: Literal["dev", "prod"] = "dev"
    secret_key: str | None = None
    home: Path = PROJECT_ROOT
    session_lifetime_minutes: int = 480
    session_absolute_minutes: int = 720  # a session ends this long after sign-in however active (server-side)
    max_request_bytes: int = 2 * 1024 * 1024  # larger request bodies are refused with 413
    cookie_secure: bool = False
    login_max_failures: int = 5
    lockout_minutes: int = 15
    login_ip_max_failures: int = 30
    login_ip_window_minutes: int = 15
    app_title: str = "安全生产网格化监管“一张图”"
    cache_enabled: bool = True  # server-side cache of map / heatmap responses (dashboard/cache.py)
    cache_max_bytes: int = 64 * 1024 * 1024  # per worker process, bodies as sent (zstd / gzip / plain)
    cache_max_entry_bytes: int = 4 * 1024 * 1024
    # Several instances (docs/stack.md): shared response cache and login throttle in Redis; unset = per process
    redis_url: str | None = None  # e.g. redis://127.0.0.1:6379/0 or unix:///path/redis.sock
    redis_timeout_ms: int = 300  # connect and read timeout of one Redis call
    redis_retry_s: float = 5.0  # after a Redis failure, leave it alone this long (no cache, throttle in PostgreSQL)
    trusted_proxy_hops: int = 0  # proxies in front (nginx: 1) whose X-Forwarded-For/-Proto are believed (ProxyFix)
    cache_ttl_s: int = 86_400  # lifetime of a Redis cache entry (old data versions expire; Redis evicts LRU first)
    # /risk's charts scan the scope's hazards (seconds city-wide at 3M): after others' writes, one built this long
    # ago is still shown (with its time); a session that wrote in this window gets a fresh one. 0: always fresh.
    analytics_max_stale_s: float = 60.0
    # The header's 待办 number (a count of the scope's open hazards on every page): likewise after others' writes;
    # the /todo page's list is always read fresh. 0: always fresh.
    badge_max_stale_s: float = 30.0

    @property
    def secret_key_file(self) -> Path:
        """Where the generated development secret key is kept."""
        return self.home / ".local" / "secret_key"

    def resolve_secret_key(self) -> str:
        """Return the configured key; in dev generate one once and keep it in ``.local/secret_key``."""
        if self.secret_key:
            if self.env == "prod" and len(self.secret_key) < 32:
                raise ConfigError("SAFEGRID_SECRET_KEY 太短：生产环境至少 32 个字符")
            return self.secret_key
        if self.env == "prod":
            raise ConfigError("生产环境必须设置 SAFEGRID_SECRET_KEY (至少 32 个随机字符)")
        path = self.secret_key_file
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another worker won the race
                pass
            else:
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_urlsafe(48))
        return path.read_text().strip()


@lru_cache
def get_settings() -> DashboardSettings:
    """Return the cached app settings."""
    return DashboardSettings()
