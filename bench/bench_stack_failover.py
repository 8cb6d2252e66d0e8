"""Failure drill on the local stack: signed-in clients with think time through nginx while parts fail (issue 20).

    .venv/bin/python bench/bench_stack_failover.py [--users 20] [--port 0] [--keep DIR]

Brings up ``safegrid stack`` with its own small primary (the unit tree of the tests, so the figures are
about availability, not capacity), then runs ``--users`` client threads (think time 0.2-0.6 s; pages,
``/api/me`` and map data of two levels) and, while they run: SIGTERM one instance (restart), SIGKILL the
other's process group (restart), stop and start Redis, stop and start the replica, stop the primary for
3 s and start it. Prints, per phase, requests, failures (with what failed) and latency, and the time
from the primary's return to the last failed request. Takes about two minutes; ``down --purge`` at the end.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import requests  # noqa: E402
from common import percentile  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from safegrid.stack import Stack, StackConfig, port_free, read_pid  # noqa: E402
from tests.browser import TEST_SECRET, http_login, make_user  # noqa: E402
from tests.fixtures_units import ensure_unit_tree  # noqa: E402

ROUTES = ["/api/me", "/api/map/units/411000/children.geojson", "/api/map/units/411002/children.geojson", "/"]


@dataclass
class Hit:
    """One request: when (s since start), which route, the outcome and its time."""

    at: float
    route: str
    ok: bool
    what: str
    ms: float


class Drill:
    """Client threads recording every request, and the phases of the drill."""

    def __init__(self, base: str, sessions: list[requests.Session]) -> None:
        self.base = base
        self.sessions = sessions
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.t0 = time.monotonic()
        self.phases: list[tuple[str, float]] = []

    def now(self) -> float:
        """Seconds since the start of the drill."""
        return time.monotonic() - self.t0

    def mark(self, phase: str) -> None:
        """Start a phase (its hits are counted until the next one)."""
        self.phases.append((phase, self.now()))
        print(f"{self.now():6.1f} s  {phase}", flush=True)

    def client(self, s: requests.Session, seed: int) -> None:
        """Request a random route, wait 0.2-0.6 s, again, until stopped."""
        rng = random.Random(seed)
        while not self.stop.is_set():
            route = rng.choice(ROUTES)
            started = time.monotonic()
            try:
                r = s.get(self.base + route, timeout=30, allow_redirects=False)
                ok, what = r.status_code == 200, str(r.status_code)
            except requests.RequestException as exc:
                ok, what = False, type(exc).__name__
            hit = Hit(started - self.t0, route, ok, what, (time.monotonic() - started) * 1000)
            with self.lock:
                self.hits.append(hit)
            self.stop.wait(rng.uniform(0.2, 0.6))

    def report(self, resent: list[float] | None = None) -> None:
        """Print one line per phase, the failures' causes and the requests sent again (``resent``: when)."""
        bounds = [*self.phases, ("end", self.now())]
        print(f"\n{'phase':44} {'requests':>8} {'failed':>6} {'resent':>6} {'p50 ms':>7} {'p95 ms':>7}  failures")
        for (name, start), (_, end) in itertools.pairwise(bounds):
            inside = [h for h in self.hits if start <= h.at < end]
            failed = [h for h in inside if not h.ok]
            again = sum(start <= at < end for at in resent or [])
            ms = [h.ms for h in inside] or [0.0]
            causes = ", ".join(f"{k}×{v}" for k, v in Counter(f"{h.what} {h.route}" for h in failed).items())
            print(f"{name:44} {len(inside):8d} {len(failed):6d} {again:6d} {percentile(ms, 0.5):7.1f} "
                  f"{percentile(ms, 0.95):7.1f}  {causes}")


def run_events(stack: Stack, drill: Drill, root: Path, *, steady_s: float, drain: bool = False) -> float:
    """After ``steady_s``: SIGTERM app1 (restart; ``drain``: out of nginx first), SIGKILL app2's process group
    (restart), Redis stopped and started, the replica stopped and started, the primary stopped for 3 s; return
    when the primary was back."""
    time.sleep(steady_s)
    if drain:
        drill.mark("app1 drained (nginx: down)")
        print(f"         drained in {stack.drain_app(1):.1f} s", flush=True)
    drill.mark("SIGTERM app1 (graceful), 1 instance")
    stack.stop_app(1, sig=signal.SIGTERM)
    time.sleep(5)
    drill.mark("app1 restarting")
    stack.restart_app(1)
    drill.mark("app1 back")
    time.sleep(5)
    drill.mark("SIGKILL app2 (process group), 1 instance")
    pid = read_pid(root / "app2" / "gunicorn.pid")
    assert pid
    os.killpg(pid, signal.SIGKILL)
    (root / "app2" / "gunicorn.pid").unlink(missing_ok=True)
    time.sleep(5)
    drill.mark("app2 restarting")
    stack.restart_app(2)
    drill.mark("app2 back")
    time.sleep(5)
    drill.mark("Redis stopped")
    stack.stop_redis()
    time.sleep(5)
    drill.mark("Redis started (empty)")
    stack.start_redis()
    time.sleep(5)
    drill.mark("replica stopped")
    stack.stop_replica()
    time.sleep(5)
    drill.mark("replica starting")
    stack.start_replica()
    drill.mark("replica streaming")
    time.sleep(5)
    primary = stack.primary_cluster()
    drill.mark("primary stopped (fast) for 3 s")
    primary.stop()
    time.sleep(3)
    primary.start()
    back = drill.now()
    drill.mark("primary started")
    time.sleep(10)
    return back


