"""One declarative record per ledger kind: everything the loaders know about a kind, in one place.

A ``LedgerKind`` names its table (the model), its natural key, its columns (Chinese header, aliases,
cell type, required, not-in-the-future; length limits come from the model), whether its rows are
located (and which unit a row without a point falls back to), the joins and computed columns of its
upsert, its history, and its row cross-check. Staging, validation, templates, the upsert, the docs
table of columns and the command line's list of kinds derive from the records in ``LEDGER_KINDS``;
adding a kind is its model, its record and its own check (``register``).

Column ``type`` tells the validator how to parse a cell: ``str``, ``int``, ``float``, ``date``,
``bool`` (是/否), ``credit_code``, ``admin_code``, ``lon``, ``lat``, ``phone`` or ``enum:NAME``
where NAME is a vocabulary in ``domain.labels`` (accepted in Chinese, with the usual synonyms, or
as the English value). The record lives in ``geo`` because its storage half is SQL (joins, computed
columns, history) that only ``geo`` may hold, and ``etl`` can import ``geo`` but not the reverse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Boolean, Date, Float, Integer, Numeric, SmallInteger
from sqlalchemy.sql.schema import Table

from domain import accidents as accident_rules
from geo import models
from geo.models import H3_CELL_COLUMNS


@dataclass(frozen=True)
class Column:
    """One ledger column: the header a bureau writes, how its cells are read, what the template says."""

    key: str
    header: str
    type: str = "str"
    required: bool = False
    aliases: tuple[str, ...] = ()
    note: str = ""
    example: str = ""
    not_future: bool = False  # a date of something that already happened

    @property
    def accepted(self) -> tuple[str, ...]:
        """Every header spelling accepted for this column."""
        return (self.header, self.key, *self.aliases)


@dataclass(frozen=True)
class Location:
    """How the rows of a located kind get their point and their grid cell (``unit_id``)."""

    fallback_unit: str = "NULL"  # SQL over the upsert's joins: unit_id of a row without a point
    point_from: str | None = None  # alias of a joined row whose point and H3 cells a row without one takes
    described: str = "none"  # the fallback in words (docs/etl.md)


@dataclass(frozen=True)
class History:
    """A change log appended when a watched column changes (the old values are in ``etl_prev``)."""

    column: str  # the watched column of the target table
    sql: str  # INSERT … FROM etl_prev p (key, id, old) JOIN the table …; may use :by ('etl:<run id>')
    counted: str  # name of the count in the load's counts


# (per-file state, parsed values, reasons): may fill values, appends Chinese reasons.
CrossCheck = Callable[[dict[str, Any], dict[str, Any], list[str]], None]

# Staging type of a column that the target table has (by SQLAlchemy type), else by its cell type.
_STAGE_TYPES: tuple[tuple[type[Any], str], ...] = (
    (Boolean, "bool"), (Date, "date"), (SmallInteger, "smallint"), (Integer, "int"), (Numeric, "numeric"),
    (Float, "float8"),
)
_CELL_STAGE_TYPES = {"int": "int", "float": "numeric", "date": "date", "bool": "bool", "lon": "float8",
                     "lat": "float8"}


@dataclass(frozen=True)
class LedgerKind:
    """Everything the loaders know about one ledger kind (see the module docstring)."""

    name: str  # on the command line and in file names: ``hazard-sources``
    models: tuple[type[Any], ...]  # the target table first; the others only lend column limits
    key: tuple[str, ...]  # natural key in the file: a key seen twice rejects the later rows
    columns: tuple[Column, ...]
    joins: str = ""  # SQL joined to the stage ``s`` in the upsert
    computed: tuple[tuple[str, str], ...] = ()  # (column, SQL expression over the joins)
    location: Location | None = None
    cross_check: CrossCheck | None = None
    fills: tuple[tuple[str, str | None], ...] = ()  # (column the check fills, file column it needs or None)
    history: History | None = None
    upsert: str = "table"  # "table": the generic upsert on ``key``; else a named upsert of geo.etl_sql
    # Rows the app owns (worked in the app): SQL over the stored row ``{t}``. A ledger row differing from
    # such a row is not applied; it is listed as a rejected row of the run (docs/etl.md, precedence).
    app_owned: str | None = None

    def __post_init__(self) -> None:
        keys = [c.key for c in self.columns]
        if len(set(keys)) != len(keys) or not set(self.key) <= set(keys):
            raise ValueError(f"{self.name}: duplicate columns or a key that is not a column")
        if self.upsert == "table" and len(self.key) != 1:
            raise ValueError(f"{self.name}: the generic upsert needs a one-column key")
        if self.location is not None and not {"lon", "lat"} <= set(keys):
            raise ValueError(f"{self.name}: a located kind needs lon and lat columns")

    @property
    def table(self) -> Table:
        """The target table."""
        table: Table = self.models[0].__table__
        return table

    @property
    def table_name(self) -> str:
        """Name of the target table."""
        return str(self.table.name)

    @property
    def lock_key(self) -> str:
        """Advisory lock key that serialises loads into the target table."""
        return f"safegrid.etl:{self.table_name}"

    @property
    def located(self) -> bool:
        """Rows have a point (staged ``geom`` + H3 cells) placed in a grid cell."""
        return self.location is not None

    @property
    def copied(self) -> tuple[str, ...]:
        """Columns copied as they are from the stage into the target table (the key excluded)."""
        return tuple(c.key for c in self.columns if c.key in self.table.c and c.key not in self.key)

    @property
    def not_null_bools(self) -> frozenset[str]:
        """Copied boolean columns that may not be NULL (an empty cell stores false)."""
        return frozenset(k for k in self.copied
                         if isinstance(self.table.c[k].type, Boolean) and not self.table.c[k].nullable)

    @property
    def has_updated_at(self) -> bool:
        """The target table has an ``updated_at`` that an update bumps."""
        return "updated_at" in self.table.c

    def _model_column(self, key: str) -> Any:
        for model in self.models:
            column = model.__table__.c.get(key)
            if column is not None:
                return column
        return None

    def max_length(self, key: str) -> int | None:
        """Length limit of a text column (from the model), None when unlimited or not stored."""
        column = self._model_column(key)
        return None if column is None else getattr(column.type, "length", None)

    def stage_type(self, column: Column) -> str:
        """PostgreSQL type of the column in the staging table."""
        stored = self._model_column(column.key)
        if stored is not None:
            return next((pg for sa, pg in _STAGE_TYPES if isinstance(stored.type, sa)), "text")
        return _CELL_STAGE_TYPES.get(column.type, "text")

    @property
    def stage_columns(self) -> dict[str, str]:
        """Staging columns (name → PostgreSQL type); located kinds add their H3 cells."""
        out = {c.key: self.stage_type(c) for c in self.columns}
        if self.located:
            out.update(dict.fromkeys(H3_CELL_COLUMNS, "bigint"))
        return out

    def filled(self, present: set[str] | Mapping[str, Any]) -> set[str]:
        """Columns the cross-check fills in for a file with the columns ``present``."""
        return {col for col, needs in self.fills if needs is None or needs in present}


# --- the registry -----------------------------------------------------------------------------

LEDGER_KINDS: dict[str, LedgerKind] = {}


def register(kind: LedgerKind) -> LedgerKind:
    """Add a ledger kind (loaded after those registered before it)."""
    if kind.name in LEDGER_KINDS or kind.name == "boundaries":
        raise ValueError(f"ledger kind {kind.name!r} exists")
    LEDGER_KINDS[kind.name] = kind
    return kind


@contextmanager
def registered(kind: LedgerKind) -> Iterator[LedgerKind]:
    """Register ``kind`` for the duration of a block (tests)."""
    register(kind)
    try:
        yield kind
    finally:
        LEDGER_KINDS.pop(kind.name, None)


def ledger_kind(name: str) -> LedgerKind:
    """Return the record of a ledger kind (KeyError when unknown)."""
    return LEDGER_KINDS[name]


def names() -> tuple[str, ...]:
    """Ledger kinds in loading order."""
    return tuple(LEDGER_KINDS)


V = TypeVar("V")


class RegistryView(Mapping[str, V]):
    """A read-only mapping computed from the registry at each use (follows later registrations)."""

    def __init__(self, build: Callable[[], dict[str, V]]) -> None:
        self._build = build

    def __getitem__(self, key: str) -> V:
        return self._build()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._build())

    def __len__(self) -> int:
        return len(self._build())


# --- the kinds --------------------------------------------------------------------------------

def _check_persons(state: dict[str, Any], values: dict[str, Any], errors: list[str]) -> None:
    """Check 序号 1-9; an empty 序号 takes the next slot of its (unit, role); person_key from name + phone."""
    seq_counter: dict[tuple[str, str], int] = state.setdefault("seq", {})
    seq = values.get("seq")
    if seq is not None and not 1 <= seq <= 9:
        errors.append(f"“序号”应在 1-9 之间，实际 {seq}")
    if seq is None and "unit_code" in values and "role" in values:
        slot = (values["unit_code"], values["role"])
        values["seq"] = seq_counter.get(slot, 0) + 1
    if "unit_code" in values and "role" in values:
        slot = (values["unit_code"], values["role"])
        seq_counter[slot] = max(seq_counter.get(slot, 0), values.get("seq") or 0)
    if not values.get("person_key") and values.get("name"):
        values["person_key"] = f"{values['name']}:{values.get('phone') or ''}"[:64]


def grade_from_r(r_value: float) -> int:
    """Major hazard source grade from its R value (GB 18218-2018): 一级 R≥100 … 四级 R<10."""
    if r_value >= 100:
        return 1
    if r_value >= 50:
        return 2
    if r_value >= 10:
        return 3
    return 4


def _check_sources(state: dict[str, Any], values: dict[str, Any], errors: list[str]) -> None:
    """Check R ≥ 0 and that the grade matches R (an empty grade is derived from it)."""
    r_value = values.get("r_value")
    if r_value is None:
        return
    if r_value < 0:
        errors.append(f"“R值”不能为负数：{r_value}")
        return
    expected = grade_from_r(r_value)
    grade = values.get("grade")
    if grade is None:
        values["grade"] = expected
    elif grade != expected:
        errors.append(f"“危险源等级”为 {grade} 级，但 R 值 {r_value} 对应 {expected} 级 (GB 18218)")


def _check_hazards(state: dict[str, Any], values: dict[str, Any], errors: list[str]) -> None:
    """Require a credit code or a unit code; 已销号 needs 销号日期; no date before 发现日期."""
    if not values.get("credit_code") and not values.get("unit_code"):
        errors.append("“统一社会信用代码”和“所在单位代码”至少填写一项 (群众举报的隐患填所在单位代码)")
    found = values.get("found_at")
    if values.get("status") == "closed" and not values.get("closed_at"):
        errors.append("整改状态为“已销号”时必须填写“销号日期”")
    for key, header in (("deadline", "整改期限"), ("closed_at", "销号日期"), ("verified_at", "验收日期")):
        value = values.get(key)
        if found and value and value < found:
            errors.append(f"“{header}” {value.isoformat()} 早于“发现日期” {found.isoformat()}")


_LON = Column("lon", "经度", "lon", aliases=("longitude", "x", "东经"), note="十进制度；坐标系见 --crs",
              example="113.8526")
_LAT = Column("lat", "纬度", "lat", aliases=("latitude", "y", "北纬"), note="十进制度", example="34.0357")
_CREDIT = Column(
    "credit_code", "统一社会信用代码", "credit_code", True, ("信用代码", "社会信用代码"),
    "18 位，按 GB 32100 校验", "91411002MA40AAAA4W",
)
# Points of hazard sources and hazards are optional: without one they take their enterprise's.
_OWN_LON = Column("lon", "经度", "lon", aliases=("longitude", "x"), note="可选；为空时取企业位置")
_OWN_LAT = Column("lat", "纬度", "lat", aliases=("latitude", "y"), note="可选；为空时取企业位置")

PERSONS = register(LedgerKind(
    "persons", (models.Person, models.Duty), ("unit_code", "role", "seq"),
    (
        Column("unit_code", "单位代码", "admin_code", True, ("区划代码", "网格代码", "unit"),
               "6/9/12/14 位区划或网格代码", "411002001"),
        Column("unit_name", "单位名称", aliases=("区划名称",), note="仅供核对，不入库", example="西大街道"),
        Column("role", "职责", "enum:DUTY_ROLE", True, ("岗位", "责任类型"),
               "第一责任人/分管领导/安全监管责任人/安全生产信息员/网格员", "安全监管责任人"),
        Column("seq", "序号", "int", aliases=("排序",), note="同一职责多人时的序号 (1-9)", example="1"),
        Column("name", "姓名", "str", True, ("名字",), example="王建国"),
        Column("phone", "手机", "phone", aliases=("电话", "联系电话", "手机号"), example="13837410001"),
        Column("org", "工作单位", aliases=("单位",), example="西大街道办事处"),
        Column("title", "职务", example="副主任"),
        Column("since", "任职日期", "date", aliases=("起始日期",), example="2024-01-01"),
        Column("person_key", "人员编号", aliases=("身份标识",), note="可选；为空时按姓名+手机识别同一人"),
    ),
    cross_check=_check_persons, fills=(("seq", None), ("person_key", None)), upsert="persons",
))

ENTERPRISES = register(LedgerKind(
    "enterprises", (models.Enterprise,), ("credit_code",),
    (
        _CREDIT,
        Column("name", "企业名称", "str", True, ("单位名称", "名称"), example="许昌市某某化工有限公司"),
        Column("industry", "行业", "industry", aliases=("行业类别", "所属行业"),
               note="行业目录中的名称或常见写法 (危化品→危险化学品)；目录外的行业原样保留",
               example="危险化学品"),
        Column("industry_detail", "行业细类", example="化学原料制造"),
        Column("scale", "规模", "enum:SCALE", aliases=("企业规模",), note="大型/中型/小型/微型", example="小型"),
        Column("employees", "从业人数", "int", aliases=("职工人数",), example="56"),
        Column("supervising_dept", "行业主管部门", aliases=("主管部门",), example="许昌市应急管理局"),
        Column("supervision_tier", "属地监管层级", "enum:SUPERVISION_TIER", aliases=("监管层级",),
               note="央属/省属/市属/县属/乡属",
               example="县属"),
        Column("risk_level", "风险等级", "enum:RISK_LEVEL", aliases=("风险颜色", "安全风险等级"),
               note="红/橙/黄/蓝，可为空 (未评估)", example="黄"),
        Column("risk_method", "评估方法", aliases=("风险评估方法",), example="LEC"),
        Column("risk_assessed_at", "评估日期", "date", aliases=("风险评估日期",), example="2025-06-30",
               not_future=True),
        Column("std_grade", "标准化等级", "enum:STD_GRADE", aliases=("安全生产标准化等级",),
               note="一级/二级/三级/小微/未达标",
               example="三级"),
        Column("key_hazardous_process", "重点监管危险化工工艺", "bool", note="是/否", example="否"),
        Column("key_hazardous_chemical", "重点监管危险化学品", "bool", note="是/否", example="是"),
        Column("has_major_hazard_source", "构成重大危险源", "bool", note="是/否", example="否"),
        Column("key_supervision", "重点监管单位", "bool", aliases=("重点监管", "是否重点监管", "重点监管企业"),
               note="是/否：网格内明确的重点监管单位", example="否"),
        Column("address", "地址", aliases=("注册地址", "经营地址"), example="许昌市魏都区西大街 1 号"),
        Column("legal_rep", "法定代表人", aliases=("法人",), example="李明"),
        Column("legal_rep_phone", "法定代表人电话", "phone", example="13937400000"),
        Column("safety_manager", "安全负责人", aliases=("安全管理负责人",), example="赵强"),
        Column("safety_manager_phone", "安全负责人电话", "phone", example="15038400000"),
        _LON,
        _LAT,
        Column("grid_code", "网格代码", "admin_code", note="可选；为空时按坐标落格"),
    ),
    joins="LEFT JOIN units g ON g.code = s.grid_code",
    location=Location(fallback_unit="g.id", described="the cell of 网格代码"),
    history=History(
        "risk_level",
        "INSERT INTO enterprise_risk_history (enterprise_id, risk_level, risk_method, assessed_at) "
        "SELECT e.id, e.risk_level, e.risk_method, e.risk_assessed_at FROM etl_prev p "
        "JOIN enterprises e ON e.credit_code = p.key "
        "WHERE (p.id IS NULL AND e.risk_level IS NOT NULL) "
        "OR (p.id IS NOT NULL AND p.old IS DISTINCT FROM e.risk_level)",
        "risk_changes",
    ),
))

HAZARD_SOURCES = register(LedgerKind(
    "hazard-sources", (models.HazardSource,), ("code",),
    (
        Column("code", "危险源编号", "str", True, ("重大危险源编号", "备案编号"), example="WXY411002001"),
        _CREDIT,
        Column("name", "危险源名称", "str", True, ("名称",), example="液氨储罐区"),
        Column("grade", "危险源等级", "enum:SOURCE_GRADE", aliases=("等级", "级别"),
               note="一级~四级；为空时按 R 值定级",
               example="三级"),
        Column("r_value", "R值", "float", aliases=("R", "r值"), note="GB 18218 计算值", example="23.5"),
        Column("substances", "危险物质", aliases=("主要危险物质",), example="液氨"),
        Column("recorded_at", "备案日期", "date", example="2024-03-15", not_future=True),
        Column("main_person", "主要负责人", example="王刚"),
        Column("main_person_phone", "主要负责人电话", "phone", example="13700000000"),
        Column("tech_person", "技术负责人", example="刘洋"),
        Column("tech_person_phone", "技术负责人电话", "phone", example="13700000001"),
        Column("op_person", "操作负责人", example="陈杰"),
        Column("op_person_phone", "操作负责人电话", "phone", example="13700000002"),
        _OWN_LON,
        _OWN_LAT,
    ),
    joins="JOIN enterprises e ON e.credit_code = s.credit_code",
    computed=(("enterprise_id", "e.id"),),
    location=Location(fallback_unit="e.unit_id", point_from="e", described="the enterprise's point and cell"),
    cross_check=_check_sources, fills=(("grade", "r_value"),),
))

HAZARDS = register(LedgerKind(
    "hazards", (models.Hazard,), ("code",),
    (
        Column("code", "隐患编号", "str", True, ("编号",), example="YH2025000001"),
        Column("credit_code", "统一社会信用代码", "credit_code", aliases=("信用代码",),
               note="企业隐患必填；群众举报可为空",
               example="91411002MA40AAAA4W"),
        Column("unit_code", "所在单位代码", "admin_code", aliases=("网格代码", "区划代码"), note="无企业时必填"),
        Column("title", "隐患名称", "str", True, ("隐患内容", "名称"), example="配电箱未接地"),
        Column("description", "隐患描述", aliases=("描述",)),
        Column("category", "隐患类别", aliases=("类别",), example="电气安全"),
        Column("level", "隐患等级", "enum:HAZARD_LEVEL", True, ("等级", "隐患级别"), "一般隐患/重大隐患", "一般隐患"),
        Column("channel", "隐患来源", "enum:HAZARD_CHANNEL", aliases=("来源", "发现渠道"),
               note="企业自查/监管检查/群众举报",
               example="监管检查"),
        Column("status", "整改状态", "enum:HAZARD_STATUS", True, ("状态",), "已上报/整改中/待验收/已销号", "整改中"),
        Column("found_at", "发现日期", "date", True, ("排查日期", "上报日期"), example="2025-09-01", not_future=True),
        Column("deadline", "整改期限", "date", aliases=("整改时限", "限期"), example="2025-10-01"),
        Column("verified_at", "验收日期", "date", example="", not_future=True),
        Column("closed_at", "销号日期", "date", aliases=("销号时间",), note="已销号时必填", example="",
               not_future=True),
        Column("reporter", "上报人", aliases=("发现人",), example="张敏"),
        Column("supervision_level", "挂牌督办", "enum:SUPERVISION_LEVEL", aliases=("督办级别",),
               note="市级/县级/乡级；空为未督办"),
        Column("supervision_at", "督办日期", "date", not_future=True),
        Column("resp_person", "整改责任人", aliases=("责任人",), example="李明"),
        Column("resp_person_phone", "责任人电话", "phone"),
        Column("measures", "整改措施", example="更换接地线"),
        Column("funds_yuan", "整改资金(元)", "float", aliases=("整改资金", "资金"), example="2000"),
        Column("contingency_plan", "应急预案", aliases=("应急措施",), example="设置警示标志"),
        _OWN_LON,
        _OWN_LAT,
    ),
    joins="LEFT JOIN enterprises e ON e.credit_code = s.credit_code LEFT JOIN units u ON u.code = s.unit_code",
    computed=(("enterprise_id", "e.id"),),
    location=Location(fallback_unit="COALESCE(u.id, e.unit_id)", point_from="e",
                      described="the enterprise's point; the unit of 所在单位代码, else the enterprise's cell"),
    cross_check=_check_hazards,
    # Reported or moved on in the app (geo.hazard_actions): the app's record wins over a ledger reload.
    app_owned='({t}."version" > 1 OR {t}."request_key" IS NOT NULL)',
    history=History(
        "status",
        "INSERT INTO hazard_events (hazard_id, from_status, to_status, at, by, note) "
        "SELECT h.id, p.old, h.status, now(), :by, "
        "CASE WHEN p.id IS NULL THEN '台账导入：新隐患' ELSE '台账导入：状态变更' END "
        "FROM etl_prev p JOIN hazards h ON h.code = p.key WHERE p.old IS DISTINCT FROM h.status ORDER BY h.code",
        "status_changes",
    ),
))

INSPECTIONS = register(LedgerKind(
    "inspections", (models.Inspection,), ("code",),
    (
        Column("code", "检查编号", "str", True, ("编号",), example="JC2025000001"),
        Column("unit_code", "被检查单位代码", "admin_code", True, ("区划代码", "网格代码"), example="411002001"),
        Column("credit_code", "统一社会信用代码", "credit_code", aliases=("信用代码",), note="检查企业时填写"),
        Column("inspector_level", "检查层级", "enum:INSPECTOR_LEVEL", aliases=("检查级别",), note="市级/县级/乡级/村级",
               example="乡级"),
        Column("kind", "检查方式", "enum:INSPECTION_KIND", aliases=("检查类型",),
               note="日常检查/四不两直/双随机/专项检查/复查",
               example="日常检查"),
        Column("inspected_at", "检查日期", "date", True, ("日期",), example="2025-09-01", not_future=True),
        Column("inspectors", "检查人员", example="张敏、王磊"),
        Column("result", "检查结果", "enum:INSPECTION_RESULT", aliases=("结果",),
               note="合格/发现隐患/责令整改/行政处罚/停产整顿",
               example="合格"),
        Column("hazards_found", "发现隐患数", "int", example="0"),
        Column("note", "备注"),
    ),
    joins="JOIN units u ON u.code = s.unit_code LEFT JOIN enterprises e ON e.credit_code = s.credit_code",
    computed=(("unit_id", "u.id"), ("enterprise_id", "e.id")),
))


def _check_accidents(state: dict[str, Any], values: dict[str, Any], errors: list[str]) -> None:
    """Need a point, an enterprise or a unit; no negative toll; the grade follows the toll (条例 第三条)."""
    if not values.get("credit_code") and not values.get("unit_code") and values.get("lon") is None:
        errors.append("“统一社会信用代码”“所在单位代码”和经纬度至少填写一项")
    values["deaths"] = values.get("deaths") or 0
    values["injuries"] = values.get("injuries") or 0
    loss = values.get("direct_loss_wan")
    errors.extend(accident_rules.check_toll(values["deaths"], values["injuries"], loss))
    try:
        stated = accident_rules.parse_grade(values.get("grade"))
    except ValueError as exc:
        errors.append(str(exc))
        return
    conflict = accident_rules.grade_conflict(stated, values["deaths"], values["injuries"], loss)
    if conflict:
        errors.append(conflict)
    values["grade"] = accident_rules.grade_of(values["deaths"], values["injuries"], loss)


ACCIDENTS = register(LedgerKind(
    "accidents", (models.Accident,), ("code",),
    (
        Column("code", "事故编号", "str", True, ("编号",), example="SG2025000001"),
        Column("title", "事故名称", "str", True, ("名称", "事故简称"), example="某机械厂“9·1”机械伤害事故"),
        Column("occurred_on", "发生日期", "date", True, ("事故日期", "发生时间", "日期"), example="2025-09-01",
               not_future=True),
        Column("credit_code", "统一社会信用代码", "credit_code", aliases=("信用代码",),
               note="事故单位；为空时按经纬度或所在单位代码定位", example="91411002MA40AAAA4W"),
        Column("unit_code", "所在单位代码", "admin_code", aliases=("网格代码", "区划代码"),
               note="无企业且无坐标时必填"),
        Column("industry", "行业", "industry", aliases=("行业类别", "所属行业"),
               note="行业目录中的名称或常见写法", example="机械"),
        Column("accident_type", "事故类型", "enum:ACCIDENT_TYPE", aliases=("事故类别",),
               note="GB 6441 的 20 类：物体打击/车辆伤害/…/中毒和窒息/其他伤害", example="机械伤害"),
        Column("road_traffic", "道路交通事故", "bool", note="是/否：计入道路交通万车死亡率", example="否"),
        Column("deaths", "死亡人数", "int", aliases=("死亡",), note="空为 0", example="1"),
        Column("injuries", "重伤人数", "int", aliases=("重伤", "受伤人数"), note="含急性工业中毒；空为 0",
               example="0"),
        Column("direct_loss_wan", "直接经济损失(万元)", "float", aliases=("直接经济损失", "经济损失"),
               example="120"),
        Column("grade", "事故等级", aliases=("等级",),
               note="一般/较大/重大/特别重大；为空时按伤亡和损失定级，与之矛盾的拒收 (条例第三条)",
               example="一般"),
        Column("investigation", "调查处理状态", "enum:INVESTIGATION_STATUS", aliases=("调查状态",),
               note="已报告/调查中/已结案", example="调查中"),
        Column("report", "事故经过及调查报告", aliases=("事故经过", "调查报告", "简要经过")),
        _OWN_LON,
        _OWN_LAT,
    ),
    joins="LEFT JOIN enterprises e ON e.credit_code = s.credit_code LEFT JOIN units u ON u.code = s.unit_code",
    computed=(("enterprise_id", "e.id"),),
    location=Location(fallback_unit="COALESCE(u.id, e.unit_id)", point_from="e",
                      described="the enterprise's point; the unit of 所在单位代码, else the enterprise's cell"),
    cross_check=_check_accidents, fills=(("deaths", None), ("injuries", None), ("grade", None)),
    # Recorded in the app (geo.accidents.record_accident): the app's record wins over a ledger reload.
    app_owned='({t}."request_key" IS NOT NULL)',
))


def _check_denominators(state: dict[str, Any], values: dict[str, Any], errors: list[str]) -> None:
    """Key ``<unit code>-<year>``; the year plausible; every denominator positive."""
    year = values.get("year")
    if year is not None and not 2000 <= year <= 2100:
        errors.append(f"“年份”应在 2000-2100 之间，实际 {year}")
    if values.get("unit_code") and year is not None:
        values["code"] = f"{values['unit_code']}-{year}"
    for key, header in (("gdp_yi", "地区生产总值(亿元)"), ("industrial_employees", "工矿商贸就业人员"),
                        ("motor_vehicles", "机动车保有量")):
        value = values.get(key)
        if value is not None and value <= 0:
            errors.append(f"“{header}”应大于 0，实际 {value}")


DENOMINATORS = register(LedgerKind(
    "denominators", (models.AreaDenominator,), ("code",),
    (
        Column("code", "记录编号", note="不必填写：按 单位代码-年份 生成"),
        Column("unit_code", "单位代码", "admin_code", True, ("区划代码",), "县(区)或市的 6 位代码", "411002"),
        Column("unit_name", "单位名称", aliases=("区划名称",), note="仅供核对，不入库", example="魏都区"),
        Column("year", "年份", "int", True, ("统计年度", "年度"), example="2025"),
        Column("gdp_yi", "地区生产总值(亿元)", "float", aliases=("GDP(亿元)", "地区生产总值", "GDP"),
               example="520.3"),
        Column("industrial_employees", "工矿商贸就业人员(人)", "int", aliases=("工矿商贸就业人员", "就业人员"),
               example="182000"),
        Column("motor_vehicles", "机动车保有量(辆)", "int", aliases=("机动车保有量", "机动车"), example="265000"),
    ),
    joins="JOIN units u ON u.code = s.unit_code",
    computed=(("unit_id", "u.id"),),
    cross_check=_check_denominators, fills=(("code", None),),
))
