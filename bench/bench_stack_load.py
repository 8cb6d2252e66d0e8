"""Locust against the local stack: 1 instance, 2 instances, 2 instances + replica (issue 20, part 5).

At scale, on a stack already up (``safegrid stack up --own-primary --database NAME …``, a database of 1M
enterprises with accounts of every role, see docs/stack.md):

    .venv/bin/python bench/bench_stack_load.py prepare --stack .local/stack-l20 --accounts ACCOUNTS.json
    .venv/bin/python bench/bench_stack_load.py run --stack .local/stack-l20 --config 2x1+replica \
        [--users 100] [--seconds 180] [--think 3,10] [--label NAME]

``prepare`` signs in ``--sessions`` sessions per account through nginx and picks the reported hazards the
grid managers' hazard loop works on (``DIR/load/``). ``run`` restarts the app instances in the configuration
asked (``1x2``: one instance × 2 workers; ``2x1``: two × 1 worker, the replica running but unused;
``2x1+replica``: reads routed to the replica), empties Redis (every run starts with a cold response cache),
runs ``locust --headless`` from ``.local/locust-venv`` (Locust's Flask pins stay out of the app's
environment) with bench/locustfile_stack.py and the flows recorded by bench/record_stack_flows.py, and
prints requests, failures, p50/p95/p99 and throughput per route and in total, with ``uptime`` before and
after (the machine is shared). The result is also written as JSON beside Locust's CSV files.

``report DIR/load/NAME.json …`` prints the runs as Markdown tables (docs/benchmarks.md).

The toy harness (its own small stack per configuration, leaders and inspectors on four routes):

    .venv/bin/python bench/bench_stack_load.py toy [--users 100] [--seconds 30]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from sqlalchemy import create_engine, text  # noqa: E402

from safegrid.stack import Stack, StackConfig, port_free  # noqa: E402
from tests.browser import TEST_SECRET, http_login, make_user  # noqa: E402
from tests.fixtures_units import ensure_unit_tree  # noqa: E402

LOCUST_VENV = ROOT / ".local" / "locust-venv"
# (name, instances, workers per instance, replica): the same two worker processes in each (a 2-core machine)
CONFIGS = {"1x2": ("1 instance × 2 workers", 1, 2, False), "2x1": ("2 instances × 1 worker", 2, 1, False),
           "2x1+replica": ("2 × 1 + replica", 2, 1, True)}
SEARCH_WORDS = ["九州", "广源", "汽车配件", "建设", "鑫源", "棉业", "商业管理", "塑业"]


def locust_bin() -> Path:
    """Return Locust's executable, installing it into its own virtual environment the first time."""
    exe = LOCUST_VENV / "bin" / "locust"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LOCUST_VENV)], check=True)
        subprocess.run([str(LOCUST_VENV / "bin" / "pip"), "install", "-q", "locust>=2.30"], check=True)
    return exe


def uptime() -> str:
    """The 1, 5 and 15 minute load averages now (the machine is shared with other work)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def locust(host: str, users: int, seconds: int, prefix: Path, env: dict[str, str]) -> list[dict[str, str]]:
    """Run Locust headless against ``host``; return its stats rows (per route, then ``Aggregated``)."""
    subprocess.run([str(locust_bin()), "-f", str(ROOT / "bench" / "locustfile_stack.py"), "--headless",
                    "-u", str(users), "-r", str(max(1, users // 10)), "-t", f"{seconds}s", "--host", host,
                    "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "30"],
                   env={**os.environ, **env}, check=False, capture_output=True)
    with open(f"{prefix}_stats.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def print_rows(rows: list[dict[str, str]]) -> None:
    """Print Locust's rows as one table."""
    print(f"{'config':24} {'route':52} {'requests':>8} {'failed':>6} {'p50':>6} {'p95':>6} {'p99':>6} {'req/s':>6}")
    for r in rows:
        print(f"{r.get('config', ''):24} {r['Name'][:52]:52} {r['Request Count']:>8} {r['Failure Count']:>6} "
              f"{r['50%']:>6} {r['95%']:>6} {r['99%']:>6} {float(r['Requests/s']):6.1f}")


# ---- at scale, on a running stack ---------------------------------------------------------------------------

