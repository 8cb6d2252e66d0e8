"""双随机 storage (geo.draws) on PostGIS: pool and inspectors in scope, exclusions, reproduction from the recorded
seed, idempotency, redraw with a reason, completion through recorded inspections (geo.inspections_app)."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import Connection, text

from domain import clock
from domain.draws import DrawError, DrawOptions, draw, options_from
from geo.draws import (
    DrawInputError,
    DrawNotFoundError,
    PoolFilter,
    draw_detail,
    draw_inputs,
    draws_in_scope,
    filter_from,
    make_draw,
    open_items_of,
    redraw,
)
from geo.inspections_app import (
    InspectionInputError,
    InspectionNotFoundError,
    NewInspection,
    record_inspection,
)
from geo.users import create_user, hash_password

pytestmark = pytest.mark.db

CITY = "411000."
WEIDU = "411000.411002."
WEST = "411000.411002.411002001."
JIANAN = "411000.411003."
CELL_WEST = "41100200100101"
CELL_EAST = "41100200200101"
CELL_JIANAN = "41100310020001"
HASH = hash_password("Test-pass-2026")


def key() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def world(conn: Connection, unit_tree: dict[str, str]) -> Connection:
    """Ten enterprises in 魏都区's two cells, two in 建安区; five inspectors; a grid worker who is also one of them."""
    colours = ("red", "orange", "yellow", "blue", None)
    # Only this fixture's enterprises in 魏都区 (other tests of the session commit theirs; rolled back here).
    conn.execute(text("UPDATE enterprises SET unit_id = NULL WHERE unit_id IN (SELECT id FROM units WHERE path "
                      "LIKE '411000.411002.%')"))  # out of every pool (accounts may still name them)
    conn.execute(text("UPDATE users SET active = false WHERE role = 'inspector'"))  # and only its inspectors
    conn.execute(text("DELETE FROM draw_items"))  # and only its draws
    conn.execute(text("DELETE FROM inspection_draws"))
    for i in range(12):
        cell = CELL_JIANAN if i >= 10 else (CELL_WEST if i % 2 else CELL_EAST)
        conn.execute(text(
            "INSERT INTO enterprises (credit_code, name, industry, risk_level, unit_id) "
            "SELECT :cc, :name, :ind, :risk, id FROM units WHERE code = :cell"),
            {"cc": f"91411002DR{i:07d}X", "name": f"抽查测试企业{i}", "ind": "机械" if i % 3 else "危险化学品",
             "risk": colours[i % 5], "cell": cell})
    for name, scope, display in (("dr_a", "411002", "甲"), ("dr_b", "411002", "乙"), ("dr_c", "411002", "丙"),
                                 ("dr_gw", "411002", "网格员王五"), ("dr_far", "411003", "丁")):
        create_user(conn, username=name, password_hash=HASH, role="inspector", scope_code=scope, display_name=display)
    create_user(conn, username="dr_lead", password_hash=HASH, role="leader", scope_code="411000")
    pid = conn.execute(text("INSERT INTO persons (name) VALUES ('网格员王五') RETURNING id")).scalar_one()
    # The slot may hold someone another test of the session committed (this transaction is rolled back).
    conn.execute(text("DELETE FROM duties WHERE role = 'grid_worker' AND seq = 1 "
                      "AND unit_id = (SELECT id FROM units WHERE code = :c)"), {"c": CELL_WEST})
    conn.execute(text("INSERT INTO duties (unit_id, person_id, role, seq) SELECT id, :p, 'grid_worker', 1 "
                      "FROM units WHERE code = :c"), {"p": pid, "c": CELL_WEST})
    return conn


def test_pool_inspectors_and_exclusions(world: Connection) -> None:
    pool, people = draw_inputs(world, scope=CITY, filters=PoolFilter("411002"))
    assert len(pool) == 10 and {p.username for p in people} == {"dr_a", "dr_b", "dr_c", "dr_gw"}
    west = [c for c in pool if c.path.endswith(CELL_WEST + ".")]
    assert west and all(c.excluded == {"dr_gw"} for c in west)  # the cell's own grid worker
    assert all(not c.excluded for c in pool if c not in west)
    red, _ = draw_inputs(world, scope=CITY, filters=PoolFilter("411002", colours=("red", "none")))
    assert {c.risk_level for c in red} == {"red", None}
    chem, _ = draw_inputs(world, scope=CITY, filters=PoolFilter("411002", industries=("危险化学品",), avoid=("dr_a",)))
    assert len(chem) == 4 and all("dr_a" in c.excluded for c in chem)
    with pytest.raises(DrawNotFoundError):
        draw_inputs(world, scope=WEST, filters=PoolFilter("411003"))
    with pytest.raises(DrawInputError):
        draw_inputs(world, scope=CITY, filters=PoolFilter("411002", colours=("purple",)))


