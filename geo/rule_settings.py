"""The rule settings in ``app_config``: read them, preview a change, apply it as a new version (audited).

Keys: ``risk_rule`` (domain/risk_rule.py), ``stock_cutoff``, ``staffing``, ``inspection_cadence``,
``hazard_limits`` (domain/rules_config.py) and ``rule_versions``, the history: one entry per applied change
with version, who, when and the values. Applying writes the setting keys and the history entry in the
caller's transaction and re-scores ``unit_stats`` at once (score, class, explanation: the new version and
reading), so the map changes on commit; the caller then runs the full refresh for what needs the base tables (staffing,
存量 cut-off, top contributors, H3).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, text

from domain.catalogues import (
    Catalogue,
    CatalogueError,
    DepartmentCatalogue,
    catalogue_from_config,
    departments_from_config,
)
from domain.hazard_flow import Limits
from domain.risk_rule import RiskRule, explain
from domain.rules_config import (
    RuleSettings,
    colour_changes,
    goal_status,
    next_version,
    settings_from_config,
)
from geo.app_settings import put_config
from geo.refresh import app_config
from geo.scope import enterprise_id_in_department, path_in_scope, scope_params
from geo.users import audit

KEYS = ("risk_rule", "stock_cutoff", "staffing", "inspection_cadence", "hazard_limits")
CATALOGUE_KEY = "industries"
DEPARTMENTS_KEY = "departments"
HISTORY_KEY = "rule_versions"
HISTORY_KEEP = 200
_INPUTS = ("enterprises", "ent_red", "ent_orange", "ent_yellow", "ent_blue", "ent_unassessed", "hazards_open",
           "hazards_major_open", "hazards_overdue", "hazards_supervised", "sources_g1", "sources_g2", "sources_g3",
           "sources_g4")


_set = put_config


def current(conn: Connection, *, default_cutoff: date | None = None) -> RuleSettings:
    """Return the settings in force (stored values over the defaults)."""
    return settings_from_config({k: app_config(conn, k) for k in KEYS}, default_cutoff=default_cutoff)


def hazard_limits(conn: Connection) -> Limits:
    """Return the hazard loop's limits in force (``hazard_limits``: the 延期 count)."""
    return Limits(max_extensions=settings_from_config({"hazard_limits": app_config(conn, "hazard_limits")})
                  .max_extensions)


def history(conn: Connection) -> list[dict[str, Any]]:
    """Return the applied versions, newest first (version, at, by, summary, settings)."""
    return list(reversed(list(app_config(conn, HISTORY_KEY) or [])))


def unit_inputs(conn: Connection) -> list[dict[str, Any]]:
    """Return every unit's level, name and rule inputs from ``unit_stats`` (the preview's rows)."""
    cols = ", ".join(f's."{c}"' for c in _INPUTS)
    rows = conn.execute(text(
        f'SELECT s."unit_id", s."level", u."name", {cols} FROM "unit_stats" s '  # noqa: S608 - constant columns
        'JOIN "units" u ON u."id" = s."unit_id" ORDER BY s."level", u."code"')).mappings()
    return [dict(r) for r in rows]


def preview(conn: Connection, new: RuleSettings) -> dict[int, dict[str, Any]]:
    """Count per level the units whose map colour the new settings would change (from the current counts)."""
    return colour_changes(unit_inputs(conn), current(conn).risk, new.risk)


