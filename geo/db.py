"""Engine and connection helpers, and how long anything waits on PostgreSQL.

Every pooled session gets libpq's connect timeout, TCP keepalives and ``tcp_user_timeout`` (a dead
network link), and server-side statement and idle-in-transaction timeouts
(:meth:`geo.settings.DatabaseSettings.libpq_args`); a full pool makes a checkout wait at most
``pool_timeout_s``. None of these notices a server that stops answering while its host's kernel
still acknowledges the packets (a stopped or wedged postmaster, a proxy that no longer forwards): a
statement sent on a pooled connection would wait for ever. The :class:`HangGuard` covers that: the
pools' connections register every round trip; a round trip unanswered after ``hang_check_ms`` makes
a watchdog thread open a fresh probe connection with a deadline (:func:`probe`). When the probe gets
no answer within ``probe_timeout_ms`` the server hangs: the waiting connections' sockets are shut
down (their statements fail at once with ``OperationalError``) and, until a probe succeeds again
(retried every ``_TICK_S``), new statements and connections to that server fail immediately. A slow
statement on a server that answers probes is left to ``statement_timeout``.
"""

from __future__ import annotations

import logging
import os
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import psycopg2
from psycopg2 import extensions
from sqlalchemy import Connection, Engine, create_engine, event

from geo.settings import DatabaseSettings, get_settings

log = logging.getLogger(__name__)

_TICK_S = 0.2  # how often the watchdog looks at the round trips in flight / re-probes a hung server
HUNG_MESSAGE = "safegrid: database server not answering (hang detected)"


@lru_cache(maxsize=8)
def engine(url: str | None = None) -> Engine:
    """Return a pooled engine for ``url`` (default: the project database)."""
    settings = get_settings()
    eng = create_engine(
        url or settings.url(),
        pool_size=settings.pool_size,
        pool_timeout=settings.pool_timeout_s,
        pool_pre_ping=True,
        connect_args=watched_connect_args(settings),
    )
    refuse_connects_while_hung(eng)
    _notice_writes(eng)
    return eng


def watched_connect_args(settings: DatabaseSettings, statement_timeout_ms: int | None = None,
                         **extra: object) -> dict[str, Any]:
    """``connect_args`` of a pool whose connections time out (libpq) and are watched by :data:`HANG_GUARD`."""
    return {**settings.libpq_args(statement_timeout_ms), **extra, "connection_factory": WatchedConnection}


