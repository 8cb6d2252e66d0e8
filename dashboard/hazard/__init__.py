"""The hazard loop in the app: the hazard page (``/hazard?id=``), the report form (``/hazard/new``) and 待办.

:mod:`.access` turns the signed-in account into the rules' :class:`~domain.hazard_flow.Actor` and its 待办
question; :mod:`.layout` builds the pages from :mod:`geo.hazard_view` and :mod:`geo.todo` reads;
:mod:`.callbacks` submits actions and reports through :mod:`geo.hazard_actions`. Ids are prefixed ``hz-``
(hazard page), ``hzn-`` (report form) and ``todo-``.
"""
