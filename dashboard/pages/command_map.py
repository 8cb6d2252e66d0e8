"""The command map (一张图) at ``/``: registration only; the feature lives in :mod:`dashboard.command_map`."""

from __future__ import annotations

from dashboard.command_map.callbacks import PAGE_PATH, register
from dashboard.command_map.layout import create_command_map
from dashboard.pages import Page
from dashboard.roles import Capability

PAGE = Page(path=PAGE_PATH, title="一张图", layout=create_command_map, register=register, capability=Capability.MAP,
            order=0, own_query=True)
