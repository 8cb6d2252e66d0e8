"""双随机一公开: the pool and inspector queries in a scope, saving a draw with its items, redraws, completion.

* :func:`draw_inputs` — the enterprises of an area of the caller's scope left by the filters (industry,
  colour) and the inspector accounts whose scope overlaps the area, as ``domain.draws`` inputs. Each
  enterprise's ``excluded`` set holds the inspectors who are its own grid people — accounts whose display name
  is the name of a current duty holder of its grid cell or village (users and persons are not linked in the
  schema, so the name is the link: documented in ``docs/inspections.md``) — and the draw's 回避 list.
* :func:`sample_draw` — the draw in the database: one aggregate over the filtered pool counts it per unit and
  colour and marks the enterprises whose sample key (``hashtextextended(credit_code, seed)``, see
  ``domain.draws``) lies below a bound chosen to let through a few times the enterprises needed; only those are
  read, and ``domain.draws.draw_sampled`` ranks them. Same result as ``domain.draws.draw`` over the whole pool
  (``tests/test_draw_storage.py``), without sending a million rows to Python. Eligibility is per unit path.
* :func:`make_draw` — :func:`sample_draw` with a fresh (or given) seed, then store the draw and its items;
  audited (``draw_made``). One request key per form: a double click stores one draw.
* :func:`redraw` — a *new* draw of the same area, filters and options with a new seed, naming the draw it
  replaces and the reason; the old draw stays recorded, marked ``superseded`` (audited ``draw_redrawn``).
* :func:`draws_in_scope`, :func:`draw_detail` — the draws whose area lies in the scope with their completion:
  an item is done when an inspection of kind ``double_random`` with the draw's id is recorded for its
  enterprise (``inspections.draw_id``).
* :func:`open_items_of` — the unfinished items an inspector was drawn for (the inspection form offers them).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, text

from domain.draws import (
    COLOURS,
    Candidate,
    DrawOptions,
    DrawResult,
    Inspector,
    NeedMoreCandidatesError,
    PoolGroup,
    Ranked,
    Sample,
    bounds_for,
    draw_sampled,
    hash_bound,
    new_seed,
    options_from,
    sample_hash,
)
from domain.labels import INDUSTRIES, RISK_LEVEL
from geo.scope import NO_DEPARTMENT, path_in_scope, scope_params
from geo.users import audit

UNASSESSED = "none"  # the colour filter's value for enterprises not assessed yet
MAX_TITLE = 100
MAX_REASON = 500


class DrawNotFoundError(LookupError):
    """The area or draw is not in the caller's scope (same answer for missing and out of scope)."""


class DrawInputError(ValueError):
    """Input a draw cannot take; the message is the Chinese text the user reads."""


@dataclass(frozen=True)
class PoolFilter:
    """The leader's filters: area (unit code), industries and colours (empty: all), 回避 accounts."""

    area_code: str
    industries: tuple[str, ...] = ()
    colours: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()

    def check(self) -> None:
        """Raise :class:`DrawInputError` for a value not in the vocabularies."""
        if any(i not in INDUSTRIES for i in self.industries):
            raise DrawInputError("行业不在行业目录中")
        if any(c not in (*RISK_LEVEL.codes, UNASSESSED) for c in self.colours):
            raise DrawInputError("风险等级无效")
        if len(self.avoid) > 200 or any(len(a) > 50 for a in self.avoid):
            raise DrawInputError("回避人员名单过长")

    def as_dict(self) -> dict[str, Any]:
        """Return the filters as recorded with the draw."""
        return {"area": self.area_code, "industries": list(self.industries), "colours": list(self.colours),
                "avoid": list(self.avoid)}


def filter_from(value: dict[str, Any]) -> PoolFilter:
    """Rebuild recorded filters (``inspection_draws.filters``)."""
    return PoolFilter(str(value["area"]), tuple(value.get("industries") or ()), tuple(value.get("colours") or ()),
                      tuple(value.get("avoid") or ()))


