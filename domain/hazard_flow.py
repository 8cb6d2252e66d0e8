"""The hazard closed loop (排查 → 登记 → 整改 → 验收 → 销号, 挂牌督办, 延期) as a table of rules.

Pages ask :func:`allowed_actions` which buttons to show; the server asks :func:`check` again before
it writes (storage then re-checks scope and version in SQL). Each rule names the statuses it starts
from, the status it leads to (``None``: the status does not change), the roles allowed and its
preconditions; every refusal is a :class:`FlowError` with the message a user reads.

Sources: 许昌 "三化" plan (五到位: 责任、措施、时限、资金、预案; 分级负责、挂牌督办、跟踪问效、治理销号;
检查验收), 招贤镇 plan (审核把关销号; 企业自查上报、督导检查发现、群众举报查实), DESIGN.md §1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from domain.labels import Vocab

# Actions a person can take on a hazard, with the button label.
ACTION = Vocab({
    "start": "开始整改",
    "record": "登记整改情况",
    "submit": "提交验收",
    "pass": "验收通过并销号",
    "fail": "验收不通过",
    "supervise": "挂牌督办",
    "lift": "解除督办",
    "extend": "延期",
    "reopen": "重新打开",
})
REPORTERS = ("grid_manager", "inspector", "enterprise")  # who may report a hazard (登记)
# 五到位: the fields of a rectification plan (DESIGN.md §1).
FIVE_IN_PLACE = Vocab({
    "resp_person": "整改责任人", "measures": "整改措施", "deadline": "整改时限",
    "funds_yuan": "整改资金", "contingency_plan": "应急预案",
})
DEFAULT_MAX_EXTENSIONS = 2


class FlowError(ValueError):
    """An action that is not allowed now (message in Chinese, shown to the user as is)."""


@dataclass(frozen=True)
class Actor:
    """Who acts: account, role, the level of their scope unit (1 市 .. 5 网格), their enterprise if any."""

    username: str
    role: str
    scope_level: int
    enterprise_id: int | None = None


@dataclass(frozen=True)
class HazardState:
    """What the rules need to know of a hazard (the row as stored, before the action)."""

    status: str
    level: str
    enterprise_id: int | None = None
    supervision_level: int | None = None
    submitted_by: str | None = None  # who submitted the current rectification for 验收
    extensions: int = 0
    deadline: date | None = None


@dataclass(frozen=True)
class Rule:
    """One row of the table: an action from some statuses to another, for some roles."""

    action: str
    from_statuses: tuple[str, ...]
    to_status: str | None
    roles: tuple[str, ...]
    needs_note: bool = False
    note_label: str = "说明"


RULES: Mapping[str, Rule] = {r.action: r for r in (
    Rule("start", ("reported",), "rectifying", ("enterprise", "grid_manager", "inspector")),
    Rule("record", ("rectifying",), None, ("enterprise", "grid_manager", "inspector")),
    Rule("submit", ("rectifying",), "verifying", ("enterprise", "grid_manager", "inspector")),
    Rule("pass", ("verifying",), "closed", ("grid_manager", "inspector"), needs_note=True, note_label="验收意见"),
    Rule("fail", ("verifying",), "rectifying", ("grid_manager", "inspector"), needs_note=True, note_label="不通过原因"),
    Rule("supervise", ("reported", "rectifying", "verifying"), None, ("leader", "admin")),
    Rule("lift", ("closed",), None, ("leader", "admin")),
    Rule("extend", ("reported", "rectifying"), None, ("grid_manager", "leader", "admin"), needs_note=True,
         note_label="延期理由"),
    Rule("reopen", ("closed",), "rectifying", ("admin",), needs_note=True, note_label="重新打开理由"),
)}


@dataclass(frozen=True)
class Limits:
    """Settings the rules read (``app_config`` ``hazard_limits``, set on /admin/rules)."""

    max_extensions: int = DEFAULT_MAX_EXTENSIONS


@dataclass(frozen=True)
class Payload:
    """What the user entered with the action."""

    note: str = ""
    supervision_deadline: date | None = None
    new_deadline: date | None = None
    fields: Mapping[str, object] = field(default_factory=dict)


def _why_not(action: str, hazard: HazardState, actor: Actor, limits: Limits) -> str | None:
    """Return why ``actor`` may not take ``action`` now (ignoring what they would enter), or None."""
    rule = RULES.get(action)
    if rule is None:
        return "未知的操作"
    if actor.role not in rule.roles:
        return f"您的角色不能执行“{ACTION[action]}”"
    if actor.role == "enterprise" and hazard.enterprise_id != actor.enterprise_id:
        return "只能处理本企业的隐患"
    if hazard.status not in rule.from_statuses:
        return f"当前状态下不能执行“{ACTION[action]}”"
    if action in ("pass", "fail") and hazard.submitted_by == actor.username:
        return "验收人不能是提交整改的账号"
    if action == "supervise":
        if hazard.level != "major":
            return "只有重大隐患可以挂牌督办"
        if hazard.supervision_level is not None:
            return "该隐患已挂牌督办"
        if supervision_tier(actor) is None:
            return "只有市、县、乡三级可以挂牌督办"
    if action == "lift":
        if hazard.supervision_level is None:
            return "该隐患未挂牌督办"
        tier = supervision_tier(actor)
        if tier is None or tier > hazard.supervision_level:
            return "只有挂牌的本级或上级可以解除督办"
    if action == "extend" and hazard.extensions >= limits.max_extensions:
        return f"延期次数已达上限（{limits.max_extensions} 次）"
    return None


def supervision_tier(actor: Actor) -> int | None:
    """Return the 督办 tier an actor's scope gives (1 市, 2 县, 3 乡), or None below the township."""
    return actor.scope_level if 1 <= actor.scope_level <= 3 else None


DEFAULT_LIMITS = Limits()


def allowed_actions(hazard: HazardState, actor: Actor, limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """Return the actions ``actor`` may take on ``hazard`` now, in the table's order."""
    return [a for a in RULES if _why_not(a, hazard, actor, limits) is None]


def check(action: str, hazard: HazardState, actor: Actor, payload: Payload, *, today: date,
          limits: Limits = DEFAULT_LIMITS) -> str | None:
    """Raise :class:`FlowError` unless ``actor`` may take ``action`` with ``payload``; return the new status."""
    reason = _why_not(action, hazard, actor, limits)
    if reason:
        raise FlowError(reason)
    rule = RULES[action]
    note = payload.note.strip()
    if rule.needs_note and not note:
        raise FlowError(f"请填写{rule.note_label}")
    if len(note) > 2000:
        raise FlowError("说明不能超过 2000 字")
    if action == "supervise" and (payload.supervision_deadline is None or payload.supervision_deadline < today):
        raise FlowError("请填写不早于今天的督办期限")
    if action == "extend":
        if payload.new_deadline is None:
            raise FlowError("请填写新的整改期限")
        if hazard.deadline is not None and payload.new_deadline <= hazard.deadline:
            raise FlowError("新的整改期限应晚于原期限")
    if action == "submit":
        missing = five_in_place_missing(payload.fields)
        if missing:
            raise FlowError("提交验收前请补全五到位：" + "、".join(missing))
    return rule.to_status


def five_in_place_missing(values: Mapping[str, object]) -> list[str]:
    """Return the labels of the 五到位 items that are empty in ``values``."""
    def empty(value: object) -> bool:
        return value is None or (isinstance(value, str) and not value.strip())

    return [label for key, label in FIVE_IN_PLACE.items() if empty(values.get(key))]


def can_report(actor: Actor, *, enterprise_id: int | None) -> bool:
    """Tell whether ``actor`` may report a hazard (an enterprise account only on its own enterprise)."""
    if actor.role not in REPORTERS:
        return False
    return actor.role != "enterprise" or (enterprise_id is not None and enterprise_id == actor.enterprise_id)


def report_channel(actor: Actor) -> str:
    """Return the channel a report by ``actor`` is recorded under (企业自查 or 监管检查)."""
    return "self_check" if actor.role == "enterprise" else "inspection"


# --- what one hazard adds to its units' roll-ups (unit_stats), the same rule as the full refresh ------

ROLLUP_COLUMNS = ("hazards_open", "hazards_overdue", "hazards_major_open", "hazards_supervised",
                  "hazards_stock_open", "hazards_increment_open")


def rollup_counts(*, status: str, level: str, deadline: date | None, supervision_level: int | None,
                  found_at: date, as_of: date, stock_cutoff: date) -> dict[str, int]:
    """Return the counts one hazard adds to each ancestor's ``unit_stats`` (geo/sql/refresh_unit_stats.sql)."""
    if status == "closed":
        return dict.fromkeys(ROLLUP_COLUMNS, 0)
    return {
        "hazards_open": 1,
        "hazards_overdue": int(deadline is not None and deadline < as_of),
        "hazards_major_open": int(level == "major"),
        "hazards_supervised": int(supervision_level is not None),
        # 动态清零 (招贤镇 plan): 存量 = MAJOR hazards found on or before the cut-off, 增量 = found after it
        "hazards_stock_open": int(level == "major" and found_at <= stock_cutoff),
        "hazards_increment_open": int(level == "major" and found_at > stock_cutoff),
    }


def rollup_delta(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """Return the non-zero differences ``after - before`` per roll-up column."""
    return {c: after[c] - before[c] for c in ROLLUP_COLUMNS if after[c] != before[c]}
