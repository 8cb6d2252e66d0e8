"""Typed rows at the storage boundary: what pages read most, as TypedDicts.

TypedDicts rather than dataclasses because these rows travel as JSON (the response cache keeps the
panel's data, Dash stores carry it) and a TypedDict is that JSON, checked by mypy where it is built
and where it is read. Storage builds each row explicitly; pages read keys, they never reshape.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, NotRequired, TypedDict


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
    # 四查 by calendar period (unit_cadence, from the refresh); only on the unit shown, not its children.
    cadence: NotRequired[str | None]
    cadence_period: NotRequired[date | None]
    cadence_done: NotRequired[bool | None]
    cadence_streak: NotRequired[int | None]


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
    contingency_plan: str | None
    reporter: str | None
    five_missing: list[str]  # 五到位 items not in place (domain.hazard_flow.FIVE_IN_PLACE keys)
    overdue: bool | None
    overdue_days: int | None
    credit_code: str | None
    enterprise_name: str | None
    industry: str | None
    unit_code: str | None
    unit_name: str | None
    lat: float | None
    lon: float | None


class EnterpriseFacts(TypedDict):
    """The basic facts of one enterprise (一企一档's header)."""

    credit_code: str
    name: str
    industry: str | None
    industry_detail: str | None
    scale: str | None
    employees: int | None
    supervising_dept: str | None
    supervision_tier: int | None
    risk_level: str | None
    risk_method: str | None
    risk_assessed_at: date | None
    std_grade: str | None
    key_hazardous_process: bool | None
    key_hazardous_chemical: bool | None
    has_major_hazard_source: bool | None
    key_supervision: bool | None  # 重点监管单位 (migration 0009)
    address: str | None
    legal_rep: str | None
    legal_rep_phone: str | None
    safety_manager: str | None
    safety_manager_phone: str | None
    lat: float | None
    lon: float | None
    unit_code: str | None
    unit_name: str | None


class EnterpriseFile(TypedDict):
    """The whole 一企一档 of one enterprise; the lists are the rows of their own sections."""

    enterprise: EnterpriseFacts
    units: list[Crumb]
    risk_history: list[dict[str, Any]]
    grid_persons: list[dict[str, Any]]
    hazard_sources: list[dict[str, Any]]
    hazards: list[dict[str, Any]]
    inspections: list[dict[str, Any]]
    nearby_radius_m: float
    nearby: list[dict[str, Any]]
    source_radius_m: float
    nearby_sources: list[dict[str, Any]]
    own_enterprise: NotRequired[bool]  # read by an enterprise account (its own file, no surroundings)
    accidents: NotRequired[list[dict[str, Any]]]  # its accidents, newest first (issue 18)
