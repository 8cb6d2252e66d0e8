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


ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    "admin": frozenset(Capability),
    "leader": frozenset({Capability.MAP, Capability.BIG_SCREEN, Capability.ANALYSIS, Capability.EXPORT,
                         Capability.SEARCH, Capability.ENTERPRISE_FILE}),
    "grid_manager": frozenset({Capability.MAP, Capability.EXPORT, Capability.SEARCH, Capability.ENTERPRISE_FILE}),
    "planner": frozenset({Capability.MAP, Capability.ANALYSIS, Capability.EXPORT}),
    "inspector": frozenset({Capability.MAP, Capability.SEARCH, Capability.ENTERPRISE_FILE}),
}


def can(role: str, capability: Capability | None) -> bool:
    """Tell whether ``role`` grants ``capability`` (None = any signed-in user)."""
    return capability is None or capability in ROLE_CAPABILITIES.get(role, frozenset())


def role_label(role: str) -> str:
    """Chinese name of a role."""
    return USER_ROLE.get(role, role)