def refuse_connects_while_hung(eng: Engine) -> None:
    """Make ``eng`` fail a new connection at once while its server is known to hang."""

    @event.listens_for(eng, "do_connect")
    def _refuse(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        HANG_GUARD.refuse_if_hung(_server_key_of(cparams))


@contextmanager
def connect(url: str | None = None) -> Iterator[Connection]:
    """Yield a connection inside a transaction that commits on success."""
    with engine(url).begin() as conn:
        yield conn


# ---- committed writes, for read-your-writes (dashboard.readdb) ----------------------------------------

# A statement that writes: DML, COPY, DDL, or a WITH holding DML. A write hidden in a function called by
# SELECT is not seen here; the data-version check of dashboard.readdb still catches writes to versioned tables.
_WRITE_RE = re.compile(r"\s*(?:INSERT|UPDATE|DELETE|MERGE|COPY|TRUNCATE|CREATE|DROP|ALTER)\b", re.IGNORECASE)
_DML_RE = re.compile(r"\b(?:INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)
_WROTE = "sg_wrote"
_WRITE_LISTENERS: list[Callable[[], None]] = []


def on_committed_write(listener: Callable[[], None]) -> None:
    """Call ``listener()`` (in the committing thread) after every commit of a transaction that wrote."""
    if listener not in _WRITE_LISTENERS:
        _WRITE_LISTENERS.append(listener)


def _is_write(statement: str) -> bool:
    if _WRITE_RE.match(statement):
        return True
    return statement.lstrip()[:4].upper() == "WITH" and _DML_RE.search(statement) is not None


def _notice_writes(eng: Engine) -> None:
    """Mark a connection that ran a writing statement; tell the listeners when its transaction commits."""

    @event.listens_for(eng, "before_cursor_execute")
    def _statement(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if _WRITE_LISTENERS and _is_write(statement):
            conn.info[_WROTE] = True

    @event.listens_for(eng, "commit")
    def _commit(conn: Any) -> None:
        if conn.info.pop(_WROTE, False):
            for listener in _WRITE_LISTENERS:
                listener()

    @event.listens_for(eng, "rollback")
    def _rollback(conn: Any) -> None:
        conn.info.pop(_WROTE, None)


# ---- what kind of failure: misconfiguration or outage -------------------------------------------------

Problem = Literal["auth", "database", "host", "hung", "unavailable"]
MISCONFIGURED: frozenset[Problem] = frozenset({"auth", "database", "host"})
PROBLEM_LABELS: dict[Problem, str] = {
    "auth": "认证失败（用户名或密码错误，或该用户不存在/不允许连接）",
    "database": "数据库不存在",
    "host": "数据库主机名无法解析",
    "hung": "数据库无响应（超时）",
    "unavailable": "数据库无法连接（未运行或网络不通）",
}
# libpq / server messages (pgcode is not set for connection failures): which mean a misconfiguration
_AUTH_FAILED = ("password authentication failed", "authentication failed", "no pg_hba.conf entry",
                "no password supplied", "fe_sendauth")
_UNKNOWN_HOST = ("could not translate host name", "name or service not known", "nodename nor servname")


def classify(exc: BaseException) -> Problem:
    """Tell what a database error means for operators: a misconfiguration (auth, database, host) or an outage."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    missing = "does not exist" in text
    if HUNG_MESSAGE.lower() in text or "timeout expired" in text:
        return "hung"
    if any(p in text for p in _AUTH_FAILED) or ('role "' in text and missing):
        return "auth"
    if 'database "' in text and missing:
        return "database"
    if any(p in text for p in _UNKNOWN_HOST):
        return "host"
    return "unavailable"


@dataclass(frozen=True)
class Health:
    """Outcome of a :func:`probe`: ``ok``, or the :data:`Problem` and the driver's message."""

    problem: Problem | None
    detail: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """The server answered ``SELECT 1``."""
        return self.problem is None

    @property
    def misconfigured(self) -> bool:
        """Wrong credentials, database name or host: waiting will not help."""
        return self.problem in MISCONFIGURED

    def describe(self) -> str:
        """Chinese one-liner for logs and the command line."""
        if self.problem is None:
            return f"数据库正常（{self.seconds * 1000:.0f} ms）"
        kind = "数据库配置错误" if self.misconfigured else "数据库不可用"
        return f"{kind}：{PROBLEM_LABELS[self.problem]}。{self.detail.strip()}"


def describe_failure(exc: BaseException) -> str:
    """Chinese one-liner for a failed database call: misconfiguration or outage, and the driver's message."""
    return Health(classify(exc), str(getattr(exc, "orig", None) or exc)).describe()


def dsn_of(eng: Engine) -> str:
    """Libpq connection string of ``eng``'s URL (for :func:`probe`)."""
    _, params = eng.dialect.create_connect_args(eng.url)
    return extensions.make_dsn(**params)


def probe(dsn: str, timeout_s: float) -> Health:
    """Open a fresh connection and run ``SELECT 1``, giving up after ``timeout_s`` in all (never blocks longer).

    Uses psycopg2's per-connection asynchronous mode (no global wait callback, so COPY elsewhere still
    works); libpq's ``connect_timeout`` does not apply to it, the deadline here does.
    """
    started = time.monotonic()
    deadline = started + timeout_s
    ms = max(1, int(timeout_s * 1000))
    try:
        conn = psycopg2.connect(dsn, async_=True, application_name="safegrid-probe",
                                options=f"-c statement_timeout={ms}")
    except psycopg2.Error as exc:
        return Health(classify(exc), str(exc), time.monotonic() - started)
    try:
        if not _poll_until(conn, deadline):
            return Health("hung", f"{timeout_s:g} 秒内无应答", time.monotonic() - started)
        cur = conn.cursor()
        cur.execute("SELECT 1")
        if not _poll_until(conn, deadline):
            return Health("hung", f"{timeout_s:g} 秒内无应答", time.monotonic() - started)
        cur.fetchone()
    except psycopg2.Error as exc:
        return Health(classify(exc), str(exc), time.monotonic() - started)
    finally:
        conn.close()
    return Health(None, "", time.monotonic() - started)


def check(url: str | None = None) -> Health:
    """Probe the database of ``url`` (default: the project's) within ``healthz_timeout_ms``; note the verdict.

    While the server is known to hang the answer is immediate.
    """
    dsn = dsn_of(engine(url))
    if _server_key(dsn) in HANG_GUARD.hung:  # the watchdog re-probes it every _TICK_S: answer at once
        return Health("hung", "数据库仍无响应")
    health = probe(dsn, get_settings().healthz_timeout_ms / 1000)
    HANG_GUARD.note(dsn, health)
    return health


def _poll_until(conn: Any, deadline: float) -> bool:
    """Drive an asynchronous psycopg2 connection until ready; False when ``deadline`` passes first."""
    while True:
        state = conn.poll()
        if state == extensions.POLL_OK:
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        fd = conn.fileno()
        if state == extensions.POLL_READ:
            select.select([fd], [], [], left)
        else:  # POLL_WRITE
            select.select([], [fd], [], left)


# ---- the hang guard ------------------------------------------------------------------------------------

def _server_key_of(params: dict[str, Any]) -> str:
    return f"{params.get('host') or ''}:{params.get('port') or 5432}"


def _server_key(dsn: str) -> str:
    return _server_key_of(extensions.parse_dsn(dsn))


@dataclass
class _Flight:
    """One round trip in flight on a watched connection."""

    started: float
    fd: int
    server: str
    dsn: str
    probed: bool = False


@dataclass
class HangGuard:
    """Round trips in flight per server, the watchdog thread, and the servers known to hang."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    flights: dict[int, _Flight] = field(default_factory=dict)
    hung: dict[str, str] = field(default_factory=dict)  # server key -> dsn to re-probe
    _thread_pid: int = 0

    def refuse_if_hung(self, server: str) -> None:
        """Raise ``OperationalError`` at once when ``server`` is known to hang."""
        if server in self.hung:
            raise psycopg2.OperationalError(HUNG_MESSAGE)

    def begin(self, conn: WatchedConnection) -> int:
        """Register a round trip on ``conn``; returns the token for :meth:`end`."""
        if conn.sg_server in self.hung:
            raise psycopg2.OperationalError(HUNG_MESSAGE)
        try:
            fd = conn.fileno()
        except psycopg2.Error:
            fd = -1
        flight = _Flight(time.monotonic(), fd, conn.sg_server, conn.sg_dsn)
        token = id(flight)
        with self.lock:
            self.flights[token] = flight
        if self._thread_pid != os.getpid():
            self._start()
        return token

    def end(self, token: int) -> None:
        """Unregister a round trip (answered or failed): its socket is no longer ours to shut down."""
        with self.lock:
            self.flights.pop(token, None)

    def note(self, dsn: str, health: Health) -> None:
        """Record a probe's verdict on the server of ``dsn`` (also used by /healthz and the start-up check)."""
        server = _server_key(dsn)
        with self.lock:
            if health.problem == "hung":
                if server not in self.hung:
                    log.error("database %s not answering: failing its statements until it answers again", server)
                self.hung[server] = dsn
                for flight in self.flights.values():
                    if flight.server == server and flight.fd >= 0:
                        _shut(flight.fd)
                        flight.fd = -1
            elif server in self.hung:
                del self.hung[server]
                log.warning("database %s answers again (%s)", server, health.describe())

    def _start(self) -> None:
        with self.lock:
            if self._thread_pid == os.getpid():
                return
            self._thread_pid = os.getpid()  # a forked worker starts its own watchdog
        threading.Thread(target=self._watch, name="safegrid-db-hang-guard", daemon=True).start()

    def _watch(self) -> None:
        settings = get_settings()
        if settings.hang_check_ms <= 0:
            return
        check_after, timeout = settings.hang_check_ms / 1000, settings.probe_timeout_ms / 1000
        while True:
            time.sleep(_TICK_S)
            now = time.monotonic()
            with self.lock:
                suspects = {f.server: f.dsn for f in self.flights.values()
                            if not f.probed and now - f.started >= check_after}
                suspects.update(self.hung)
            for server, dsn in suspects.items():
                health = probe(dsn, timeout)
                with self.lock:
                    for flight in self.flights.values():
                        if flight.server == server and flight.started <= now:
                            flight.probed = True  # a slow statement on a live server: statement_timeout's job
                self.note(dsn, health)


def _shut(fd: int) -> None:
    """Shut down the socket behind ``fd`` (a duplicate is closed; the connection's own fd stays libpq's)."""
    try:
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


HANG_GUARD = HangGuard()


def _watched(conn: WatchedConnection, call: Any, *args: Any) -> Any:
    """Run one round trip ``call(*args)`` of ``conn`` under :data:`HANG_GUARD`."""
    token = HANG_GUARD.begin(conn)
    try:
        return call(*args)
    finally:
        HANG_GUARD.end(token)


class WatchedConnection(extensions.connection):
    """psycopg2 connection whose round trips (statements, commit, rollback) :data:`HANG_GUARD` watches."""

    def __init__(self, dsn: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(dsn, *args, **kwargs)
        self.sg_dsn = dsn
        self.sg_server = _server_key(dsn)

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        """Return a :class:`WatchedCursor` unless another factory is asked for."""
        kwargs.setdefault("cursor_factory", WatchedCursor)
        return super().cursor(*args, **kwargs)

    def commit(self) -> None:
        """COMMIT, watched."""
        _watched(self, super().commit)

    def rollback(self) -> None:
        """ROLLBACK, watched."""
        _watched(self, super().rollback)


class WatchedCursor(extensions.cursor):
    """psycopg2 cursor whose statements :data:`HANG_GUARD` watches."""

    def execute(self, query: Any, vars: Any = None) -> None:
        """Execute, watched."""
        _watched(self.connection, super().execute, query, vars)

    def executemany(self, query: Any, vars_list: Any) -> None:
        """Executemany, watched."""
        _watched(self.connection, super().executemany, query, vars_list)
