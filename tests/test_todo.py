"""待办 (geo.todo) per role on the hazard-loop test world: what awaits whom, and the badge's one-statement count."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from domain import clock
from geo.todo import TodoAsk, todo_count, todo_items
from tests.test_hazard_page import (
    ENT_A,
    ENT_B,
    FOREIGN_GRID,
    OWN_GRID,
    PLAN,
    advance,
    enterprise_id,
    loop_world,
    new_hazard,
)

__all__ = ["loop_world"]
pytestmark = [pytest.mark.db, pytest.mark.usefixtures("loop_world")]
DISTRICT, FOREIGN_DISTRICT = "416000.416002.", "416000.416003."


def _ask(scope: str, user: str, **kw: object) -> TodoAsk:
    return TodoAsk(scope=scope, username=user, as_of=clock.today(), **kw)  # type: ignore[arg-type]


def _ids(engine: Engine, ask: TodoAsk) -> dict[int, set[str]]:
    with engine.connect() as conn:
        items = todo_items(conn, ask)
        count = todo_count(conn, ask)
    assert count.hazards == len(items)  # the badge counts exactly the listed hazards (each once)
    return {it["id"]: {r for r in ("verify", "rectify", "supervised", "overdue") if it[r]} for it in items}


def _report(engine: Engine, grid: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO public_reports (code, description, unit_id, request_key) "
                          "SELECT :c, '路边加油点私自售油', id, :k FROM units WHERE code = :g"),
                     {"c": f"SSP-{uuid.uuid4().hex[:10]}", "k": uuid.uuid4().hex, "g": grid})


def test_what_awaits_whom(engine: Engine) -> None:
    verifying = new_hazard(engine)
    advance(engine, verifying, ("start", "ent_x", {}), ("submit", "insp_sub", {"fields": PLAN}))
    supervised = new_hazard(engine)
    advance(engine, supervised, ("supervise", "lead_x", {"supervision_deadline": clock.today() + timedelta(days=9)}))
    overdue = new_hazard(engine, level="general")
    with engine.begin() as conn:
        conn.execute(text("UPDATE hazards SET found_at = current_date - 30, deadline = current_date - 3 WHERE id = :h"),
                     {"h": overdue})
    other = new_hazard(engine, credit=ENT_B, level="general")
    foreign = new_hazard(engine, credit="91416000HZPG00003C", level="general")

    inspector = _ids(engine, _ask(DISTRICT, "insp_other", verify=True, watch=True))
    assert inspector[verifying] == {"verify"} and inspector[supervised] == {"supervised"}
    with engine.connect() as conn:  # the badge's count stops one past its cap ("999+")
        capped = todo_count(conn, _ask(DISTRICT, "insp_other", verify=True, watch=True), cap=1)
        assert len(inspector) >= 3 and capped.hazards == 2
    assert inspector[overdue] == {"overdue"} and other not in inspector and foreign not in inspector
    submitter = _ids(engine, _ask(DISTRICT, "insp_sub", verify=True, watch=True))
    assert verifying not in submitter  # not one's own submission
    leader = _ids(engine, _ask("416000.", "lead_y", watch=True))
    assert verifying not in leader and supervised in leader and overdue in leader
    company = _ids(engine, _ask(DISTRICT + "416002001.416002001001.41600200100101.", "ent_a",
                                enterprise_id=enterprise_id(engine, ENT_A)))
    assert company[overdue] == {"rectify"} and company[supervised] == {"rectify"}
    assert verifying not in company and other not in company  # waiting for 验收; another enterprise's
    none_recorded = _ids(engine, _ask(DISTRICT, "ent_none", enterprise_id=-1))
    assert none_recorded == {}
    abroad = _ids(engine, _ask(FOREIGN_DISTRICT, "insp_abroad", verify=True, watch=True))
    assert not {verifying, supervised, overdue, other} & set(abroad)


def test_a_hazard_without_a_unit_stands_in_its_enterprises(engine: Engine) -> None:
    """The count's two branches (own unit / enterprise's unit) list such a hazard once, in the enterprise's area."""
    unplaced = new_hazard(engine, level="general")
    with engine.begin() as conn:
        conn.execute(text("UPDATE hazards SET unit_id = NULL, found_at = current_date - 9, deadline = current_date - 1 "
                          "WHERE id = :h"),
                     {"h": unplaced})
    assert _ids(engine, _ask(DISTRICT, "insp_u", watch=True))[unplaced] == {"overdue"}
    assert unplaced not in _ids(engine, _ask(FOREIGN_DISTRICT, "insp_u", watch=True))


def test_public_reports_are_counted_for_the_queue_of_the_scope(engine: Engine) -> None:
    gm = _ask(DISTRICT + "416002001.", "gm_q", verify=True, watch=True, public_queue=True)
    no_queue = _ask(DISTRICT + "416002001.", "insp_q", verify=True, watch=True)
    with engine.connect() as conn:
        before = todo_count(conn, gm).reports
    _report(engine, OWN_GRID)
    _report(engine, FOREIGN_GRID)
    with engine.connect() as conn:
        after, without = todo_count(conn, gm), todo_count(conn, no_queue)
    assert after.reports == before + 1 and without.reports == 0
    assert after.total == after.hazards + after.reports


def test_the_badge_reads_999_plus_past_its_cap() -> None:
    from dashboard.shell import badge_text

    assert [badge_text(n) for n in (0, 7, 999, 1000, 1003)] == ["0", "7", "999", "999+", "999+"]
