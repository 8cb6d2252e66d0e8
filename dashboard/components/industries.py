"""The 行业 filter's choices of a page: the industries of the scope's enterprises, cached by what they are read from.

Cached by the write counters of ``enterprises`` and ``units`` only (:func:`dashboard.cache.cached_value`): the
hazard loop's writes leave the entry valid; a load of enterprises rebuilds it.
"""

from __future__ import annotations

from dashboard.cache import cached_value
from dashboard.scope import Account
from geo.db import connect
from geo.hazard_ledger import INDUSTRY_TABLES, scope_industries


def _read(scope: str) -> list[str]:
    with connect() as conn:
        return scope_industries(conn, scope=scope)


def industry_choices(account: Account) -> list[str]:
    """Return the industries of ``account``'s scope (its department's enterprises for a department account)."""
    scope = account.scope
    return cached_value("industries", {}, lambda: _read(scope), INDUSTRY_TABLES)
