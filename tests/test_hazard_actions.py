"""Hazards worked in the app (geo.hazard_actions) on a real PostGIS holding the small demo.

The loop runs end to end, every step leaves an event, a lost race writes nothing, a double submit
creates one hazard, scope hides what is outside it, 20 concurrent transitions in one township
neither deadlock nor lose an update — and the incremental roll-ups equal a full refresh.
"""

from __future__ import annotations

import csv
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from domain.hazard_flow import FIVE_IN_PLACE, Actor, FlowError, Payload
from domain.risk_rule import RiskRule
from geo import hazard_actions as ha
from tests.demo_fixture import DEMO_AS_OF, DemoDb, demo_db, fresh_database  # noqa: F401

AS_OF = DEMO_AS_OF
RULE = RiskRule()
PLAN = {"resp_person": "张三", "resp_person_phone": "13800000000", "measures": "加装防护栏",
        "funds_yuan": "1200", "contingency_plan": "停机检修预案"}
STAT_COLUMNS = ("hazards_open", "hazards_overdue", "hazards_major_open", "hazards_supervised",
                "hazards_stock_open", "hazards_increment_open", "risk_score", "risk_class")


@pytest.fixture(scope="module")
def loop_engine(demo_db: DemoDb) -> Iterator[Engine]:  # noqa: F811
    """The demo's ledgers loaded into a database of this module's own (it commits transitions)."""
    from etl.demo.load import load_demo

    url = fresh_database(os.environ.get("SAFEGRID_TEST_DB", "safegrid_test") + "_loop")
    load_demo(demo_db.directory, url=url, as_of=AS_OF)
    engine = create_engine(url)
    yield engine
    engine.dispose()


