"""The leaders' big screen (大屏, ``/bigscreen``): KPI ribbon, four-colour map, rankings, trend, alarm ticker.

A dark, full-window 16:9 layout without scrolling (``assets/bigscreen.css``; the shell header is hidden
on this page). The first render carries all data, so nothing is empty while callbacks run. Every
``SAFEGRID_BIGSCREEN_REFRESH_SECONDS`` one callback re-reads the figures — unless the data version read with
the account (business day + write counters) is still the one of its last read: then it reads nothing — and
updates only text, figure and store props: the map component is never re-created and its
``center``/``zoom``/``viewport`` are never outputs of the refresh, so the view a leader panned to stays put.
The unit layer's ``url`` changes only when the derived tables were refreshed (the ETag route answers 304 otherwise).

The optional carousel (button 轮播) flies to each child unit in turn, outlines it and shows its KPIs;
turning it off frames the whole scope again.

Modules: :mod:`.settings` (``SAFEGRID_BIGSCREEN_*``), :mod:`.panels` (the pure pieces: KPI tiles, rankings,
distribution, grid block, trend, ticker, legend, carousel card), :mod:`.data` (one read of the scope and the
fingerprint a refresh compares), :mod:`.layout` (the page's component tree) and :mod:`.callbacks`. The page
module :mod:`dashboard.pages.bigscreen` only registers the page.
"""
