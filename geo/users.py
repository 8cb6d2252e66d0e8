"""Accounts, password hashes (argon2), login bookkeeping and the audit log."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, text

from domain.catalogues import DepartmentCatalogue
from geo.models import USER_ROLES
from geo.scope import path_in_scope, scope_params

_HASHER = PasswordHasher()
# Verified against when the username is unknown, so both paths cost one argon2 verification.
_DUMMY_HASH = _HASHER.hash("safegrid-no-such-user")
MIN_PASSWORD_LENGTH = 10
ENTERPRISE_ROLE = "enterprise"  # the role whose account belongs to one enterprise (users.enterprise_id)
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"


class UserError(ValueError):
    """A rejected account change (message in Chinese)."""


@dataclass(frozen=True)
class UserRecord:
    """An account with its scope unit resolved."""

    id: int
    username: str
    display_name: str | None
    password_hash: str
    role: str
    active: bool
    session_version: int
    failed_logins: int
    locked_until: datetime | None
    is_locked: bool
    last_login_at: datetime | None
    scope_unit_id: int
    scope_code: str
    scope_name: str
    scope_level: int
    scope_path: str
    enterprise_id: int | None = None  # an enterprise account's own enterprise (role ``enterprise``)
    dept_code: str | None = None  # a department account's supervising department (geo/scope.py Scope)

    @property
    def label(self) -> str:
        """Name shown in the UI."""
        return self.display_name or self.username


_USER_SELECT = """
SELECT u."id", u."username", u."display_name", u."password_hash", u."role", u."active",
       u."session_version", u."failed_logins", u."locked_until",
       coalesce(u."locked_until" > now(), false) AS is_locked, u."last_login_at",
       u."scope_unit_id", s."code", s."name", s."level", s."path", u."enterprise_id",
       u."dept_code"
FROM "users" u JOIN "units" s ON s."id" = u."scope_unit_id"
"""

# The account row plus the data version, for the per-request check (one round trip). The account is
# only returned while its server-side session row exists and is younger than the absolute lifetime.
_DATA_VERSION = 'current_date::text || \':\' || (SELECT coalesce(sum("version"), 0) FROM "data_versions")::text'
# Each table's counter ("enterprises=5,hazards=906,…"): keys values that depend on a few tables only.
_TABLE_VERSIONS = ('(SELECT coalesce(string_agg("name" || \'=\' || "version", \',\' ORDER BY "name"), \'\') '
                   'FROM "data_versions")')
_SESSION_STATEMENT = "sg_session_user_v4"  # v4: with the per-table versions
_SESSION_LIVE = ('EXISTS (SELECT 1 FROM "user_sessions" us WHERE us."id" = :sid AND us."user_id" = u."id" '
                 'AND us."created_at" > now() - make_interval(mins => :max_minutes))')
_SESSION_SELECT = (f'SELECT q.*, {_DATA_VERSION}, {_TABLE_VERSIONS} FROM ({_USER_SELECT} '  # noqa: S608 - constants
                   f'WHERE u."id" = :id AND {_SESSION_LIVE}) q')


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password``."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check ``password`` against a hash; ``None`` (unknown user) costs the same and fails."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Tell whether a hash was made with weaker parameters than the current ones."""
    return _HASHER.check_needs_rehash(password_hash)


def generate_password(length: int = 14) -> str:
    """Return a random password without look-alike characters."""
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