@dataclass(frozen=True)
class DrawSummary:
    """A draw as the list shows it."""

    id: int
    code: str
    title: str
    area_code: str
    area_name: str
    seed: int
    pool_size: int
    inspector_pool: int
    items: int
    done: int
    superseded: bool
    replaces_code: str | None
    reason: str | None
    created_by: str
    created_at: datetime
    filters: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DrawItemRow:
    """One item of a draw with its enterprise, inspectors and the inspection that completed it (if any)."""

    seq: int
    credit_code: str
    enterprise_name: str
    industry: str | None
    risk_level: str | None
    unit_name: str | None
    inspector1: str
    inspector1_name: str
    inspector2: str
    inspector2_name: str
    inspected_at: date | None
    result: str | None
    inspection_code: str | None


@dataclass(frozen=True)
class OpenItem:
    """An unfinished item an inspector was drawn for."""

    draw_id: int
    draw_code: str
    title: str
    seq: int
    credit_code: str
    enterprise_name: str
    partner: str


def _area(conn: Connection, *, scope: str, code: str) -> tuple[int, str] | None:
    row = conn.execute(text(
        f'SELECT "id", "path" FROM "units" u WHERE u."code" = :c AND {path_in_scope("u.path")} AND {NO_DEPARTMENT}'  # noqa: S608
    ), {"c": code, **scope_params(scope)}).one_or_none()
    return (int(row.id), str(row.path)) if row is not None else None


_POOL_FILTER = (
    'AND (CAST(:any_industry AS bool) OR e."industry" = ANY(CAST(:industries AS text[]))) '
    'AND (CAST(:any_colour AS bool) OR e."risk_level" = ANY(CAST(:colours AS text[])) '
    '     OR (CAST(:unassessed AS bool) AND e."risk_level" IS NULL))'
)
# The colour's hash bound (domain.draws.hash_bound): an enterprise at or above it is a candidate.
_BELOW_BOUND = (
    'hashtextextended(e."credit_code", CAST(:seed AS bigint)) >= CASE e."risk_level" '
    "WHEN 'red' THEN CAST(:b_red AS bigint) WHEN 'orange' THEN CAST(:b_orange AS bigint) "
    "WHEN 'yellow' THEN CAST(:b_yellow AS bigint) WHEN 'blue' THEN CAST(:b_blue AS bigint) "
    'ELSE CAST(:b_none AS bigint) END'
)
# One pass over the pool: counts per unit and colour, and per group the candidates' smallest and largest credit code
# (a group with more than two candidates is read again by unit: rare, the candidates are a few hundred among
# thousands of groups). Grouped by a boolean rather than by the candidates' codes so that the planner runs it as a
# parallel partial aggregate (array_agg has no combine function before PG 16); COLLATE "C": byte order, no locale.
_RANK_SQL = (
    'SELECT g.*, u."path" FROM (SELECT e."unit_id", e."risk_level", '  # noqa: S608
    f'{_BELOW_BOUND} AS candidate, count(*) AS n, '
    'min(e."credit_code" COLLATE "C") AS lo, max(e."credit_code" COLLATE "C") AS hi '
    'FROM "enterprises" e JOIN "units" u ON u."id" = e."unit_id" '
    f'WHERE u."path" LIKE :area || \'%\' {_POOL_FILTER} GROUP BY 1, 2, 3) g JOIN "units" u ON u."id" = g."unit_id"'
)
_CROWDED_SQL = (
    'SELECT e."credit_code", e."risk_level", u."path" FROM "enterprises" e '  # noqa: S608
    'JOIN "units" u ON u."id" = e."unit_id" '
    f'WHERE e."unit_id" = ANY(CAST(:crowded AS int[])) AND {_BELOW_BOUND} {_POOL_FILTER}'
)


def _filter_params(filters: PoolFilter) -> dict[str, Any]:
    return {"any_industry": not filters.industries, "industries": list(filters.industries),
            "any_colour": not filters.colours, "colours": [c for c in filters.colours if c != UNASSESSED],
            "unassessed": UNASSESSED in filters.colours}


