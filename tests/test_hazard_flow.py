"""The hazard closed loop's rules (domain.hazard_flow) as a table of cases: no database, no browser."""

from __future__ import annotations

from datetime import date

import pytest

from domain.hazard_flow import (
    FIVE_IN_PLACE,
    RULES,
    Actor,
    FlowError,
    HazardState,
    Limits,
    Payload,
    allowed_actions,
    can_report,
    check,
    report_channel,
)

TODAY = date(2026, 12, 2)
ENT = Actor("ent1", "enterprise", 5, enterprise_id=7)
OTHER_ENT = Actor("ent2", "enterprise", 5, enterprise_id=8)
GRID = Actor("grid", "grid_manager", 3)
INSP = Actor("insp", "inspector", 2)
INSP2 = Actor("insp2", "inspector", 2)
CITY_LEADER = Actor("boss", "leader", 1)
COUNTY_LEADER = Actor("cboss", "leader", 2)
VILLAGE_LEADER = Actor("vboss", "leader", 4)
ADMIN = Actor("admin", "admin", 1)
PLANNER = Actor("plan", "planner", 1)
FULL = {k: "x" for k in FIVE_IN_PLACE}


def hz(status: str, **kw: object) -> HazardState:
    return HazardState(status=status, level=str(kw.pop("level", "general")), enterprise_id=7, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("state", "actor", "expected"), [
    (hz("reported"), ENT, ["start"]),
    (hz("reported"), GRID, ["start", "extend"]),
    (hz("reported"), OTHER_ENT, []),
    (hz("reported"), PLANNER, []),
    (hz("rectifying"), ENT, ["record", "submit"]),
    (hz("rectifying"), INSP, ["record", "submit"]),
    (hz("verifying", submitted_by="ent1"), INSP, ["pass", "fail"]),
    (hz("verifying", submitted_by="insp"), INSP, []),  # the verifier is never the submitter
    (hz("verifying", submitted_by="ent1"), ENT, []),
    (hz("rectifying", level="major"), CITY_LEADER, ["supervise", "extend"]),
    (hz("rectifying", level="general"), CITY_LEADER, ["extend"]),  # 督办 only on major hazards
    (hz("rectifying", level="major"), VILLAGE_LEADER, ["extend"]),  # no 督办 below the township
    (hz("rectifying", level="major", supervision_level=2), CITY_LEADER, ["extend"]),  # already 督办
    (hz("rectifying", level="major", supervision_level=2), ADMIN, ["extend"]),  # lift only after 销号
    (hz("closed", level="major", supervision_level=2), CITY_LEADER, ["lift"]),
    (hz("closed", level="major", supervision_level=1), COUNTY_LEADER, []),  # a lower tier cannot lift
    (hz("closed", level="major", supervision_level=1), ADMIN, ["lift", "reopen"]),
    (hz("closed"), GRID, []),  # a closed hazard changes only by an admin's reopen
    (hz("rectifying", extensions=2), GRID, ["record", "submit"]),  # extension limit reached
])
def test_allowed_actions(state: HazardState, actor: Actor, expected: list[str]) -> None:
    assert allowed_actions(state, actor) == expected


@pytest.mark.parametrize(("action", "state", "actor", "payload", "message"), [
    ("pass", hz("verifying", submitted_by="x"), INSP, Payload(), "请填写验收意见"),
    ("fail", hz("verifying", submitted_by="x"), INSP, Payload(note="  "), "请填写不通过原因"),
    ("submit", hz("rectifying"), ENT, Payload(fields={**FULL, "funds_yuan": ""}), "整改资金"),
    ("supervise", hz("rectifying", level="major"), CITY_LEADER, Payload(), "督办期限"),
    ("supervise", hz("rectifying", level="major"), CITY_LEADER,
     Payload(supervision_deadline=date(2026, 12, 1)), "不早于今天"),
    ("extend", hz("rectifying", deadline=date(2026, 12, 10)), GRID,
     Payload(note="设备到货延迟", new_deadline=date(2026, 12, 10)), "晚于原期限"),
    ("extend", hz("rectifying"), GRID, Payload(note="理由"), "新的整改期限"),
    ("reopen", hz("closed"), ADMIN, Payload(), "重新打开理由"),
    ("pass", hz("closed"), INSP, Payload(note="ok"), "当前状态下不能"),
    ("start", hz("reported"), OTHER_ENT, Payload(), "本企业"),
    ("nonsense", hz("reported"), ADMIN, Payload(), "未知的操作"),
    ("record", hz("rectifying"), ENT, Payload(note="x" * 2001), "2000"),
])
def test_refusals_say_why(action: str, state: HazardState, actor: Actor, payload: Payload, message: str) -> None:
    with pytest.raises(FlowError, match=message):
        check(action, state, actor, payload, today=TODAY)


def test_the_whole_loop_with_one_failed_verification() -> None:
    state = hz("reported", level="major")
    steps = [
        ("start", ENT, Payload()),
        ("submit", ENT, Payload(fields=FULL)),
        ("fail", INSP, Payload(note="防护栏未安装")),
        ("submit", ENT, Payload(fields=FULL)),
        ("pass", INSP2, Payload(note="整改到位")),
    ]
    seen = []
    for action, actor, payload in steps:
        to = check(action, state, actor, payload, today=TODAY) or state.status
        submitted_by = actor.username if action == "submit" else state.submitted_by
        state = HazardState(status=to, level=state.level, enterprise_id=7, submitted_by=submitted_by)
        seen.append(to)
    assert seen == ["rectifying", "verifying", "rectifying", "verifying", "closed"]


def test_zero_funds_are_recorded_funds() -> None:
    assert check("submit", hz("rectifying"), ENT, Payload(fields={**FULL, "funds_yuan": 0}), today=TODAY) == "verifying"


def test_limits_are_a_setting() -> None:
    assert "extend" in allowed_actions(hz("rectifying", extensions=2), GRID, Limits(max_extensions=3))


def test_every_rule_names_known_statuses_and_roles() -> None:
    from domain.labels import HAZARD_STATUS, USER_ROLE

    roles = set(USER_ROLE) | {"enterprise"}
    for rule in RULES.values():
        assert set(rule.from_statuses) <= set(HAZARD_STATUS)
        assert rule.to_status is None or rule.to_status in HAZARD_STATUS
        assert set(rule.roles) <= roles


@pytest.mark.parametrize(("actor", "enterprise_id", "ok", "channel"), [
    (GRID, None, True, "inspection"), (INSP, 3, True, "inspection"), (ENT, 7, True, "self_check"),
    (ENT, 8, False, "self_check"), (ENT, None, False, "self_check"), (PLANNER, 7, False, "inspection"),
    (CITY_LEADER, 7, False, "inspection"),
])
def test_who_may_report(actor: Actor, enterprise_id: int | None, ok: bool, channel: str) -> None:
    assert can_report(actor, enterprise_id=enterprise_id) is ok
    assert report_channel(actor) == channel
