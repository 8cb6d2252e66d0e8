"""A local multi-instance stack: nginx → N gunicorn instances, Redis, and a streaming replica, under ``.local/``.

Everything runs from the Debian binaries with configuration files written here, as plain processes
(no systemd, no ``service``, nothing system-wide): a stack lives in one directory (default
``.local/stack``), its state in ``stack.json``, its logs beside each part. The primary is the
project cluster (``.local/pg``), or with ``own_primary`` a small cluster of the stack's own (tests,
which must not copy a developer's 13 GB cluster). The replica is a physical copy of the primary made
once with ``pg_basebackup -R`` (kept across ``down``/``up``; re-made when the primary is another
cluster), its own data directory and unix socket, started as the ``postgres`` OS user like the
primary. ``down`` stops everything ``up`` started (not the project cluster, which ``safegrid db``
owns).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from geo.localpg import Cluster, ClusterError
from geo.settings import PROJECT_ROOT, DatabaseSettings, get_settings

STATE_FILE = "stack.json"
APT_PACKAGES = ("nginx", "redis-server")
NGINX = "/usr/sbin/nginx"
REDIS = "/usr/bin/redis-server"
PARTS = ("nginx", "apps", "redis", "replica", "primary")

REPLICA_CONF = """
# SafeGrid stack replica (appended after the primary's settings copied by pg_basebackup: these win)
unix_socket_directories = '{socket_dir}'
listen_addresses = ''
shared_buffers = 128MB
hot_standby = on
hot_standby_feedback = on
max_standby_streaming_delay = 5s
"""

REDIS_CONF = """# SafeGrid stack Redis: unix socket only, no persistence (a cache and counters), bounded memory.
port 0
unixsocket {sock}
unixsocketperm 700
daemonize yes
pidfile {pid}
logfile {log}
dir {dir}
save ""
appendonly no
maxmemory {maxmemory}
maxmemory-policy allkeys-lru
"""

NGINX_CONF = """# SafeGrid stack proxy: one loopback port in front of the app instances.
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
{user}
events {{ worker_connections 1024; }}
http {{
    log_format stack '$remote_addr [$time_local] "$request_method $uri" $status $body_bytes_sent '
                     '$request_time "$upstream_addr" "$upstream_status"';
    access_log {access_log};
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    client_max_body_size 32m;  # the public report form takes three photos (SAFEGRID_PUBLIC_REPORT_MAX_REQUEST_BYTES)
    server_tokens off;
    upstream safegrid {{
{servers}
        keepalive 32;
        keepalive_timeout 60s;  # idle upstream connections: shorter than gunicorn's keepalive (75 s)
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://safegrid;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # A dead instance (connection refused or reset, no answer) is routed around; a POST is passed on
            # only when it never reached the instance (nginx's non_idempotent rule), so no write runs twice.
            # Not http_503: the app's 503 means the database is down, which no other instance helps with, and
            # counting it would mark every instance failed for fail_timeout after the database is back.
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries {tries};
            proxy_next_upstream_timeout 15s;
            proxy_connect_timeout 2s;
            proxy_read_timeout 130s;
        }}
    }}
}}
"""


class StackError(RuntimeError):
    """The stack could not be started or stopped; the message says why (Chinese)."""


@dataclass
class StackConfig:
    """Where and how big: directory, nginx port (instances on the next ports), workers, database."""

    root: Path = field(default_factory=lambda: PROJECT_ROOT / ".local" / "stack")
    port: int = 8060
    instances: int = 2
    workers: int = 2
    threads: int = 4
    database: str = ""
    own_primary: bool = False
    migrate: bool = False
    access_log: bool = True
    replica_delay_ms: int = 0  # recovery_min_apply_delay of the replica: a lagging replica on purpose (tests)
    extra_env: dict[str, str] = field(default_factory=dict)

    def app_ports(self) -> list[int]:
        """Loopback ports of the app instances (right after nginx's)."""
        return [self.port + i for i in range(1, self.instances + 1)]


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _chown_postgres(*paths: Path) -> None:
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        for p in paths:
            os.chown(p, pw.pw_uid, pw.pw_gid)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours is not alive
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return True


def _children(pid: int | None) -> list[int]:
    """Pids of the processes whose parent is ``pid`` (from /proc)."""
    if not pid:
        return []
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def read_pid(path: Path) -> int | None:
    """Return the pid in ``path`` (a pid file), or None."""
    try:
        text = path.read_text().split()
    except FileNotFoundError:
        return None
    return int(text[0]) if text and text[0].isdigit() else None


def stop_pid(pid: int | None, *, sig: int = signal.SIGTERM, wait_s: float = 20.0) -> bool:
    """Signal ``pid`` and wait until it is gone (SIGKILL after ``wait_s``); False when it was not running."""
    if not _alive(pid):
        return False
    assert pid is not None
    os.kill(pid, sig)
    deadline = time.monotonic() + wait_s
    while _alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
        time.sleep(0.05)
    return True


def port_free(port: int) -> bool:
    """Tell whether nothing listens on 127.0.0.1:``port``."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _http_ok(url: str, timeout: float = 2.0) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _wait(what: str, ok: Any, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise StackError(f"{what} 在 {timeout:g} 秒内未就绪。\n{tail}")
        time.sleep(0.2)


def _system_id(pg_bindir: Path, data_dir: Path) -> str:
    res = subprocess.run([str(pg_bindir / "pg_controldata"), "-D", str(data_dir)], capture_output=True, text=True,
                         check=False, env={**os.environ, "LC_ALL": "C"})
    for line in res.stdout.splitlines():
        if line.startswith("Database system identifier"):
            return line.split(":", 1)[1].strip()
    return ""


class Stack:
    """One stack directory: bring it up, report on it, take it down."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.root = config.root.resolve()

    # ---- paths and state --------------------------------------------------------------------------------

    @property
    def state_file(self) -> Path:
        """The stack's ``stack.json``."""
        return self.root / STATE_FILE

    def state(self) -> dict[str, Any]:
        """Return the last ``up``'s state (empty when the stack was never started here)."""
        try:
            loaded: dict[str, Any] = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return {}
        return loaded

    def primary_settings(self) -> DatabaseSettings:
        """Return the primary's settings: the project cluster, or the stack's own one."""
        base = get_settings()
        name = self.config.database or base.pg_database
        if self.config.own_primary:
            return DatabaseSettings(home=self.root / "primary", database_url=None, pg_database=name,
                                    pg_bindir=base.pg_bindir, pg_user=base.pg_user)
        if not base.uses_local_cluster:
            raise StackError("已配置 SAFEGRID_DATABASE_URL（外部数据库）：本地 stack 只能复制项目本地集群，"
                             "请去掉该设置或使用 --own-primary。")
        return DatabaseSettings(home=base.home, database_url=None, pg_database=name, pg_bindir=base.pg_bindir,
                                pg_user=base.pg_user)

    @property
    def replica_dir(self) -> Path:
        """Root of the replica (data/, run/, postgres.log)."""
        return self.root / "replica"

    def replica_url(self, settings: DatabaseSettings) -> str:
        """SQLAlchemy URL of the project database on the replica."""
        return f"postgresql+psycopg2://{settings.pg_user}@/{settings.pg_database}?host={self.replica_dir / 'run'}"

    @property
    def redis_socket(self) -> Path:
        """The Redis unix socket."""
        return self.root / "redis" / "redis.sock"

    # ---- up -----------------------------------------------------------------------------------------------

    def missing_packages(self) -> list[str]:
        """Debian packages the stack needs and are absent."""
        return [pkg for pkg, binary in zip(APT_PACKAGES, (NGINX, REDIS), strict=True) if not Path(binary).exists()]

    def up(self) -> dict[str, Any]:
        """Start every part not yet running (idempotent); return the state written to ``stack.json``."""
        missing = self.missing_packages()
        if missing:
            raise StackError(f"缺少系统软件包 {', '.join(missing)}：请运行 make setup（或 apt-get install -y "
                             f"{' '.join(missing)}）")
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # the postgres user must reach the replica under it
        cfg = self.config
        previous = self.state()
        running_ports = previous.get("app_ports", []) if previous else []
        for port in (cfg.port, *cfg.app_ports()):
            if port not in running_ports and port != previous.get("port") and not port_free(port):
                raise StackError(f"端口 {port} 已被占用：请换一个 --port。")
        primary = self.primary_settings()
        self._start_primary(primary)
        redis_url = self._start_redis()
        replica_url = self.replica_url(primary)
        # The instances build the app while the replica is copied and starts (they read from the primary
        # until it streams): together ~10 s less than one after the other.
        starting = self._spawn_apps(primary.url(), replica_url, redis_url)
        self._start_replica(primary)
        state: dict[str, Any] = {
            "root": str(self.root), "port": cfg.port, "base_url": f"http://127.0.0.1:{cfg.port}",
            "app_ports": cfg.app_ports(), "database": primary.pg_database, "own_primary": cfg.own_primary,
            "primary_url": primary.url(), "replica_url": replica_url, "redis_url": redis_url,
            "primary_home": str(primary.home), "config": {k: str(v) for k, v in asdict(cfg).items()},
        }
        self.state_file.write_text(json.dumps(state, ensure_ascii=False, indent=2))
        for port, log in starting:
            _wait(f"应用实例 127.0.0.1:{port}", lambda p=port: _http_ok(f"http://127.0.0.1:{p}/healthz"), 90, log)
        self._start_nginx()
        _wait("nginx", lambda: _http_ok(f"{state['base_url']}/healthz"), 30, self.root / "nginx" / "error.log")
        return state

    def _start_primary(self, settings: DatabaseSettings) -> None:
        cluster = Cluster(settings)
        try:
            cluster.ensure_packages()
            cluster.init()
            cluster.start()
            cluster.ensure_database(settings.pg_database)
        except ClusterError as exc:
            raise StackError(str(exc)) from exc
        if self.config.migrate:
            from geo import migrate

            migrate.upgrade(settings.url())

    def _start_replica(self, primary: DatabaseSettings) -> None:
        rdir = self.replica_dir
        data, run, log = rdir / "data", rdir / "run", rdir / "postgres.log"
        primary_data = Cluster(primary).data_dir
        pg_ctl = str(primary.pg_bindir / "pg_ctl")
        if (data / "PG_VERSION").exists() and _system_id(primary.pg_bindir, data) != _system_id(
                primary.pg_bindir, primary_data):
            self._stop_replica()
            shutil.rmtree(data)  # a copy of another cluster (the primary was re-created): make a new one
        if not (data / "PG_VERSION").exists():
            for d in (rdir, run):
                d.mkdir(parents=True, exist_ok=True)
                _chown_postgres(d)
            res = subprocess.run(_as_postgres([
                str(primary.pg_bindir / "pg_basebackup"), "-h", str(primary.socket_dir), "-U", primary.pg_user,
                "-D", str(data), "-R", "-X", "stream", "-c", "fast", "--no-password",
            ]), capture_output=True, text=True, check=False)
            if res.returncode != 0:
                raise StackError(f"pg_basebackup 失败：{res.stderr.strip()}")
            subprocess.run(_as_postgres(["sh", "-c", f"cat >> '{data / 'postgresql.conf'}'"]),
                           input=REPLICA_CONF.format(socket_dir=run).encode(), check=True)
        running = subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "status"]), capture_output=True,
                                 check=False).returncode == 0
        if not running:
            run.mkdir(parents=True, exist_ok=True)
            _chown_postgres(run)
            if log.exists():
                _chown_postgres(log)
            options = f"-c recovery_min_apply_delay={self.config.replica_delay_ms}ms"
            res = subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60",
                                               "start"]), capture_output=True, text=True, check=False)
            if res.returncode != 0:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise StackError(f"副本启动失败：{res.stdout}{res.stderr}\n{tail}")
        _wait("副本 (streaming)", lambda: self._replica_streaming(primary), 60, log)

    def _replica_streaming(self, primary: DatabaseSettings) -> bool:
        res = subprocess.run(
            [str(primary.pg_bindir / "psql"), "-h", str(self.replica_dir / "run"), "-U", primary.pg_user, "-d",
             "postgres", "-tAc", "SELECT status FROM pg_stat_wal_receiver"],
            capture_output=True, text=True, check=False)
        return res.stdout.strip() == "streaming"

    def _start_redis(self) -> str:
        rdir = self.root / "redis"
        rdir.mkdir(parents=True, exist_ok=True)
        pid_file = rdir / "redis.pid"
        url = f"unix://{self.redis_socket}"
        if not _alive(read_pid(pid_file)):
            conf = rdir / "redis.conf"
            conf.write_text(REDIS_CONF.format(sock=self.redis_socket, pid=pid_file, log=rdir / "redis.log", dir=rdir,
                                              maxmemory="256mb"))
            subprocess.run([REDIS, str(conf)], check=True, capture_output=True)
        _wait("redis", lambda: self._redis_ping(), 15, rdir / "redis.log")
        return url

    def _redis_ping(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(1)
                s.connect(str(self.redis_socket))
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def app_env(self, primary_url: str, replica_url: str, redis_url: str) -> dict[str, str]:
        """Environment of every app instance: the same settings, the stack's URLs, one proxy in front."""
        return {**os.environ, "SAFEGRID_DATABASE_URL": primary_url, "SAFEGRID_DATABASE_REPLICA_URL": replica_url,
                "SAFEGRID_REDIS_URL": redis_url, "SAFEGRID_TRUSTED_PROXY_HOPS": "1", **self.config.extra_env}

    def _spawn_apps(self, primary_url: str, replica_url: str, redis_url: str) -> list[tuple[int, Path]]:
        """Start the instances not running; return the (port, log) of those started (not yet answering)."""
        cfg = self.config
        env = self.app_env(primary_url, replica_url, redis_url)
        started = []
        for i, port in enumerate(cfg.app_ports(), start=1):
            adir = self.root / f"app{i}"
            adir.mkdir(parents=True, exist_ok=True)
            if _alive(read_pid(adir / "gunicorn.pid")):
                continue
            started.append((port, self._spawn_app(adir, port, env)))
        return started

    def _spawn_app(self, adir: Path, port: int, env: dict[str, str]) -> Path:
        cfg = self.config
        log = adir / "app.log"
        argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(cfg.workers),
                "--threads", str(cfg.threads), "--worker-class", "gthread", "--timeout", "120",
                "--graceful-timeout", "20", "--preload", "--config", "python:safegrid.gunicorn_conf",
                "--no-control-socket", "--pid", str(adir / "gunicorn.pid"), "dashboard.app:server"]
        with log.open("ab") as out:
            subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True)
        return log

    def restart_app(self, index: int) -> None:
        """Start instance ``index`` (1-based) again after it was stopped or killed; wait until it answers."""
        state = self.state()
        port = state["app_ports"][index - 1]
        adir = self.root / f"app{index}"
        if not _alive(read_pid(adir / "gunicorn.pid")):
            log = self._spawn_app(adir, port, self.app_env(state["primary_url"], state["replica_url"],
                                                           state["redis_url"]))
            _wait(f"应用实例 127.0.0.1:{port}", lambda: _http_ok(f"http://127.0.0.1:{port}/healthz"), 90, log)
        if " down;" in (self.root / "nginx" / "nginx.conf").read_text():  # drained before it stopped: back in
            self._start_nginx()

    def _start_nginx(self, *, down: tuple[int, ...] = ()) -> None:
        """Write nginx's configuration (the instances on ports ``down`` marked ``down``) and start or reload it."""
        cfg = self.config
        ndir = self.root / "nginx"
        tmp = ndir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        user = ""
        if os.geteuid() == 0:  # workers drop root; they only need the temp directories
            user = "user www-data;"
            pw = pwd.getpwnam("www-data")
            for d in (tmp, *(tmp / n for n in ("body", "proxy", "fastcgi", "uwsgi", "scgi"))):
                d.mkdir(exist_ok=True)
                os.chown(d, pw.pw_uid, pw.pw_gid)
        servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s{' down' if p in down else ''};"
                            for p in cfg.app_ports())
        conf = ndir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(
            dir=ndir, user=user, servers=servers, port=cfg.port, tries=cfg.instances,
            access_log=f"{ndir}/access.log stack" if cfg.access_log else "off"))
        argv = [NGINX, "-p", str(ndir), "-c", str(conf), "-e", str(ndir / "error.log")]
        test = subprocess.run([*argv, "-t", "-q"], capture_output=True, text=True, check=False)
        if test.returncode != 0:
            raise StackError(f"nginx 配置无效：{test.stderr.strip()}")
        pid = read_pid(ndir / "nginx.pid")
        if _alive(pid):
            subprocess.run([*argv, "-s", "reload"], check=True, capture_output=True)
        else:
            subprocess.run(argv, check=True, capture_output=True)

    def drain_app(self, index: int, *, wait_s: float = 60.0) -> float:
        """Take instance ``index`` (1-based) out of nginx before stopping it; return the seconds it took.

        nginx is reloaded with the instance marked ``down``: new requests go to the others, and the old
        nginx worker finishes the requests it had sent there (an answer being computed, or one the
        instance has not read yet from a kept-alive connection) and then exits. When only the new worker is
        left (or after ``wait_s``) nothing is in flight on the instance, and a SIGTERM loses nothing.
        """
        started = time.monotonic()
        master = read_pid(self.root / "nginx" / "nginx.pid")
        old = set(_children(master))
        self._start_nginx(down=(self.config.app_ports()[index - 1],))
        deadline = started + wait_s
        while old & set(_children(master)) and time.monotonic() < deadline:
            time.sleep(0.1)
        return time.monotonic() - started

    # ---- status and down -------------------------------------------------------------------------------

    def status(self) -> dict[str, str]:
        """Return each part's state in a word or two (Chinese), keyed by part."""
        state = self.state()
        if not state:
            return {}
        out: dict[str, str] = {}
        npid = read_pid(self.root / "nginx" / "nginx.pid")
        out["nginx"] = f"运行中 pid {npid}，{state['base_url']}" if _alive(npid) else "未运行"
        for i, port in enumerate(state["app_ports"], start=1):
            pid = read_pid(self.root / f"app{i}" / "gunicorn.pid")
            up = _alive(pid) and _http_ok(f"http://127.0.0.1:{port}/healthz")
            out[f"app{i}"] = f"运行中 pid {pid}，127.0.0.1:{port}" if up else "未运行"
        rpid = read_pid(self.root / "redis" / "redis.pid")
        out["redis"] = f"运行中 pid {rpid}，{state['redis_url']}" if _alive(rpid) else "未运行"
        rdata = self.replica_dir / "data"
        rpm = read_pid(rdata / "postmaster.pid") if rdata.exists() else None
        out["replica"] = f"运行中 pid {rpm}，{self.replica_dir / 'run'}" if _alive(rpm) else "未运行"
        primary = Cluster(DatabaseSettings(home=Path(state["primary_home"]), database_url=None))
        out["primary"] = ("运行中" if primary.is_running() else "未运行") + (
            "（stack 自有）" if state.get("own_primary") else "（项目集群 .local/pg）")
        return out

    def stop_nginx(self) -> bool:
        """Stop nginx (graceful quit, then TERM)."""
        return stop_pid(read_pid(self.root / "nginx" / "nginx.pid"), sig=signal.SIGQUIT, wait_s=10)

    def stop_app(self, index: int, *, sig: int = signal.SIGTERM) -> bool:
        """Stop app instance ``index`` (1-based) with ``sig`` (SIGKILL: as a crash)."""
        pid_file = self.root / f"app{index}" / "gunicorn.pid"
        stopped = stop_pid(read_pid(pid_file), sig=sig)
        if sig == signal.SIGKILL:
            pid_file.unlink(missing_ok=True)  # gunicorn could not remove it
        return stopped

    def stop_redis(self) -> bool:
        """Stop Redis (SIGTERM: it exits at once, nothing to save)."""
        return stop_pid(read_pid(self.root / "redis" / "redis.pid"))

    def start_redis(self) -> None:
        """Start Redis again (after :meth:`stop_redis`): empty, as after a crash of a cache without persistence."""
        self._start_redis()

    def primary_cluster(self) -> Cluster:
        """Return the primary cluster of the running stack (to stop and start it in a failure drill)."""
        state = self.state()
        return Cluster(DatabaseSettings(home=Path(state["primary_home"]), database_url=None,
                                        pg_database=state["database"]))

    def _stop_replica(self) -> bool:
        data = self.replica_dir / "data"
        if not (data / "PG_VERSION").exists():
            return False
        pg_ctl = str(get_settings().pg_bindir / "pg_ctl")
        res = subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]),
                             capture_output=True, check=False)
        return res.returncode == 0

    def stop_replica(self) -> bool:
        """Stop the replica (fast shutdown); its data directory stays for the next ``up``."""
        return self._stop_replica()

    def start_replica(self) -> None:
        """Start the replica again (after :meth:`stop_replica`) and wait until it streams."""
        state = self.state()
        self._start_replica(DatabaseSettings(home=Path(state["primary_home"]), database_url=None,
                                             pg_database=state["database"]))

    def down(self, *, purge: bool = False) -> list[str]:
        """Stop every part ``up`` started; ``purge`` also deletes the stack directory. Return what was stopped."""
        state = self.state()
        stopped = []
        if self.stop_nginx():
            stopped.append("nginx")
        n = len(state.get("app_ports", [])) or self.config.instances
        for i in range(1, n + 1):
            if self.stop_app(i):
                stopped.append(f"app{i}")
        if self.stop_redis():
            stopped.append("redis")
        if self._stop_replica():
            stopped.append("replica")
        if state.get("own_primary") and Cluster(DatabaseSettings(home=Path(state["primary_home"]),
                                                                 database_url=None)).stop():
            stopped.append("primary")
        if purge and self.root.exists():
            shutil.rmtree(self.root)
        return stopped
