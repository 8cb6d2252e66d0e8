"""Inspections worked in the app (issue 16): 双随机 draws, the inspection form, the risk-based due dates.

:mod:`.draws` (``/draws`` and its published list), :mod:`.form` (``/inspection/new``), :mod:`.due` (next due dates,
the due list). The page modules ``dashboard/pages/draws.py`` and ``inspection.py`` only register these.
"""