def rescore(conn: Connection, rule: RiskRule, *, as_of: date) -> int:
    """Re-score every unit from its stored counts under ``rule``, keeping its contributors; return the count."""
    cols = ", ".join(f's."{c}"' for c in _INPUTS)
    rows = conn.execute(text(
        f'SELECT s."unit_id", s."level", {cols}, s."risk_explain" FROM "unit_stats" s '  # noqa: S608
        'ORDER BY s."level", s."unit_id" FOR UPDATE')).mappings().all()
    out = []
    for row in rows:
        old = dict(row["risk_explain"] or {})
        top = {"enterprise": old.get("top_enterprises", []), "hazard": old.get("top_hazards", []),
               "driver": old.get("driver_items", [])}
        score, cls, doc = explain(dict(row), rule, as_of, top)
        out.append({"u": row["unit_id"], "s": score, "c": cls, "e": json.dumps(doc, ensure_ascii=False, default=str)})
    if out:
        conn.execute(text(
            'UPDATE "unit_stats" SET "risk_score" = :s, "risk_class" = :c, "risk_explain" = CAST(:e AS jsonb) '
            'WHERE "unit_id" = :u'), out)
    return len(out)


def apply(conn: Connection, new: RuleSettings, *, username: str, as_of: date, note: str = "") -> str:
    """Store ``new`` as the next rule version (history, audit) and re-score the units; return the version."""
    versions = list(app_config(conn, HISTORY_KEY) or [])
    version = next_version(versions, as_of)
    named = replace(new, risk=RiskRule(version, new.risk.weights, new.risk.thresholds, new.risk.min_enterprises,
                                       new.risk.level_rules))
    changes = preview(conn, named)
    config = named.config()
    for key in KEYS:
        _set(conn, key, config[key])
    entry = {"version": version, "at": datetime.now().astimezone().isoformat(timespec="seconds"), "by": username,
             "note": note, "changed": {str(lv): c["changed"] for lv, c in changes.items()}, "settings": config}
    _set(conn, HISTORY_KEY, [*versions, entry][-HISTORY_KEEP:])
    rescore(conn, named.risk, as_of=as_of)
    audit(conn, username=username, action="rule_settings_apply",
          detail={"version": version, "changed": entry["changed"], "note": note})
    return version


# --- the industry catalogue (domain/catalogues.py) --------------------------------------------------------------

class CatalogueConflictError(CatalogueError):
    """The catalogue changed since the editor read it (message in Chinese)."""


def catalogue_state(conn: Connection) -> tuple[Catalogue, str]:
    """Return the industry catalogue in force and its version (a digest of what is stored; "default" if nothing)."""
    stored = app_config(conn, CATALOGUE_KEY)
    return catalogue_from_config(stored), _digest(stored) if stored is not None else "default"


def industry_catalogue(conn: Connection) -> Catalogue:
    """Return the industry catalogue in force (stored additions over the defaults)."""
    return catalogue_state(conn)[0]


def save_catalogue(conn: Connection, new: Catalogue, *, username: str, version: str) -> tuple[str, bool]:
    """Store ``new`` if the stored catalogue is still ``version`` (else refuse); return (new version, changed).

    Saving what is stored already changes nothing (a double submit); a change is audited with its counts.
    """
    conn.execute(text('SELECT 1 FROM "app_config" WHERE "key" = :k FOR UPDATE'), {"k": CATALOGUE_KEY})
    old, current_version = catalogue_state(conn)
    if new == old:
        return current_version, False
    if version != current_version:
        raise CatalogueConflictError("行业目录已被他人修改，请刷新页面后重新编辑。")
    _set(conn, CATALOGUE_KEY, new.config())
    audit(conn, username=username, action="industry_catalogue_save",
          detail={"industries": len(new.industries), "groups": len(new.groups),
                  "added": sorted(set(new.names) - set(old.names))})
    return catalogue_state(conn)[1], True


