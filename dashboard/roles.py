"""Roles and what each may use: pages and actions declare a capability, roles grant capabilities."""

from __future__ import annotations

from enum import StrEnum

from domain.labels import USER_ROLE


class Capability(StrEnum):
    """Something a page or action needs; a role grants a set of them."""

    MAP = "map"  # the command map of one's own scope
    BIG_SCREEN = "big_screen"  # 大屏 for leaders
    ANALYSIS = "analysis"  # H3 heatmaps, comparisons
    EXPORT = "export"  # downloads of figures and tables (always within scope)
    SEARCH = "search"  # enterprise search
    ENTERPRISE_FILE = "enterprise_file"  # 一企一档
    MANAGE_USERS = "manage_users"  # /admin/users
    # The hazard loop (issue 15); which transition a role may take is domain.hazard_flow's rule table.
    HAZARD_WORK = "hazard_work"  # the hazard page and its actions, 待办
    HAZARD_REPORT = "hazard_report"  # 登记 a hazard (from the map, the enterprise file)
    PUBLIC_QUEUE = "public_queue"  # confirm or dismiss public reports (随手拍) of one's grid cells
    OWN_ENTERPRISE = "own_enterprise"  # an enterprise account: its own file and hazards only
    # Inspections worked in the app (issue 16): patrols of grid cells, enterprise inspections, 双随机 draws.
    PATROL = "patrol"  # 网格巡查 / 村级日排查 of the scope's grid cells (/patrol)
    INSPECT = "inspect"  # record an enterprise inspection (/inspection/new), see the draws one works
    DRAW = "draw"  # make (and redraw) a 双随机 draw
    # Accidents and the five-year targets (issue 18).
    ACCIDENT = "accident"  # record an accident (/accident/new)
    TARGETS = "targets"  # the five-year targets page (/targets)


ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    "admin": frozenset(Capability) - {Capability.OWN_ENTERPRISE, Capability.HAZARD_REPORT},
    "leader": frozenset({Capability.MAP, Capability.BIG_SCREEN, Capability.ANALYSIS, Capability.EXPORT,
                         Capability.SEARCH, Capability.ENTERPRISE_FILE, Capability.HAZARD_WORK, Capability.DRAW,
                         Capability.ACCIDENT, Capability.TARGETS}),
    "grid_manager": frozenset({Capability.MAP, Capability.EXPORT, Capability.SEARCH, Capability.ENTERPRISE_FILE,
                               Capability.HAZARD_WORK, Capability.HAZARD_REPORT, Capability.PUBLIC_QUEUE,
                               Capability.PATROL}),
    "planner": frozenset({Capability.MAP, Capability.ANALYSIS, Capability.EXPORT, Capability.TARGETS}),
    "inspector": frozenset({Capability.MAP, Capability.SEARCH, Capability.ENTERPRISE_FILE, Capability.HAZARD_WORK,
                            Capability.HAZARD_REPORT, Capability.INSPECT, Capability.ACCIDENT}),
    # 企业服务端: its own file and hazards (自查自改自报), nothing of the network around it.
    "enterprise": frozenset({Capability.HAZARD_WORK, Capability.HAZARD_REPORT, Capability.OWN_ENTERPRISE}),
}


def can(role: str, capability: Capability | None) -> bool:
    """Tell whether ``role`` grants ``capability`` (None = any signed-in user)."""
    return capability is None or capability in ROLE_CAPABILITIES.get(role, frozenset())


def role_label(role: str) -> str:
    """Chinese name of a role."""
    return USER_ROLE.get(role, role)
