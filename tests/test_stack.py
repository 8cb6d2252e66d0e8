"""The multi-instance stack, for real: nginx → two gunicorn instances, Redis, a streaming replica (issue 20).

One stack per module (``safegrid stack up --own-primary`` in a temporary directory with its own ports,
so a developer's stack and cluster are untouched), ``down --purge`` at the end. The replica replays WAL
3 s late on purpose (``--replica-delay-ms``): a read that went to it right after a write would show the
old row. The tests run in file order: the killed instance and the stopped Redis and replica stay so.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text

from safegrid.stack import Stack, StackConfig, port_free, read_pid
from tests.browser import TEST_SECRET, http_login, make_user
from tests.fixtures_units import ensure_unit_tree

ROOT = Path(__file__).resolve().parent.parent
DELAY_MS = 3000
UP_ENV = {
    "SAFEGRID_SECRET_KEY": TEST_SECRET,
    "SAFEGRID_REPLICA_MAX_LAG_S": "60",  # the delayed replica is "behind" by design: only the data version decides
    "SAFEGRID_REPLICA_CHECK_INTERVAL_S": "0.2",
    "SAFEGRID_READ_YOUR_WRITES_S": "5",
    "SAFEGRID_REDIS_RETRY_S": "1",
}


def _free_block(n: int) -> int:
    for _ in range(50):
        base = random.randint(20000, 40000)
        if all(port_free(base + i) for i in range(n)):
            return base
    raise RuntimeError("no free ports")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SAFEGRID_DATABASE_URL"} | UP_ENV
    return subprocess.run([sys.executable, "-m", "safegrid", "stack", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=False, timeout=240)


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, Any]]:
    """A running stack (own primary, 2 instances × 1 worker) with the unit tree; taken down afterwards."""
    root = Path(tempfile.mkdtemp(prefix="sgst-", dir="/tmp"))
    port = _free_block(3)
    up = _cli("up", "--dir", str(root), "--port", str(port), "--own-primary", "--database", "sg_stack_test",
              "--migrate", "--workers", "1", "--threads", "4", "--replica-delay-ms", str(DELAY_MS))
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        handle = Stack(StackConfig(root=root))
        state = handle.state()
        engine = create_engine(state["primary_url"])
        ensure_unit_tree(engine)
        with engine.begin() as conn:  # the map draws units with a geometry
            conn.execute(text("UPDATE units SET geom = ST_Multi(ST_MakeEnvelope(113.8, 34.0, 113.9, 34.1, 4326)) "
                              "WHERE code IN ('411002', '411003')"))
        yield {**state, "stack": handle, "engine": engine}
        engine.dispose()
    finally:
        down = _cli("down", "--dir", str(root), "--purge")
        assert down.returncode == 0, down.stdout + down.stderr
        assert not root.exists()


def _app(stack: dict[str, Any], i: int) -> str:
    return f"http://127.0.0.1:{stack['app_ports'][i - 1]}"


def _children(session: requests.Session, base: str) -> dict[str, str]:
    r = session.get(f"{base}/api/map/units/411000/children.geojson", timeout=10)
    assert r.status_code == 200, r.text[:300]
    return {f["properties"]["code"]: f["properties"]["name"] for f in r.json()["features"]
            if f["properties"]["kind"] == "unit"}


def _replica_reads(stack: dict[str, Any]) -> int:
    """Pooled read connections of the app on the replica whose last statement was a page read (not the lag check)."""
    eng = create_engine(stack["replica_url"])
    try:
        with eng.connect() as conn:
            return int(conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'safegrid-read' "
                "AND query NOT LIKE '%pg_is_in_recovery%' AND query <> ''")).scalar() or 0)
    finally:
        eng.dispose()


def test_stack_status_lists_every_part(stack: dict[str, Any]) -> None:
    res = _cli("status", "--dir", stack["root"])
    assert res.returncode == 0, res.stdout + res.stderr
    for part in ("nginx", "app1", "app2", "redis", "replica", "primary"):
        assert re.search(rf"^{part}\s+运行中", res.stdout, re.M), res.stdout


def test_logout_on_one_instance_is_honoured_by_the_other(stack: dict[str, Any]) -> None:
    user, password = make_user(stack["engine"], role="planner", scope="411000")
    one = http_login(_app(stack, 1), user, password)
    two = requests.Session()
    two.cookies.update(one.cookies)
    assert two.get(f"{_app(stack, 2)}/api/me", timeout=10).status_code == 200
    r = one.post(f"{_app(stack, 1)}/logout", data={"csrf_token": one.cookies.get("_csrf_token")},
                 allow_redirects=False, timeout=10)
    assert r.status_code == 302
    assert two.get(f"{_app(stack, 2)}/api/me", timeout=10).status_code == 401


def test_a_write_is_read_back_at_once_through_the_proxy(stack: dict[str, Any]) -> None:
    """The replica replays 3 s late, yet the new name shows at once: reads follow the request's data version."""
    user, password = make_user(stack["engine"], role="planner", scope="411000")
    s = http_login(stack["base_url"], user, password)
    time.sleep(DELAY_MS / 1000 + 1)  # the replica has replayed the account and the tree
    before = _children(s, stack["base_url"])
    assert before["411002"].startswith("魏都区")
    assert _replica_reads(stack) > 0  # caught up: page reads went to the replica
    for n in range(3):
        name = f"魏都区{n}"
        with stack["engine"].begin() as conn:
            conn.execute(text("UPDATE units SET name = :n WHERE code = '411002'"), {"n": name})
        assert _children(s, stack["base_url"])["411002"] == name  # not the replica's older row


