"""Data scope: the ONE way a query is limited to the caller's subtree of the grid.

A scope is the ``path`` of the caller's scope unit, e.g. ``'411000.411002.'`` (魏都区). Every query
function that returns data takes ``scope`` as a keyword argument, adds one of the fragments below to
its WHERE clause and binds :func:`scope_params`::

    sql = f"SELECT ... FROM units u WHERE u.code = :code AND {path_in_scope('u.path')}"
    conn.execute(text(sql), {"code": code, **scope_params(scope)})

``path LIKE :scope || '%'`` is served by the ``text_pattern_ops`` index on ``units.path``: psycopg2
interpolates parameters on the client, so the server plans a constant prefix pattern.

A department account's scope is a :class:`Scope`: the path plus a supervising department's code (issue 18
part 5, docs/department_scope.md). Its text is ``'<path>@<dept>'``, so every cache keyed by the scope keeps
departments apart, and a query binding the text itself instead of :func:`scope_params` matches no path (fails
closed). Queries over enterprises and the rows that belong to them add :func:`enterprise_in_department` /
:func:`enterprise_id_in_department`; for an account without a department these bind NULL and PostgreSQL folds
the predicate away when planning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, text

SCOPE_PARAM = "scope"
DEPT_PARAM = "scope_dept"
_PATH_RE = re.compile(r"^(\d{6,14}\.)+$")
_DEPT_RE = re.compile(r"^[a-z][a-z0-9_]{1,19}$")  # domain.catalogues.DEPARTMENT_CODE_RE
_IDENT_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


class ScopeError(ValueError):
    """A scope string that is not a unit path (never reaches SQL)."""


class Scope(str):
    """A scope path and, for a department account, its department: ``Scope(path, dept)``, text ``path@dept``.

    Built once per request from the account (dashboard/scope.py). It is a ``str`` so every function typed
    ``scope: str`` takes it unchanged; :meth:`within` narrows it to a sub-area keeping the department.
    """

    path: str
    department: str | None

    def __new__(cls, path: str, department: str | None = None) -> Scope:
        """Validate both parts; the text form is the path, or ``path@department``."""
        if not isinstance(path, str) or not _PATH_RE.match(path):
            raise ScopeError(f"数据范围“{path}”不是有效的单位路径")
        if department is not None and not _DEPT_RE.match(department):
            raise ScopeError(f"部门代码“{department}”无效")
        obj = super().__new__(cls, f"{path}@{department}" if department else path)
        obj.path, obj.department = path, department
        return obj

    def __reduce__(self) -> tuple[type[Scope], tuple[str, str | None]]:
        """Pickle as its two parts."""
        return (Scope, (self.path, self.department))

    @classmethod
    def of(cls, scope: str) -> Scope:
        """Return ``scope`` as a :class:`Scope` (a plain path, or the text of a Scope)."""
        if isinstance(scope, Scope):
            return scope
        if not isinstance(scope, str):
            raise ScopeError(f"数据范围“{scope}”不是有效的单位路径")
        path, _, department = scope.partition("@")
        return cls(path, department or None)

    def within(self, path: str) -> Scope:
        """Return the scope of the sub-area ``path`` with this scope's department (``path`` must lie inside)."""
        if not path.startswith(self.path):
            raise ScopeError(f"“{path}”不在数据范围内")
        return Scope(path, self.department)


def scope_path(scope: str) -> str:
    """Return the unit path of a scope (a Scope's path, or a plain path)."""
    return Scope.of(scope).path


def narrow(scope: str, path: str) -> Scope:
    """Return the scope of sub-area ``path`` keeping ``scope``'s department (see :meth:`Scope.within`)."""
    return Scope.of(scope).within(path)


def check_scope(scope: str) -> str:
    """Return the unit path of ``scope`` when it is well formed, else raise :class:`ScopeError`."""
    return Scope.of(scope).path


def quote_ident(name: str) -> str:
    """Quote a (possibly qualified) identifier such as ``u.path`` → ``"u"."path"``."""
    parts = name.split(".")
    for part in parts:
        if not _IDENT_RE.match(part):
            raise ValueError(f"invalid SQL identifier: {name!r}")
    return ".".join(f'"{p}"' for p in parts)


