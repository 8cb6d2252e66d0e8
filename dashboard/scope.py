"""How handlers obtain the caller's account and scope, and refuse what lies outside it.

The account (and so the scope) is re-read from the database on every request by the flask-login
user loader in :mod:`dashboard.auth` (one round trip, with the data version that keys
:mod:`dashboard.cache`); nothing about the scope is stored in the cookie.

* Flask data routes: decorate with :func:`scoped_route` (401 unauthenticated, 403 when a ``code``
  URL argument lies outside the scope, 403 when the role lacks the capability) and read
  :func:`current_scope` inside.
* Dash callbacks: call :func:`callback_scope` (raises :class:`~dashboard.errors.NotAuthenticatedError`) and
  pass the scope to every ``geo`` query; :func:`ensure_unit_in_scope` refuses a foreign unit code.

An enterprise account (capability ``OWN_ENTERPRISE``) is *confined*: its scope unit (the enterprise's grid
cell) only serves the write path; what it may read is its own enterprise. So :meth:`Account.can` refuses it
everything "for every signed-in user" (capability None: overview, ledger, units API), grants the enterprise
file narrowed to its own credit code (checked by ``dashboard.components.enterprise_file.load_file``), and
:func:`callback_scope` refuses it callbacks asking for the file capability (they read around a file the
browser names). Its landing page is its own file (:func:`landing_path`).

A department account (``users.dept_code``, issue 18 part 5) has a :class:`geo.scope.Scope` carrying its department:
every ``geo`` query given that scope keeps to the department's enterprises and their rows (docs/department_scope.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

from flask import request
from flask_login import UserMixin, current_user
from sqlalchemy import Connection

from dashboard.errors import BadRequestError, ForbiddenError, NotAuthenticatedError, OutOfScopeError
from dashboard.roles import Capability, can, role_label
from domain.codes import looks_like_unit_code
from geo.db import connect
from geo.scope import Scope, unit_in_scope
from geo.users import UserRecord, audit, enterprise_credit_code

F = TypeVar("F", bound=Callable[..., Any])
_CODE_RE = re.compile(r"^\d{6,14}$")


class Account(UserMixin):
    """The signed-in user as flask-login sees it, wrapping the account row read this request."""

    def __init__(self, record: UserRecord, data_version: str = "", table_versions: str = "") -> None:
        self.record = record
        self.data_version = data_version  # read with the account; keys dashboard/cache.py
        self.table_versions = table_versions  # "enterprises=5,hazards=906,…", read with it

    def version_of(self, tables: tuple[str, ...]) -> str:
        """Return the data version of ``tables`` alone (day + their counters), or the whole data version if unknown.

        A value built from a few tables stays valid while other tables are written (the hazard loop
        writes hazards all day; the industries of a scope's enterprises do not change with it).
        """
        if not tables or not self.table_versions:
            return self.data_version
        counters = dict(pair.partition("=")[::2] for pair in self.table_versions.split(","))
        day = self.data_version.partition(":")[0]
        return day + ":" + ",".join(f"{t}={counters.get(t, '0')}" for t in tables)

    def get_id(self) -> str:
        """Session key: id and session version, so bumping the version ends old sessions."""
        return f"{self.record.id}:{self.record.session_version}"

    @property
    def is_active(self) -> bool:
        """Disabled accounts cannot sign in."""
        return self.record.active

    @property
    def username(self) -> str:
        """Login name."""
        return self.record.username

    @property
    def label(self) -> str:
        """Name shown in the header."""
        return self.record.label

    @property
    def role(self) -> str:
        """Role identifier."""
        return self.record.role

    @property
    def role_label(self) -> str:
        """Role in Chinese."""
        return role_label(self.record.role)

    @property
    def scope(self) -> Scope:
        """The scope: the scope unit's path and, for a department account, its department (geo.scope.Scope)."""
        return Scope(self.record.scope_path, self.record.dept_code)

    @property
    def department(self) -> str | None:
        """The supervising department a department account is limited to (None: every department)."""
        return self.record.dept_code

    @property
    def confined(self) -> bool:
        """An enterprise account: it reads its own enterprise only (see the module docstring)."""
        return can(self.record.role, Capability.OWN_ENTERPRISE)

    def can(self, capability: Capability | None) -> bool:
        """Tell whether the account's role grants ``capability`` (a confined account: see the module docstring)."""
        if self.confined:
            if capability is None:
                return False
            if capability is Capability.ENTERPRISE_FILE:
                return True  # narrowed to its own credit code by load_file
        return can(self.record.role, capability)

    def own_credit_code(self) -> str | None:
        """Return the credit code of a confined account's enterprise (None: not confined, or no enterprise)."""
        if not self.confined or self.record.enterprise_id is None:
            return None
        with connect() as conn:
            return enterprise_credit_code(conn, enterprise_id=self.record.enterprise_id)


def current_account() -> Account:
    """Return the signed-in account or raise :class:`NotAuthenticatedError`."""
    if not current_user.is_authenticated:
        raise NotAuthenticatedError()
    return cast(Account, current_user._get_current_object())


def current_scope() -> Scope:
    """Return the caller's scope (path and department)."""
    return current_account().scope


def callback_scope(capability: Capability | None = None) -> Scope:
    """Return the caller's scope inside a Dash callback (and check ``capability`` when given)."""
    account = current_account()
    if not account.can(capability) or (account.confined and capability is Capability.ENTERPRISE_FILE):
        raise ForbiddenError()
    return account.scope


def landing_path(account: Account) -> str:
    """Return where ``/`` leads: the command map, or a confined account's own enterprise file."""
    if not account.confined:
        return "/"
    code = account.own_credit_code()
    return "/enterprise?" + urlencode({"code": code}) if code else "/enterprise"


def client_ip() -> str | None:
    """Remote address of the request (put a trusted proxy's ProxyFix in front for X-Forwarded-For)."""
    return request.remote_addr


def refuse_out_of_scope(what: str) -> OutOfScopeError:
    """Audit a refused out-of-scope request (own transaction, so it survives the caller's rollback)."""
    account = current_account()
    with connect() as conn:
        audit(conn, username=account.username, action="forbidden", ip=client_ip(),
              detail={"target": what, "scope": account.record.scope_code, "path": request.path,
                      **({"dept": account.department} if account.department else {})})
    return OutOfScopeError()


def ensure_unit_in_scope(conn: Connection, code: str) -> None:
    """Raise :class:`OutOfScopeError` (and audit it) unless unit ``code`` lies inside the caller's scope."""
    if not unit_in_scope(conn, scope_path=current_scope(), code=code):
        raise refuse_out_of_scope(code)


def unit_arg(raw: str | None) -> str | None:
    """Return the optional unit code of a ``?unit=`` argument (None when empty); a malformed one is a 400."""
    code = (raw or "").strip() or None
    if code is not None and not looks_like_unit_code(code):
        raise BadRequestError("单位代码格式不正确。")
    return code


def exporting_account() -> Account:
    """Return the caller's account for an export route: 403 unless the role may export."""
    account = current_account()
    if not account.can(Capability.EXPORT):
        raise ForbiddenError()
    return account


def scoped_route(capability: Capability | None = None) -> Callable[[F], F]:
    """Protect a Flask data route: 401 without session, 403 without capability or for a foreign ``code``."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            account = current_account()
            if not account.can(capability):
                raise ForbiddenError()
            code = kwargs.get("code")
            if code is not None:
                if not _CODE_RE.match(str(code)):
                    raise BadRequestError("单位代码格式错误：应为 6-14 位数字。")
                with connect() as conn:
                    ensure_unit_in_scope(conn, str(code))
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate
