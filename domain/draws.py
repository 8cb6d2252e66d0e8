"""双随机 (random enterprises, random inspectors): the draw rule, pure and reproducible from a recorded seed.

:func:`draw` takes the *pool* (the enterprises left by the leader's filters: area, industry, colour), the
*inspectors* (accounts that may inspect) and the :class:`DrawOptions`, and draws from the recorded seed. The same
pool, inspectors, options and seed give the same result, whatever order the inputs arrive in, so a recorded draw
can be reproduced and checked.

Enterprises (rule version 2026-2):

* every enterprise gets a *sample hash* from the seed and its credit code, :func:`sample_hash` — PostgreSQL's
  ``hashtextextended(credit_code, seed)``, ported bit for bit (little-endian machines), so the database can rank
  a pool of a million without sending it to Python — and from it a *key*, :func:`sample_key`: with ``u`` the hash
  mapped into (0, 1), ``-ln(u) / w`` (Efraimidis–Spirakis: the ``n`` smallest keys are a weighted sample without
  replacement, drawn one after another with probability proportional to ``w``);
* ``weighting="risk"``: ``w`` by colour (:data:`RISK_WEIGHTS`, 红 4 · 橙 3 · 黄 2 · 蓝 and 未评估 1);
  ``"none"``: ``w = 1`` (equal chances);
* only enterprises with at least two eligible inspectors can be drawn (the rest are counted as ``unstaffed``: a
  draw never produces an enterprise nobody may inspect);
* ``min_high_share`` (0-1): the ``ceil(share × n)`` smallest keys among the 红/橙 part of the pool are drawn first
  (as many as it has), then the smallest keys of everything left, each part in key order (ties by code).

Inspectors, for each drawn enterprise in draw order — two distinct people, picked with a NumPy ``Generator``
seeded by the same seed. An inspector is *eligible* for an enterprise when:

* the inspector's scope contains the enterprise (the unit path starts with the inspector's scope path);
* the inspector is not in the enterprise's ``excluded`` set. The storage side puts there the enterprise's own
  grid people (the duty holders of its grid cell and village: 网格员, 安全监管责任人, 分管领导, 第一责任人 —
  a grid manager never inspects his own grid's enterprise by draw) and the leader's 回避 list (conflicts of
  interest named for the draw).

Nobody is drawn twice in a draw while an eligible colleague has not been drawn yet: each pick is made among
the eligible inspectors with the fewest assignments so far in this draw. With at least ``2 × n`` inspectors
everyone appears at most once; with fewer, the load is spread evenly and the two of one enterprise are always
different people.

The pool digest recorded with a draw fingerprints its inputs: the number of enterprises per unit path and colour,
each path's exclusions and the inspectors (:func:`pool_digest`). :func:`draw_sampled` draws from the candidates
the database ranked (``geo.draws``) and gives the same result as :func:`draw` over the whole pool.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

HIGH_RISK = frozenset({"red", "orange"})
RISK_WEIGHTS: Mapping[str | None, float] = {"red": 4.0, "orange": 3.0, "yellow": 2.0, "blue": 1.0, None: 1.0}
COLOURS: tuple[str | None, ...] = ("red", "orange", "yellow", "blue", None)
WEIGHTINGS = ("none", "risk")
MAX_DRAW = 1000  # enterprises in one draw
RULE_VERSION = "2026-2"  # recorded with each draw: a later change of the rule must not re-read old draws
HASH_MIN = -(2**63)  # the smallest bigint: a hash threshold that lets every enterprise through


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

    @property
    def weighted(self) -> bool:
        """True when keys are weighted by colour."""
        return self.weighting == "risk"


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
    digest: str = field(default="")  # of the pool's counts, exclusions and inspectors: a reproduction checks it


@dataclass(frozen=True)
class PoolGroup:
    """The enterprises of the pool on one unit path in one colour (what the digest and the counts read)."""

    path: str
    risk_level: str | None
    count: int
    excluded: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Ranked:
    """A candidate with its sample hash (from the seed), as the database or :func:`draw` ranks it."""

    candidate: Candidate
    hash: int


@dataclass(frozen=True)
class Sample:
    """What the database hands :func:`draw_sampled`: the pool's groups and its smallest keys.

    ``candidates`` must hold every *staffed* enterprise whose key is below ``bound`` (its colour's key bound, see
    :func:`hash_bounds`); :func:`draw_sampled` tells whether they are enough (else the caller widens the bounds).
    """

    groups: tuple[PoolGroup, ...]
    candidates: tuple[Ranked, ...]
    bound: Mapping[str | None, float]


# --- the sample hash: PostgreSQL's hashtextextended (src/common/hashfn.c, hash_bytes_extended), little-endian ---

_M = 0xFFFFFFFF


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _M


def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    a = (a - c) & _M ^ _rot(c, 4)
    c = (c + b) & _M
    b = (b - a) & _M ^ _rot(a, 6)
    a = (a + c) & _M
    c = (c - b) & _M ^ _rot(b, 8)
    b = (b + a) & _M
    a = (a - c) & _M ^ _rot(c, 16)
    c = (c + b) & _M
    b = (b - a) & _M ^ _rot(a, 19)
    a = (a + c) & _M
    c = (c - b) & _M ^ _rot(b, 4)
    b = (b + a) & _M
    return a, b, c


def _final(a: int, b: int, c: int) -> tuple[int, int]:
    c = (c ^ b) - _rot(b, 14) & _M
    a = (a ^ c) - _rot(c, 11) & _M
    b = (b ^ a) - _rot(a, 25) & _M
    c = (c ^ b) - _rot(b, 16) & _M
    a = (a ^ c) - _rot(c, 4) & _M
    b = (b ^ a) - _rot(a, 14) & _M
    c = (c ^ b) - _rot(b, 24) & _M
    return b, c


def sample_hash(code: str, seed: int) -> int:
    """Return PostgreSQL's ``hashtextextended(code, seed)`` (a signed 64-bit integer) for a deterministic collation."""
    k = code.encode()
    a = b = c = (0x9E3779B9 + len(k) + 3923095) & _M
    seed &= 0xFFFFFFFFFFFFFFFF
    if seed:
        a, b, c = _mix((a + (seed >> 32)) & _M, (b + (seed & _M)) & _M, c)
    i = 0
    while len(k) - i >= 12:
        a, b, c = _mix((a + int.from_bytes(k[i:i + 4], "little")) & _M,
                       (b + int.from_bytes(k[i + 4:i + 8], "little")) & _M,
                       (c + int.from_bytes(k[i + 8:i + 12], "little")) & _M)
        i += 12
    rest = k[i:]
    a = (a + int.from_bytes(rest[0:4], "little")) & _M
    b = (b + int.from_bytes(rest[4:8], "little")) & _M
    c = (c + (int.from_bytes(rest[8:11], "little") << 8)) & _M  # the lowest byte of c is reserved for the length
    hi, lo = _final(a, b, c)
    value = (hi << 32) | lo
    return value - 2**64 if value >= 2**63 else value


