"""双随机一公开 ``/draws`` (leaders) and the published list ``/draws/public?id=N`` (everyone in scope).

The feature lives in :mod:`dashboard.inspections.draws`; this module only registers.
"""

from __future__ import annotations

from dashboard.inspections.draws import layout, public_layout, register
from dashboard.pages import Page
from dashboard.roles import Capability

# Not in the header menu (it is full at 1440 px): /inspection (四查) links here for accounts that may draw.
PAGE = Page(path="/draws", title="双随机抽查", layout=layout, register=register, capability=Capability.DRAW,
            in_menu=False, order=39)
PUBLIC_PAGE = Page(path="/draws/public", title="抽查公开名单", layout=public_layout, in_menu=False, order=40)
