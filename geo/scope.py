"""Data scope: the ONE way a query is limited to the caller's subtree of the grid.

A scope is the ``path`` of the caller's scope unit, e.g. ``'411000.411002.'`` (魏都区). Every query
function that returns data takes ``scope`` as a keyword argument, adds one of the fragments below to
its WHERE clause and binds :func:`scope_params`::

    sql = f"SELECT ... FROM units u WHERE u.code = :code AND {path_in_scope('u.path')}"
    conn.execute(text(sql), {"code": code, **scope_params(scope)})

``path LIKE :scope || '%'`` is served by the ``text_pattern_ops`` index on ``units.path``: psycopg2
interpolates parameters on the client, so the server plans a constant prefix pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, text

SCOPE_PARAM = "scope"
_PATH_RE = re.compile(r"^(\d{6,14}\.)+$")
_IDENT_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


class ScopeError(ValueError):
    """A scope string that is not a unit path (never reaches SQL)."""


def check_scope(scope: str) -> str:
    """Return ``scope`` when it is a well-formed unit path, else raise :class:`ScopeError`."""
    if not isinstance(scope, str) or not _PATH_RE.match(scope):
        raise ScopeError(f"数据范围“{scope}”不是有效的单位路径")
    return scope


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


def scope_params(scope: str) -> dict[str, str]:
    """Bind parameters for the fragments above (validates the scope first)."""
    return {SCOPE_PARAM: check_scope(scope)}


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
