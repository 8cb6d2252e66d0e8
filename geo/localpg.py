"""The project-local PostgreSQL 15 + PostGIS cluster under ``.local/pg`` (unix socket only)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from geo.settings import DatabaseSettings

APT_PACKAGES = ("postgresql-15", "postgresql-15-postgis-3")
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")

SERVER_CONF = """
# SafeGrid project-local cluster: unix socket only, no TCP port to clash with.
listen_addresses = ''
unix_socket_directories = '{socket_dir}'
unix_socket_permissions = 0777
max_connections = 60
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 512MB
effective_cache_size = 4GB
max_wal_size = 4GB
synchronous_commit = off
jit = off
logging_collector = off
timezone = 'Asia/Shanghai'
"""


class ClusterError(RuntimeError):
    """The local cluster could not be set up or started; the message says what to do."""


@dataclass(frozen=True)
class Cluster:
    """Paths and commands of the project-local cluster."""

    settings: DatabaseSettings

    @property
    def data_dir(self) -> Path:
        """PGDATA."""
        return self.settings.pg_dir / "data"

    @property
    def log_file(self) -> Path:
        """Server log."""
        return self.settings.pg_dir / "postgres.log"

    def _bin(self, name: str) -> str:
        return str(self.settings.pg_bindir / name)

    def _as_owner(self, argv: list[str]) -> list[str]:
        """Run as the ``postgres`` OS user when we are root (initdb and postgres refuse root)."""
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    def missing_packages(self) -> list[str]:
        """Debian packages that are needed and absent."""
        missing = []
        if not (self.settings.pg_bindir / "initdb").exists():
            missing.append("postgresql-15")
        if not POSTGIS_CONTROL.exists():
            missing.append("postgresql-15-postgis-3")
        return missing

    def ensure_packages(self) -> None:
        """Install PostgreSQL 15 and PostGIS 3 from Debian when missing (root), else say how."""
        missing = self.missing_packages()
        if not missing:
            return
        cmd = "apt-get update && apt-get install -y " + " ".join(APT_PACKAGES)
        if os.geteuid() != 0:
            raise ClusterError(f"缺少系统软件包 {', '.join(missing)}。请以 root 运行：sudo sh -c '{cmd}'")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", *APT_PACKAGES], check=True, env=env)

    def is_initialized(self) -> bool:
        """Tell whether PGDATA exists."""
        return (self.data_dir / "PG_VERSION").exists()

    def is_running(self) -> bool:
        """Tell whether the server answers ``pg_ctl status``."""
        if not self.is_initialized():
            return False
        res = subprocess.run(
            self._as_owner([self._bin("pg_ctl"), "-D", str(self.data_dir), "status"]),
            capture_output=True,
            text=True,
            check=False,
        )
        return res.returncode == 0

    def _prepare_dirs(self) -> None:
        pg_dir = self.settings.pg_dir
        for d in (pg_dir, self.settings.socket_dir):
            d.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            for d in (pg_dir, self.settings.socket_dir):
                os.chown(d, pw.pw_uid, pw.pw_gid)
            if self.log_file.exists():
                os.chown(self.log_file, pw.pw_uid, pw.pw_gid)
            # postgres must be able to reach the project directory.
            probe = subprocess.run(
                ["runuser", "-u", "postgres", "--", "test", "-w", str(pg_dir)], check=False
            )
            if probe.returncode != 0:
                raise ClusterError(f"postgres 用户无法写入 {pg_dir}：请确认其上级目录可被访问 (chmod o+x)。")

    def init(self) -> bool:
        """Create the cluster the first time; return True when it was created now."""
        if self.is_initialized():
            return False
        self._prepare_dirs()
        subprocess.run(
            self._as_owner([
                self._bin("initdb"), "-D", str(self.data_dir), "-U", self.settings.pg_user,
                "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8",
            ]),
            check=True,
            capture_output=True,
        )
        conf = self.data_dir / "postgresql.conf"
        extra = SERVER_CONF.format(socket_dir=self.settings.socket_dir)
        subprocess.run(
            self._as_owner(["sh", "-c", f"cat >> '{conf}'"]), input=extra.encode(), check=True
        )
        return True

    def start(self) -> None:
        """Start the server if it is not running and wait until it accepts connections."""
        if self.is_running():
            return
        self._prepare_dirs()
        stale = self.data_dir / "postmaster.pid"
        if stale.exists():
            stale.unlink()
        res = subprocess.run(
            self._as_owner([
                self._bin("pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file),
                "-w", "-t", "60", "start",
            ]),
            capture_output=True,
            text=True,
            check=False,
        )
        if res.returncode != 0:
            tail = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            raise ClusterError(f"数据库启动失败：{res.stdout}{res.stderr}\n{tail}")
        self.wait_ready()

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until ``pg_isready`` succeeds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            res = subprocess.run(
                [self._bin("pg_isready"), "-h", str(self.settings.socket_dir), "-U", self.settings.pg_user],
                capture_output=True,
                check=False,
            )
            if res.returncode == 0:
                return
            time.sleep(0.2)
        raise ClusterError("数据库在 30 秒内未就绪。")

    def ensure_database(self, name: str) -> None:
        """Create database ``name`` if it does not exist."""
        psql = [
            self._bin("psql"), "-h", str(self.settings.socket_dir), "-U", self.settings.pg_user,
            "-d", "postgres", "-tAc",
        ]
        exists = subprocess.run(
            [*psql, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],  # noqa: S608 (our own constant)
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        if not exists:
            subprocess.run([*psql, f'CREATE DATABASE "{name}"'], check=True, capture_output=True)

    def stop(self) -> bool:
        """Stop the server; return False when it was not running."""
        if not self.is_running():
            return False
        subprocess.run(
            self._as_owner([self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"]),
            check=True,
            capture_output=True,
        )
        return True

    def psql_argv(self, database: str | None = None) -> list[str]:
        """Command line that opens psql on the project database."""
        if not self.settings.uses_local_cluster:
            url = str(self.settings.database_url).replace("postgresql+psycopg2://", "postgresql://")
            return [shutil.which("psql") or "psql", url]
        return [
            self._bin("psql"), "-h", str(self.settings.socket_dir), "-U", self.settings.pg_user,
            "-d", database or self.settings.pg_database,
        ]