def _weight(risk_level: str | None, weighted: bool) -> float:
    return RISK_WEIGHTS.get(risk_level, 1.0) if weighted else 1.0


def sample_key(h: int, risk_level: str | None, weighted: bool) -> float:
    """Return the key of sample hash ``h``: ``-ln(u) / w``, ``u = (h + 2^63 + 1/2) / 2^64`` in (0, 1); smaller first."""
    u = ((h + 2**63) * 2 + 1) / 2**65
    return -math.log(u) / _weight(risk_level, weighted)


def hash_bound(key_bound: float, risk_level: str | None, weighted: bool) -> int:
    """Return a hash ``b`` such that every ``h`` with ``sample_key(h) < key_bound`` has ``h >= b`` (a little wide)."""
    if math.isinf(key_bound):
        return HASH_MIN
    v = math.exp(-key_bound * _weight(risk_level, weighted))  # key < bound  ⇔  u > v
    return max(HASH_MIN, math.floor(v * (1 - 1e-9) * 2**64) - 2**63 - 2)


def key_bound_for(counts: Mapping[str | None, int], target: float, weighted: bool) -> float:
    """Return the key bound below which ``target`` of the enterprises ``counts`` (per colour) are expected.

    Infinite when the counts hold no more than ``target`` (then every enterprise is a candidate).
    """
    total = sum(counts.values())
    if total <= target:
        return math.inf

    def expected(t: float) -> float:
        return sum(n * -math.expm1(-t * _weight(c, weighted)) for c, n in counts.items())

    lo, hi = 0.0, 1.0
    while expected(hi) < target:
        hi *= 2
        if hi > 1e3:
            return math.inf
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if expected(mid) < target else (lo, mid)
    return hi


def wanted(options: DrawOptions, staffed: int) -> tuple[int, int]:
    """Return (enterprises to draw, of which at least 红/橙) for a pool of ``staffed`` drawable enterprises."""
    n = min(options.n, staffed)
    return n, math.ceil(options.min_high_share * n - 1e-9)