def scale_drill(args: argparse.Namespace) -> None:
    """The drill on a running stack at scale, under the Locust users of bench_stack_load (every role)."""
    from bench_stack_load import CONFIGS, flush_redis, locust_bin, pick_work, reconfigure, uptime

    root = args.stack.resolve()
    reconfigure(root, "2x1+replica")
    state = json.loads((root / "stack.json").read_text())
    stack = Stack(StackConfig(root=root, port=state["port"], instances=2, workers=1, threads=8,
                              access_log=state["config"]["access_log"] == "True"))
    out = root / "load"
    (out / "work.json").write_text(json.dumps(pick_work(state, json.loads((out / "accounts.json").read_text()), 2000)))
    flush_redis(root / "redis" / "redis.sock")
    hits_file = out / "drill_hits.jsonl"
    hits_file.unlink(missing_ok=True)
    env = {**os.environ, "SG_COOKIES": str(out / "sessions.json"), "SG_FLOWS": str(args.flows),
           "SG_WORK": str(out / "work.json"), "SG_THINK": args.think, "SG_HITS": str(hits_file)}
    drill = Drill(state["base_url"], [])
    wall0 = time.time()
    print(f"{CONFIGS['2x1+replica'][0]}, {args.users} users; load average {uptime()}", flush=True)
    proc = subprocess.Popen([str(locust_bin()), "-f", str(ROOT / "bench" / "locustfile_stack.py"), "--headless",
                             "-u", str(args.users), "-r", str(max(1, args.users // 10)), "-t", f"{args.seconds}s",
                             "--host", state["base_url"], "--only-summary", "--loglevel", "WARNING"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        drill.mark("steady (2 instances, Redis, replica)")
        back = run_events(stack, drill, root, steady_s=args.steady, drain=not args.no_drain)
        drill.mark("after the drill")
        time.sleep(10)
    finally:
        proc.send_signal(signal.SIGINT)  # Locust stops its users and exits
        proc.wait(timeout=60)
    print(f"load average after: {uptime()}")
    resent = []
    for line in hits_file.read_text().splitlines():
        h = json.loads(line)
        if h.get("resent"):  # the connection closed before any answer: sent once more, as a browser does
            resent.append(h["at"] - wall0)
            continue
        drill.hits.append(Hit(h["at"] - wall0, h["name"], h["ok"], h["what"], h["ms"]))
    drill.report(resent)
    late = [h.at for h in drill.hits if not h.ok and h.at >= back]
    print(f"\nprimary back at {back:.1f} s; last failed request after it: {(max(late) - back):.1f} s later"
          if late else f"\nprimary back at {back:.1f} s; no failure after it")


def main() -> None:
    """Run the drill and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--port", type=int, default=0, help="nginx port (0: a free one)")
    ap.add_argument("--keep", type=Path, default=None, help="stack directory to keep (default: a temporary one)")
    ap.add_argument("--stack", type=Path, default=None,
                    help="a running stack at scale (prepared by bench_stack_load.py prepare): the drill under Locust")
    ap.add_argument("--seconds", type=int, default=170, help="with --stack: Locust's time limit")
    ap.add_argument("--steady", type=float, default=20, help="with --stack: seconds before the first event")
    ap.add_argument("--think", default="3,10", help="with --stack: think time min,max seconds")
    ap.add_argument("--no-drain", action="store_true", help="with --stack: SIGTERM app1 without draining it first")
    ap.add_argument("--flows", type=Path, default=ROOT / "bench" / "stack_flows.json")
    args = ap.parse_args()
    if args.stack:
        scale_drill(args)
        return
    port = args.port or next(p for p in range(28060, 29000, 10) if all(port_free(p + i) for i in range(3)))
    root = args.keep or Path(tempfile.mkdtemp(prefix="sgdrill-", dir="/tmp"))
    os.environ.update(SAFEGRID_SECRET_KEY=TEST_SECRET, SAFEGRID_LOGIN_IP_MAX_FAILURES="100000")
    stack = Stack(StackConfig(root=root, port=port, instances=2, workers=1, threads=8, own_primary=True,
                              database="sg_drill", migrate=True, access_log=True))
    print(f"stack up in {root} (port {port}) …", flush=True)
    started = time.monotonic()
    state = stack.up()
    print(f"up in {time.monotonic() - started:.1f} s", flush=True)
    try:
        engine = create_engine(state["primary_url"])
        ensure_unit_tree(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE units SET geom = ST_Multi(ST_MakeEnvelope(113.8, 34.0, 113.9, 34.1, 4326)) "
                              "WHERE code IN ('411002', '411003', '411002001', '411002002')"))
        user, password = make_user(engine, role="planner", scope="411000")
        engine.dispose()
        sessions = [http_login(state["base_url"], user, password) for _ in range(args.users)]
        drill = Drill(state["base_url"], sessions)
        threads = [threading.Thread(target=drill.client, args=(s, i), daemon=True) for i, s in enumerate(sessions)]
        drill.mark("steady (2 instances, Redis, replica)")
        for t in threads:
            t.start()
        back = run_events(stack, drill, root, steady_s=10)
        drill.stop.set()
        for t in threads:
            t.join(timeout=35)
        drill.report()
        late = [h.at for h in drill.hits if not h.ok and h.at >= back]
        print(f"\nprimary back at {back:.1f} s; last failed request after it: "
              f"{(max(late) - back):.1f} s later" if late else f"\nprimary back at {back:.1f} s; no failure after it")
        upstreams = [line.split('"')[-4] for line in (root / "nginx" / "access.log").read_text().splitlines()
                     if line.count('"') >= 6]
        print("answered by (nginx access log):", dict(Counter(u for u in upstreams if "," not in u)),
              "| passed on to another instance:", sum("," in u for u in upstreams))
    finally:
        stack.down(purge=args.keep is None)


if __name__ == "__main__":
    main()
