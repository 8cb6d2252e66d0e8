"""Enterprise search within the caller's scope: name (substring and fuzzy), credit code, address.

Every branch is index-backed and limited on its own before ranking:

* credit code, exact or prefix: a range on the unique btree (``credit_code >= :q AND < :q || '~'``);
  the database collation is C.UTF-8, which PostgreSQL 15 does not treat as "C", so ``LIKE 'x%'``
  alone would not use that index; the code alphabet is ASCII [0-9A-Z], all below ``'~'``;
* name substring: ``name LIKE '%q%'`` on the GIN trigram index ``ix_enterprises_name_trgm`` (pg_trgm
  extracts trigrams from CJK text under C.UTF-8); a two-character fragment such as 化工 has no trigram
  and would scan the table, so it uses ``sg_bigrams(name) @> ARRAY[q]`` on ``ix_enterprises_name_bigrams``
  (``sg_bigrams`` is created by the migration); the redundant ``LIKE`` is the cheap per-row test when the
  planner walks the scope first (PostgreSQL evaluates cheaper quals first); one character searches codes only;
* exact name and name prefix: ``name = q`` / ``name LIKE 'q%'``, also on the trigram index (pg_trgm ≥ 1.6);
* fuzzy name: ``q <% name`` (pg_trgm word similarity, same index), for misspellings and reordered words;
* address substring (three characters or more): ``address LIKE '%q%'`` on ``ix_enterprises_address_trgm``.

Each branch applies the scope itself, so foreign rows can neither appear nor crowd out own ones.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, text

from domain.codes import normalize_credit_code
from geo.scope import enterprise_in_scope, scope_params

MAX_QUERY_CHARS = 60
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# Each branch hands at most this many candidates per wanted result to the ranking. The branches do not
# sort: a fragment like 商贸 or 有限公司 matches a large share of 1M names, and ranking all of them is what
# made short queries slow; exact names and name prefixes have their own branches so they are not missed.
CANDIDATES_PER_RESULT = 5
# Scores per kind of match (higher is better); ties are broken by trigram similarity to the name.
MATCH_LABELS = {"code": "信用代码", "name": "名称", "fuzzy": "名称近似", "address": "地址"}
_CODE_RE = re.compile(r"^[0-9A-Z]{2,18}$")
_SCOPED = enterprise_in_scope("e")

_SEARCH_SQL = f"""
WITH cand AS (
  (SELECT e."id" FROM "enterprises" e
    WHERE CAST(:code_q AS text) IS NOT NULL AND e."credit_code" >= :code_q AND e."credit_code" < :code_hi
      AND {_SCOPED}
    ORDER BY e."credit_code" LIMIT :lim)
  UNION
  (SELECT e."id" FROM "enterprises" e WHERE :named AND e."name" = :q AND {_SCOPED} LIMIT :lim)
  UNION
  (SELECT e."id" FROM "enterprises" e WHERE :named AND e."name" LIKE :prefix ESCAPE '\\' AND {_SCOPED} LIMIT :cand)
  UNION
  (SELECT e."id" FROM "enterprises" e WHERE :trigram AND e."name" LIKE :pat ESCAPE '\\' AND {_SCOPED} LIMIT :cand)
  UNION
  (SELECT e."id" FROM "enterprises" e
    WHERE :bigram AND sg_bigrams(e."name") @> ARRAY[CAST(:q AS text)] AND e."name" LIKE :pat ESCAPE '\\'
      AND {_SCOPED} LIMIT :cand)
  UNION
  (SELECT e."id" FROM "enterprises" e WHERE :trigram AND :q <% e."name" AND {_SCOPED} LIMIT :cand)
  UNION
  (SELECT e."id" FROM "enterprises" e WHERE :trigram AND e."address" LIKE :pat ESCAPE '\\' AND {_SCOPED} LIMIT :cand)
), scored AS (
  SELECT e.*,
    CASE
      WHEN e."credit_code" = :code_q THEN 'code'
      WHEN e."credit_code" LIKE :code_prefix THEN 'code'
      WHEN e."name" LIKE :pat ESCAPE '\\' THEN 'name'
      WHEN e."address" LIKE :pat ESCAPE '\\' AND NOT (:q <% e."name") THEN 'address'
      ELSE 'fuzzy'
    END AS "match",
    greatest(
      CASE WHEN e."credit_code" = :code_q THEN 100 WHEN e."credit_code" LIKE :code_prefix THEN 90 ELSE 0 END,
      CASE WHEN e."name" = :q THEN 80
           WHEN e."name" LIKE :prefix ESCAPE '\\' THEN 70
           WHEN e."name" LIKE :pat ESCAPE '\\' THEN 60 - least(strpos(e."name", :q), 20) * 0.5
           ELSE 0 END,
      CASE WHEN :q <% e."name" THEN 40 * word_similarity(:q, e."name") ELSE 0 END,
      CASE WHEN e."address" LIKE :pat ESCAPE '\\' THEN 30 ELSE 0 END
    ) + 5 * similarity(:q, e."name") AS "score"
  FROM "enterprises" e JOIN cand c ON c."id" = e."id"
)
SELECT s."credit_code", s."name", s."address", s."industry", s."risk_level", s."std_grade",
       u."code" AS "unit_code", u."name" AS "unit_name",
       ST_Y(s."geom") AS "lat", ST_X(s."geom") AS "lon", s."match", round(CAST(s."score" AS numeric), 2) AS "score"