def check_password_policy(password: str) -> None:
    """Raise :class:`UserError` when ``password`` is too weak."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符")
    if password.isdigit() or password.isalpha():
        raise UserError("密码不能只包含数字或只包含字母")


def get_user_by_name(conn: Connection, *, username: str) -> UserRecord | None:
    """Return the account called ``username``."""
    row = conn.execute(text(_USER_SELECT + 'WHERE u."username" = :n'), {"n": username}).one_or_none()
    return UserRecord(*row) if row else None


def get_user_by_id(conn: Connection, *, user_id: int) -> UserRecord | None:
    """Return the account with id ``user_id``."""
    row = conn.execute(text(_USER_SELECT + 'WHERE u."id" = :id'), {"id": user_id}).one_or_none()
    return UserRecord(*row) if row else None


def session_key_hash(session_id: str) -> str:
    """Return what ``user_sessions.id`` stores for the cookie's random session id (hex SHA-256)."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def session_user(
    conn: Connection, *, user_id: int, session_hash: str, max_minutes: int
) -> tuple[UserRecord, str, str] | None:
    """Return the account ``user_id``, the data version and the per-table versions, in one round trip.

    The per-request check. The per-table versions are ``name=counter`` pairs joined by commas.

    Nothing is returned unless the session ``session_hash`` (:func:`session_key_hash`) still exists for
    this account and began less than ``max_minutes`` ago (the absolute lifetime). The data version
    (database date and the sum of the ``data_versions`` write counters) only grows when a write to a
    versioned table commits, so it keys cached map and risk responses.
    """
    # A prepared statement per database connection: planning the join costs more than running it.
    # (Behind a transaction-pooling pgbouncer, turn this off: prepared statements do not survive there.)
    info = conn.connection.info
    if not info.get(_SESSION_STATEMENT):
        sql = _SESSION_SELECT.replace(":id", "$1").replace(":sid", "$2").replace(":max_minutes", "$3")
        conn.exec_driver_sql(f"PREPARE {_SESSION_STATEMENT}(int, text, int) AS {sql}")
        info[_SESSION_STATEMENT] = True
    row = conn.exec_driver_sql(f"EXECUTE {_SESSION_STATEMENT}(%(id)s, %(sid)s, %(max)s)",
                               {"id": user_id, "sid": session_hash, "max": max_minutes}).one_or_none()
    return (UserRecord(*row[:-2]), str(row[-2]), str(row[-1])) if row else None


def open_session(conn: Connection, *, user_id: int, session_hash: str, ip: str | None, max_minutes: int) -> None:
    """Record a new signed-in session; drop the account's sessions older than the absolute lifetime."""
    conn.execute(text(
        'DELETE FROM "user_sessions" WHERE "user_id" = :u AND "created_at" <= now() - make_interval(mins => :m)'
    ), {"u": user_id, "m": max_minutes})
    conn.execute(text('INSERT INTO "user_sessions" ("id", "user_id", "ip") VALUES (:h, :u, :ip)'),
                 {"h": session_hash, "u": user_id, "ip": ip})


def close_session(conn: Connection, *, session_hash: str) -> None:
    """End one session (logout): its cookie is refused from the next request on, on every instance."""
    conn.execute(text('DELETE FROM "user_sessions" WHERE "id" = :h'), {"h": session_hash})


def revoke_sessions(conn: Connection, *, username: str) -> int:
    """End every session of ``username``; return how many there were."""
    return conn.execute(text(
        'DELETE FROM "user_sessions" WHERE "user_id" = (SELECT "id" FROM "users" WHERE "username" = :n)'
    ), {"n": username}).rowcount


def count_sessions(conn: Connection, *, username: str) -> int:
    """Return how many sessions ``username`` has open (expired ones included until their next login)."""
    return int(conn.execute(text(
        'SELECT count(*) FROM "user_sessions" s JOIN "users" u ON u."id" = s."user_id" WHERE u."username" = :n'
    ), {"n": username}).scalar() or 0)


def list_users(conn: Connection, *, scope: str | None) -> list[UserRecord]:
    """Return the accounts whose scope unit lies in ``scope`` (None: all, for the CLI), by name."""
    if scope is None:
        return [UserRecord(*r) for r in conn.execute(text(_USER_SELECT + 'ORDER BY u."username"'))]
    sql = _USER_SELECT + f'WHERE {path_in_scope("s.path")} ORDER BY u."username"'
    return [UserRecord(*r) for r in conn.execute(text(sql), scope_params(scope))]


def _unit_id(conn: Connection, code: str) -> int:
    unit_id = conn.execute(text('SELECT "id" FROM "units" WHERE "code" = :c'), {"c": code}).scalar()
    if unit_id is None:
        raise UserError(f"数据范围单位“{code}”不存在")
    return int(unit_id)