def test_redis_holds_the_shared_cache_and_throttle(stack: dict[str, Any]) -> None:
    import redis

    r = redis.Redis.from_url(stack["redis_url"])
    user, password = make_user(stack["engine"], role="planner", scope="411000")
    s = http_login(_app(stack, 1), user, password)
    _children(s, _app(stack, 1))
    assert any(r.scan_iter(match="sg:cache:*"))
    form = requests.get(f"{stack['base_url']}/login", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    bad = requests.post(f"{stack['base_url']}/login", cookies=form.cookies, timeout=10,
                        data={"username": user, "password": "wrong", "csrf_token": token.group(1)})
    assert bad.status_code == 401
    assert [k.decode() for k in r.scan_iter(match="sg:login-ip:*")] == ["sg:login-ip:127.0.0.1"]


def test_a_killed_instance_is_routed_around(stack: dict[str, Any]) -> None:
    user, password = make_user(stack["engine"], role="planner", scope="411000")
    s = http_login(stack["base_url"], user, password)
    pid = read_pid(Path(stack["root"]) / "app1" / "gunicorn.pid")
    assert pid
    os.killpg(pid, signal.SIGKILL)  # the master and its worker, as a crash (no graceful shutdown)
    codes = [s.get(f"{stack['base_url']}/api/me", timeout=10).status_code for _ in range(8)]
    codes += [s.get(f"{stack['base_url']}/login", timeout=10).status_code for _ in range(4)]
    assert codes == [200] * 12
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{_app(stack, 1)}/healthz", timeout=2)  # it is really gone


def test_pages_are_served_while_redis_is_down(stack: dict[str, Any]) -> None:
    user, password = make_user(stack["engine"], role="planner", scope="411000")
    s = http_login(stack["base_url"], user, password)
    log = Path(stack["root"]) / "app2" / "app.log"
    seen = len(log.read_text())
    assert stack["stack"].stop_redis()
    assert s.get(f"{stack['base_url']}/", timeout=10).status_code == 200
    assert _children(s, stack["base_url"])["411002"].startswith("魏都区")
    assert http_login(stack["base_url"], user, password)  # the throttle counts in PostgreSQL meanwhile
    assert log.read_text()[seen:].count("redis unavailable") == 1  # said once, not per request


def test_reads_go_to_the_primary_while_the_replica_is_down(stack: dict[str, Any]) -> None:
    user, password = make_user(stack["engine"], role="planner", scope="411000")
    s = http_login(stack["base_url"], user, password)
    log = Path(stack["root"]) / "app2" / "app.log"
    seen = len(log.read_text())
    assert stack["stack"].stop_replica()
    with stack["engine"].begin() as conn:
        conn.execute(text("UPDATE units SET name = '魏都区（主库）' WHERE code = '411002'"))
    for _ in range(3):
        assert _children(s, stack["base_url"])["411002"] == "魏都区（主库）"
    assert s.get(f"{stack['base_url']}/", timeout=10).status_code == 200
    assert "read replica skipped" in log.read_text()[seen:]