def _one(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as c:
        return c.execute(text(sql), params).mappings().first()


def _actor(engine: Engine, username: str, role: str, code: str, enterprise_id: int | None = None) -> tuple[Actor, str]:
    unit = _one(engine, 'SELECT "level", "path" FROM "units" WHERE "code" = :c', c=code)
    return Actor(username, role, int(unit["level"]), enterprise_id), str(unit["path"])


def _stats(engine: Engine, path: str) -> dict[str, tuple[Any, ...]]:
    codes = path.rstrip(".").split(".")
    cols = ", ".join(f's."{c}"' for c in STAT_COLUMNS)
    with engine.connect() as c:
        rows = c.execute(text(f'SELECT u."code", {cols} FROM "unit_stats" s JOIN "units" u ON u."id" = s."unit_id" '
                              'WHERE u."code" = ANY(:codes)'), {"codes": codes}).all()
    return {r[0]: tuple(round(v, 4) if isinstance(v, float) else v for v in r[1:]) for r in rows}


def _act(engine: Engine, actor: Actor, scope: str, hazard_id: int, action: str, **payload: Any) -> ha.HazardRecord:
    with engine.begin() as c:
        current = ha.hazard_record(c, scope=scope, hazard_id=hazard_id)
        assert current is not None
        return ha.transition(c, scope=scope, actor=actor, hazard_id=hazard_id, version=current.version,
                             action=action, payload=Payload(**payload), as_of=AS_OF, rule=RULE)


def _months(engine: Engine, path: str) -> set[tuple[Any, ...]]:
    """The ``hazard_months`` rows (triggers, migration 0015) of the units on ``path``, zero rows left out."""
    with engine.connect() as c:
        return {tuple(r) for r in c.execute(text(
            'SELECT u."code", m."month", m."found", m."closed" FROM "hazard_months" m JOIN "units" u '
            'ON u."id" = m."unit_id" WHERE u."code" = ANY(:codes) AND (m."found" <> 0 OR m."closed" <> 0)'),
            {"codes": path.rstrip(".").split(".")})}


def _refresh_and_compare(engine: Engine, path: str) -> None:
    """The roll-ups the loop kept (unit_stats, hazard_months) equal what a full refresh recounts."""
    from etl.refresh import refresh_all

    incremental, months = _stats(engine, path), _months(engine, path)
    refresh_all(str(engine.url.render_as_string(hide_password=False)), as_of=AS_OF)
    assert _stats(engine, path) == incremental
    assert _months(engine, path) == months


def test_enterprise_reports_and_the_loop_closes_with_one_failed_verification(loop_engine: Engine) -> None:
    ent = _one(loop_engine, 'SELECT e."id", u."code" FROM "enterprises" e JOIN "units" u ON u."id" = e."unit_id" '
                            'ORDER BY e."id" LIMIT 1')
    cell = str(ent["code"])
    company, cell_path = _actor(loop_engine, "ent_a", "enterprise", cell, enterprise_id=int(ent["id"]))
    inspector, county_path = _actor(loop_engine, "insp_a", "inspector", cell[:6])
    inspector2, _ = _actor(loop_engine, "insp_b", "inspector", cell[:6])
    before = _stats(loop_engine, cell_path)

    key = uuid.uuid4().hex
    new = ha.NewHazard(title="配电箱未接地", level="major", deadline=AS_OF + timedelta(days=10), request_key=key,
                       enterprise_id=int(ent["id"]))
    with loop_engine.begin() as c:
        created, fresh = ha.report(c, scope=cell_path, actor=company, new=new, as_of=AS_OF, rule=RULE)
    assert fresh and created.status == "reported" and created.version == 1
    after_report = _stats(loop_engine, cell_path)
    for code in before:  # +1 open and +1 major open in the cell and every ancestor
        assert after_report[code][0] == before[code][0] + 1 and after_report[code][2] == before[code][2] + 1

    _act(loop_engine, company, cell_path, created.id, "start")
    _act(loop_engine, company, cell_path, created.id, "record", fields={"resp_person": "张三"})
    with pytest.raises(FlowError, match="五到位"):
        _act(loop_engine, company, cell_path, created.id, "submit")
    _act(loop_engine, company, cell_path, created.id, "submit", fields=PLAN)
    with pytest.raises(FlowError, match="验收人不能是提交整改的账号"):
        _act(loop_engine, Actor("ent_a", "inspector", 2), county_path, created.id, "pass", note="ok")
    _act(loop_engine, inspector, county_path, created.id, "fail", note="防护栏未安装到位")
    _act(loop_engine, company, cell_path, created.id, "submit")
    closed = _act(loop_engine, inspector2, county_path, created.id, "pass", note="整改到位，同意销号")
    assert closed.status == "closed" and closed.closed_at == AS_OF and closed.version == 7
    assert _stats(loop_engine, cell_path) == before

    with loop_engine.connect() as c:
        events = c.execute(text('SELECT "action", "from_status", "to_status", "by" FROM "hazard_events" '
                                'WHERE "hazard_id" = :h ORDER BY "id"'), {"h": created.id}).all()
        audited = c.execute(text("SELECT count(*) FROM audit_log WHERE detail->>'hazard' = :code"),
                            {"code": created.code}).scalar_one()
    assert [tuple(e) for e in events] == [
        ("report", None, "reported", "ent_a"), ("start", "reported", "rectifying", "ent_a"),
        ("record", "rectifying", "rectifying", "ent_a"), ("submit", "rectifying", "verifying", "ent_a"),
        ("fail", "verifying", "rectifying", "insp_a"), ("submit", "rectifying", "verifying", "ent_a"),
        ("pass", "verifying", "closed", "insp_b"),
    ]
    assert audited == 7
    _refresh_and_compare(loop_engine, cell_path)


def _open_hazards(engine: Engine, n: int, *, level: str | None = None) -> list[dict[str, Any]]:
    where = 'AND h."level" = :lvl AND h."supervision_level" IS NULL ' if level else ""
    with engine.connect() as c:
        rows = c.execute(text(
            'SELECT h."id", h."status", u."path" FROM "hazards" h JOIN "units" u ON u."id" = h."unit_id" '
            f"WHERE h.\"status\" IN ('reported', 'rectifying') {where}ORDER BY h.\"id\" LIMIT :n"),
            {"n": n, "lvl": level}).mappings().all()
    return [dict(r) for r in rows]


def test_a_lost_race_writes_nothing_and_names_the_current_state(loop_engine: Engine) -> None:
    hz = _open_hazards(loop_engine, 1)[0]
    county = hz["path"].split(".")[1]
    grid, scope = _actor(loop_engine, "grid_a", "grid_manager", county)
    with loop_engine.connect() as c:
        seen = ha.hazard_record(c, scope=scope, hazard_id=hz["id"])
    assert seen is not None
    new_deadline = (seen.deadline or AS_OF) + timedelta(days=30)
    with loop_engine.begin() as c:  # the first user wins
        ha.transition(c, scope=scope, actor=grid, hazard_id=seen.id, version=seen.version, action="extend",
                      payload=Payload(note="材料未到", new_deadline=new_deadline), as_of=AS_OF, rule=RULE)
    events_before = _one(loop_engine, 'SELECT count(*) AS n FROM "hazard_events" WHERE "hazard_id" = :h', h=seen.id)
    with pytest.raises(ha.HazardConflictError) as lost, loop_engine.begin() as c:
        ha.transition(c, scope=scope, actor=grid, hazard_id=seen.id, version=seen.version, action="extend",
                      payload=Payload(note="再延期", new_deadline=new_deadline + timedelta(days=5)), as_of=AS_OF,
                      rule=RULE)
    assert str(lost.value) == "已被他人处理"
    assert lost.value.current.version == seen.version + 1 and lost.value.current.deadline == new_deadline
    assert lost.value.current.extensions == seen.extensions + 1
    events_after = _one(loop_engine, 'SELECT count(*) AS n FROM "hazard_events" WHERE "hazard_id" = :h', h=seen.id)
    assert events_after["n"] == events_before["n"]


def test_a_double_submit_creates_one_hazard(loop_engine: Engine) -> None:
    cell = _one(loop_engine, 'SELECT "code", ST_X(ST_PointOnSurface("geom")) AS x, '
                             'ST_Y(ST_PointOnSurface("geom")) AS y FROM "units" WHERE "level" = 5 '
                             'ORDER BY "code" LIMIT 1')
    grid, scope = _actor(loop_engine, "grid_b", "grid_manager", str(cell["code"])[:9])
    new = ha.NewHazard(title="消防通道堵塞", level="general", deadline=AS_OF, request_key=uuid.uuid4().hex,
                       lon=float(cell["x"]), lat=float(cell["y"]))
    results = []
    for _ in range(2):
        with loop_engine.begin() as c:
            results.append(ha.report(c, scope=scope, actor=grid, new=new, as_of=AS_OF, rule=RULE))
    (first, created1), (second, created2) = results
    assert created1 and not created2 and first.id == second.id and first.code.startswith("YH20261123-")
    n = _one(loop_engine, 'SELECT count(*) AS n FROM "hazards" WHERE "request_key" = :k', k=new.request_key)
    assert n["n"] == 1
    assert _one(loop_engine, 'SELECT "channel", "unit_id" IS NOT NULL AS placed FROM "hazards" WHERE "id" = :i',
                i=first.id) == {"channel": "inspection", "placed": True}


@pytest.mark.parametrize("where", ["outside", "missing"])
def test_outside_the_scope_is_the_same_as_missing(loop_engine: Engine, where: str) -> None:
    hz = _open_hazards(loop_engine, 1)[0]
    county = hz["path"].split(".")[1]
    other = _one(loop_engine, 'SELECT "code" FROM "units" WHERE "level" = 2 AND "code" <> :c ORDER BY "code" LIMIT 1',
                 c=county)["code"]
    grid, scope = _actor(loop_engine, "grid_c", "grid_manager", other)
    hazard_id = hz["id"] if where == "outside" else 2_000_000_000
    with pytest.raises(ha.HazardNotFoundError), loop_engine.begin() as c:
        ha.transition(c, scope=scope, actor=grid, hazard_id=hazard_id, version=1, action="start", payload=Payload(),
                      as_of=AS_OF, rule=RULE)


@pytest.mark.parametrize(("fields", "message"), [
    ({"funds_yuan": "十万"}, "整改资金应为数字"), ({"funds_yuan": "-5"}, "不小于 0"),
    ({"funds_yuan": "NaN"}, "不小于 0"),
    ({"resp_person": "张" * 51}, "整改责任人过长"),
])
def test_bad_plan_values_are_refused_whole(loop_engine: Engine, fields: dict[str, str], message: str) -> None:
    hz = next(h for h in _open_hazards(loop_engine, 50) if h["status"] == "reported")
    grid, scope = _actor(loop_engine, "grid_d", "grid_manager", hz["path"].split(".")[1])
    _act(loop_engine, grid, scope, hz["id"], "start")
    version = _one(loop_engine, 'SELECT "version" FROM "hazards" WHERE "id" = :i', i=hz["id"])["version"]
    with pytest.raises(FlowError, match=message):
        _act(loop_engine, grid, scope, hz["id"], "record", fields={**PLAN, **fields})
    assert _one(loop_engine, 'SELECT "version" FROM "hazards" WHERE "id" = :i', i=hz["id"])["version"] == version


def _busy_township(engine: Engine, n: int, order: str = "ASC") -> tuple[str, list[int]]:
    """The township with the most open (报告 / 整改中) hazards, and ``n`` of them by id (``order``)."""
    with engine.connect() as c:
        township = c.execute(text(
            'SELECT substr(u."code", 1, 9) AS t FROM "hazards" h JOIN "units" u ON u."id" = h."unit_id" '
            "WHERE h.\"status\" IN ('reported', 'rectifying') GROUP BY 1 HAVING count(*) >= :n "
            "ORDER BY count(*) DESC LIMIT 1"), {"n": n}).scalar()
        assert township is not None, f"the demo has no township with {n} open hazards"
        ids = [r[0] for r in c.execute(text(
            'SELECT h."id" FROM "hazards" h JOIN "units" u ON u."id" = h."unit_id" '
            "WHERE h.\"status\" IN ('reported', 'rectifying') AND u.\"code\" LIKE :t || '%' "
            f'ORDER BY h."id" {"DESC" if order == "DESC" else "ASC"} LIMIT :n'), {"t": township, "n": n})]
    return str(township), ids


def test_twenty_concurrent_transitions_in_one_township(loop_engine: Engine) -> None:
    township, ids = _busy_township(loop_engine, 20)
    leader, scope = _actor(loop_engine, "lead_t", "grid_manager", township)
    path = _one(loop_engine, 'SELECT "path" FROM "units" WHERE "code" = :c', c=township)["path"]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(ids))

    def extend(hazard_id: int) -> None:
        try:
            barrier.wait(timeout=30)
            _act(loop_engine, leader, scope, hazard_id, "extend", note="汛期施工受限",
                 new_deadline=date(2027, 6, 30))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=extend, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with loop_engine.connect() as c:
        rows = c.execute(text('SELECT "deadline", "extensions" > 0 FROM "hazards" WHERE "id" = ANY(:ids)'),
                         {"ids": ids}).all()
    assert {tuple(r) for r in rows} == {(date(2027, 6, 30), True)}
    _refresh_and_compare(loop_engine, path)


def test_concurrent_reports_and_closures_in_one_township(loop_engine: Engine) -> None:
    """Reports (INSERT) and 验收通过 (closed_at) at once: the month roll-up's triggers and unit_stats, no deadlock."""
    township, ids = _busy_township(loop_engine, 8, "DESC")
    with loop_engine.connect() as c:
        companies = [r[0] for r in c.execute(text(
            'SELECT e."id" FROM "enterprises" e JOIN "units" u ON u."id" = e."unit_id" '
            "WHERE u.\"code\" LIKE :t || '%' ORDER BY e.\"id\" LIMIT 8"), {"t": township})]
    grid, scope = _actor(loop_engine, "grid_m", "grid_manager", township)
    verifier, _ = _actor(loop_engine, "insp_m", "inspector", township[:6])
    for hazard_id in ids:  # to 待验收, one by one
        if _one(loop_engine, 'SELECT "status" FROM "hazards" WHERE "id" = :i', i=hazard_id)["status"] == "reported":
            _act(loop_engine, grid, scope, hazard_id, "start")
        _act(loop_engine, grid, scope, hazard_id, "submit", fields=PLAN)
    path = _one(loop_engine, 'SELECT "path" FROM "units" WHERE "code" = :c', c=township)["path"]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(ids) + len(companies))

    def close(hazard_id: int) -> None:
        try:
            barrier.wait(timeout=30)
            _act(loop_engine, verifier, scope, hazard_id, "pass", note="同意销号")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    def report(company: int) -> None:
        try:
            barrier.wait(timeout=30)
            new = ha.NewHazard(title="消防通道堵塞", level="general", deadline=AS_OF + timedelta(days=7),
                               request_key=uuid.uuid4().hex, enterprise_id=company)
            with loop_engine.begin() as c:
                ha.report(c, scope=scope, actor=grid, new=new, as_of=AS_OF, rule=RULE)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=close, args=(i,)) for i in ids]
    threads += [threading.Thread(target=report, args=(e,)) for e in companies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    _refresh_and_compare(loop_engine, path)


def test_supervision_by_a_leader_and_its_lifting_after_closure(loop_engine: Engine) -> None:
    hz = _open_hazards(loop_engine, 1, level="major")[0]
    county = hz["path"].split(".")[1]
    leader, scope = _actor(loop_engine, "lead_c", "leader", county)
    grid, grid_scope = _actor(loop_engine, "grid_e", "grid_manager", county)
    inspector, _ = _actor(loop_engine, "insp_e", "inspector", county)
    with pytest.raises(FlowError, match="督办期限"):
        _act(loop_engine, leader, scope, hz["id"], "supervise")
    supervised = _act(loop_engine, leader, scope, hz["id"], "supervise",
                      supervision_deadline=AS_OF + timedelta(days=20))
    assert supervised.supervision_level == 2
    with pytest.raises(FlowError, match=r"未挂牌|当前状态"):
        _act(loop_engine, leader, scope, hz["id"], "lift")
    if supervised.status == "reported":
        _act(loop_engine, grid, grid_scope, hz["id"], "start")
    _act(loop_engine, grid, grid_scope, hz["id"], "submit", fields=PLAN)
    _act(loop_engine, inspector, grid_scope, hz["id"], "pass", note="同意销号")
    lifted = _act(loop_engine, leader, scope, hz["id"], "lift")
    assert lifted.supervision_level is None and lifted.status == "closed"
    _refresh_and_compare(loop_engine, hz["path"])


def test_unit_plan_labels_cover_the_stored_columns() -> None:
    assert set(FIVE_IN_PLACE) - {"deadline"} <= set(ha.PLAN_COLUMNS)


def test_a_ledger_reload_does_not_undo_app_work(loop_engine: Engine, demo_db: DemoDb, tmp_path: Path) -> None:  # noqa: F811
    """Precedence (docs/etl.md): rows worked in the app keep the app's state; the ledger's change is listed."""
    from etl.load import load_file

    fresh = [h for h in _open_hazards(loop_engine, 400) if h["status"] == "reported"
             and _one(loop_engine, 'SELECT "version" = 1 AND "request_key" IS NULL AS ledger_only FROM "hazards" '
                                   'WHERE "id" = :i', i=h["id"])["ledger_only"]]
    worked, untouched = fresh[0], fresh[-1]
    grid, scope = _actor(loop_engine, "grid_p", "grid_manager", worked["path"].split(".")[1])
    after_app = _act(loop_engine, grid, scope, worked["id"], "start")
    codes = {h["id"]: _one(loop_engine, 'SELECT "code" FROM "hazards" WHERE "id" = :i', i=h["id"])["code"]
             for h in (worked, untouched)}
    with (demo_db.directory / "hazards.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    ledger = [r for r in rows if r["隐患编号"] in codes.values()]
    assert len(ledger) == 2
    for r in ledger:  # the bureau's ledger says both were closed
        r.update({"整改状态": "已销号", "验收日期": "2026-11-20", "销号日期": "2026-11-20"})
    path = tmp_path / "hazards.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(ledger)
    url = loop_engine.url.render_as_string(hide_password=False)
    result = load_file("hazards", path, url=url)
    assert result.status == "partial" and result.rows_loaded == 1 and result.rows_rejected == 1
    kept = _one(loop_engine, 'SELECT "status", "version" FROM "hazards" WHERE "id" = :i', i=worked["id"])
    assert dict(kept) == {"status": "rectifying", "version": after_app.version}
    assert _one(loop_engine, 'SELECT "status" FROM "hazards" WHERE "id" = :i', i=untouched["id"])["status"] == "closed"
    reject = _one(loop_engine, "SELECT raw, errors FROM etl_rejects WHERE run_id = :r", r=result.run_id)
    assert reject["raw"] == {"隐患编号": codes[worked["id"]]} and "以系统记录为准" in reject["errors"][0]


def test_the_extension_limit_is_the_setting(loop_engine: Engine) -> None:
    """延期 is refused after ``hazard_limits.max_extensions`` (set on /admin/rules), not after a constant 2."""
    hz = _open_hazards(loop_engine, 3)[-1]
    grid, scope = _actor(loop_engine, "grid_lim", "grid_manager", hz["path"].split(".")[1])
    with loop_engine.begin() as c:
        c.execute(text("INSERT INTO app_config (key, value) VALUES ('hazard_limits', '{\"max_extensions\": 0}') "
                       "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"))
    try:
        with loop_engine.connect() as c:
            seen = ha.hazard_record(c, scope=scope, hazard_id=hz["id"])
        assert seen is not None
        with pytest.raises(FlowError, match="延期次数已达上限（0 次）"), loop_engine.begin() as c:
            ha.transition(c, scope=scope, actor=grid, hazard_id=seen.id, version=seen.version, action="extend",
                          payload=Payload(note="材料未到", new_deadline=(seen.deadline or AS_OF) + timedelta(days=9)),
                          as_of=AS_OF, rule=RULE)
    finally:
        with loop_engine.begin() as c:
            c.execute(text("DELETE FROM app_config WHERE key = 'hazard_limits'"))


def test_a_report_past_ten_million_ids_gets_the_whole_id_in_its_code(loop_engine: Engine) -> None:
    # lpad() cuts a longer string: ids 19915001 and 19915002 both gave YH…-1991500 (found at 1M / 3M by #20's load test)
    cell = _one(loop_engine, 'SELECT "code", ST_X(ST_PointOnSurface("geom")) AS x, '
                             'ST_Y(ST_PointOnSurface("geom")) AS y FROM "units" WHERE "level" = 5 '
                             'ORDER BY "code" LIMIT 1')
    grid, scope = _actor(loop_engine, "grid_wide", "grid_manager", str(cell["code"])[:9])
    with loop_engine.begin() as c:
        c.execute(text("SELECT setval(pg_get_serial_sequence('hazards', 'id'), "
                       "greatest(12345677, (SELECT max(id) FROM hazards)))"))
    codes = []
    for _ in range(2):
        new = ha.NewHazard(title="消防通道堵塞", level="general", deadline=AS_OF, request_key=uuid.uuid4().hex,
                           lon=float(cell["x"]), lat=float(cell["y"]))
        with loop_engine.begin() as c:
            created, _fresh = ha.report(c, scope=scope, actor=grid, new=new, as_of=AS_OF, rule=RULE)
        codes.append(created.code)
        assert created.code == f"YH20261123-{created.id}"
    assert codes[0] != codes[1]
