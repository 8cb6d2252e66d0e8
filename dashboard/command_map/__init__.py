"""The command map (一张图), the main page ``/``: drill city → county → township → village → grid cell.

The URL names the current unit (``/?unit=411002001``): links, breadcrumb and map clicks only change
the URL, and one callback renders the side panel from it, so deep links and back/forward work. Map
data comes from the Flask routes in :mod:`dashboard.map_routes`, never through server callback JSON:
clientside callbacks fetch the unit layer's polygons (``safegrid_cm.unitsNow`` / ``unitsData``) and every
checked point layer of a view in one request (``safegrid_cm.pointData``). Callbacks call ``geo`` with the
caller's scope and answer nothing for a foreign unit.

A drill-down step starts everything at once (docs/command_map_speed.md): a click on a unit fits the map
and asks its polygons and the new view's points in the click handler, and the URL it sets sends the
panel callback at the same time; a list row, the breadcrumb or back/forward to a unit the page knows
does the same from the URL (``unitsNow``). A unit the page has not seen waits for the panel's ``cm-state``
(``unitsData``), after the server checked the scope. The map is fitted
once a step, in the browser (``fitUnit`` in assets/map.js).

The panel's read-only parts (head, persons, KPIs, the sort buttons, the child table, the hazard list) and the
breadcrumb are HTML blocks (:func:`dashboard.dry.html_block`): a few Dash components a step instead of ~400;
their links, buttons and radio buttons work through delegated listeners in assets/map.js.

One drill-down step is one callback request: the panel carries its child table (only a new sort
order asks again), is built as plain component dicts (:mod:`dashboard.dry`, serialised by orjson)
and is kept in the response cache per scope and data version (:func:`callbacks.unit_panel`).

Modules: :mod:`.layout` (the page's component tree), :mod:`.panel` (the side panel, breadcrumb and
child table as dry components), :mod:`.callbacks` (what reads the URL and fills them). The page
module :mod:`dashboard.pages.command_map` only registers the page.
"""
