"""What a streaming replica can serve: is it in recovery, how far behind, which data version it holds.

The lag is the age of the last replayed commit only while WAL is still arriving unreplayed: a caught-up
replica of an idle primary replays nothing, and ``now() - pg_last_xact_replay_timestamp()`` alone would
grow for ever (the postgres_exporter fix, PR 534). A replica whose WAL receiver is not streaming (cut off
from its primary) reports that age however, so it is skipped rather than trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from geo.users import _DATA_VERSION as DATA_VERSION_SQL  # the one definition (the session check's)

_STATE = text(f"""
SELECT pg_is_in_recovery(),
       CASE WHEN NOT pg_is_in_recovery() THEN 0
            WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
                 AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN 0
            ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 1e9) END,
       {DATA_VERSION_SQL}
""")  # noqa: S608 - a constant expression


@dataclass(frozen=True)
class ReplicaState:
    """One look at a replica: recovery mode, lag in seconds, and its data version (``date:counter sum``)."""

    in_recovery: bool
    lag_s: float
    data_version: str


def replica_state(conn: Connection) -> ReplicaState:
    """Read the replica's state in one round trip."""
    recovery, lag, version = conn.execute(_STATE).one()
    return ReplicaState(bool(recovery), float(lag), str(version))


def version_reached(have: str, need: str) -> bool:
    """Tell whether data version ``have`` is at least ``need`` (same business day, counter sum not smaller)."""
    have_day, _, have_sum = have.partition(":")
    need_day, _, need_sum = need.partition(":")
    if not need_sum.isdigit():
        return True  # no version to honour (an account read without it)
    return have_day == need_day and have_sum.isdigit() and int(have_sum) >= int(need_sum)
