"""Phase timers of the ETL jobs: ``with timed(timings, "upsert"): ...`` (LoadResult / RefreshResult timings)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from time import perf_counter


@contextmanager
def timed(timings: dict[str, float] | None, phase: str) -> Iterator[None]:
    """Add the block's seconds to ``timings[phase]`` (nothing is recorded when ``timings`` is None)."""
    start = perf_counter()
    try:
        yield
    finally:
        if timings is not None:
            timings[phase] = timings.get(phase, 0.0) + perf_counter() - start
