"""Typed rows at the storage boundary: what pages read most, as TypedDicts.

TypedDicts rather than dataclasses because these rows travel as JSON (the response cache keeps the
panel's data, Dash stores carry it) and a TypedDict is that JSON, checked by mypy where it is built
and where it is read. Storage builds each row explicitly; pages read keys, they never reshape.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TypedDict


class UnitStatsRow(TypedDict):
    """A unit's roll-up of its whole subtree (``unit_stats``), as the panel shows it."""

    children: int
    enterprises: int
    ent_red: int
    ent_orange: int
    ent_yellow: int
    ent_blue: int
    ent_unassessed: int
    hazards_open: int
    hazards_overdue: int
    hazards_major_open: int
    hazards_supervised: int
    sources_g1: int
    sources_g2: int
    sources_g3: int
    sources_g4: int
    persons_present: int
    persons_required: int
    vacancies_subtree: int
    last_inspection_at: date | None
    inspection_overdue: bool
    risk_score: float
    risk_class: str | None


class UnitView(TypedDict):
    """One unit of the drill-down: identity, roll-ups (None before the first refresh), bounds, flags."""

    id: int
    code: str
    name: str
    level: int
    kind: str
    path: str
    area_km2: float | None
    refreshed_at: datetime | None
    stats: UnitStatsRow | None
    bounds: list[list[float]] | None  # [[south, west], [north, east]]
    child_count: int
    demo_geometry: bool


class Crumb(TypedDict):
    """One step of the breadcrumb (市 › 县 › 乡镇 › 村 › 网格)."""

    code: str
    name: str
    level: int


class OpenHazardRow(TypedDict):
    """An open hazard as the panel lists it."""

    id: int
    code: str
    title: str
    level: str
    status: str
    deadline: date | None
    found_at: date
    supervision_level: int | None
    days_overdue: int | None
    overdue: bool | None
    enterprise: str | None
    unit_code: str
    unit_name: str
    lon: float | None
    lat: float | None


class OpenHazards(TypedDict):
    """The first open hazards of a subtree and how many there are in all."""

    total: int
    items: list[OpenHazardRow]


class LedgerRow(TypedDict):
    """One row of the hazard ledger (隐患台账) and of its xlsx export."""

    code: str
    title: str
    category: str | None
    level: str
    channel: str | None
    status: str
    found_at: date
    deadline: date | None
    closed_at: date | None
    supervision_level: int | None
    resp_person: str | None
    resp_person_phone: str | None
    measures: str | None
    funds_yuan: float | None
    reporter: str | None
    overdue: bool | None
    overdue_days: int | None
    credit_code: str | None
    enterprise_name: str | None
    industry: str | None
    unit_code: str | None
    unit_name: str | None
    lat: float | None
    lon: float | None
