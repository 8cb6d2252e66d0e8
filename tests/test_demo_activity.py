"""The demo's app work (etl/demo/activity.py) on the small 许昌 demo: patrols of the last weeks, inspections with
findings, penalties and attachments, one 双随机 draw complete and one in progress — recorded through the app's
storage functions as the demo accounts, the same for the same seed, and nothing new when run again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, text

from etl.demo.activity import record_activity
from geo.units import child_codes
from geo.users import create_user, hash_password
from tests.demo_fixture import DEMO_AS_OF, DemoDb, demo_db  # noqa: F401  (fixture)

pytestmark = pytest.mark.db
ACCOUNTS = (("leader", "leader", "411000"), ("inspector", "inspector", "411002"),
            ("inspector2", "inspector", "411002"))


@contextmanager
def demo_conn(url: str) -> Iterator[Connection]:
    """A rolled-back connection on the small demo holding the demo accounts (as ``safegrid users demo`` makes)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        trans = conn.begin()
        pw = hash_password("Demo-pass-2026")
        township = child_codes(conn, parent_code="411002")[0]
        for username, role, scope in (*ACCOUNTS, ("gridmgr", "grid_manager", township)):
            create_user(conn, username=username, password_hash=pw, role=role, scope_code=scope,
                        display_name=f"演示{username}")
        try:
            yield conn
        finally:
            trans.rollback()
    engine.dispose()


def _recorded(conn: Connection) -> dict[str, Any]:
    """What the run left, without ids and clock times (comparable across runs)."""
    q = lambda sql: [tuple(r) for r in conn.execute(text(sql))]  # noqa: E731
    return {
        "patrols": q("SELECT u.code, p.patrol_date, p.result, e.credit_code, p.note, p.created_by FROM patrols p "
                     "JOIN units u ON u.id = p.unit_id LEFT JOIN enterprises e ON e.id = p.enterprise_id "
                     "ORDER BY 1, 2"),
        "inspections": q("SELECT e.credit_code, x.kind, x.result, x.inspected_at, x.hazards_found, x.document_no, "
                         "x.penalty_yuan, x.created_by, x.checklist, d.title FROM inspections x "
                         "JOIN enterprises e ON e.id = x.enterprise_id "
                         "LEFT JOIN inspection_draws d ON d.id = x.draw_id "
                         "WHERE x.created_by IS NOT NULL ORDER BY x.request_key"),
        "attachments": q("SELECT a.kind, a.sha256, x.request_key FROM attachments a "
                         "JOIN inspections x ON x.id = a.inspection_id ORDER BY 3, 1"),
        "draws": q("SELECT d.title, d.seed, i.seq, e.credit_code, i.inspector1, i.inspector2 FROM inspection_draws d "
                   "JOIN draw_items i ON i.draw_id = d.id JOIN enterprises e ON e.id = i.enterprise_id "
                   "ORDER BY 1, 3"),
    }


def test_every_issue_16_feature_is_in_the_demo_the_same_for_the_same_seed(demo_db: DemoDb) -> None:  # noqa: F811
    with demo_conn(demo_db.url) as conn:
        summary = record_activity(conn, seed=4110, today=DEMO_AS_OF)
        got = _recorded(conn)
        assert summary.patrols > 100 and summary.inspections == 8 + 3 + 1 and summary.attachments >= 4
        assert summary.draws == 2, summary.notes
        days = {p[1] for p in got["patrols"]}
        assert len(days) == 22 and min(days) == DEMO_AS_OF - timedelta(days=21)
        assert any(p[2] == "hazard_found" and p[4] for p in got["patrols"])
        assert {i[2] for i in got["inspections"]} >= {"passed", "ordered_rectify", "penalized", "closed_down"}
        assert any(i[4] for i in got["inspections"]) and any(i[6] for i in got["inspections"])
        assert {i[7] for i in got["inspections"]} == {"inspector", "inspector2"}
        assert {a[0] for a in got["attachments"]} == {"scene", "document"}
        done = conn.execute(text(
            "SELECT d.title, count(i.*) AS n, count(x.id) AS worked FROM inspection_draws d "
            "JOIN draw_items i ON i.draw_id = d.id LEFT JOIN inspections x ON x.draw_id = d.id "
            "AND x.enterprise_id = i.enterprise_id AND x.kind = 'double_random' GROUP BY d.title "
            "ORDER BY d.title")).all()
        assert [(r.n, r.worked) for r in done] == [(3, 3), (4, 1)]  # 第一批 complete, 第二批 in progress
        audited = conn.execute(text("SELECT action, count(*) FROM audit_log WHERE action IN "
                                    "('patrol_recorded', 'inspection_recorded', 'draw_made') GROUP BY 1")).all()
        assert dict(audited) == {"patrol_recorded": summary.patrols, "inspection_recorded": summary.inspections,
                                 "draw_made": 2}
        again = record_activity(conn, seed=4110, today=DEMO_AS_OF)
        assert (again.patrols, again.inspections, again.draws) == (0, 0, 0)  # fixed request keys
        assert _recorded(conn) == got
    with demo_conn(demo_db.url) as conn:  # from scratch again: the same work
        record_activity(conn, seed=4110, today=DEMO_AS_OF)
        assert _recorded(conn) == got