def _check_role(role: str) -> None:
    if role not in USER_ROLES:
        raise UserError(f"角色“{role}”无效，可选：{', '.join(USER_ROLES)}")


def create_user(
    conn: Connection, *, username: str, password_hash: str, role: str, scope_code: str | None = None,
    display_name: str | None = None, enterprise_code: str | None = None, dept_code: str | None = None,
) -> int:
    """Create an account; raise :class:`UserError` for a bad role, scope, enterprise or duplicate name.

    An enterprise account (role ``enterprise``) names its enterprise by credit code instead of a scope:
    its scope unit is the enterprise's grid cell. Other roles name a scope and no enterprise, and may name a
    supervising department (``dept_code``, checked by the caller with :func:`check_department`).
    """
    _check_role(role)
    if not username or len(username) > 50 or not username.isprintable() or " " in username:
        raise UserError("用户名应为 1-50 个字符，且不含空格")
    enterprise_id = None
    if role == ENTERPRISE_ROLE:
        if not enterprise_code:
            raise UserError("企业账户须用 --enterprise 指定企业的统一社会信用代码")
        enterprise_id, cell_code = enterprise_account_target(conn, enterprise_code)
        if scope_code is not None and scope_code != cell_code:
            raise UserError(f"企业账户的数据范围是企业所在网格（{cell_code}），不能另行指定")
        scope_code = cell_code
        if dept_code:
            raise UserError("企业账户只能查看本企业，不能指定监管部门")
    elif enterprise_code is not None:
        raise UserError("只有企业账户（角色 enterprise）可以指定 --enterprise")
    if scope_code is None:
        raise UserError("请用 --scope 指定数据范围单位代码")
    unit_id = _unit_id(conn, scope_code)
    new_id = conn.execute(text(
        'INSERT INTO "users" ("username", "display_name", "password_hash", "role", "scope_unit_id", "enterprise_id", '
        '"dept_code") VALUES (:n, :d, :h, :r, :u, :e, :dept) ON CONFLICT ("username") DO NOTHING RETURNING "id"'
    ), {"n": username, "d": display_name, "h": password_hash, "r": role, "u": unit_id, "e": enterprise_id,
        "dept": dept_code or None}).scalar()
    if new_id is None:
        raise UserError(f"用户“{username}”已存在")
    return int(new_id)


def enterprise_account_target(conn: Connection, credit_code: str) -> tuple[int, str]:
    """Return the id and grid-cell code of the enterprise an account is made for; :class:`UserError` if unusable."""
    row = conn.execute(text(
        'SELECT e."id", u."code", u."level" FROM "enterprises" e LEFT JOIN "units" u ON u."id" = e."unit_id" '
        'WHERE e."credit_code" = :c'
    ), {"c": credit_code.strip().upper()}).one_or_none()
    if row is None:
        raise UserError(f"企业“{credit_code}”不存在：请核对统一社会信用代码")
    if row[1] is None:
        raise UserError(f"企业“{credit_code}”未落入任何网格，无法确定其数据范围：请先补全企业坐标或所属网格")
    return int(row[0]), str(row[1])


def enterprise_credit_code(conn: Connection, *, enterprise_id: int) -> str | None:
    """Return the credit code of an enterprise account's enterprise (None when it is gone)."""
    code = conn.execute(text('SELECT "credit_code" FROM "enterprises" WHERE "id" = :id'),
                        {"id": enterprise_id}).scalar()
    return str(code) if code is not None else None


def set_enterprise(conn: Connection, *, username: str, credit_code: str) -> None:
    """Make ``username`` the enterprise account of ``credit_code``: role, enterprise and its grid cell as scope."""
    enterprise_id, cell_code = enterprise_account_target(conn, credit_code)
    _update(conn, username, '"role" = :r, "enterprise_id" = :e, "scope_unit_id" = :u, "dept_code" = NULL',
            {"r": ENTERPRISE_ROLE, "e": enterprise_id, "u": _unit_id(conn, cell_code)})