def bounds_for(counts: Mapping[str | None, int], options: DrawOptions, *, margin: float = 2.5
               ) -> dict[str | None, float]:
    """Return a key bound per colour expected to let through ``margin`` × the candidates a draw needs.

    ``counts`` are (estimated) staffed enterprises per colour; the 红/橙 get the wider of the overall bound and the
    bound that lets through enough of them for the minimum share.
    """
    n, k = wanted(options, sum(counts.values()))
    overall = key_bound_for(counts, margin * n + 20, options.weighted)
    high: dict[str | None, int] = {c: v for c, v in counts.items() if c in HIGH_RISK}
    high_bound = key_bound_for(high, margin * k + 20, options.weighted) if k else 0.0
    return {c: max(overall, high_bound) if c in HIGH_RISK else overall for c in COLOURS}


def eligible(candidate: Candidate, inspector: Inspector) -> bool:
    """Tell whether ``inspector`` may be drawn for ``candidate`` (scope contains it, not excluded)."""
    return candidate.path.startswith(inspector.scope) and inspector.username not in candidate.excluded


class Staffing:
    """The eligible inspectors of a unit path with its exclusions (:func:`eligible`, computed per path, cached).

    Unit paths end with a dot, so "the scope contains the path" is "the scope is one of the path's prefixes up to a
    dot": a dictionary look-up per level instead of a test per inspector (1M enterprises × 500 inspectors).
    """

    def __init__(self, people: Sequence[Inspector]) -> None:
        self._by_scope: dict[str, list[str]] = {}
        for i in people:
            self._by_scope.setdefault(i.scope, []).append(i.username)
        self._odd = [i for i in people if not i.scope.endswith(".")]  # not a unit path: tested the long way
        self._cache: dict[tuple[str, frozenset[str]], list[str]] = {}
        self._ancestors: dict[str, int] = {}  # path → inspectors whose scope is one of its prefixes

    def staffed(self, path: str, excluded: frozenset[str]) -> bool:
        """Tell whether at least two inspectors are eligible (a count first: the lists only when it is close)."""
        if not self._odd and self._covering(path) - len(excluded) >= 2:
            return True  # usernames are unique, so one scope each: at most len(excluded) of them drop out
        return len(self.of(path, excluded)) >= 2

    def _covering(self, path: str) -> int:
        """Return how many inspectors have a scope that is a prefix of ``path`` (cached per path, from the parent)."""
        covering = self._ancestors.get(path)
        if covering is None:
            parent = path[: path[:-1].rfind(".") + 1]
            covering = (self._covering(parent) if parent else 0) + len(self._by_scope.get(path, ()))
            self._ancestors[path] = covering
        return covering

    def of(self, path: str, excluded: frozenset[str]) -> list[str]:
        """Return the usernames eligible for an enterprise on ``path`` with ``excluded``, in username order."""
        names = self._cache.get((path, excluded))
        if names is None:
            ends = [n + 1 for n, ch in enumerate(path) if ch == "."]
            found = [u for end in ends for u in self._by_scope.get(path[:end], ())]
            found += [i.username for i in self._odd if path.startswith(i.scope)]
            names = sorted({u for u in found if u not in excluded})
            self._cache[(path, excluded)] = names
        return names


def _staff(pool: list[Candidate], people: list[Inspector]) -> dict[str, list[str]]:
    """Return each candidate's eligible usernames in username order (see :class:`Staffing`)."""
    staffing = Staffing(people)
    return {c.code: staffing.of(c.path, c.excluded) for c in pool}


def pool_digest(groups: Iterable[PoolGroup], inspectors: Iterable[Inspector]) -> str:
    """Return a short SHA-256 of the pool's groups (path, colour, count, exclusions) and the sorted inspectors."""
    lines = sorted(f"{g.path}|{g.risk_level}|{g.count}|{','.join(sorted(g.excluded))}" for g in groups)
    lines.append("--")
    lines += sorted(f"{i.username}|{i.scope}" for i in inspectors)
    return hashlib.sha256(("\n".join(lines) + "\n").encode()).hexdigest()[:16]


def groups_of(pool: Iterable[Candidate]) -> list[PoolGroup]:
    """Return the pool's groups by unit path, colour and exclusions (as the database counts them)."""
    counted = Counter((c.path, c.risk_level, c.excluded) for c in pool)
    return [PoolGroup(p, r, n, x) for (p, r, x), n in counted.items()]


def _assign(chosen: Sequence[Candidate], staffing: Staffing, seed: int) -> tuple[DrawnItem, ...]:
    """Pair each chosen enterprise with two distinct eligible inspectors, the least loaded first."""
    rng = np.random.default_rng(seed)
    load: dict[str, int] = {}
    items = []
    for seq, c in enumerate(chosen, start=1):
        pair: list[str] = []
        for _ in range(2):
            names = [u for u in staffing.of(c.path, c.excluded) if u not in pair]
            least = min(load.get(u, 0) for u in names)
            fewest = [u for u in names if load.get(u, 0) == least]
            who = fewest[int(rng.integers(len(fewest)))]
            pair.append(who)
            load[who] = load.get(who, 0) + 1
        items.append(DrawnItem(seq, c.code, pair[0], pair[1]))
    return tuple(items)


