"""The big screen's callbacks: the periodic refresh (only what changed), clock and staleness, the carousel.

While the data version read with the account stands, a refresh reads nothing (see ``refresh``).
"""

from __future__ import annotations

from typing import Any

from dash import ALL, ClientsideFunction, Dash, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard.bigscreen.data import read_screen, signature
from dashboard.bigscreen.panels import (
    KPI_TILES,
    accident_block,
    carousel_card,
    carousel_step,
    distribution,
    freshness_text,
    grid_block,
    kpi_values,
    legend,
    rank_rows,
    ticker,
    ticker_items,
    trend_figure,
    units_url,
)
from dashboard.roles import Capability
from dashboard.scope import callback_scope, current_account
from domain import clock


def register(app: Dash) -> None:
    """Add the big-screen callbacks: periodic refresh, clock and trend scaling (clientside), carousel."""
    kpi_keys = [key for key, _, _ in KPI_TILES] + ["closure_hint"]
    kpi_outputs = [Output(f"bs-kpi-{k}-value" if k != "closure_hint" else "bs-kpi-closure-hint", "children")
                   for k in kpi_keys]

    @app.callback(
        *kpi_outputs, Output("bs-rank-risk", "children"), Output("bs-rank-overdue", "children"),
        Output("bs-trend-data", "data"), Output("bs-dist", "children"), Output("bs-grid", "children"),
        Output("bs-legend", "children"), Output("bs-freshness", "children"), Output("bs-children", "data"),
        Output("bs-units", "url"), Output({"type": "bs-fill", "code": ALL}, "url"), Output("bs-ticker", "children"),
        Output("bs-acc", "children"), Output("bs-sig", "data"), Output("bs-ok", "data"),
        Input("bs-tick", "n_intervals"), State("bs-sig", "data"), State({"type": "bs-fill", "code": ALL}, "id"),
        prevent_initial_call=True,
    )
    def refresh(n: int, old: dict[str, Any] | None, fill_ids: list[dict[str, str]]) -> tuple[Any, ...]:
        scope = callback_scope(Capability.BIG_SCREEN)
        version = current_account().data_version
        old = old or {}
        if version and old.get("version") == version:
            # Nothing was written since the last refresh and it is the same business day (the version is
            # both): the figures cannot have changed, so skip the read and only report a live server.
            return (*[no_update] * (len(kpi_outputs) + 9), [no_update] * len(fill_ids),  # up to the fills
                    no_update, no_update, no_update, n)  # ticker, accidents, signature; bs-ok
        today = clock.today()
        data = read_screen(scope, today)
        head = data["head"]
        if head is None:
            raise PreventUpdate
        sig = signature(data, today, version)

        def changed(*parts: str) -> bool:
            return any(sig[p] != old.get(p) for p in parts)

        # Only what changed is sent, and KPI numbers change as text in place: no node is re-created
        # for unchanged data, so the ticker keeps scrolling and the map layers are not re-fetched.
        child_level = head["level"] + 1 if data["children"] else None
        values = kpi_values(data["kpis"])
        ranks = [rank_rows(data["children"], by=by, thresholds=data["thresholds"])
                 if changed("children", "thresholds") else no_update for by in ("risk", "overdue")]
        fresh = changed("fresh")
        return (
            *[values[k] if values[k] != (old.get("values") or {}).get(k) else no_update for k in kpi_keys],
            *ranks,
            trend_figure(data["trend"]) if changed("trend") else no_update,
            distribution(data["kpis"]) if changed("kpis") else no_update,
            grid_block(data["grid"], data["enforcement"]) if changed("grid") else no_update,
            legend(data["fill"][0], data["fill"][1], child_level) if changed("fill") else no_update,
            freshness_text(data["fresh"]) if fresh else no_update,
            data["children"] if changed("children") else no_update,
            units_url(head["code"], data["fresh"]) if fresh else no_update,
            [units_url(i["code"], data["fresh"]) if fresh else no_update for i in fill_ids],
            ticker(ticker_items(data["alarms"], as_of=today), data["alarms"]["counts"]) if changed("ticker")
            else no_update,
            accident_block(data["accidents"]) if changed("accidents") else no_update,
            sig, n,
        )

    app.clientside_callback(
        ClientsideFunction("safegrid_bs", "clock"), Output("bs-clock", "children"), Output("bs-date", "children"),
        Input("bs-clock-tick", "n_intervals"), State("bs-timezone", "data"),
    )
    # A wall screen must say when its figures stop updating (database, network or server down):
    # the browser notes each successful refresh and warns after three missed ones.
    app.clientside_callback(
        ClientsideFunction("safegrid_bs", "stamp"), Output("bs-ok-at", "data"), Input("bs-ok", "data"),
    )
    app.clientside_callback(
        ClientsideFunction("safegrid_bs", "staleness"), Output("bs-stale", "children"), Output("bs-stale", "style"),
        Input("bs-clock-tick", "n_intervals"), State("bs-refresh-ms", "data"), State("bs-ok-at", "data"),
    )
    # The carousel names a target; the browser turns it into a flight that keeps clear of the KPI card.
    app.clientside_callback(
        ClientsideFunction("safegrid_bs", "fly"), Output("bs-map", "viewport"), Input("bs-fly", "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        ClientsideFunction("safegrid_bs", "declutter"), Output("bs-labels-hidden", "data"),
        Input("bs-clock-tick", "n_intervals"),
    )
    app.clientside_callback(
        ClientsideFunction("safegrid_bs", "scaleFigure"), Output("bs-trend", "figure"),
        Input("bs-trend-data", "data"),
    )

    @app.callback(
        Output("bs-carousel-tick", "disabled"), Output("bs-carousel-toggle", "className"),
        Output("bs-fly", "data"), Output("bs-units", "hideout"), Output("bs-carousel-card", "children"),
        Output("bs-carousel-card", "style"), Output("bs-carousel-index", "data"),
        Input("bs-carousel-toggle", "n_clicks"), Input("bs-carousel-tick", "n_intervals"),
        State("bs-carousel-tick", "disabled"), State("bs-children", "data"), State("bs-carousel-index", "data"),
        State("bs-scope-bounds", "data"), State("bs-units", "hideout"), prevent_initial_call=True,
    )
    def carousel(_clicks: int | None, _ticks: int | None, disabled: bool, children: list[dict[str, Any]] | None,
                 index: int | None, scope_bounds: list[list[float]], hideout: dict[str, Any]) -> tuple[Any, ...]:
        callback_scope(Capability.BIG_SCREEN)
        off = "bs-carousel-toggle"
        on = "bs-carousel-toggle bs-on"
        if ctx.triggered_id == "bs-carousel-toggle" and not disabled:  # turn off: frame the whole scope again
            return (True, off, {"bounds": scope_bounds, "card": False}, {**hideout, "current": None}, [],
                    {"display": "none"}, -1)
        if ctx.triggered_id == "bs-carousel-tick" and disabled:
            raise PreventUpdate
        nxt, child = carousel_step(children or [], -1 if index is None else index)
        if child is None:
            return True, off, no_update, no_update, [], {"display": "none"}, -1
        return (False, on, {"bounds": child["bounds"], "card": True}, {**hideout, "current": child["code"]},
                carousel_card(child), {}, nxt)
