"""Shared UI pieces: what more than one page, the shell or a route needs lives here, one module per piece.

Pages (:mod:`dashboard.pages`) are leaves: they import components, never another page, and no other
module imports a page except the registry (``dashboard/pages/__init__.py``); ``tests/test_project.py``
enforces it. A component module owns its prefixed ids and, when it has some, its callbacks
(:func:`search.register`).
"""
