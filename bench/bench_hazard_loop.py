"""Benchmark of the hazard loop's write path (issue 15): transitions, the incremental roll-up, concurrency.

    .venv/bin/python bench/bench_hazard_loop.py --enterprises 20000 [--database DB] [--reuse]
    .venv/bin/python bench/bench_hazard_loop.py --enterprises 1000000 --hazards 3000000 [--base-database DB]

The database is built as ``bench/bench_refresh.py`` builds its own: the 20k demo loaded through the
loaders into ``bench_hazard_loop_base_20000`` (or ``--base-database``, an already loaded demo), copied
with ``CREATE DATABASE … TEMPLATE`` into ``--database`` and, beyond the base size, scaled up in SQL by
``bench_refresh.clone``. The bench writes to that copy (it closes hazards), never to the base;
``--reuse`` keeps an existing copy. A first full refresh at the bench's reference day puts
``unit_stats`` in the state the incremental path starts from. Then, in the same run:

1. **Transition vs bare SQL.** ``--chains`` pairs of overdue 已上报 hazards; each hazard goes
   延期 → 开始整改 → 提交验收 → 验收通过, one committed transaction per step (pooled ``geo.db.engine``,
   as the app's ``connect()``). One of a pair through ``geo.hazard_actions.transition`` (with the
   rule read as the app reads it), the other through the same statements written out by hand with
   the same parameters: ``SELECT … FOR UPDATE`` (same join and scope), ``UPDATE hazards``, the event
   ``INSERT``, one ``UPDATE unit_stats`` of the ancestor path's counts when the step changes them
   (延期 of an overdue hazard, 验收通过), the audit ``INSERT``; no Python rules, no re-scoring.
   Which side goes first alternates per step. Milliseconds per step, commit included.
2. **Incremental roll-up vs full refresh.** ``apply_rollup`` of one hazard's closure delta on its
   path (timed with its commit; the inverse delta is applied untimed afterwards) against a warm
   ``etl.refresh.refresh_all``.
3. **Concurrency.** ``--threads`` threads, one connection each, extend as many different hazards of
   one township at once (a barrier releases them). Checked: no error (a deadlock would raise),
   every version advanced by exactly one, and ``unit_stats`` of the township's subtree and
   ancestors equal the numbers of the full refresh of step 2, which runs after it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text

from domain import clock

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py, also when run through runpy
from common import fresh_database, load_demo, machine, percentile, report, timed

AS_OF = date(2026, 11, 23)  # the demo's reference day, as in bench_refresh.py
STEPS = ("extend", "start", "submit", "pass")
PLAN = {"resp_person": "张三", "resp_person_phone": "13800000000", "measures": "加装防护栏",
        "funds_yuan": "1200", "contingency_plan": "停机检修预案"}
STAT_COLUMNS = ("hazards_open", "hazards_overdue", "hazards_major_open", "hazards_supervised",
                "hazards_stock_open", "hazards_increment_open", "risk_score", "risk_class")
ROLLUP = ("hazards_open", "hazards_overdue", "hazards_major_open", "hazards_supervised",
          "hazards_stock_open", "hazards_increment_open")

# The bare statements, written out by hand (the same tables, joins, scope condition and locks as geo.hazard_actions).
BARE_LOCK = (
    'SELECT h."id", h."code", h."title", h."status", h."level", h."enterprise_id", h."unit_id", u."path" AS unit_path, '
    'h."found_at", h."deadline", h."closed_at", h."supervision_level", h."supervision_deadline", h."submitted_by", '
    'h."extensions", h."version", h."resp_person", h."resp_person_phone", h."measures", h."funds_yuan", '
    'h."contingency_plan" FROM "hazards" h JOIN "units" u ON u."id" = coalesce(h."unit_id", '
    '(SELECT e."unit_id" FROM "enterprises" e WHERE e."id" = h."enterprise_id")) '
    """WHERE h."id" = :id AND u."path" LIKE :scope || '%' FOR UPDATE OF h"""
)
BARE_UPDATE = {
    "extend": '"status" = :status, "deadline" = :deadline, "extensions" = :extensions',
    "start": '"status" = :status',
    "submit": '"status" = :status, "resp_person" = :resp_person, "resp_person_phone" = :resp_person_phone, '
              '"measures" = :measures, "funds_yuan" = :funds_yuan, "contingency_plan" = :contingency_plan, '
              '"submitted_by" = :by',
    "pass": '"status" = :status, "verified_at" = :day, "closed_at" = :day',
}
BARE_EVENT = ('INSERT INTO "hazard_events" ("hazard_id", "from_status", "to_status", "by", "note", "action", "detail") '
              "VALUES (:id, :from_status, :status, :by, :note, :action, CAST(:detail AS jsonb))")
BARE_ROLLUP = ('UPDATE "unit_stats" SET {sets} WHERE "unit_id" IN '
               '(SELECT "id" FROM "units" WHERE "code" = ANY(:codes))')
BARE_AUDIT = 'INSERT INTO "audit_log" ("username", "action", "detail", "ip") VALUES (:by, :a, CAST(:d AS jsonb), NULL)'


def _exists(admin_url: str, name: str) -> bool:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": name}).first()
    admin.dispose()
    return found is not None


def prepare(args: argparse.Namespace) -> tuple[str, dict[str, float]]:
    """Return the URL of the bench database (built unless ``--reuse`` finds it) and the seconds of the build."""
    from bench_refresh import clone  # the 1M / 3M clone of bench_refresh.py, unchanged

    from geo.settings import get_settings

    settings = get_settings()
    timings: dict[str, float] = {}
    name = args.database or f"bench_hazard_loop_{args.enterprises}"
    if args.reuse and _exists(settings.url("postgres"), name):
        url, _ = fresh_database(name, reuse=True)
        return url, timings
    base_db = args.base_database or f"bench_hazard_loop_base_{args.base}"
    if not args.base_database and not (args.reuse and _exists(settings.url("postgres"), base_db)):
        base_url, _ = fresh_database(base_db)
        timings |= load_demo(args.dir or Path(f".local/bench/demo_{args.base}"), base_url, enterprises=args.base,
                             seed=args.seed, as_of=AS_OF)
    t = time.perf_counter()
    url, _ = fresh_database(name, template=base_db)
    timings[f"copy {base_db}"] = time.perf_counter() - t
    engine = create_engine(url)
    with engine.begin() as conn:
        have = conn.execute(text("SELECT count(*) FROM enterprises")).scalar_one()
        if args.enterprises > have:
            t = time.perf_counter()
            hazards = args.hazards or conn.execute(text("SELECT count(*) FROM hazards")).scalar_one() * round(
                args.enterprises / have)
            cloned = clone(conn, enterprises=args.enterprises, hazards=hazards)
            timings[f"clone in SQL (+{', +'.join(f'{v:,} {k}' for k, v in cloned.items())})"] = (
                time.perf_counter() - t)
            print(f"cloned in {time.perf_counter() - t:.1f} s: {cloned}", flush=True)
    engine.dispose()
    return url, timings


def pick_chains(conn: Any, n: int, cutoff: date) -> list[dict[str, Any]]:
    """Return ``n`` overdue 已上报 hazards spread over the city (md5 order), with their scope and closure delta."""
    rows = conn.execute(text(
        'SELECT h."id", h."code", h."version", h."extensions", h."deadline", u."path", '
        """array_to_string((string_to_array(rtrim(u."path", '.'), '.'))[1:3], '.') || '.' AS scope, """
        """CAST(h."level" = 'major' AS int) AS major, CAST(h."supervision_level" IS NOT NULL AS int) AS supervised, """
        """CAST(h."level" = 'major' AND h."found_at" <= :cutoff AS int) AS stock, """
        """CAST(h."level" = 'major' AND h."found_at" > :cutoff AS int) AS increment """
        'FROM "hazards" h JOIN "units" u ON u."id" = h."unit_id" '
        """WHERE h."status" = 'reported' AND h."deadline" < :day AND h."extensions" = 0 AND h."submitted_by" IS NULL """
        "AND u.\"level\" >= 3 ORDER BY md5(CAST(h.\"id\" AS text)) LIMIT :n"),
        {"cutoff": cutoff, "day": AS_OF, "n": n}).mappings().all()
    if len(rows) < n:
        raise SystemExit(f"only {len(rows)} overdue 已上报 hazards left of {n} needed: rerun without --reuse")
    return [dict(r) for r in rows]


def bare_step(conn: Any, hz: dict[str, Any], step: str, version: int, by: str, note: str, detail: dict[str, Any],
              delta: dict[str, int], to_status: str, from_status: str) -> None:
    """The statements of one transition, by hand (no rules, no re-read, no re-scoring)."""
    row = conn.execute(text(BARE_LOCK), {"id": hz["id"], "scope": hz["scope"]}).one()
    assert row.version == version
    params: dict[str, Any] = {"id": hz["id"], "v": version, "status": to_status, "by": by, "day": AS_OF,
                              "deadline": AS_OF + timedelta(days=60), "extensions": hz["extensions"] + 1,
                              **PLAN, "funds_yuan": Decimal(PLAN["funds_yuan"])}
    updated = conn.execute(text(
        f'UPDATE "hazards" SET {BARE_UPDATE[step]}, "version" = "version" + 1, "updated_at" = now() '  # noqa: S608
        'WHERE "id" = :id AND "version" = :v'), params)
    assert updated.rowcount == 1
    conn.execute(text(BARE_EVENT), {"id": hz["id"], "from_status": from_status, "status": to_status, "by": by,
                                    "note": note or None, "action": step,
                                    "detail": json.dumps(detail, ensure_ascii=False, default=str)})
    if delta:
        sets = ", ".join(f'"{c}" = "{c}" + :d_{c}' for c in delta)
        conn.execute(text(BARE_ROLLUP.format(sets=sets)),
                     {**{f"d_{c}": v for c, v in delta.items()}, "codes": hz["path"].rstrip(".").split(".")})
    conn.execute(text(BARE_AUDIT), {"by": by, "a": f"hazard_{step}", "d": json.dumps(
        {"hazard": hz["code"], "from": from_status, "to": to_status, "version": version + 1}, ensure_ascii=False)})


def transitions_vs_bare(url: str, chains: int, warmup: int) -> tuple[dict[str, dict[str, list[float]]],
                                                                      dict[str, dict[str, int]]]:
    """Part 1: milliseconds per step, ``{"app"|"bare": {step: [ms, …]}}`` (warm-up chains not kept), and the
    statements each side sent per step (``{"app"|"bare": {step: n}}``, BEGIN / COMMIT and the pool's ping aside).
    """
    from domain.hazard_flow import Actor, Payload
    from geo import hazard_actions as ha
    from geo.db import engine as app_engine
    from geo.hazard_view import current_risk_rule
    from geo.refresh import stock_cutoff

    eng = app_engine(url)
    with eng.connect() as conn:
        cutoff = stock_cutoff(conn, as_of=AS_OF)
        picked = pick_chains(conn, 2 * (chains + warmup), cutoff)
    grid = Actor("bench_gm", "grid_manager", 3)
    inspector = Actor("bench_insp", "inspector", 3)
    new_deadline = AS_OF + timedelta(days=60)
    plan: dict[str, Any] = {  # step → (actor, payload, to status, from status, event detail)
        "extend": (grid, Payload(note="汛期施工受限", new_deadline=new_deadline), "reported", "reported",
                   {"new_deadline": new_deadline}),
        "start": (grid, Payload(), "rectifying", "reported", {}),
        "submit": (grid, Payload(fields=PLAN), "verifying", "rectifying",
                   {**PLAN, "funds_yuan": Decimal(PLAN["funds_yuan"])}),
        "pass": (inspector, Payload(note="整改到位，同意销号"), "closed", "verifying", {}),
    }
    out: dict[str, dict[str, list[float]]] = {"app": {s: [] for s in STEPS}, "bare": {s: [] for s in STEPS}}
    sent: dict[str, dict[str, int]] = {"app": dict.fromkeys(STEPS, 0), "bare": dict.fromkeys(STEPS, 0)}
    counting: list[tuple[str, str]] = []

    @event.listens_for(eng, "before_cursor_execute")
    def _count(*_: Any) -> None:
        if counting:
            side, step = counting[-1]
            sent[side][step] += 1

    def app(hz: dict[str, Any], step: str, version: int) -> None:
        actor, payload = plan[step][0], plan[step][1]
        with eng.begin() as conn:  # geo.db.connect(url), as dashboard/hazard/callbacks.take_action
            ha.transition(conn, scope=hz["scope"], actor=actor, hazard_id=hz["id"], version=version, action=step,
                          payload=payload, as_of=AS_OF, rule=current_risk_rule(conn))

    def bare(hz: dict[str, Any], step: str, version: int) -> None:
        actor, payload, to_status, from_status, detail = plan[step]
        if step == "extend":
            delta = {"hazards_overdue": -1}  # picked overdue, extended past the reference day
        elif step == "pass":
            delta = {c: -v for c, v in (("hazards_open", 1), ("hazards_major_open", hz["major"]),
                                        ("hazards_supervised", hz["supervised"]), ("hazards_stock_open", hz["stock"]),
                                        ("hazards_increment_open", hz["increment"])) if v}
        else:
            delta = {}
        with eng.begin() as conn:
            bare_step(conn, hz, step, version, actor.username, payload.note, detail, delta, to_status, from_status)

    for i in range(chains + warmup):
        ours, theirs = picked[2 * i], picked[2 * i + 1]
        for s, step in enumerate(STEPS):
            order = [("app", app, ours), ("bare", bare, theirs)]
            if (i + s) % 2:
                order.reverse()
            for side, fn, hz in order:
                counting.append((side, step))
                ms, _ = timed(fn, hz, step, hz["version"] + s)
                counting.pop()
                if i >= warmup:
                    out[side][step].append(ms)
                else:
                    sent[side][step] = 0  # counted over the measured chains only
    eng.dispose()
    return out, {side: {step: round(n / chains) for step, n in by.items()} for side, by in sent.items()}


def rollup_vs_refresh(url: str, samples: int) -> list[float]:
    """Part 2 (incremental half): milliseconds of ``apply_rollup`` of one hazard's closure delta, commit included."""
    from domain.hazard_flow import rollup_counts
    from geo import hazard_actions as ha
    from geo.db import engine as app_engine
    from geo.hazard_view import current_risk_rule
    from geo.refresh import stock_cutoff

    eng = app_engine(url)
    with eng.connect() as conn:
        cutoff = stock_cutoff(conn, as_of=AS_OF)
        rule = current_risk_rule(conn)
        rows = conn.execute(text(
            'SELECT h."status", h."level", h."deadline", h."supervision_level", h."found_at", u."path" '
            'FROM "hazards" h JOIN "units" u ON u."id" = h."unit_id" '
            """WHERE h."status" <> 'closed' AND u."level" = 5 ORDER BY md5(CAST(h."id" AS text)) LIMIT :n"""),
            {"n": samples}).mappings().all()
    out = []
    for row in rows:
        counts = rollup_counts(status=row["status"], level=row["level"], deadline=row["deadline"],
                               supervision_level=row["supervision_level"], found_at=row["found_at"], as_of=AS_OF,
                               stock_cutoff=cutoff)
        delta = {c: -v for c, v in counts.items() if v}

        def apply(d: dict[str, int], path: str = row["path"]) -> None:
            with eng.begin() as conn:
                ha.apply_rollup(conn, unit_path=path, delta=d, rule=rule, as_of=AS_OF)

        ms, _ = timed(apply, delta)
        out.append(ms)
        apply({c: -v for c, v in delta.items()})  # back as it was (untimed)
    eng.dispose()
    return out


def concurrent_extends(url: str, threads: int) -> dict[str, Any]:
    """Part 3: ``threads`` extends of different hazards of one township at once; return what happened."""
    from domain.hazard_flow import Actor, Payload
    from geo import hazard_actions as ha
    from geo.hazard_view import current_risk_rule

    new_deadline = AS_OF + timedelta(days=400)
    eng = create_engine(url, pool_size=threads + 2, max_overflow=0)
    with eng.connect() as conn:
        eligible = ("""h."status" IN ('reported', 'rectifying') AND h."extensions" < 2 """
                    'AND (h."deadline" IS NULL OR h."deadline" < :nd)')
        township = conn.execute(text(
            f'SELECT substr(u."code", 1, 9) FROM "hazards" h JOIN "units" u ON u."id" = h."unit_id" '  # noqa: S608
            f'WHERE {eligible} AND u."level" >= 3 GROUP BY 1 HAVING count(*) >= :k ORDER BY count(*) DESC LIMIT 1'),
            {"nd": new_deadline, "k": threads}).scalar()
        if township is None:
            raise SystemExit(f"no township with {threads} open hazards")
        path = conn.execute(text('SELECT "path" FROM "units" WHERE "code" = :c'), {"c": township}).scalar_one()
        before = dict(conn.execute(text(
            f'SELECT h."id", h."version" FROM "hazards" h JOIN "units" u ON u."id" = h."unit_id" '  # noqa: S608
            f'WHERE {eligible} AND u."path" LIKE :p || \'%\' ORDER BY h."id" LIMIT :k'),
            {"nd": new_deadline, "p": path, "k": threads}).all())
    actor = Actor("bench_gm_t", "grid_manager", 3)
    barrier = threading.Barrier(len(before))
    errors: list[str] = []
    spans: list[tuple[float, float]] = []
    lock = threading.Lock()

    def extend(hazard_id: int, version: int) -> None:
        try:
            with eng.connect() as conn:  # one connection per thread, checked out before the start
                conn.execute(text("SELECT 1"))
                conn.rollback()
                barrier.wait(timeout=60)
                start = time.perf_counter()
                with conn.begin():
                    ha.transition(conn, scope=path, actor=actor, hazard_id=hazard_id, version=version,
                                  action="extend", payload=Payload(note="汛期施工受限", new_deadline=new_deadline),
                                  as_of=AS_OF, rule=current_risk_rule(conn))
                end = time.perf_counter()
            with lock:
                spans.append((start, end))
        except Exception as exc:  # collected and reported
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}"[:300])

    workers = [threading.Thread(target=extend, args=(h, v)) for h, v in before.items()]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=600)
    with eng.connect() as conn:
        after = dict(conn.execute(text('SELECT "id", "version" FROM "hazards" WHERE "id" = ANY(:ids)'),
                                  {"ids": list(before)}).all())
    eng.dispose()
    advanced = sum(after[h] == v + 1 for h, v in before.items())
    return {"township": township, "path": path, "n": len(before), "errors": errors, "advanced_by_one": advanced,
            "alive": sum(w.is_alive() for w in workers),
            "wall_ms": (max(e for _, e in spans) - min(s for s, _ in spans)) * 1000 if spans else float("nan"),
            "each_ms": sorted((e - s) * 1000 for s, e in spans)}


