"""检查台账 ``/inspections``: every inspection of the scope in AG Grid, with the audited xlsx export.

The feature lives in :mod:`dashboard.inspections.ledger`; this module only registers.
"""

from __future__ import annotations

from dashboard.inspections.ledger import layout, register
from dashboard.pages import Page
from dashboard.roles import Capability

PAGE = Page(path="/inspections", title="检查台账", layout=layout, register=register, capability=Capability.MAP,
            order=41)