FROM scored s LEFT JOIN "units" u ON u."id" = s."unit_id"
ORDER BY s."score" DESC, length(s."name"), s."credit_code"
LIMIT :lim
"""  # noqa: S608 - only the constant scope fragment is formatted in; every value is bound


@dataclass(frozen=True)
class SearchHit:
    """One enterprise found by :func:`search_enterprises`."""

    credit_code: str
    name: str
    address: str | None
    industry: str | None
    risk_level: str | None
    std_grade: str | None
    unit_code: str | None
    unit_name: str | None
    lat: float | None
    lon: float | None
    match: str
    score: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (adds the Chinese label of the match kind)."""
        out = asdict(self)
        out["match_label"] = MATCH_LABELS.get(self.match, self.match)
        return out


def normalize_query(raw: str | None) -> str:
    """Trim, collapse whitespace and cap the length of what the user typed."""
    return re.sub(r"\s+", " ", (raw or "").strip())[:MAX_QUERY_CHARS]


def escape_like(value: str) -> str:
    """Escape LIKE wildcards (``%``, ``_`` and the backslash) so user input matches literally."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_params(q: str, *, limit: int) -> dict[str, Any]:
    """Bind parameters of the search query for an already normalized ``q`` (without the scope)."""
    code = normalize_credit_code(q)
    is_code = bool(_CODE_RE.match(code))
    # Only letters and digits, at least one digit: a credit code (or its start), never a name or an address
    # worth a text search; skipping the text branches saves their index look-ups (~half the time at 1M).
    text_search = not (is_code and any(c.isdigit() for c in code))
    lit = escape_like(q)
    lim = max(1, min(int(limit), MAX_LIMIT))
    return {
        "q": q,
        "pat": f"%{lit}%",
        "prefix": f"{lit}%",
        "code_q": code if is_code else None,
        "code_hi": code + "~" if is_code else None,
        "code_prefix": escape_like(code) + "%" if is_code else None,
        # Two characters have no trigram: the bigram index serves them; one character searches codes only.
        "named": text_search and len(q) >= 2,
        "bigram": text_search and len(q) == 2,
        "trigram": text_search and len(q) >= 3,
        "lim": lim,
        "cand": lim * CANDIDATES_PER_RESULT,
    }


def search_sql() -> str:
    """Return the search statement (for benchmarks and EXPLAIN)."""
    return _SEARCH_SQL


def search_enterprises(conn: Connection, *, scope: str, q: str | None, limit: int = DEFAULT_LIMIT) -> list[SearchHit]:
    """Return enterprises in ``scope`` matching ``q`` by credit code, name or address, best first."""
    query = normalize_query(q)
    if not query:
        return []
    params = {**search_params(query, limit=limit), **scope_params(scope)}
    rows = conn.execute(text(_SEARCH_SQL), params).mappings()
    return [SearchHit(**{**r, "score": float(r["score"])}) for r in rows]