def stats_snapshot(url: str, path: str) -> tuple[dict[str, tuple[Any, ...]], dict[str, tuple[Any, ...]]]:
    """Return (the township's ancestors and subtree, every unit): code → the compared unit_stats columns."""
    cols = ", ".join(f's."{c}"' for c in STAT_COLUMNS)
    eng = create_engine(url)
    with eng.connect() as conn:
        rows = conn.execute(text(
            f'SELECT u."code", u."path", {cols} FROM "unit_stats" s JOIN "units" u ON u."id" = s."unit_id"'  # noqa: S608
        )).all()
    eng.dispose()
    every = {r[0]: tuple(round(v, 4) if isinstance(v, float) else v for v in r[2:]) for r in rows}
    ancestors = set(path.rstrip(".").split("."))
    township = {r[0]: every[r[0]] for r in rows if r[0] in ancestors or str(r[1]).startswith(path)}
    return township, every


def main() -> None:
    """Build or reuse the database, run the three parts, print the Markdown result."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enterprises", type=int, default=20_000)
    parser.add_argument("--hazards", type=int, default=None, help="clone hazards up to this many (default: in step)")
    parser.add_argument("--base", type=int, default=20_000, help="enterprises of the demo loaded through the loaders")
    parser.add_argument("--base-database", default=None, help="already loaded demo to copy from (no build, no load)")
    parser.add_argument("--seed", type=int, default=4110)
    parser.add_argument("--database", default=None, help="the bench's copy (default bench_hazard_loop_N)")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="keep an existing copy (and base)")
    parser.add_argument("--chains", type=int, default=40, help="hazard pairs of 4 steps each (part 1)")
    parser.add_argument("--warmup", type=int, default=2, help="chains per side run first and not counted")
    parser.add_argument("--samples", type=int, default=40, help="apply_rollup calls (part 2)")
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--append", type=Path, default=None, help="append a result section to this markdown file")
    args = parser.parse_args()

    from etl.refresh import refresh_all

    url, timings = prepare(args)
    print(f"database ready: {timings}", flush=True)
    first = refresh_all(url, as_of=AS_OF)
    print(f"first refresh: {first.seconds['total']:.1f} s", flush=True)
    # 3 and 2 before 1: the bare side of 1 moves counts without re-scoring, which a refresh would then differ from
    part3 = concurrent_extends(url, args.threads)
    print(f"part 3 done: {part3['n']} threads, errors {part3['errors']}", flush=True)
    part2 = rollup_vs_refresh(url, args.samples)
    township_before, every_before = stats_snapshot(url, part3["path"])
    full = refresh_all(url, as_of=AS_OF)
    township_after, every_after = stats_snapshot(url, part3["path"])
    print(f"part 2 done: refresh {full.seconds['total']:.1f} s", flush=True)
    part1, statements = transitions_vs_bare(url, args.chains, args.warmup)
    eng = create_engine(url)
    with eng.connect() as conn:
        counts = dict(conn.execute(text(
            "SELECT 'hazards', count(*) FROM hazards UNION ALL SELECT 'open', count(*) FROM hazards "
            "WHERE status <> 'closed' UNION ALL SELECT 'enterprises', count(*) FROM enterprises UNION ALL "
            "SELECT 'units', count(*) FROM units")).all())
    eng.dispose()

    def pct(values: list[float]) -> str:
        return f"{percentile(values, 0.5):.1f} / {percentile(values, 0.95):.1f}"

    app_all = [v for s in STEPS for v in part1["app"][s]]
    bare_all = [v for s in STEPS for v in part1["bare"][s]]
    ratio95 = percentile(app_all, 0.95) / percentile(bare_all, 0.95)
    ratio50 = percentile(app_all, 0.5) / percentile(bare_all, 0.5)
    refresh_ms = full.seconds["total"] * 1000
    same_township = township_before == township_after
    differ = sorted(c for c in every_before if every_before[c] != every_after.get(c))
    load = os.getloadavg()
    command = " ".join(["--enterprises", str(args.enterprises)]
                       + (["--hazards", str(args.hazards)] if args.hazards else [])
                       + (["--database", args.database] if args.database else [])
                       + (["--reuse"] if args.reuse else []))
    lines = [
        f"\n## Hazard loop, {counts['enterprises']:,} enterprises ({clock.today().isoformat()})\n",
        f"`.venv/bin/python bench/bench_hazard_loop.py {command}` on {machine()}, PostgreSQL on the project-local "
        f"cluster, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min) at the end. Data: "
        f"{counts['enterprises']:,} enterprises, {counts['hazards']:,} hazards ({counts['open']:,} open), "
        f"{counts['units']:,} units.\n",
        *[f"- {k}: {v:.1f} s" for k, v in timings.items()],
        f"- first refresh (as of {AS_OF}): {first.seconds['total']:.1f} s\n",
        f"**1. Transition vs bare SQL**, {args.chains} chains per side ({len(app_all)} transitions each), "
        "ms p50 / p95, commit included:\n",
        "| step | transition | bare SQL | ratio p50 / p95 | statements sent, transition / bare |",
        "|---|---|---|---|---|",
    ]
    for s in STEPS:
        a, b = part1["app"][s], part1["bare"][s]
        lines.append(f"| {s} | {pct(a)} | {pct(b)} | {percentile(a, 0.5) / percentile(b, 0.5):.2f} / "
                     f"{percentile(a, 0.95) / percentile(b, 0.95):.2f} | {statements['app'][s]} / "
                     f"{statements['bare'][s]} |")
    lines += [f"| **all** | {pct(app_all)} | {pct(bare_all)} | **{ratio50:.2f} / {ratio95:.2f}** | |", "",
              f"**2. Incremental roll-up vs full refresh**: `apply_rollup` of one hazard's closure delta "
              f"({len(part2)} hazards of grid cells, 5 units each, commit included) p50 / p95 {pct(part2)} ms; "
              f"full refresh (warm) {full.seconds['total']:.1f} s — **{refresh_ms / percentile(part2, 0.95):,.0f}× "
              f"the p95** ({refresh_ms / percentile(part2, 0.5):,.0f}× the p50).", "",
              f"**3. {part3['n']} concurrent extends** in township {part3['township']} (threads, one connection "
              f"each): wall {part3['wall_ms']:.0f} ms; each {pct(part3['each_ms']) if part3['each_ms'] else '—'} ms "
              f"(p50 / p95), longest {max(part3['each_ms'], default=float('nan')):.0f} ms; errors "
              f"{len(part3['errors'])}{': ' + '; '.join(part3['errors'][:3]) if part3['errors'] else ''}; "
              f"versions advanced by exactly one: {part3['advanced_by_one']}/{part3['n']}; unit_stats of the "
              f"township's {len(township_before)} units (ancestors and subtree) equal to the full refresh: "
              f"{'yes' if same_township else 'NO'}; whole table: {len(every_before) - len(differ):,} of "
              f"{len(every_before):,} units equal"
              f"{' (differ: ' + ', '.join(differ[:10]) + ')' if differ else ''}."]
    report("\n".join(lines) + "\n", args.append)


if __name__ == "__main__":
    main()