def test_draw_saved_reproducible_idempotent_audited(world: Connection) -> None:
    k = key()
    draw_id, created = make_draw(world, scope=CITY, username="dr_lead", title="2026年第四季度双随机抽查",
                                 filters=PoolFilter("411002"), options=DrawOptions(n=4, min_high_share=0.5),
                                 request_key=k)
    again, created_again = make_draw(world, scope=CITY, username="dr_lead", title="x", filters=PoolFilter("411002"),
                                     options=DrawOptions(n=4), request_key=k)
    assert created and not created_again and again == draw_id
    found = draw_detail(world, scope=CITY, draw_id=draw_id)
    assert found is not None
    summary, items = found
    assert summary.items == 4 and summary.done == 0 and summary.pool_size == 10 and summary.inspector_pool == 4
    assert summary.code.startswith("SJ") and len(items) == 4
    # the recorded seed, filters and options reproduce the stored items
    pool, people = draw_inputs(world, scope=CITY, filters=filter_from(summary.filters))
    again_result = draw(pool, people, options_from(summary.options), summary.seed)
    assert again_result.digest == summary.options["pool_digest"]
    codes = {f"91411002DR{i:07d}X": f"抽查测试企业{i}" for i in range(12)}
    assert [(codes[i.code], i.inspector1, i.inspector2) for i in again_result.items] == [
        (r.enterprise_name, r.inspector1, r.inspector2) for r in items]
    for r in items:
        assert r.inspector1 != r.inspector2 and "dr_far" not in (r.inspector1, r.inspector2)
        if r.unit_name == "金地社区第1网格":
            assert "dr_gw" not in (r.inspector1, r.inspector2)
    assert sum(r.risk_level in ("red", "orange") for r in items) >= 2
    audited = world.execute(text("SELECT count(*) FROM audit_log WHERE action = 'draw_made' AND username = 'dr_lead'"))
    assert audited.scalar_one() == 1
    # a district's scope sees the draw of its own area; another district sees no item of it
    assert [d.id for d in draws_in_scope(world, scope=WEIDU)] == [draw_id]
    assert draws_in_scope(world, scope=JIANAN) == []
    assert draw_detail(world, scope=JIANAN, draw_id=draw_id) is None
    with pytest.raises(DrawNotFoundError):
        make_draw(world, scope=JIANAN, username="dr_lead", title="t", filters=PoolFilter("411002"),
                  options=DrawOptions(n=1), request_key=key())
    with pytest.raises(DrawError):
        make_draw(world, scope=CITY, username="dr_lead", title="t", filters=PoolFilter("411002"),
                  options=DrawOptions(n=0), request_key=key())
    with pytest.raises(DrawInputError):
        make_draw(world, scope=CITY, username="dr_lead", title=" ", filters=PoolFilter("411002"),
                  options=DrawOptions(n=1), request_key=key())


def test_redraw_is_a_new_recorded_draw(world: Connection) -> None:
    first, _ = make_draw(world, scope=CITY, username="dr_lead", title="季度抽查", filters=PoolFilter("411002"),
                         options=DrawOptions(n=3), request_key=key(), seed=7)
    with pytest.raises(DrawInputError):
        redraw(world, scope=CITY, username="dr_lead", draw_id=first, reason=" ", request_key=key())
    with pytest.raises(DrawNotFoundError):
        redraw(world, scope=JIANAN, username="dr_lead", draw_id=first, reason="人员变动", request_key=key())
    second, created = redraw(world, scope=CITY, username="dr_lead", draw_id=first, reason="抽中人员出差，重新抽取",
                             request_key=key(), seed=8)
    assert created and second != first
    old, new = draw_detail(world, scope=CITY, draw_id=first), draw_detail(world, scope=CITY, draw_id=second)
    assert old is not None and new is not None
    assert old[0].superseded and len(old[1]) == 3  # the old draw and its items stay recorded
    assert not new[0].superseded and new[0].replaces_code == old[0].code and new[0].reason == "抽中人员出差，重新抽取"
    assert new[0].filters == old[0].filters and new[0].seed == 8
    with pytest.raises(DrawInputError):
        redraw(world, scope=CITY, username="dr_lead", draw_id=first, reason="再来一次", request_key=key())
    audited = world.execute(text("SELECT detail->>'reason' FROM audit_log WHERE action = 'draw_redrawn' "
                                 "ORDER BY id DESC LIMIT 1")).scalar()
    assert audited == "抽中人员出差，重新抽取"