def _people_and_exclusions(conn: Connection, *, area_path: str) -> tuple[list[Inspector], dict[str, frozenset[str]]]:
    """Return the inspectors whose scope overlaps the area and the own grid people per grid cell / village path."""
    people = conn.execute(text(
        'SELECT u."username", coalesce(u."display_name", \'\') AS name, s."path" FROM "users" u '
        'JOIN "units" s ON s."id" = u."scope_unit_id" WHERE u."role" = \'inspector\' AND u."active" '
        'AND u."dept_code" IS NULL '  # a department's inspectors are not drawn for the area's 双随机
        'AND (s."path" LIKE :area || \'%\' OR :area LIKE s."path" || \'%\') ORDER BY u."username"'
    ), {"area": area_path}).all()
    # Duty holders of every grid cell and village under the area whose name is an inspector's display name, by
    # unit path: an enterprise's own grid people (matched in SQL: 45k duties at 1M enterprises, ~150 matches).
    duty_rows = conn.execute(text(
        'SELECT u."path", array_agg(DISTINCT a."username") AS users FROM "duties" d '
        'JOIN "persons" p ON p."id" = d."person_id" '
        'JOIN "users" a ON a."display_name" = p."name" AND a."username" = ANY(CAST(:people AS text[])) '
        'JOIN "units" u ON u."id" = d."unit_id" WHERE d."until" IS NULL AND u."level" >= 4 '
        'AND u."path" LIKE :area || \'%\' GROUP BY u."path"'
    ), {"area": area_path, "people": [p.username for p in people if p.name]}).all() if people else []
    own = {d.path: frozenset(d.users) for d in duty_rows}
    return [Inspector(p.username, p.path) for p in people], own


def _excluded(path: str, own: dict[str, frozenset[str]], avoid: frozenset[str]) -> frozenset[str]:
    village = path[: path[:-1].rfind(".") + 1]
    return avoid | own.get(path, frozenset()) | own.get(village, frozenset())


def draw_inputs(conn: Connection, *, scope: str, filters: PoolFilter) -> tuple[list[Candidate], list[Inspector]]:
    """Return the whole pool and the inspectors of a draw over ``filters`` in ``scope`` (see the module docstring).

    The reference inputs of ``domain.draws.draw``; a draw itself reads only its candidates (:func:`sample_draw`).
    """
    filters.check()
    area = _area(conn, scope=scope, code=filters.area_code)
    if area is None:
        raise DrawNotFoundError(filters.area_code)
    _, area_path = area
    rows = conn.execute(text(
        'SELECT e."credit_code", e."risk_level", u."path" FROM "enterprises" e '  # noqa: S608
        f'JOIN "units" u ON u."id" = e."unit_id" WHERE u."path" LIKE :area || \'%\' {_POOL_FILTER}'
    ), {"area": area_path, **_filter_params(filters)}).all()
    people, own = _people_and_exclusions(conn, area_path=area_path)
    avoid = frozenset(filters.avoid)
    return [Candidate(r.credit_code, r.risk_level, r.path, _excluded(r.path, own, avoid)) for r in rows], people


def _estimated_counts(conn: Connection, *, area_id: int, filters: PoolFilter) -> dict[str | None, int]:
    """Estimate the pool per colour from the last refresh (``unit_stats``) and the planner's industry frequencies.

    Only the bounds depend on it: an estimate too high costs a second pass, one too low a few more candidates.
    """
    row = conn.execute(text(
        'SELECT "ent_red", "ent_orange", "ent_yellow", "ent_blue", "ent_unassessed" FROM "unit_stats" '
        'WHERE "unit_id" = :id'), {"id": area_id}).one_or_none()
    if row is None:
        return {}  # never refreshed: no bound, every enterprise is a candidate (a small database)
    counts = dict(zip(COLOURS, (int(v) for v in row), strict=True))
    if filters.colours:
        wanted = {None if c == UNASSESSED else c for c in filters.colours}
        counts = {c: v for c, v in counts.items() if c in wanted}
    if filters.industries:
        stats = conn.execute(text(
            "SELECT CAST(CAST(most_common_vals AS text) AS text[]) AS vals, most_common_freqs AS freqs "
            "FROM pg_stats WHERE tablename = 'enterprises' AND attname = 'industry'")).one_or_none()
        if stats is not None and stats.vals:
            freq = dict(zip(stats.vals, stats.freqs, strict=False))
            share = min(1.0, sum(freq.get(i, 0.001) for i in filters.industries))
            counts = {c: int(v * share) for c, v in counts.items()}
    return counts