def path_in_scope(path_column: str = "path") -> str:
    """Return the SQL condition "this row's unit path lies in the scope subtree" (bind :func:`scope_params`)."""
    return f"{quote_ident(path_column)} LIKE :{SCOPE_PARAM} || '%'"


def unit_id_in_scope(unit_id_column: str = "unit_id") -> str:
    """Return the SQL condition for rows referencing a unit (enterprises, hazards…): that unit is in scope."""
    return (
        f'{quote_ident(unit_id_column)} IN (SELECT "id" FROM "units" '  # noqa: S608 - quoted identifier, bound value
        f"WHERE \"path\" LIKE :{SCOPE_PARAM} || '%')"
    )


def enterprise_in_department(alias: str = "e") -> str:
    """Return the SQL condition "enterprise row ``alias`` is of the scope's department" (true without one)."""
    return f'(CAST(:{DEPT_PARAM} AS text) IS NULL OR {quote_ident(alias + ".dept_code")} = :{DEPT_PARAM})'


def enterprise_id_in_department(enterprise_id_column: str = "enterprise_id") -> str:
    """Return the condition for a row of an enterprise (hazard, inspection, accident): of the scope's department.

    A row without an enterprise belongs to no department: a department account does not see it.
    """
    # EXISTS, not IN (SELECT …): inside the OR the sub-select cannot become a semi-join, and an IN sub-plan is
    # hashed only while the department's ids fit in work_mem (455,700 ids did in the local cluster's 32 MB, not in
    # PostgreSQL's default 4 MB) — beyond, it is re-scanned for every row. The EXISTS is one index-only probe of
    # ix_enterprises_dept_code (dept_code, id) per row: linear always, about 2x the hashed IN over 3M hazards
    # (docs/department_scope.md). Where the query already joins the enterprise, enterprise_in_department is cheaper.
    return (f'(CAST(:{DEPT_PARAM} AS text) IS NULL OR EXISTS (SELECT 1 FROM "enterprises" d_e '  # noqa: S608
            f'WHERE d_e."id" = {quote_ident(enterprise_id_column)} AND d_e."dept_code" = :{DEPT_PARAM}))')


# Rows of no enterprise (public reports, cell-only reports): a department account sees none of them.
NO_DEPARTMENT = f"CAST(:{DEPT_PARAM} AS text) IS NULL"


def enterprise_in_scope(alias: str = "e") -> str:
    """Return the condition "enterprise row ``alias`` lies in the scope: its grid cell and its department"."""
    return f'{unit_id_in_scope(alias + ".unit_id")} AND {enterprise_in_department(alias)}'


def scope_params(scope: str) -> dict[str, str | None]:
    """Bind parameters for the fragments above (validates the scope first): the path and the department."""
    parsed = Scope.of(scope)
    return {SCOPE_PARAM: parsed.path, DEPT_PARAM: parsed.department}


def scope_department(scope: str) -> str | None:
    """Return the department of a scope (None: every department)."""
    return Scope.of(scope).department


@dataclass(frozen=True)
class ScopeUnit:
    """The unit a scope is rooted at."""

    id: int
    code: str
    name: str
    level: int
    path: str


def scope_unit(conn: Connection, *, unit_id: int) -> ScopeUnit | None:
    """Resolve a scope unit by id (its path is the scope string)."""
    row = conn.execute(
        text('SELECT "id", "code", "name", "level", "path" FROM "units" WHERE "id" = :id'), {"id": unit_id}
    ).one_or_none()
    return ScopeUnit(*row) if row else None


def unit_in_scope(conn: Connection, *, scope_path: str, code: str) -> bool:
    """Tell whether the unit with ``code`` exists inside the scope subtree."""
    sql = f'SELECT EXISTS (SELECT 1 FROM "units" WHERE "code" = :code AND {path_in_scope("path")})'  # noqa: S608
    return bool(conn.execute(text(sql), {"code": code, **scope_params(scope_path)}).scalar())
