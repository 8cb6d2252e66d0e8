"""Enterprise inspections: checklists per industry, the result rule, and the risk-based frequency. Pure rules.

* **Checklists** (:data:`DEFAULT_CHECKLISTS`): short items paraphrasing the national 重大事故隐患 criteria
  (sources in ``docs/inspections.md``), one list per topic — 危险化学品, 粉尘涉爆, 有限空间, 涉氨制冷, 烟花爆竹,
  消防. :func:`checklists_for` offers the lists of an enterprise's industry first (:data:`INDUSTRY_LISTS`),
  then the rest (an inspector may open any list: 粉尘 and 有限空间 cut across industries). The lists are data:
  ``app_config`` key ``inspection_checklists`` (``{"lists": [...], "industries": {...}}``) replaces or adds
  lists by id (:func:`checklists_from_config`).
* **Results** (:func:`check_result`): 合格 needs no document; 责令整改 and 停产整顿 need the document number
  (责令限期整改指令书 / 决定书); 行政处罚 the document number and a positive amount.
* **Frequency** (:class:`FrequencyRule`): the required interval of an enterprise from its colour (红 monthly,
  橙 quarterly, 黄 half-yearly, 蓝 and 未评估 yearly) and its 两重点一重大 flags (at least quarterly);
  ``app_config`` key ``inspection_frequency``. :func:`next_due` adds the interval to the last inspection
  (month arithmetic clamps to the month's end, as PostgreSQL's ``date + interval 'n months'`` does, which
  ``geo.inspections_app`` uses for the due list); an enterprise never inspected is due at once.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.labels import INDUSTRIES, Vocab

# The results an inspector records in the app (the ledger's 发现隐患 stays for imported rows).
APP_RESULTS = ("passed", "ordered_rectify", "penalized", "closed_down")
ANSWER = Vocab({"ok": "符合", "fail": "不符合", "na": "不涉及"})
MAX_PENALTY = Decimal("100000000")  # 1 亿元: anything above is a typo


class InspectionRuleError(ValueError):
    """Input or a setting a rule cannot use; the message is the Chinese text the user reads."""


@dataclass(frozen=True)
class CheckItem:
    """One question of a checklist; ``major``: failing it is a 重大事故隐患 by the cited criterion."""

    id: str
    text: str
    major: bool = True


@dataclass(frozen=True)
class Checklist:
    """A checklist: id, title, the criterion it paraphrases, its items."""

    id: str
    title: str
    basis: str
    items: tuple[CheckItem, ...]

    def item(self, item_id: str) -> CheckItem | None:
        """Return the item ``item_id`` (None when the list has no such item)."""
        return next((i for i in self.items if i.id == item_id), None)


def _items(prefix: str, texts: Iterable[str]) -> tuple[CheckItem, ...]:
    return tuple(CheckItem(f"{prefix}{n:02d}", t) for n, t in enumerate(texts, start=1))


_HAZCHEM = "《化工和危险化学品生产经营单位重大生产安全事故隐患判定标准（试行）》（安监总管三〔2017〕121号）"
_FIREWORKS = "《烟花爆竹生产经营单位重大生产安全事故隐患判定标准（试行）》（安监总管三〔2017〕121号）"
_INDUSTRY_TRADE = "《工贸企业重大事故隐患判定标准》（应急管理部令第10号，2023年5月15日施行）"
_FIRE = "GB 35181-2017《重大火灾隐患判定方法》"

DEFAULT_CHECKLISTS: tuple[Checklist, ...] = (
    Checklist("hazchem", "危险化学品", _HAZCHEM, _items("HC", (
        "主要负责人和安全生产管理人员依法经考核合格",
        "特种作业人员持证上岗",
        "两重点一重大装置、储存设施外部安全防护距离符合国家标准",
        "重点监管危险化工工艺装置实现自动化控制和紧急停车并投用",
        "一级、二级重大危险源罐区实现紧急切断（有毒、液化气体罐区配备独立安全仪表系统）",
        "液化烃、液氨、液氯等充装使用万向管道充装系统",
        "可燃和有毒气体泄漏场所设置检测报警装置，爆炸危险场所使用防爆电气",
        "控制室、机柜间面向具有火灾、爆炸危险性装置一侧满足防火防爆要求",
        "未使用淘汰落后的安全技术工艺、设备",
        "制定并执行操作规程和工艺控制指标，特殊作业执行作业许可",
        "危险化学品未超量、未混放，按规定储存",
    ))),
    Checklist("dust", "粉尘涉爆", _INDUSTRY_TRADE + "（存在粉尘爆炸危险的）", _items("DU", (
        "粉尘爆炸危险场所不在非框架结构多层建构筑物内，与人员密集场所安全距离足够",
        "可燃性粉尘与可燃气体等未共用除尘系统，不同防火分区的除尘系统互联互通已消除",
        "干式除尘系统采取泄爆、惰化、抑爆等控爆措施",
        "除尘系统未采用正压吹送（或已采取可靠防火花措施），未采用重力沉降室除尘",
        "除尘器灰斗设置锁气卸灰装置，按规定设置火花探测消除等装置",
        "粉尘爆炸危险场所电气设备符合防爆要求",
        "按规定及时清理积尘，建立并执行粉尘清扫制度",
        "遇湿自燃金属粉尘场所采取防水防潮和防氢气积聚措施",
    ))),
    Checklist("confined", "有限空间", _INDUSTRY_TRADE + "（有限空间作业相关的）", _items("CS", (
        "对有限空间进行辨识，建立安全管理台账，并设置明显的安全警示标志",
        "有限空间作业执行审批制度",
        "作业落实“先通风、再检测、后作业”，检测合格后进入",
        "作业现场设置监护人员，配备并正确使用呼吸防护、检测报警等装备",
        "制定有限空间作业应急预案并配备应急救援装备",
    ))),
    Checklist("ammonia", "涉氨制冷", _INDUSTRY_TRADE + "（使用液氨制冷的）", _items("AM", (
        "包装、分割、产品整理场所的空调系统未采用氨直接蒸发制冷",
        "快速冻结装置设置在单独的作业间内，作业间内作业人员数量不超过9人",
        "液氨储罐、压力容器及管道的安全附件齐全有效",
        "氨制冷机房设置氨气浓度报警和事故通风装置并联锁",
        "液氨使用场所配备应急器材和个体防护装备，开展应急演练",
    ))),
    Checklist("fireworks", "烟花爆竹", _FIREWORKS, _items("FW", (
        "主要负责人、安全生产管理人员依法经考核合格",
        "工（库）房实际滞留或存储药量未超过核定药量",
        "工（库）房内、外部安全距离符合要求",
        "防爆、防静电、防火、防雷等设备设施完好有效",
        "按规定设置并正确使用视频监控、药物总量在线监测等设施",
        "未在工（库）房内违规住人、未擅自改变工房用途",
        "未分包、转包工序，未违规使用氯酸盐等禁用药物",
        "批发（零售）储存场所未超量储存，未与居住场所设置在同一建筑物内",
    ))),
    Checklist("fire", "消防", _FIRE, _items("FI", (
        "易燃易爆危险品场所与人员密集场所、居住场所未设置在同一建筑物内，防火间距符合规定",
        "甲、乙类生产场所和仓库未设置在地下室或半地下室",
        "安全出口、疏散通道数量和宽度符合要求，未被封堵、占用",
        "按规定设置自动喷水灭火、火灾自动报警等消防设施并保持完好有效",
        "消防给水、消火栓系统正常，灭火器配置有效",
        "未违规使用易燃可燃材料装修、搭建彩钢板房",
        "电气线路、燃气设施敷设和使用符合消防安全要求",
    ))),
)

# Industry (enterprises.industry) → checklist ids offered first, in order.
INDUSTRY_LISTS: Mapping[str, tuple[str, ...]] = {
    "危险化学品": ("hazchem", "confined", "fire"),
    "烟花爆竹": ("fireworks", "fire"),
    "民用爆炸物品": ("fireworks", "fire"),
    "城镇燃气": ("hazchem", "confined", "fire"),
    "冶金": ("dust", "confined", "fire"),
    "有色": ("dust", "confined", "fire"),
    "建材": ("dust", "confined", "fire"),
    "机械": ("dust", "confined", "fire"),
    "轻工": ("dust", "ammonia", "confined", "fire"),
    "纺织": ("dust", "confined", "fire"),
    "烟草": ("dust", "fire"),
    "商贸": ("ammonia", "fire"),
}


@dataclass(frozen=True)
class ChecklistSet:
    """The checklists in force and which ones each industry is offered first."""

    lists: tuple[Checklist, ...] = DEFAULT_CHECKLISTS
    industries: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(INDUSTRY_LISTS))

    def get(self, list_id: str) -> Checklist | None:
        """Return the checklist ``list_id`` (None: unknown)."""
        return next((c for c in self.lists if c.id == list_id), None)


def checklists_from_config(value: Mapping[str, Any] | None) -> ChecklistSet:
    """Build the checklists from the defaults with an ``app_config`` value laid over them (lists by id)."""
    if not value:
        return ChecklistSet()
    unknown = set(value) - {"lists", "industries"}
    if unknown:
        raise InspectionRuleError(f"检查表设置含未知字段：{', '.join(sorted(unknown))}")
    lists = {c.id: c for c in DEFAULT_CHECKLISTS}
    for raw in value.get("lists") or ():
        try:
            items = tuple(CheckItem(str(i["id"]), str(i["text"]), bool(i.get("major", True))) for i in raw["items"])
            lists[str(raw["id"])] = Checklist(str(raw["id"]), str(raw["title"]), str(raw.get("basis", "")), items)
        except (KeyError, TypeError) as err:
            raise InspectionRuleError("检查表设置格式错误：每张表须有 id、title、items（id、text）") from err
        if not items or len({i.id for i in items}) != len(items):
            raise InspectionRuleError(f"检查表“{raw['id']}”须有检查项且编号不重复")
    industries = dict(INDUSTRY_LISTS)
    for industry, ids in dict(value.get("industries") or {}).items():
        if industry not in INDUSTRIES or any(i not in lists for i in ids):
            raise InspectionRuleError(f"检查表设置的行业“{industry}”或其检查表无效")
        industries[industry] = tuple(ids)
    return ChecklistSet(tuple(lists.values()), industries)


def checklists_for(industry: str | None, rules: ChecklistSet | None = None) -> list[Checklist]:
    """Return every checklist, those of ``industry`` first (in the industry's order)."""
    rules = rules or ChecklistSet()
    first = [c for i in rules.industries.get(industry or "", ()) if (c := rules.get(i)) is not None]
    return first + [c for c in rules.lists if c not in first]


@dataclass(frozen=True)
class Finding:
    """A failed item: the list, the item and its text (each becomes a hazard report)."""

    list_id: str
    item_id: str
    text: str
    major: bool


def check_answers(checklist: Checklist, answers: Mapping[str, str]) -> list[Finding]:
    """Validate ``answers`` (item id → ok/fail/na) against ``checklist``; return the failed items, in list order."""
    for item_id, answer in answers.items():
        if checklist.item(item_id) is None:
            raise InspectionRuleError("检查项不属于所选检查表")
        if answer not in ANSWER:
            raise InspectionRuleError("检查项的结论应为符合、不符合或不涉及")
    return [Finding(checklist.id, i.id, i.text, i.major) for i in checklist.items if answers.get(i.id) == "fail"]


def check_result(result: str, document_no: str, penalty: str | Decimal | None) -> Decimal | None:
    """Check the result's enforcement details; return the penalty amount (None unless 行政处罚).

    Raises :class:`InspectionRuleError` with the text the inspector reads.
    """
    if result not in APP_RESULTS:
        raise InspectionRuleError("请选择检查结果：合格、责令整改、行政处罚或停产整顿")
    doc = document_no.strip()
    if result == "passed":
        if doc or (penalty not in (None, "")):
            raise InspectionRuleError("检查结果为合格时不填写执法文书编号和罚款金额")
        return None
    if not 2 <= len(doc) <= 60:
        raise InspectionRuleError("请填写执法文书编号（2-60 字）")
    if result != "penalized":
        if penalty not in (None, ""):
            raise InspectionRuleError("只有行政处罚填写罚款金额")
        return None
    try:
        amount = Decimal(str(penalty)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError) as err:
        raise InspectionRuleError("罚款金额应为数字（元）") from err
    if not Decimal("0") < amount < MAX_PENALTY:
        raise InspectionRuleError("罚款金额应大于 0 且小于 1 亿元")
    return amount


# --- risk-based frequency ------------------------------------------------------------------------------------

DEFAULT_MONTHS: Mapping[str, int] = {"red": 1, "orange": 3, "yellow": 6, "blue": 12, "unassessed": 12}
DEFAULT_KEY_FLAGS_MONTHS = 3  # 两重点一重大 and 重点监管单位: at least quarterly
# The enterprise flags that cap the interval: 两重点一重大 (重点监管危险化工工艺 / 危险化学品, 重大危险源) and the
# 重点监管单位 a grid names (许昌 plan: "明确各监管网格内重点监管单位…加大对…重点单位的检查频次").
KEY_FLAG_COLUMNS = ("key_hazardous_process", "key_hazardous_chemical", "has_major_hazard_source", "key_supervision")
DEFAULT_DUE_SOON_DAYS = 30


@dataclass(frozen=True)
class FrequencyRule:
    """Months between inspections per colour (``unassessed`` for none), the cap for 两重点一重大, the warning window."""

    months: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_MONTHS))
    key_flags_months: int = DEFAULT_KEY_FLAGS_MONTHS
    due_soon_days: int = DEFAULT_DUE_SOON_DAYS

    def interval(self, risk_level: str | None, key_flags: bool) -> int:
        """Return the required months between inspections of an enterprise."""
        months = self.months.get(risk_level or "unassessed", self.months["unassessed"])
        return min(months, self.key_flags_months) if key_flags else months