def test_completion_from_recorded_inspections(world: Connection) -> None:
    draw_id, _ = make_draw(world, scope=CITY, username="dr_lead", title="抽查", filters=PoolFilter("411002"),
                           options=DrawOptions(n=2), request_key=key(), seed=11)
    found = draw_detail(world, scope=CITY, draw_id=draw_id)
    assert found is not None
    item = found[1][0]
    outsider = next(u for u in ("dr_a", "dr_b", "dr_c", "dr_gw") if u not in (item.inspector1, item.inspector2))
    mine = open_items_of(world, scope=WEIDU, username=item.inspector1)
    assert (draw_id, item.credit_code) in {(o.draw_id, o.credit_code) for o in mine}
    today = clock.today()

    def inspect(user: str, **kw: object) -> tuple[object, bool]:
        values: dict = {"credit_code": item.credit_code, "kind": "double_random", "result": "passed",
                        "request_key": key(), "inspected_at": today, "draw_id": draw_id} | kw
        return record_inspection(world, scope=WEIDU, username=user, new=NewInspection(**values), today=today)

    with pytest.raises(InspectionNotFoundError):
        inspect(outsider)  # not drawn for it
    with pytest.raises(InspectionInputError):
        inspect(item.inspector1, draw_id=None)
    with pytest.raises(InspectionInputError):
        inspect(item.inspector1, kind="routine")  # only 双随机 names a draw
    with pytest.raises(InspectionNotFoundError):
        inspect("dr_far")  # 建安区: the enterprise is not in that scope ... and not drawn
    _, created = inspect(item.inspector2, result="ordered_rectify", document_no="许应急责改〔2026〕12号")
    assert created
    summary = draw_detail(world, scope=CITY, draw_id=draw_id)
    assert summary is not None and summary[0].done == 1
    row = next(r for r in summary[1] if r.seq == item.seq)
    assert row.result == "ordered_rectify" and row.inspected_at == today
    assert item.credit_code not in {o.credit_code for o in open_items_of(world, scope=WEIDU, username=item.inspector1)
                                    if o.draw_id == draw_id}
    with pytest.raises(InspectionInputError):
        inspect(item.inspector1)  # already done
    stored = world.execute(text("SELECT inspectors, kind, draw_id, created_by, document_no FROM inspections "
                                "WHERE draw_id = :d"), {"d": draw_id}).one()
    assert stored.kind == "double_random" and stored.created_by == item.inspector2 and "、" in stored.inspectors
    assert isinstance(today, date)


@pytest.mark.parametrize("estimate", [{}, {"red": 2, "orange": 2, "yellow": 2, "blue": 2, None: 2},
                                      {"red": 10**6, "orange": 10**6, "yellow": 10**6, "blue": 10**6, None: 10**6}])
def test_sample_in_the_database_draws_as_the_whole_pool(world: Connection, monkeypatch: pytest.MonkeyPatch,
                                                        estimate: dict) -> None:
    """Whatever the pool's estimate (none, right, far too high: bounds that let nobody through, then a retry)."""
    import geo.draws

    monkeypatch.setattr(geo.draws, "_estimated_counts", lambda *_a, **_k: estimate)
    filters = PoolFilter("411002", avoid=("dr_b",))
    pool, people = draw_inputs(world, scope=CITY, filters=filters)
    for seed, options in enumerate([DrawOptions(n=3), DrawOptions(n=4, weighting="risk", min_high_share=0.5),
                                    DrawOptions(n=20)]):
        assert geo.draws.sample_draw(world, scope=CITY, filters=filters, options=options, seed=seed) == draw(
            pool, people, options, seed)
