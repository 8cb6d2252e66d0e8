"""隐患 ``/hazard?id=N`` (or ``?code=``) and 登记隐患 ``/hazard/new?enterprise=CODE`` / ``?lon=&lat=``.

The feature lives in :mod:`dashboard.hazard`; this module only reads the query and registers.
"""

from __future__ import annotations

from dash import html

from dashboard.hazard.access import own_enterprise
from dashboard.hazard.callbacks import register as register_hazard
from dashboard.hazard.layout import hazard_page, report_form
from dashboard.pages import Page
from dashboard.readdb import run_read
from dashboard.roles import Capability
from dashboard.scope import Account
from domain.codes import normalize_credit_code
from geo.hazard_view import hazard_view, report_place

MAX_ID = 2**31 - 1


def _number(value: str | None, low: float, high: float) -> float | None:
    try:
        number = float(value or "")
    except ValueError:
        return None
    return number if low <= number <= high else None


def layout(account: Account, query: dict[str, str]) -> html.Div:
    """Build the hazard page of ``?id=`` (or ``?code=``): missing and outside the scope read the same."""
    raw_id, code = (query.get("id") or "").strip(), (query.get("code") or "").strip()[:40]
    hazard_id = int(raw_id) if raw_id.isascii() and raw_id.isdigit() and int(raw_id) <= MAX_ID else None
    h = None
    if hazard_id is not None or code:
        h = run_read(lambda conn: hazard_view(conn, scope=account.scope, hazard_id=hazard_id,
                                              code=None if hazard_id is not None else code,
                                              enterprise_id=own_enterprise(account)))
    return hazard_page(h, account)


def new_layout(account: Account, query: dict[str, str]) -> html.Div:
    """Build the report form at an enterprise (``?enterprise=``, an enterprise account's own by default) or a point.

    Without either (a grid manager or inspector in the field) the form asks for the point: 使用我的位置.
    """
    credit = normalize_credit_code((query.get("enterprise") or "").strip()[:40]) if query.get("enterprise") else None
    lon, lat = _number(query.get("lon"), -180, 180), _number(query.get("lat"), -90, 90)
    own = own_enterprise(account)
    if credit is None and own is None and lon is None and lat is None and not query.get("lon"):
        return report_form(None, account, pick=True)  # no place given: the form asks (使用我的位置)
    place = run_read(lambda conn: report_place(
        conn, scope=account.scope, credit_code=credit, lon=lon, lat=lat,
        enterprise_id=own if own is not None and not credit else None))
    return report_form(place, account)


PAGE = Page(path="/hazard", title="隐患", layout=layout, register=register_hazard,
            capability=Capability.HAZARD_WORK, in_menu=False, order=45)
NEW_PAGE = Page(path="/hazard/new", title="登记隐患", layout=new_layout, capability=Capability.HAZARD_REPORT,
                in_menu=False, order=46)