def _check(options: DrawOptions, seed: int) -> None:
    options.check()
    if not 0 <= seed < 2**63:
        raise DrawError("随机种子无效")


class NeedMoreCandidatesError(LookupError):
    """The candidates of a :class:`Sample` do not settle the draw: widen the bounds (``wider``) and rank again."""

    def __init__(self, wider: Mapping[str | None, float]) -> None:
        super().__init__("more candidates needed")
        self.wider = dict(wider)


def draw_sampled(sample: Sample, inspectors: Iterable[Inspector], options: DrawOptions, seed: int) -> DrawResult:
    """Draw from the database's ranked candidates; the same result as :func:`draw` over the whole pool.

    Raises :class:`DrawError` (bad options, nothing drawable) or :class:`NeedMoreCandidatesError` when the
    candidates below the bounds are too few to be sure they hold the smallest keys.
    """
    _check(options, seed)
    people = sorted({i.username: i for i in inspectors}.values(), key=lambda i: i.username)
    staffing = Staffing(people)
    staffed = [g for g in sample.groups if staffing.staffed(g.path, g.excluded)]
    pool_size = sum(g.count for g in staffed)
    total = sum(g.count for g in sample.groups)
    if not pool_size:
        raise DrawError("筛选后没有可抽取的企业（或每家企业可抽调的执法人员不足两人）")
    n, k = wanted(options, pool_size)
    weighted = options.weighted
    keyed = sorted(((sample_key(r.hash, r.candidate.risk_level, weighted), r.candidate.code, r.candidate)
                    for r in sample.candidates if staffing.staffed(r.candidate.path, r.candidate.excluded)),
                   key=lambda t: (t[0], t[1]))
    below = [t for t in keyed if t[0] < sample.bound.get(t[2].risk_level, math.inf)]
    overall = min(sample.bound.get(c, math.inf) for c in COLOURS)  # every colour's candidates are complete below it
    high_pool = sum(g.count for g in staffed if g.risk_level in HIGH_RISK)
    high_below = [t for t in below if t[2].risk_level in HIGH_RISK]
    enough_all = sum(1 for t in below if t[0] < overall) >= n or len(keyed) >= pool_size
    enough_high = len(high_below) >= min(k, high_pool)
    if not (enough_all and enough_high):
        counts: Counter[str | None] = Counter()
        for g in staffed:
            counts[g.risk_level] += g.count
        wider = bounds_for(counts, options, margin=6.0)
        raise NeedMoreCandidatesError({c: max(wider[c], 2 * sample.bound.get(c, 0.0)) for c in COLOURS})
    chosen = _choose([t[2] for t in below], n, k)
    items = _assign(chosen, staffing, seed)
    return DrawResult(items, pool_size, total - pool_size, len(people),
                      sum(1 for c in chosen if c.risk_level in HIGH_RISK), pool_digest(sample.groups, people))


def _choose(ranked: Sequence[Candidate], n: int, k: int) -> list[Candidate]:
    """Take the ``k`` first 红/橙 of ``ranked`` (key order), then the first of the rest up to ``n`` in all."""
    first = [c for c in ranked if c.risk_level in HIGH_RISK][:k]
    taken = {c.code for c in first}
    return first + [c for c in ranked if c.code not in taken][: n - len(first)]


def draw(pool: Iterable[Candidate], inspectors: Iterable[Inspector], options: DrawOptions, seed: int) -> DrawResult:
    """Draw ``options.n`` enterprises and two inspectors each from ``seed`` over the whole pool (the reference).

    Raises :class:`DrawError` for bad options, or when no enterprise of the pool can be staffed.
    """
    everyone = list({c.code: c for c in pool}.values())
    sample = Sample(tuple(groups_of(everyone)), tuple(Ranked(c, sample_hash(c.code, seed)) for c in everyone),
                    dict.fromkeys(COLOURS, math.inf))
    return draw_sampled(sample, inspectors, options, seed)


def new_seed() -> int:
    """Return a fresh seed for a draw (63 bits from the OS's randomness, recorded with the draw)."""
    return secrets.randbits(63)


def options_from(value: Mapping[str, Any]) -> DrawOptions:
    """Rebuild recorded options (``inspection_draws.options``) for a reproduction or a redraw."""
    return DrawOptions(n=int(value["n"]), weighting=str(value.get("weighting", "none")),
                       min_high_share=float(value.get("min_high_share", 0.0)))
