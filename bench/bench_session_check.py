"""Cost of the server-side session check (issue 19): the per-request account read with and without it.

Since migration 0003 the account read each request makes also probes ``user_sessions`` in the same
statement. Baseline in the same run: the account read as it was before 0003 (same prepared-statement
treatment). ``--sessions`` other session rows are in the table.

    .venv/bin/python bench/bench_session_check.py [--sessions 2000] [--repeats 300]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import fresh_database, use_database


def main() -> None:
    """Run the comparison and print the per-read milliseconds (best of three rounds)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--database", default="bench_session_check")
    args = parser.parse_args()
    use_database(args.database)
    from sqlalchemy import create_engine, text

    from geo.users import (
        _DATA_VERSION,
        _USER_SELECT,
        create_user,
        get_user_by_name,
        hash_password,
        open_session,
        session_key_hash,
        session_user,
    )

    url, _ = fresh_database(args.database)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO units (code, name, level, kind, path) VALUES ('411000', '许昌市', 1, 'city', "
                          "'411000.')"))
        create_user(conn, username="bench", password_hash=hash_password("bench@Bench2026"), role="planner",
                    scope_code="411000")
        record = get_user_by_name(conn, username="bench")
        assert record is not None
        sid = session_key_hash(uuid.uuid4().hex)
        open_session(conn, user_id=record.id, session_hash=sid, ip=None, max_minutes=720)
        for i in range(args.sessions):
            conn.execute(text("INSERT INTO user_sessions (id, user_id) VALUES (:h, :u)"),
                         {"h": session_key_hash(f"filler-{i}"), "u": record.id})
        conn.execute(text("ANALYZE user_sessions"))
    old_sql = f'SELECT q.*, {_DATA_VERSION} FROM ({_USER_SELECT} WHERE u."id" = $1) q'  # noqa: S608 - constants

    with engine.connect() as conn:
        conn.exec_driver_sql(f"PREPARE sg_before_0003(int) AS {old_sql}")

        def check() -> Any:
            return session_user(conn, user_id=record.id, session_hash=sid, max_minutes=720)

        def before() -> Any:
            return conn.exec_driver_sql("EXECUTE sg_before_0003(%(id)s)", {"id": record.id}).one()

        def per_read(fn: Any) -> float:
            start = time.perf_counter()
            for _ in range(args.repeats):
                fn()
            return (time.perf_counter() - start) / args.repeats * 1000

        for fn in (check, before):
            per_read(fn)  # warm up
        rounds = [(per_read(before), per_read(check)) for _ in range(3)]
    engine.dispose()
    base = min(b for b, _ in rounds)
    with_check = min(c for _, c in rounds)
    print(f"account read before 0003 (baseline): {base:.3f} ms; with the session check: {with_check:.3f} ms; "
          f"ratio {with_check / base:.2f} ({args.sessions} other sessions, {args.repeats} reads x 3 rounds)")


if __name__ == "__main__":
    main()