def demo_enterprise(conn: Connection, *, unit_code: str) -> str | None:
    """Credit code for the demo enterprise account: the lowest one with an open hazard under ``unit_code``."""
    code = conn.execute(text(
        'SELECT e."credit_code" FROM "enterprises" e JOIN "units" u ON u."id" = e."unit_id" '
        'JOIN "units" top ON top."code" = :c AND u."path" LIKE top."path" || \'%\' '
        'WHERE EXISTS (SELECT 1 FROM "hazards" h WHERE h."enterprise_id" = e."id" AND h."status" <> \'closed\') '
        'ORDER BY e."credit_code" LIMIT 1'
    ), {"c": unit_code}).scalar()
    return str(code) if code is not None else None


def demo_points(conn: Connection, *, unit_code: str, n: int) -> list[tuple[float, float]]:
    """(lon, lat) inside each of the first ``n`` grid cells under ``unit_code`` (by code), for demo reports."""
    rows = conn.execute(text(
        'SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(g."geom") AS p FROM "units" g '
        'JOIN "units" top ON top."code" = :c AND g."path" LIKE top."path" || \'%\' '
        'WHERE g."level" = 5 AND g."geom" IS NOT NULL ORDER BY g."code" LIMIT :n) q'
    ), {"c": unit_code, "n": n})
    return [(float(x), float(y)) for x, y in rows]


def _update(conn: Connection, username: str, assignments: str, params: dict[str, Any]) -> None:
    """Apply an account change, bump ``session_version`` and delete the account's sessions (all end now)."""
    sql = (f'WITH changed AS (UPDATE "users" SET {assignments}, "session_version" = "session_version" + 1 '  # noqa: S608 - fixed assignments, values bound
           'WHERE "username" = :n RETURNING "id"), '
           'ended AS (DELETE FROM "user_sessions" WHERE "user_id" IN (SELECT "id" FROM changed)) '
           'SELECT count(*) FROM changed')
    if not conn.execute(text(sql), {"n": username, **params}).scalar():
        raise UserError(f"用户“{username}”不存在")


def set_password_hash(conn: Connection, *, username: str, password_hash: str) -> None:
    """Replace the password hash; also clears a lockout."""
    _update(conn, username, '"password_hash" = :h, "failed_logins" = 0, "locked_until" = NULL', {"h": password_hash})


def set_active(conn: Connection, *, username: str, active: bool) -> None:
    """Enable or disable an account."""
    _update(conn, username, '"active" = :a', {"a": active})


def set_scope(conn: Connection, *, username: str, scope_code: str) -> None:
    """Move an account's scope to the unit ``scope_code`` (not an enterprise account's: its enterprise decides)."""
    user = get_user_by_name(conn, username=username)
    if user is not None and user.role == ENTERPRISE_ROLE:
        raise UserError("企业账户的数据范围是企业所在网格，不能单独修改")
    _update(conn, username, '"scope_unit_id" = :u', {"u": _unit_id(conn, scope_code)})


def check_department(catalogue: DepartmentCatalogue, dept_code: str | None) -> str | None:
    """Return a department code of ``catalogue`` (None or "" → None); :class:`UserError` for an unknown one."""
    code = (dept_code or "").strip() or None
    if code is not None and catalogue.get(code) is None:
        raise UserError(f"部门“{code}”不在部门目录中，可选：{', '.join(catalogue.codes)}")
    return code


def set_department(conn: Connection, *, username: str, dept_code: str | None, catalogue: DepartmentCatalogue) -> None:
    """Scope ``username`` to a supervising department (None: every department); its sessions end.

    An enterprise account reads its own enterprise only and takes no department.
    """
    code = check_department(catalogue, dept_code)
    user = get_user_by_name(conn, username=username)
    if code is not None and user is not None and user.role == ENTERPRISE_ROLE:
        raise UserError("企业账户只能查看本企业，不能指定监管部门")
    _update(conn, username, '"dept_code" = :d', {"d": code})


def set_role(conn: Connection, *, username: str, role: str) -> None:
    """Change an account's role."""
    _check_role(role)
    if role == ENTERPRISE_ROLE:
        raise UserError("请用企业的统一社会信用代码设置企业账户（set_enterprise）")
    _update(conn, username, '"role" = :r, "enterprise_id" = NULL', {"r": role})