def _rank(conn: Connection, *, area_path: str, filters: PoolFilter, seed: int, weighted: bool,
          bound: dict[str | None, float], exclusions: Callable[[str], frozenset[str]]) -> Sample:
    """Run the pool's pass with ``bound`` and read its candidates (see ``_RANK_SQL``)."""
    params = {"area": area_path, "seed": seed, **_filter_params(filters),
              **{f"b_{c or 'none'}": hash_bound(bound[c], c, weighted) for c in COLOURS}}
    counts: dict[tuple[str, str | None], int] = {}
    found: dict[str, tuple[str | None, str]] = {}  # candidate code → colour, unit path
    crowded: list[int] = []
    for unit_id, colour, candidate, n, lo, hi, path in conn.execute(text(_RANK_SQL), params):
        counts[(path, colour)] = counts.get((path, colour), 0) + n
        if candidate:
            if n <= 2:
                found[lo] = found[hi] = (colour, path)
            else:
                crowded.append(unit_id)
    if crowded:
        for code, colour, path in conn.execute(text(_CROWDED_SQL), {**params, "crowded": crowded}):
            found[code] = (colour, path)
    groups = tuple(PoolGroup(p, c, n, exclusions(p)) for (p, c), n in counts.items())
    candidates = tuple(Ranked(Candidate(code, colour, p, exclusions(p)), sample_hash(code, seed))
                       for code, (colour, p) in found.items())
    return Sample(groups, candidates, bound)


def sample_draw(conn: Connection, *, scope: str, filters: PoolFilter, options: DrawOptions, seed: int) -> DrawResult:
    """Draw in the database (see the module docstring); the result of ``domain.draws.draw`` over the whole pool.

    Raises :class:`DrawNotFoundError`, :class:`DrawInputError` and ``domain.draws.DrawError``.
    """
    return _sample_draw(conn, scope=scope, filters=filters, options=options, seed=seed)[0]


def _sample_draw(conn: Connection, *, scope: str, filters: PoolFilter, options: DrawOptions, seed: int
                 ) -> tuple[DrawResult, int]:
    """:func:`sample_draw`, with the area's unit id."""
    filters.check()
    options.check()
    area = _area(conn, scope=scope, code=filters.area_code)
    if area is None:
        raise DrawNotFoundError(filters.area_code)
    area_id, area_path = area
    people, own = _people_and_exclusions(conn, area_path=area_path)
    avoid = frozenset(filters.avoid)
    cache: dict[str, frozenset[str]] = {}

    def exclusions(path: str) -> frozenset[str]:
        if path not in cache:
            cache[path] = _excluded(path, own, avoid)
        return cache[path]

    estimate = _estimated_counts(conn, area_id=area_id, filters=filters)
    bound = bounds_for(estimate, options) if estimate else dict.fromkeys(COLOURS, math.inf)
    for attempt in range(4):  # the last without bound: every enterprise of the pool is a candidate
        if attempt == 3:
            bound = dict.fromkeys(COLOURS, math.inf)
        sample = _rank(conn, area_path=area_path, filters=filters, seed=seed, weighted=options.weighted,
                       bound=bound, exclusions=exclusions)
        try:
            return draw_sampled(sample, people, options, seed), area_id
        except NeedMoreCandidatesError as more:
            bound = more.wider
    raise AssertionError("unreachable: a pass without bound has every candidate")


def _stored_for_key(conn: Connection, *, username: str, request_key: str) -> int | None:
    """Check the form's request key; return the draw already stored under it by ``username`` (a double click)."""
    if not 16 <= len(request_key) <= 64 or not request_key.isascii():
        raise DrawInputError("页面已过期，请刷新后重新提交")
    return conn.execute(text(
        'SELECT "id" FROM "inspection_draws" WHERE "created_by" = :u AND "options"->>\'request_key\' = :k'
    ), {"u": username, "k": request_key}).scalar()


