"""覆盖质量 (coverage quality): where a unit's picture of the grid is incomplete, as a list of checks.

Each check counts rows of one kind (units, enterprises, hazards) in a unit's subtree; the SQL of each is
``geo.coverage``, the page ``/coverage``. Pure: the checks, their Chinese texts, and how a unit's vacancies
read. The staffing rule itself is ``domain.rules_config`` (``staffing``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.cadence import CADENCE_LABEL
from domain.hazard_flow import FIVE_IN_PLACE
from domain.labels import DUTY_ROLE, HAZARD_LEVEL


@dataclass(frozen=True)
class CoverageCheck:
    """One check: its key, column label, the kind of row it lists, and what it means (how to mend it)."""

    key: str
    label: str
    entity: str  # "unit" | "enterprise" | "hazard"
    meaning: str


CHECKS: tuple[CoverageCheck, ...] = (
    CoverageCheck("vacancy", "人员空缺", "unit",
                  "按规则设置中的人员配备，单位缺少的责任人岗位（在人员台账中补录，或在规则设置中调整配备要求）。"),
    CoverageCheck("never_checked", "从未检查巡查", "unit",
                  "按四查要求应有本级检查或巡查的单位，至今没有任何记录（依据最近一次统计刷新）。"),
    CoverageCheck("no_point", "企业无坐标", "enterprise",
                  "企业台账没有经纬度，地图上看不到，也无法归入网格（补录坐标后重新导入）。"),
    CoverageCheck("outside_cells", "企业不在网格内", "enterprise",
                  "企业坐标不在任何网格内：网格边界有缺口，或坐标有误（按所在的上级区域计数）。"),
    CoverageCheck("on_border", "企业在网格边界", "enterprise",
                  "导入时坐标落在两个及以上网格的边界上，已按规则归入其中一个，请核实归属（来自导入的数据质量提示）。"),
    CoverageCheck("unassessed", "企业未评估", "enterprise",
                  "企业没有风险等级（红橙黄蓝），四色图和检查频次按未评估处理。"),
    CoverageCheck("unknown_industry", "行业不在目录", "enterprise",
                  "企业的行业不是行业目录中的名称或写法：按行业统计、抽查和着色时会漏掉它（在规则设置的行业目录中增加别名，"
                  "或改正台账后重新导入）。"),
    CoverageCheck("hazard_no_point", "隐患无位置", "hazard",
                  "未销号隐患没有位置，地图和热力图上看不到。"),
    CoverageCheck("hazard_no_deadline", "隐患无整改期限", "hazard",
                  "未销号隐患没有整改期限，无法判断是否逾期（五到位中的时限未落实）。"),
    CoverageCheck("hazard_five", "五到位不全", "hazard",
                  "未销号隐患的整改责任、措施、时限、资金、预案（五到位）没有全部落实；提交验收前须补全。"),
)
CHECK = {c.key: c for c in CHECKS}
UNASSIGNED = "?"  # the bucket of rows attributed to no unit (shown at the top of the tree only)


def parse_check(value: str | None) -> CoverageCheck | None:
    """Return the check named by a query value, None for none or an unknown name."""
    return CHECK.get((value or "").strip())


def missing_slots(required: Mapping[str, int], filled: Mapping[str, int]) -> dict[str, int]:
    """Return, per role, how many of the required slots are not filled (roles with none missing left out)."""
    out = {role: n - min(filled.get(role, 0), n) for role, n in required.items()}
    return {role: n for role, n in out.items() if n > 0}


def vacancy_text(missing: Mapping[str, int]) -> str:
    """Read missing slots as a leader does: "分管领导缺 1 人、安全监管责任人缺 2 人"."""
    order = {r: i for i, r in enumerate(DUTY_ROLE.codes)}
    return "、".join(f"{DUTY_ROLE.get(role, role)}缺 {n} 人"
                     for role, n in sorted(missing.items(), key=lambda kv: order.get(kv[0], len(order))))


def detail_text(check: str, detail: Mapping[str, object]) -> str:
    """Word what a check found on one row (its ``detail`` from ``geo.coverage``)."""
    if check == "vacancy":
        missing = detail.get("missing")
        return vacancy_text({str(k): int(str(v)) for k, v in missing.items()} if isinstance(missing, Mapping) else {})
    if check == "never_checked":
        return f"要求{CADENCE_LABEL.get(str(detail.get('cadence')), '定期')}检查或巡查，没有记录"
    if check == "outside_cells":
        return f"坐标 ({detail.get('lon')}, {detail.get('lat')}) 不在任何网格内"
    if check == "unknown_industry":
        return f"行业“{detail.get('industry')}”"
    if check == "on_border":
        return str(detail.get("finding") or "")
    if check == "hazard_five":
        missing = detail.get("missing")
        return "缺" + "、".join(FIVE_IN_PLACE.get(str(k), str(k)) for k in missing) if isinstance(missing, list) else ""
    if check in ("hazard_no_point", "hazard_no_deadline"):
        return f"{detail.get('code', '')} {HAZARD_LEVEL.get(str(detail.get('level')), '')}".strip()
    return ""