def flush_redis(sock: Path) -> None:
    """Empty the stack's Redis (a cold response cache for each run) and reset its hit counters."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(sock))
        s.sendall(b"FLUSHALL\r\nCONFIG RESETSTAT\r\n")
        data = b""
        while data.count(b"+OK") < 2:
            chunk = s.recv(64)
            if not chunk:
                break
            data += chunk


def redis_stats(sock: Path) -> dict[str, int]:
    """Redis' keyspace hits and misses so far (INFO stats)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(sock))
        s.sendall(b"INFO stats\r\n")
        data = b""
        while b"keyspace_misses" not in data or not data.endswith(b"\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    fields = dict(line.split(":", 1) for line in data.decode().splitlines() if ":" in line)
    return {k: int(fields.get(k, 0)) for k in ("keyspace_hits", "keyspace_misses")}


def transactions(state: dict[str, Any]) -> dict[str, int]:
    """Transactions committed so far in the database on the primary and on the replica (who served the reads)."""
    counts = {}
    for side in ("primary", "replica"):
        engine = create_engine(state[f"{side}_url"])
        try:
            with engine.connect() as conn:
                counts[side] = int(conn.execute(text(
                    "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")).scalar_one())
        finally:
            engine.dispose()
    return counts


def stack_for(root: Path, instances: int, workers: int, replica: bool) -> Stack:
    """The stack in ``root`` as configured by its last ``up``, with the instances, workers and routing asked."""
    cfg = json.loads((root / "stack.json").read_text())["config"]
    extra = {} if replica else {"SAFEGRID_DATABASE_REPLICA_URL": ""}  # the replica runs, unused
    return Stack(StackConfig(root=root, port=int(cfg["port"]), instances=instances, workers=workers,
                             threads=int(cfg["threads"]), database=cfg["database"],
                             own_primary=cfg["own_primary"] == "True", access_log=cfg["access_log"] == "True",
                             extra_env=extra))


def reconfigure(root: Path, config: str) -> Stack:
    """Stop every app instance and bring the stack up as ``config`` says (nginx reloaded with its upstreams)."""
    _name, instances, workers, replica = CONFIGS[config]
    state = json.loads((root / "stack.json").read_text())
    current = Stack(StackConfig(root=root))
    for i in range(1, max(len(state["app_ports"]), 2) + 1):
        current.stop_app(i, sig=signal.SIGTERM)
    stack = stack_for(root, instances, workers, replica)
    stack.up()
    return stack


def pick_work(state: dict[str, Any], accounts: dict[str, dict[str, Any]], per_account: int) -> dict[str, Any]:
    """The hazard loop's work: reported hazards per grid manager (narrowest scope first, each hazard to one
    account), enterprises to report at, the search words and a deadline."""
    engine = create_engine(state["primary_url"])
    work: dict[str, Any] = {"search": SEARCH_WORDS}
    taken: set[int] = set()  # a grid cell's hazards are also its township's: each goes to one account
    with engine.connect() as conn:
        for key, a in sorted(accounts.items(), key=lambda kv: -len(kv[1]["scope"])):
            if not key.startswith("gm"):
                continue
            work[key] = [list(r) for r in conn.execute(text(
                "SELECT h.id, h.version FROM hazards h JOIN units u ON u.id = h.unit_id WHERE u.path LIKE "
                "(SELECT path FROM units WHERE code = :c) || '%' AND h.status = 'reported' "
                "ORDER BY h.id DESC LIMIT :n"),
                {"c": a["scope"], "n": per_account}) if r[0] not in taken]
            taken.update(h for h, _v in work[key])
            work[f"{key}_enterprises"] = [r[0] for r in conn.execute(text(
                "SELECT e.id FROM enterprises e JOIN units u ON u.id = e.unit_id WHERE u.path LIKE "
                "(SELECT path FROM units WHERE code = :c) || '%' ORDER BY e.id LIMIT 200"), {"c": a["scope"]})]
        work["deadline"] = conn.execute(text("SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date + 30")).scalar_one(
            ).isoformat()
    engine.dispose()
    return work


def prepare(args: argparse.Namespace) -> None:
    """Sign in the sessions and pick the hazard loop's work; write them under ``DIR/load``."""
    root = args.stack.resolve()
    state = json.loads((root / "stack.json").read_text())
    accounts: dict[str, dict[str, Any]] = json.loads(args.accounts.read_text())
    out = root / "load"
    out.mkdir(exist_ok=True)
    (out / "accounts.json").write_text(json.dumps(accounts, ensure_ascii=False))
    sessions = {key: [dict(http_login(state["base_url"], a["user"], a["password"]).cookies)
                      for _ in range(args.sessions)] for key, a in accounts.items()}
    (out / "sessions.json").write_text(json.dumps(sessions))
    work = pick_work(state, accounts, args.work)
    (out / "work.json").write_text(json.dumps(work))
    print({k: len(v) for k, v in work.items() if isinstance(v, list)}, "sessions:", {k: len(v) for k, v in
                                                                                     sessions.items()})


def run_scale(args: argparse.Namespace) -> None:
    """Reconfigure the stack, empty Redis, run Locust; print and write the result."""
    root = args.stack.resolve()
    name = CONFIGS[args.config][0]
    label = args.label or args.config
    if not args.keep_apps:
        started = time.monotonic()
        reconfigure(root, args.config)
        print(f"{name}: instances up in {time.monotonic() - started:.1f} s", flush=True)
    state = json.loads((root / "stack.json").read_text())
    flush_redis(root / "redis" / "redis.sock")
    out = root / "load"
    (out / "work.json").write_text(json.dumps(pick_work(state, json.loads((out / "accounts.json").read_text()),
                                                        args.work)))
    before = uptime()
    tx0 = transactions(state)
    env = {"SG_COOKIES": str(out / "sessions.json"), "SG_FLOWS": str(args.flows), "SG_WORK": str(out / "work.json"),
           "SG_THINK": args.think}
    if args.hits:
        env["SG_HITS"] = str(args.hits)
    if args.no_writes:
        env["SG_WRITES"] = "0"
    t0 = time.time()
    rows = locust(state["base_url"], args.users, args.seconds, out / label, env)
    after = uptime()
    tx1 = transactions(state)
    served = {side: tx1[side] - tx0[side] for side in tx0}
    cache = redis_stats(root / "redis" / "redis.sock")
    rows = [{**r, "config": name} for r in rows]
    result = {"label": label, "config": name, "users": args.users, "seconds": args.seconds, "think": args.think,
              "writes": not args.no_writes, "started": t0, "load_before": before, "load_after": after,
              "transactions": served, "redis": cache,
              "rows": rows}
    (out / f"{label}.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    print(f"\n{label}: {args.users} users, think {args.think} s, {args.seconds} s; load average before {before}, "
          f"after {after}")
    print(f"transactions committed on the primary / replica: {served['primary']} / {served['replica']}; "
          f"Redis hits / misses: {cache['keyspace_hits']} / {cache['keyspace_misses']}")
    print_rows(rows)


def report(args: argparse.Namespace) -> None:
    """Print the runs' results (JSON written by ``run``) as Markdown: one line per run, then per route."""
    runs = [json.loads(p.read_text()) for p in args.results]
    print("| run | users | requests | failed | p50 ms | p95 ms | p99 ms | req/s | primary / replica transactions | "
          "Redis hits / misses | load average before → after |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        t = next(row for row in r["rows"] if row["Name"] == "Aggregated")
        print(f"| {r['config']}{'' if r.get('writes', True) else ', read-only'} | {r['users']} | "
              f"{int(t['Request Count']):,} | {int(t['Failure Count']):,} | {t['50%']} | {t['95%']} | {t['99%']} | "
              f"{float(t['Requests/s']):.1f} | {r['transactions']['primary']:,} / {r['transactions']['replica']:,} | "
              f"{r['redis']['keyspace_hits']:,} / {r['redis']['keyspace_misses']:,} | {r['load_before']} → "
              f"{r['load_after']} |")
    names = sorted({row["Name"] for r in runs for row in r["rows"] if row["Name"] != "Aggregated"})
    print("\n| route | " + " | ".join(f"{r['config']} p50 / p95 / p99 (failed of n)" for r in runs) + " |")
    print("|---|" + "---|" * len(runs))
    for name in names:
        cells = []
        for r in runs:
            row = next((x for x in r["rows"] if x["Name"] == name), None)
            cells.append("—" if row is None else f"{row['50%']} / {row['95%']} / {row['99%']} "
                         f"({row['Failure Count']} of {row['Request Count']})")
        print(f"| {name} | " + " | ".join(cells) + " |")


# ---- the toy harness ----------------------------------------------------------------------------------------

def run_toy(name: str, instances: int, workers: int, replica: bool, args: argparse.Namespace) -> list[dict[str, str]]:
    """Bring a toy stack up, run the toy Locust users against it, take it down; return Locust's stats rows."""
    port = next(p for p in range(28160, 29000, 10) if all(port_free(p + i) for i in range(instances + 1)))
    root = Path(tempfile.mkdtemp(prefix="sgload-", dir="/tmp"))
    os.environ.update(SAFEGRID_SECRET_KEY=TEST_SECRET, SAFEGRID_LOGIN_IP_MAX_FAILURES="100000")
    extra = {} if replica else {"SAFEGRID_DATABASE_REPLICA_URL": ""}
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
        cookies = root / "sessions.json"
        cookies.write_text(json.dumps({role: [dict(http_login(state["base_url"], user, password).cookies)
                                              for _ in range(args.sessions)]
                                       for role, (user, password) in accounts.items()}))
        env = {"SG_COOKIES": str(cookies)}
        subprocess.run([str(locust_bin()), "-f", str(ROOT / "bench" / "locustfile_toy.py"), "--headless",
                        "-u", str(args.users), "-r", str(args.users), "-t", f"{args.seconds}s", "--host",
                        state["base_url"], "--csv", str(root / "locust"), "--only-summary", "--loglevel", "WARNING"],
                       env={**os.environ, **env}, check=False, capture_output=True)
        with open(root / "locust_stats.csv", newline="") as fh:
            return [{**row, "config": name} for row in csv.DictReader(fh)]
    finally:
        stack.down(purge=True)


def toy(args: argparse.Namespace) -> None:
    """Run every configuration on its own toy stack and print one table."""
    rows = []
    for name, instances, workers, replica in CONFIGS.values():
        print(f"{name} …", flush=True)
        rows += run_toy(name, instances, workers, replica, args)
    print(f"\n{args.users} users, think time 0.5-1.5 s, {args.seconds} s each, loopback, toy database")
    print_rows(rows)


def main() -> None:
    """Parse the subcommand and run it."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="sign in sessions and pick the hazard loop's work (stack at scale)")
    p.add_argument("--stack", type=Path, required=True)
    p.add_argument("--accounts", type=Path, required=True, help="JSON {role_key: {user, password, scope}}")
    p.add_argument("--sessions", type=int, default=4, help="signed-in sessions per account")
    p.add_argument("--work", type=int, default=2000, help="reported hazards per grid manager for the loop")
    p.set_defaults(func=prepare)
    r = sub.add_parser("run", help="one Locust run on the running stack in a configuration")
    r.add_argument("--stack", type=Path, required=True)
    r.add_argument("--config", choices=sorted(CONFIGS), default="2x1+replica")
    r.add_argument("--users", type=int, default=100)
    r.add_argument("--seconds", type=int, default=180)
    r.add_argument("--think", default="3,10", help="think time min,max seconds")
    r.add_argument("--label", default="")
    r.add_argument("--flows", type=Path, default=ROOT / "bench" / "stack_flows.json")
    r.add_argument("--hits", type=Path, default=None, help="append every request as a JSON line here")
    r.add_argument("--work", type=int, default=2000, help="reported hazards per grid manager for the loop")
    r.add_argument("--no-writes", action="store_true", help="read-only users (no hazard loop, reports, 验收)")
    r.add_argument("--keep-apps", action="store_true", help="do not restart the instances (already as asked)")
    r.set_defaults(func=run_scale)
    rep = sub.add_parser("report", help="Markdown tables of runs (their JSON files)")
    rep.add_argument("results", type=Path, nargs="+")
    rep.set_defaults(func=report)
    t = sub.add_parser("toy", help="the toy harness: its own small stack per configuration")
    t.add_argument("--users", type=int, default=100)
    t.add_argument("--seconds", type=int, default=30)
    t.add_argument("--sessions", type=int, default=10, help="signed-in sessions shared by the users")
    t.set_defaults(func=toy)
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