def _save(conn: Connection, *, area_id: int, title: str, filters: PoolFilter, options: DrawOptions, seed: int,
          result: DrawResult, username: str, request_key: str, replaces: int | None = None,
          reason: str | None = None) -> int:
    """Store a draw and its items; return its id."""
    draw_id = int(conn.execute(text("SELECT nextval(pg_get_serial_sequence('inspection_draws', 'id'))")).scalar_one())
    recorded = options.as_dict() | {"pool_digest": result.digest, "unstaffed": result.unstaffed,
                                    "high_drawn": result.high_drawn, "request_key": request_key}
    conn.execute(text(
        'INSERT INTO "inspection_draws" ("id", "code", "unit_id", "title", "filters", "options", "seed", "pool_size", '
        '"inspector_pool", "replaces_id", "reason", "created_by") VALUES (:id, '
        "'SJ' || to_char(current_date, 'YYYYMMDD') || '-' || lpad(CAST(:id AS text), 5, '0'), :unit, :title, "
        'CAST(:filters AS jsonb), CAST(:options AS jsonb), :seed, :pool, :ipool, :replaces, :reason, :user)'
    ), {"id": draw_id, "unit": area_id, "title": title, "filters": json.dumps(filters.as_dict(), ensure_ascii=False),
        "options": json.dumps(recorded), "seed": seed, "pool": result.pool_size, "ipool": result.inspector_pool,
        "replaces": replaces, "reason": reason, "user": username})
    if result.items:
        conn.execute(text(
            'INSERT INTO "draw_items" ("draw_id", "seq", "enterprise_id", "inspector1", "inspector2") '
            'SELECT :d, i.seq, e."id", i.a, i.b FROM jsonb_to_recordset(CAST(:items AS jsonb)) '
            'AS i(seq int, code text, a text, b text) JOIN "enterprises" e ON e."credit_code" = i.code'
        ), {"d": draw_id, "items": json.dumps([{"seq": i.seq, "code": i.code, "a": i.inspector1, "b": i.inspector2}
                                               for i in result.items])})
    return draw_id


def _draw_and_save(conn: Connection, *, scope: str, title: str, filters: PoolFilter, options: DrawOptions,
                   seed: int | None, username: str, request_key: str, replaces: int | None = None,
                   reason: str | None = None) -> tuple[int, int, DrawResult]:
    """Read the inputs, draw with ``seed`` (a fresh one when None), store; return the id, the seed, the result."""
    seed = new_seed() if seed is None else seed
    result, area_id = _sample_draw(conn, scope=scope, filters=filters, options=options, seed=seed)
    draw_id = _save(conn, area_id=area_id, title=title, filters=filters,
                    options=options, seed=seed, result=result, username=username, request_key=request_key,
                    replaces=replaces, reason=reason)
    return draw_id, seed, result


def make_draw(conn: Connection, *, scope: str, username: str, title: str, filters: PoolFilter, options: DrawOptions,
              request_key: str, seed: int | None = None, ip: str | None = None) -> tuple[int, bool]:
    """Draw and store; return the draw's id and whether it is new (the same request key returns the stored one).

    Raises :class:`DrawNotFoundError` (area outside the scope), :class:`DrawInputError` and
    ``domain.draws.DrawError`` (bad input, nothing to draw).
    """
    existing = _stored_for_key(conn, username=username, request_key=request_key)
    if existing is not None:
        return existing, False
    title = title.strip()
    if not 1 <= len(title) <= MAX_TITLE:
        raise DrawInputError(f"请填写抽查任务名称（不超过 {MAX_TITLE} 字）")
    draw_id, seed, result = _draw_and_save(conn, scope=scope, title=title, filters=filters, options=options,
                                           seed=seed, username=username, request_key=request_key)
    audit(conn, username=username, action="draw_made", ip=ip, detail={
        "draw_id": draw_id, "area": filters.area_code, "seed": str(seed), "n": len(result.items),
        "pool": result.pool_size, "inspectors": result.inspector_pool, "digest": result.digest})
    return draw_id, True


