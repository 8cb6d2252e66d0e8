"""双随机 (random enterprises, random inspectors): the draw rule, pure and reproducible from a recorded seed.

:func:`draw` takes the *pool* (the enterprises left by the leader's filters: area, industry, colour), the
*inspectors* (accounts that may inspect) and the :class:`DrawOptions`, and draws with a NumPy ``Generator``
seeded by the recorded seed. The same pool, inspectors, options and seed give the same result, whatever order
the inputs arrive in (both are sorted by key first), so a recorded draw can be reproduced and checked.

Enterprises:

* only enterprises with at least two eligible inspectors can be drawn (the rest are counted as
  ``unstaffed``: a draw never produces an enterprise nobody may inspect);
* ``min_high_share`` (0-1): at least ``ceil(share × n)`` of the drawn enterprises are 红/橙 (as many as the
  pool has), drawn first from the 红/橙 part of the pool; the rest from everything left;
* ``weighting="risk"``: each draw is weighted by colour (:data:`RISK_WEIGHTS`, 红 4 · 橙 3 · 黄 2 · 蓝 and
  未评估 1), without replacement; ``"none"``: equal chances.

Inspectors, for each drawn enterprise in draw order — two distinct people. An inspector is *eligible* for an
enterprise when:

* the inspector's scope contains the enterprise (the unit path starts with the inspector's scope path);
* the inspector is not in the enterprise's ``excluded`` set. The storage side puts there the enterprise's own
  grid people (the duty holders of its grid cell and village: 网格员, 安全监管责任人, 分管领导, 第一责任人 —
  a grid manager never inspects his own grid's enterprise by draw) and the leader's 回避 list (conflicts of
  interest named for the draw).

Nobody is drawn twice in a draw while an eligible colleague has not been drawn yet: each pick is made among
the eligible inspectors with the fewest assignments so far in this draw. With at least ``2 × n`` inspectors
everyone appears at most once; with fewer, the load is spread evenly and the two of one enterprise are always
different people.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

HIGH_RISK = frozenset({"red", "orange"})
RISK_WEIGHTS: Mapping[str | None, float] = {"red": 4.0, "orange": 3.0, "yellow": 2.0, "blue": 1.0, None: 1.0}
WEIGHTINGS = ("none", "risk")
MAX_DRAW = 1000  # enterprises in one draw
RULE_VERSION = "2026-1"  # recorded with each draw: a later change of the rule must not re-read old draws


class DrawError(ValueError):
    """Options or inputs a draw cannot use; the message is the Chinese text the user reads."""


@dataclass(frozen=True)
class Candidate:
    """An enterprise of the pool: its code, colour, unit path and the inspectors who may not inspect it."""

    code: str
    risk_level: str | None
    path: str
    excluded: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Inspector:
    """An account that may be drawn: username and scope path."""

    username: str
    scope: str


@dataclass(frozen=True)
class DrawOptions:
    """How many to draw, the weighting and the minimum share of 红/橙."""

    n: int
    weighting: str = "none"
    min_high_share: float = 0.0

    def check(self) -> None:
        """Raise :class:`DrawError` for options out of range."""
        if not 1 <= self.n <= MAX_DRAW:
            raise DrawError(f"抽取数量应在 1-{MAX_DRAW} 之间")
        if self.weighting not in WEIGHTINGS:
            raise DrawError("加权方式应为不加权或按风险加权")
        if not 0.0 <= self.min_high_share <= 1.0:
            raise DrawError("红橙企业最低占比应在 0-100% 之间")

    def as_dict(self) -> dict[str, Any]:
        """Return the options as recorded with the draw (with the rule version)."""
        return {"n": self.n, "weighting": self.weighting, "min_high_share": self.min_high_share,
                "rule_version": RULE_VERSION}


@dataclass(frozen=True)
class DrawnItem:
    """One drawn enterprise and its two inspectors, in draw order (seq from 1)."""

    seq: int
    code: str
    inspector1: str
    inspector2: str


@dataclass(frozen=True)
class DrawResult:
    """The items, the pool actually drawn from and what was set aside."""

    items: tuple[DrawnItem, ...]
    pool_size: int  # enterprises that could be drawn (with two eligible inspectors)
    unstaffed: int  # enterprises of the filtered pool set aside: fewer than two eligible inspectors
    inspector_pool: int
    high_drawn: int
    digest: str = field(default="")  # of the sorted pool and inspectors: a reproduction checks it first


def eligible(candidate: Candidate, inspector: Inspector) -> bool:
    """Tell whether ``inspector`` may be drawn for ``candidate`` (scope contains it, not excluded)."""
    return candidate.path.startswith(inspector.scope) and inspector.username not in candidate.excluded


def _staff(pool: list[Candidate], people: list[Inspector]) -> dict[str, list[str]]:
    """Return each candidate's eligible usernames in username order (:func:`eligible`, computed per unit path).

    Unit paths end with a dot, so "the scope contains the path" is "the scope is one of the path's prefixes up to a
    dot": a dictionary look-up per level instead of a test per inspector (1M enterprises × 500 inspectors).
    """
    by_scope: dict[str, list[str]] = {}
    for i in people:
        by_scope.setdefault(i.scope, []).append(i.username)
    odd = [i for i in people if not i.scope.endswith(".")]  # not a unit path: test it the long way
    cache: dict[tuple[str, frozenset[str]], list[str]] = {}
    out = {}
    for c in pool:
        names = cache.get((c.path, c.excluded))
        if names is None:
            ends = [n + 1 for n, ch in enumerate(c.path) if ch == "."]
            found = [u for end in ends for u in by_scope.get(c.path[:end], ())]
            found += [i.username for i in odd if c.path.startswith(i.scope)]
            names = sorted({u for u in found if u not in c.excluded})
            cache[(c.path, c.excluded)] = names
        out[c.code] = names
    return out


def pool_digest(pool: Iterable[Candidate], inspectors: Iterable[Inspector]) -> str:
    """Return a short SHA-256 of the sorted inputs, recorded with a draw so a reproduction can check its inputs."""
    lines = [f"{c.code}|{c.risk_level}|{c.path}|{','.join(sorted(c.excluded)) if c.excluded else ''}"
             for c in sorted(pool, key=lambda c: c.code)]
    lines.append("--")
    lines += [f"{i.username}|{i.scope}" for i in sorted(inspectors, key=lambda i: i.username)]
    return hashlib.sha256(("\n".join(lines) + "\n").encode()).hexdigest()[:16]


def _pick(rng: np.random.Generator, members: list[Candidate], k: int, weighted: bool) -> list[Candidate]:
    """Draw ``k`` of ``members`` without replacement (weighted by colour when asked), in draw order."""
    if k <= 0 or not members:
        return []
    k = min(k, len(members))
    p = None
    if weighted:
        w = np.array([RISK_WEIGHTS.get(m.risk_level, 1.0) for m in members], dtype=float)
        p = w / w.sum()
    idx = rng.choice(len(members), size=k, replace=False, p=p)
    return [members[int(i)] for i in idx]


def draw(pool: Iterable[Candidate], inspectors: Iterable[Inspector], options: DrawOptions, seed: int) -> DrawResult:
    """Draw ``options.n`` enterprises and two inspectors each from ``seed`` (see the module docstring).

    Raises :class:`DrawError` for bad options, or when no enterprise of the pool can be staffed.
    """
    options.check()
    if not 0 <= seed < 2**63:
        raise DrawError("随机种子无效")
    people = sorted({i.username: i for i in inspectors}.values(), key=lambda i: i.username)
    everyone = sorted({c.code: c for c in pool}.values(), key=lambda c: c.code)
    digest = pool_digest(everyone, people)
    staff = _staff(everyone, people)
    drawable = [c for c in everyone if len(staff[c.code]) >= 2]
    if not drawable:
        raise DrawError("筛选后没有可抽取的企业（或每家企业可抽调的执法人员不足两人）")
    rng = np.random.default_rng(seed)
    weighted = options.weighting == "risk"
    n = min(options.n, len(drawable))
    high = [c for c in drawable if c.risk_level in HIGH_RISK]
    first = _pick(rng, high, math.ceil(options.min_high_share * n - 1e-9), weighted)
    taken = {c.code for c in first}
    rest = _pick(rng, [c for c in drawable if c.code not in taken], n - len(first), weighted)
    chosen = first + rest
    load: dict[str, int] = {}
    items = []
    for seq, c in enumerate(chosen, start=1):
        pair: list[str] = []
        for _ in range(2):
            names = [u for u in staff[c.code] if u not in pair]
            least = min(load.get(u, 0) for u in names)
            fewest = [u for u in names if load.get(u, 0) == least]
            who = fewest[int(rng.integers(len(fewest)))]
            pair.append(who)
            load[who] = load.get(who, 0) + 1
        items.append(DrawnItem(seq, c.code, pair[0], pair[1]))
    return DrawResult(tuple(items), len(drawable), len(everyone) - len(drawable), len(people),
                      sum(1 for c in chosen if c.risk_level in HIGH_RISK), digest)


def new_seed() -> int:
    """Return a fresh seed for a draw (63 bits from the OS's randomness, recorded with the draw)."""
    return secrets.randbits(63)


def options_from(value: Mapping[str, Any]) -> DrawOptions:
    """Rebuild recorded options (``inspection_draws.options``) for a reproduction or a redraw."""
    return DrawOptions(n=int(value["n"]), weighting=str(value.get("weighting", "none")),
                       min_high_share=float(value.get("min_high_share", 0.0)))