def _digest(stored: Any) -> str:
    """Return a stored catalogue's version: a digest of its JSON."""
    return hashlib.sha256(json.dumps(stored, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def department_state(conn: Connection) -> tuple[DepartmentCatalogue, str]:
    """Return the department catalogue in force and its version (a digest of what is stored; "default" if nothing)."""
    stored = app_config(conn, DEPARTMENTS_KEY)
    return (departments_from_config(stored, industry_catalogue(conn)),
            _digest(stored) if stored is not None else "default")


def department_catalogue(conn: Connection) -> DepartmentCatalogue:
    """Return the supervising departments in force (stored entries over the defaults)."""
    return department_state(conn)[0]


def save_departments(conn: Connection, new: DepartmentCatalogue, *, username: str,
                     version: str) -> tuple[str, bool]:
    """Store ``new`` if the stored department catalogue is still ``version``; return (new version, changed).

    As :func:`save_catalogue`: a double submit changes nothing, a lost race is refused, a change is audited.
    A department that enterprises or accounts still name cannot be dropped (their code would point nowhere).
    """
    conn.execute(text('SELECT 1 FROM "app_config" WHERE "key" = :k FOR UPDATE'), {"k": DEPARTMENTS_KEY})
    old, current_version = department_state(conn)
    if new == old:
        return current_version, False
    if version != current_version:
        raise CatalogueConflictError("部门目录已被他人修改，请刷新页面后重新编辑。")
    dropped = sorted(set(old.codes) - set(new.codes))
    if dropped:
        raise CatalogueError(f"部门不能删除：{'、'.join(dropped)}")
    _set(conn, DEPARTMENTS_KEY, new.config())
    audit(conn, username=username, action="department_catalogue_save",
          detail={"departments": len(new.departments), "added": sorted(set(new.codes) - set(old.codes))})
    return department_state(conn)[1], True


def goal_rows(conn: Connection, *, scope: str, code: str, as_of: date) -> list[dict[str, Any]]:
    """Return 动态清零 per child area of ``code`` (the unit itself when it has none) with its marks.

    Counts open 存量 / 增量 major hazards and the 增量 ones past their deadline; marks from
    ``domain.rules_config.goal_status``.
    """
    settings = current(conn)
    cutoff = settings.stock_cutoff
    sql = (
        'WITH target AS (SELECT "id", "path" FROM "units" WHERE "code" = :code AND '  # noqa: S608 - scope fragment
        f'{path_in_scope("path")}), '
        'areas AS (SELECT c."id", c."code", c."name", c."path" FROM "units" c, target t WHERE c."parent_id" = t."id" '
        'UNION ALL SELECT t."id", u."code", u."name", t."path" FROM target t JOIN "units" u ON u."id" = t."id" '
        'WHERE NOT EXISTS (SELECT 1 FROM "units" k WHERE k."parent_id" = t."id")), '
        'hz AS (SELECT h."found_at", h."deadline", u."path" FROM "hazards" h JOIN "units" u ON u."id" = '
        'coalesce(h."unit_id", (SELECT e."unit_id" FROM "enterprises" e WHERE e."id" = h."enterprise_id")) '
        "WHERE h.\"level\" = 'major' AND h.\"status\" <> 'closed' "
        f"AND {enterprise_id_in_department('h.enterprise_id')} "
        "AND u.\"path\" LIKE (SELECT \"path\" FROM target) || '%') "
        'SELECT a."code", a."name", '
        'count(hz.*) FILTER (WHERE hz."found_at" <= :cutoff) AS stock_open, '
        'count(hz.*) FILTER (WHERE hz."found_at" > :cutoff) AS increment_open, '
        'count(hz.*) FILTER (WHERE hz."found_at" > :cutoff AND hz."deadline" < :as_of) AS increment_overdue '
        "FROM areas a LEFT JOIN hz ON hz.\"path\" LIKE a.\"path\" || '%' "
        'GROUP BY a."code", a."name" ORDER BY a."code"'
    )
    rows = conn.execute(text(sql), {"code": code, "cutoff": cutoff, "as_of": as_of, **scope_params(scope)}).mappings()
    out = []
    for r in rows:
        row = dict(r)
        row["marks"] = goal_status(stock_open=row["stock_open"], increment_open=row["increment_open"],
                                   increment_overdue=row["increment_overdue"], as_of=as_of, goals=settings.goals)
        out.append(row)
    return out