def redraw(conn: Connection, *, scope: str, username: str, draw_id: int, reason: str, request_key: str,
           seed: int | None = None, ip: str | None = None) -> tuple[int, bool]:
    """Record a new draw replacing ``draw_id`` (same area, filters, options; new seed) with ``reason``.

    The replaced draw stays as it was, marked superseded. A superseded draw cannot be redrawn again
    (redraw its replacement). Raises like :func:`make_draw`.
    """
    existing = _stored_for_key(conn, username=username, request_key=request_key)
    if existing is not None:
        return existing, False
    reason = reason.strip()
    if not 2 <= len(reason) <= MAX_REASON:
        raise DrawInputError(f"重新抽取须填写理由（2-{MAX_REASON} 字）")
    old = conn.execute(text(
        'SELECT d."id", d."code", d."title", d."filters", d."options", d."superseded", u."code" AS area '  # noqa: S608
        'FROM "inspection_draws" d JOIN "units" u ON u."id" = d."unit_id" '
        f'WHERE d."id" = :id AND {path_in_scope("u.path")} AND {NO_DEPARTMENT} FOR UPDATE OF d'
    ), {"id": draw_id, **scope_params(scope)}).mappings().one_or_none()
    if old is None:
        raise DrawNotFoundError(str(draw_id))
    if old["superseded"]:
        raise DrawInputError("该抽查已被重新抽取，请对新的抽查操作")
    filters, options = filter_from(old["filters"]), options_from(old["options"])
    new_id, seed, result = _draw_and_save(conn, scope=scope, title=old["title"], filters=filters, options=options,
                                          seed=seed, username=username, request_key=request_key, replaces=draw_id,
                                          reason=reason)
    conn.execute(text('UPDATE "inspection_draws" SET "superseded" = true WHERE "id" = :id'), {"id": draw_id})
    audit(conn, username=username, action="draw_redrawn", ip=ip, detail={
        "draw_id": new_id, "replaces": draw_id, "replaces_code": old["code"], "reason": reason, "seed": str(seed),
        "n": len(result.items), "digest": result.digest})
    return new_id, True


_SUMMARY_SQL = (
    'SELECT d."id", d."code", d."title", u."code" AS area_code, u."name" AS area_name, d."seed", d."pool_size", '
    'd."inspector_pool", d."superseded", r."code" AS replaces_code, d."reason", d."created_by", d."created_at", '
    'd."filters", d."options", '
    '(SELECT count(*) FROM "draw_items" i WHERE i."draw_id" = d."id") AS items, '
    '(SELECT count(*) FROM "draw_items" i WHERE i."draw_id" = d."id" AND EXISTS (SELECT 1 FROM "inspections" x '
    ' WHERE x."draw_id" = d."id" AND x."enterprise_id" = i."enterprise_id" AND x."kind" = \'double_random\')) AS done '
    'FROM "inspection_draws" d JOIN "units" u ON u."id" = d."unit_id" '
    'LEFT JOIN "inspection_draws" r ON r."id" = d."replaces_id" '
)


def _summary(m: Any) -> DrawSummary:
    return DrawSummary(**{k: m[k] for k in DrawSummary.__dataclass_fields__})


def draws_in_scope(conn: Connection, *, scope: str, limit: int = 100) -> list[DrawSummary]:
    """Return the draws whose area lies in ``scope`` (or contains it: a wider draw reaches into it), newest first."""
    rows = conn.execute(text(
        _SUMMARY_SQL + f'WHERE ({path_in_scope("u.path")} OR :scope LIKE u."path" || \'%\') AND {NO_DEPARTMENT} '
        'ORDER BY d."created_at" DESC, d."id" DESC LIMIT :lim'
    ), {"lim": limit, **scope_params(scope)}).mappings()
    return [_summary(r) for r in rows]


def draw_detail(conn: Connection, *, scope: str, draw_id: int) -> tuple[DrawSummary, list[DrawItemRow]] | None:
    """Return a draw and its items whose enterprise lies in ``scope`` (None: not visible from the scope)."""
    m = conn.execute(text(
        _SUMMARY_SQL + f'WHERE d."id" = :id AND ({path_in_scope("u.path")} OR :scope LIKE u."path" || \'%\') '
        f'AND {NO_DEPARTMENT}'
    ), {"id": draw_id, **scope_params(scope)}).mappings().one_or_none()
    if m is None:
        return None
    rows = conn.execute(text(
        'SELECT i."seq", e."credit_code", e."name" AS enterprise_name, e."industry", e."risk_level", '  # noqa: S608
        'u."name" AS unit_name, i."inspector1", coalesce(a."display_name", i."inspector1") AS inspector1_name, '
        'i."inspector2", coalesce(b."display_name", i."inspector2") AS inspector2_name, '
        'x."inspected_at", x."result", x."code" AS inspection_code '
        'FROM "draw_items" i JOIN "enterprises" e ON e."id" = i."enterprise_id" '
        'LEFT JOIN "units" u ON u."id" = e."unit_id" '
        'LEFT JOIN "users" a ON a."username" = i."inspector1" LEFT JOIN "users" b ON b."username" = i."inspector2" '
        'LEFT JOIN LATERAL (SELECT "inspected_at", "result", "code" FROM "inspections" x '
        '  WHERE x."draw_id" = i."draw_id" '
        '  AND x."enterprise_id" = i."enterprise_id" AND x."kind" = \'double_random\' '
        '  ORDER BY x."inspected_at", x."id" LIMIT 1) x ON true '
        f'WHERE i."draw_id" = :id AND {path_in_scope("u.path")} AND {NO_DEPARTMENT} ORDER BY i."seq"'
    ), {"id": draw_id, **scope_params(scope)}).mappings()
    return _summary(m), [DrawItemRow(**{k: r[k] for k in DrawItemRow.__dataclass_fields__}) for r in rows]