def has_key_flags(enterprise: Mapping[str, Any]) -> bool:
    """Tell whether an enterprise row carries a flag of :data:`KEY_FLAG_COLUMNS`."""
    return any(bool(enterprise.get(c)) for c in KEY_FLAG_COLUMNS)


def key_flags_sql(alias: str) -> str:
    """Return the SQL test of :func:`has_key_flags` over the enterprise table alias ``alias`` (an identifier)."""
    if not alias.isidentifier():
        raise ValueError(f"bad alias {alias!r}")
    return "(" + " OR ".join(f'{alias}."{c}"' for c in KEY_FLAG_COLUMNS) + ")"


def frequency_from_config(value: Mapping[str, Any] | None) -> FrequencyRule:
    """Build the rule from the defaults overridden by ``app_config`` ``inspection_frequency``, e.g.

    ``{"months": {"red": 1, "orange": 2}, "key_flags_months": 3, "due_soon_days": 15}``.
    """
    if not value:
        return FrequencyRule()
    unknown = set(value) - {"months", "key_flags_months", "due_soon_days"}
    if unknown:
        raise InspectionRuleError(f"检查频次设置含未知字段：{', '.join(sorted(unknown))}")
    months = dict(DEFAULT_MONTHS)
    for key, m in dict(value.get("months") or {}).items():
        if key not in months or not isinstance(m, int) or not 1 <= m <= 60:
            raise InspectionRuleError(f"检查频次“{key}”应为 1-60 个月")
        months[key] = m
    flags = value.get("key_flags_months", DEFAULT_KEY_FLAGS_MONTHS)
    soon = value.get("due_soon_days", DEFAULT_DUE_SOON_DAYS)
    if not isinstance(flags, int) or not 1 <= flags <= 60:
        raise InspectionRuleError("两重点一重大的检查频次应为 1-60 个月")
    if not isinstance(soon, int) or not 0 <= soon <= 365:
        raise InspectionRuleError("临期提醒天数应为 0-365")
    return FrequencyRule(months, flags, soon)


def add_months(day: date, months: int) -> date:
    """Return ``day`` plus ``months`` months, clamped to the last day of the month (as PostgreSQL does)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_due(last: date | None, risk_level: str | None, key_flags: bool, rule: FrequencyRule,
             today: date) -> date:
    """Return the date the next inspection is due (``today`` for an enterprise never inspected)."""
    if last is None:
        return today
    return add_months(last, rule.interval(risk_level, key_flags))


DUE_STATE = Vocab({"overdue": "已逾期", "due_soon": "临期", "ok": "未到期"})


def due_state(due: date, today: date, rule: FrequencyRule) -> str:
    """Return overdue (due before today), due_soon (within the warning window) or ok."""
    if due < today:
        return "overdue"
    return "due_soon" if (due - today).days <= rule.due_soon_days else "ok"