def record_login_success(conn: Connection, *, user_id: int) -> None:
    """Reset the failure counter and remember the login time."""
    conn.execute(text(
        'UPDATE "users" SET "failed_logins" = 0, "locked_until" = NULL, "last_login_at" = now() WHERE "id" = :id'
    ), {"id": user_id})


def record_login_failure(
    conn: Connection, *, user_id: int, max_failures: int, lockout_minutes: int
) -> datetime | None:
    """Count a failed login; on the ``max_failures``-th one lock the account. Return the lock end, if any."""
    return conn.execute(text(
        """
        UPDATE "users" SET
          "locked_until" = CASE WHEN "failed_logins" + 1 >= :max
                                THEN now() + make_interval(mins => :mins) ELSE "locked_until" END,
          "failed_logins" = CASE WHEN "failed_logins" + 1 >= :max THEN 0 ELSE "failed_logins" + 1 END
        WHERE "id" = :id
        RETURNING CASE WHEN "locked_until" > now() THEN "locked_until" END
        """
    ), {"id": user_id, "max": max_failures, "mins": lockout_minutes}).scalar()


def audit(
    conn: Connection, *, username: str | None, action: str, detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> None:
    """Append one audit entry."""
    conn.execute(text(
        'INSERT INTO "audit_log" ("username", "action", "detail", "ip") VALUES (:u, :a, CAST(:d AS jsonb), :ip)'
    ), {"u": username, "a": action, "d": json.dumps(detail, ensure_ascii=False) if detail else None, "ip": ip})


@dataclass(frozen=True)
class AuditEntry:
    """One audit log row."""

    at: datetime
    username: str | None
    action: str
    detail: dict[str, Any] | None
    ip: str | None


def list_audit(
    conn: Connection, *, limit: int = 50, username: str | None = None, action: str | None = None
) -> list[AuditEntry]:
    """Return the newest audit entries, optionally for one user or one action."""
    rows = conn.execute(text(
        'SELECT "at", "username", "action", "detail", "ip" FROM "audit_log" '
        'WHERE (CAST(:u AS text) IS NULL OR "username" = :u) AND (CAST(:a AS text) IS NULL OR "action" = :a) '
        'ORDER BY "at" DESC, "id" DESC LIMIT :lim'
    ), {"u": username, "a": action, "lim": limit})
    return [AuditEntry(*r) for r in rows]


def recent_failures_from_ip(conn: Connection, *, ip: str, minutes: int) -> int:
    """Count failed logins from ``ip`` in the last ``minutes`` (rate limit shared by all workers)."""
    return int(conn.execute(text(
        'SELECT count(*) FROM "audit_log" WHERE "action" = \'login_failed\' AND "ip" = :ip '
        'AND "at" > now() - make_interval(mins => :mins)'
    ), {"ip": ip, "mins": minutes}).scalar() or 0)


def name_locked_until(
    conn: Connection, *, username: str, max_failures: int, lockout_minutes: int, failing_now: bool = False
) -> datetime | None:
    """Lock state of a username that has no account, replayed from its ``login_failed`` audit rows.

    Unknown names get the lockout a real account would get after the same failures (every
    ``max_failures``-th failure locks for ``lockout_minutes``), so the login answers do not tell
    which usernames exist. The last day of failures counts. ``failing_now`` adds a failure at this
    moment (not yet audited). Returns the end of the lock, or None.
    """
    rows = conn.execute(text(
        'SELECT "at" FROM "audit_log" WHERE "action" = \'login_failed\' AND "username" = :u '
        'AND "at" > now() - interval \'1 day\' ORDER BY "at"'
    ), {"u": username}).scalars().all()
    now = conn.execute(text("SELECT now()")).scalar_one()
    failures, until = 0, None
    for at in [*rows, *([now] if failing_now else [])]:
        if until is not None and at < until:
            continue  # refused while locked (such attempts are audited as login_locked, not counted)
        failures += 1
        if failures >= max_failures:
            failures, until = 0, at + timedelta(minutes=lockout_minutes)
    return until if until is not None and until > now else None
