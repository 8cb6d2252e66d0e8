"""Which server a read goes to (dashboard.readdb) and what counts as a write (geo.db), on the test database.

The whole path through nginx, two instances and a lagging replica is in tests/test_stack.py; here the
pieces it relies on, in-process: the write notice of geo.db, the session stamp it leads to, and the
refusals of a replica that is not one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask, session
from sqlalchemy import Engine, text

from dashboard import readdb
from geo import db as geo_db
from geo.replica import version_reached
from geo.settings import get_settings


@pytest.mark.parametrize(("statement", "writes"), [
    ("INSERT INTO t VALUES (1)", True),
    ("  update t set a = 1", True),
    ("DELETE FROM t", True),
    ("COPY t FROM STDIN", True),
    ("CREATE TEMP TABLE x (a int)", True),
    ("WITH moved AS (UPDATE t SET a = 1 RETURNING id) SELECT count(*) FROM moved", True),
    ("SELECT * FROM t", False),
    ("WITH q AS (SELECT 1) SELECT * FROM q", False),
    ("SELECT 'INSERT INTO'", False),
])
def test_what_counts_as_a_write(statement: str, writes: bool) -> None:
    assert geo_db._is_write(statement) is writes


@pytest.fixture
def notices() -> Iterator[list[str]]:
    seen: list[str] = []

    def listener() -> None:
        seen.append("write")

    geo_db.on_committed_write(listener)
    yield seen
    geo_db._WRITE_LISTENERS.remove(listener)


def test_listeners_hear_committed_writes_only(engine: Engine, notices: list[str]) -> None:
    with geo_db.connect() as conn:
        conn.execute(text("SELECT count(*) FROM units"))
    assert notices == []
    with geo_db.connect() as conn:
        conn.execute(text("CREATE TEMP TABLE sg_probe (a int) ON COMMIT DROP"))
        conn.execute(text("INSERT INTO sg_probe VALUES (1)"))
    assert notices == ["write"]
    with pytest.raises(RuntimeError), geo_db.connect() as conn:
        conn.execute(text("CREATE TEMP TABLE sg_probe2 (a int) ON COMMIT DROP"))
        raise RuntimeError("rolled back")
    assert notices == ["write"]


@pytest.fixture
def with_replica(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The test database named as the replica: a primary (not in recovery), so the monitor must refuse it."""
    url = str(engine.url.render_as_string(hide_password=False))
    settings = get_settings()
    monkeypatch.setattr(settings, "database_replica_url", url)
    monkeypatch.setattr(settings, "replica_check_interval_s", 0.0)
    monkeypatch.setattr(readdb, "REPLICA", readdb.ReplicaMonitor())
    yield url


def test_a_session_write_stamps_the_session_and_pins_its_reads(with_replica: str) -> None:
    app = Flask(__name__)
    app.secret_key = "test"
    with app.test_request_context("/"):
        assert readdb.WROTE_AT_FIELD not in session
        with geo_db.connect() as conn:
            conn.execute(text("CREATE TEMP TABLE sg_probe (a int) ON COMMIT DROP"))
        assert readdb.WROTE_AT_FIELD in session  # travels in the signed cookie to whichever instance is next
        assert readdb.wrote_recently(get_settings().read_your_writes_s)
        assert readdb.replica_url_for_this_read() is None


def test_a_server_not_in_recovery_is_not_used_as_replica(with_replica: str, caplog: pytest.LogCaptureFixture) -> None:
    assert readdb.replica_url_for_this_read() is None
    assert readdb.REPLICA.reason == "not in recovery (promoted?)"
    assert "read replica skipped" in caplog.text
    assert readdb.run_read(lambda conn: conn.execute(text("SELECT 1")).scalar()) == 1  # on the primary


def test_data_versions_compare_within_a_day() -> None:
    assert version_reached("2026-12-02:15", "2026-12-02:15")
    assert version_reached("2026-12-02:16", "2026-12-02:15")
    assert not version_reached("2026-12-02:14", "2026-12-02:15")
    assert not version_reached("2026-12-01:99", "2026-12-02:15")
    assert version_reached("2026-12-02:1", "")  # nothing to honour outside a signed-in request
