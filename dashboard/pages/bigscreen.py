"""The leaders' big screen (大屏) at ``/bigscreen``: registration only; the feature is :mod:`dashboard.bigscreen`."""

from __future__ import annotations

from dashboard.bigscreen.callbacks import register
from dashboard.bigscreen.layout import create_bigscreen
from dashboard.pages import Page
from dashboard.roles import Capability

PAGE = Page(path="/bigscreen", title="大屏", layout=create_bigscreen, register=register,
            capability=Capability.BIG_SCREEN, order=5)
