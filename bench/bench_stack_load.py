"""Locust against the local stack: 1 instance, 2 instances, 2 instances + replica (issue 20, part 5 — harness).

    .venv/bin/python bench/bench_stack_load.py [--users 100] [--seconds 30]

Each configuration gets its own ``safegrid stack up --own-primary`` (the tests' unit tree: a toy
database, so this shows the harness and the relative cost of the parts, not capacity at 1M), then
``locust --headless`` from ``.local/locust-venv`` (created on first use: Locust's Flask pins stay out of
the app's environment) with leaders and inspectors on ``--sessions`` sessions signed in beforehand
(bench/locustfile_stack.py). Prints
requests, failures, p50/p95/p99 and throughput per route and in total; the stack is taken down after each.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from sqlalchemy import create_engine, text  # noqa: E402

from safegrid.stack import Stack, StackConfig, port_free  # noqa: E402
from tests.browser import TEST_SECRET, http_login, make_user  # noqa: E402
from tests.fixtures_units import ensure_unit_tree  # noqa: E402

LOCUST_VENV = ROOT / ".local" / "locust-venv"
# (name, instances, workers per instance, replica): the same two worker processes in each (a 2-core machine)
CONFIGS = [("1 instance × 2 workers", 1, 2, False), ("2 instances × 1 worker", 2, 1, False),
           ("2 × 1 + replica", 2, 1, True)]


def locust_bin() -> Path:
    """Return Locust's executable, installing it into its own virtual environment the first time."""
    exe = LOCUST_VENV / "bin" / "locust"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LOCUST_VENV)], check=True)
        subprocess.run([str(LOCUST_VENV / "bin" / "pip"), "install", "-q", "locust>=2.30"], check=True)
    return exe


def run(name: str, instances: int, workers: int, replica: bool, args: argparse.Namespace) -> list[dict[str, str]]:
    """Bring a stack up, run Locust against it, take it down; return Locust's stats rows."""
    port = next(p for p in range(28160, 29000, 10) if all(port_free(p + i) for i in range(instances + 1)))
    root = Path(tempfile.mkdtemp(prefix="sgload-", dir="/tmp"))
    os.environ.update(SAFEGRID_SECRET_KEY=TEST_SECRET, SAFEGRID_LOGIN_IP_MAX_FAILURES="100000")
    extra = {} if replica else {"SAFEGRID_DATABASE_REPLICA_URL": ""}  # the replica runs, unused
    stack = Stack(StackConfig(root=root, port=port, instances=instances, workers=workers, threads=8, own_primary=True,
                              database="sg_load", migrate=True, access_log=False, extra_env=extra))
    state = stack.up()
    try:
        engine = create_engine(state["primary_url"])
        ensure_unit_tree(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE units SET geom = ST_Multi(ST_MakeEnvelope(113.8, 34.0, 113.9, 34.1, 4326)) "
                              "WHERE level <= 4"))
        accounts = {role: make_user(engine, role=role, scope="411000") for role in ("leader", "inspector")}
        engine.dispose()
        time.sleep(2)  # the replica replays the tree and the account
        prefix = root / "locust"
        cookies = root / "sessions.json"
        cookies.write_text(json.dumps({role: [dict(http_login(state["base_url"], user, password).cookies)
                                              for _ in range(args.sessions)]
                                       for role, (user, password) in accounts.items()}))
        env = {**os.environ, "SG_COOKIES": str(cookies)}
        subprocess.run([str(locust_bin()), "-f", str(ROOT / "bench" / "locustfile_stack.py"), "--headless",
                        "-u", str(args.users), "-r", str(args.users), "-t", f"{args.seconds}s", "--host",
                        state["base_url"], "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"],
                       env=env, check=False, capture_output=True)
        with open(f"{prefix}_stats.csv", newline="") as fh:
            return [{**row, "config": name} for row in csv.DictReader(fh)]
    finally:
        stack.down(purge=True)


def main() -> None:
    """Run every configuration and print one table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--sessions", type=int, default=10, help="signed-in sessions shared by the users")
    args = ap.parse_args()
    rows = []
    for name, instances, workers, replica in CONFIGS:
        print(f"{name} …", flush=True)
        rows += run(name, instances, workers, replica, args)
    print(f"\n{args.users} users, think time 0.5-1.5 s, {args.seconds} s each, loopback, toy database")
    print(f"{'config':24} {'route':38} {'requests':>8} {'failed':>6} {'p50':>5} {'p95':>5} {'p99':>5} {'req/s':>6}")
    for r in rows:
        print(f"{r['config']:24} {r['Name'][:38]:38} {r['Request Count']:>8} {r['Failure Count']:>6} "
              f"{r['50%']:>5} {r['95%']:>5} {r['99%']:>5} {float(r['Requests/s']):6.1f}")


if __name__ == "__main__":
    main()
