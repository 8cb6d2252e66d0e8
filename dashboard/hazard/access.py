"""Who acts: the rules' Actor, the 待办 question and the header badge, all from the signed-in account."""

from __future__ import annotations

from dataclasses import astuple

from dashboard.cache import cached_value
from dashboard.readdb import run_read
from dashboard.roles import Capability, can
from dashboard.scope import Account
from dashboard.settings import get_settings as get_dashboard_settings
from domain import clock
from domain.hazard_flow import ACTION, REPORTERS, RULES, Actor
from domain.labels import USER_ROLE
from geo.todo import BADGE_CAP, TodoAsk, TodoCount, todo_count

VERIFIERS = RULES["pass"].roles  # who 验收s: their 待办 holds what others submitted


def actor_of(account: Account) -> Actor:
    """Return the rules' view of ``account``: username, role, scope level, enterprise."""
    record = account.record
    return Actor(record.username, record.role, record.scope_level, record.enterprise_id)


def own_enterprise(account: Account) -> int | None:
    """Return the enterprise an enterprise account is limited to (-1: none recorded, so nothing); None for others."""
    if account.role != "enterprise":
        return None
    return account.record.enterprise_id if account.record.enterprise_id is not None else -1


def todo_ask(account: Account) -> TodoAsk:
    """Return what awaits ``account``: 验收 for verifiers, 督办/overdue for the supervising roles, own hazards."""
    return TodoAsk(scope=account.scope, username=account.username, verify=account.role in VERIFIERS,
                   watch=account.role != "enterprise", enterprise_id=own_enterprise(account),
                   public_queue=account.can(Capability.PUBLIC_QUEUE), as_of=clock.today())


def todo_counts(account: Account) -> TodoCount:
    """Return what awaits ``account`` (hazards, public reports), cached per scope, account and data version.

    The header's badge and the /todo page share the entry: a route to /todo counts once, not twice. Hazards
    are counted up to :data:`~geo.todo.BADGE_CAP` + 1 (the badge's "999+"). After other users' writes a count
    made less than ``badge_max_stale_s`` ago is used again (never after this session's own write).
    """
    ask = todo_ask(account)
    hazards, reports = cached_value("todo-counts", {"user": account.username}, lambda: run_read(
        lambda conn: astuple(todo_count(conn, ask, cap=BADGE_CAP))),
        max_stale_s=get_dashboard_settings().badge_max_stale_s)
    return TodoCount(int(hazards), int(reports))


def badge_count(account: Account) -> int:
    """Return the 待办 number of the header (:func:`todo_counts`)."""
    return todo_counts(account).total


def permission_matrix() -> str:
    """Render the loop's role × action table (docs/security.md) from domain.hazard_flow.RULES and the capabilities.

    A role may take an action when its capabilities include the hazard page (``HAZARD_WORK``; 登记:
    ``HAZARD_REPORT`` and :data:`~domain.hazard_flow.REPORTERS`) and the rule names the role; an enterprise
    account only on its own enterprise's hazards.
    """
    def mark(allowed: bool, role: str) -> str:
        return ("本企业" if role == "enterprise" else "✓") if allowed else "—"

    head = ["角色", "登记", *ACTION.values(), "待办", "群众举报核实"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for role, label in USER_ROLE.items():
        work = can(role, Capability.HAZARD_WORK)
        cells = [f"{label} `{role}`", mark(can(role, Capability.HAZARD_REPORT) and role in REPORTERS, role),
                 *(mark(work and role in rule.roles, role) for rule in RULES.values()),
                 "✓" if work else "—", "✓" if can(role, Capability.PUBLIC_QUEUE) else "—"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