def open_items_of(conn: Connection, *, scope: str, username: str,
                  credit_codes: Sequence[str] | None = None) -> list[OpenItem]:
    """Return the unfinished items of current (not superseded) draws ``username`` was drawn for, in scope."""
    rows = conn.execute(text(
        'SELECT d."id" AS draw_id, d."code" AS draw_code, d."title", i."seq", e."credit_code", '  # noqa: S608
        'e."name" AS enterprise_name, CASE WHEN i."inspector1" = :u THEN i."inspector2" ELSE i."inspector1" END AS p, '
        'coalesce(pu."display_name", CASE WHEN i."inspector1" = :u THEN i."inspector2" ELSE i."inspector1" END) '
        '  AS partner '
        'FROM "draw_items" i JOIN "inspection_draws" d ON d."id" = i."draw_id" '
        'JOIN "enterprises" e ON e."id" = i."enterprise_id" JOIN "units" u ON u."id" = e."unit_id" '
        'LEFT JOIN "users" pu ON pu."username" = CASE WHEN i."inspector1" = :u THEN i."inspector2" '
        '  ELSE i."inspector1" END '
        f'WHERE :u IN (i."inspector1", i."inspector2") AND NOT d."superseded" AND {path_in_scope("u.path")} '
        f'AND {NO_DEPARTMENT} '
        'AND (CAST(:any AS bool) OR e."credit_code" = ANY(CAST(:codes AS text[]))) '
        'AND NOT EXISTS (SELECT 1 FROM "inspections" x WHERE x."draw_id" = d."id" '
        '  AND x."enterprise_id" = i."enterprise_id" AND x."kind" = \'double_random\') '
        'ORDER BY d."created_at" DESC, i."seq" LIMIT 500'
    ), {"u": username, "any": credit_codes is None, "codes": list(credit_codes or []), **scope_params(scope)})
    return [OpenItem(m["draw_id"], m["draw_code"], m["title"], m["seq"], m["credit_code"], m["enterprise_name"],
                     m["partner"]) for m in rows.mappings()]


def area_choices(conn: Connection, *, scope: str, max_level: int = 3) -> list[tuple[str, str, int]]:
    """Return (code, name, level) of the scope's units down to ``max_level`` (the draw's area picker)."""
    rows = conn.execute(text(
        f'SELECT "code", "name", "level" FROM "units" u WHERE {path_in_scope("u.path")} '  # noqa: S608
        'AND u."level" <= :lvl ORDER BY u."path" LIMIT 1000'
    ), {"lvl": max_level, **scope_params(scope)}).all()
    return [(r.code, r.name, int(r.level)) for r in rows]


def inspector_accounts(conn: Connection, *, scope: str) -> list[tuple[str, str]]:
    """Return (username, display name) of the active inspector accounts whose scope overlaps ``scope`` (回避 list)."""
    rows = conn.execute(text(
        'SELECT u."username", coalesce(u."display_name", u."username") AS name FROM "users" u '
        'JOIN "units" s ON s."id" = u."scope_unit_id" WHERE u."role" = \'inspector\' AND u."active" '
        'AND u."dept_code" IS NULL '  # a department's inspectors are not drawn for the area's 双随机
        'AND (s."path" LIKE :scope || \'%\' OR :scope LIKE s."path" || \'%\') ORDER BY u."username" LIMIT 2000'
    ), scope_params(scope)).all()
    return [(r.username, r.name) for r in rows]
