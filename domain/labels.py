"""Every vocabulary of SafeGrid: its stored values in order and their Chinese labels, side by side.

The one i18n table (identifiers stay English). Models derive their CHECK constraints from
:attr:`Vocab.codes`, SQL literal lists come from :meth:`Vocab.sql_list`, pages read the labels.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

from domain.catalogues import DEFAULT_INDUSTRIES

K = TypeVar("K", str, int)


class Vocab(Mapping[K, str], Generic[K]):
    """An enumeration: stored values (``codes``, in display order) with their Chinese labels."""

    def __init__(self, labels: dict[K, str]) -> None:
        self._labels: dict[K, str] = dict(labels)
        self.codes: tuple[K, ...] = tuple(labels)

    def __getitem__(self, key: K) -> str:
        return self._labels[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._labels)

    def __len__(self) -> int:
        return len(self._labels)

    def __repr__(self) -> str:
        return f"Vocab({self._labels!r})"

    def sql_list(self) -> str:
        """Render the codes as an SQL literal list body: ``'a', 'b'`` (values are identifiers, never input)."""
        return ", ".join(f"'{c}'" if isinstance(c, str) else str(c) for c in self.codes)


LEVEL = Vocab({1: "市", 2: "县(区)", 3: "乡镇(街道)", 4: "村(社区)", 5: "网格"})
UNIT_KIND = Vocab({
    "city": "市", "district": "市辖区", "county": "县", "county_city": "县级市", "county_other": "功能区",
    "subdistrict": "街道", "town": "镇", "township": "乡", "dev_zone": "开发区", "township_other": "其他乡级单位",
    "community": "社区", "village": "村", "village_other": "其他村级单位", "grid": "网格",
})
DUTY_ROLE = Vocab({
    "first": "第一责任人", "leader": "分管领导", "supervisor": "安全监管责任人",
    "info_officer": "安全生产信息员", "grid_worker": "网格员",
})
RISK_LEVEL = Vocab({"red": "红", "orange": "橙", "yellow": "黄", "blue": "蓝"})
RISK_LEVEL_LONG = Vocab({"red": "重大风险", "orange": "较大风险", "yellow": "一般风险", "blue": "低风险"})
RISK_COLOUR_HEX = {"red": "#e0322b", "orange": "#f28c28", "yellow": "#f2d027", "blue": "#2f7ed8"}
STD_GRADE = Vocab({"grade1": "一级", "grade2": "二级", "grade3": "三级", "small_micro": "小微", "none": "未达标"})
SCALE = Vocab({"large": "大型", "medium": "中型", "small": "小型", "micro": "微型"})
# Codes kept from round 1 (1-3); 央属 and 省属 added as 4 and 5 (migration 0009), listed in the plans' order.
SUPERVISION_TIER = Vocab({4: "央属", 5: "省属", 1: "市属", 2: "县属", 3: "乡属"})
SOURCE_GRADE = Vocab({1: "一级", 2: "二级", 3: "三级", 4: "四级"})
HAZARD_LEVEL = Vocab({"general": "一般隐患", "major": "重大隐患"})
HAZARD_CHANNEL = Vocab({"self_check": "企业自查", "inspection": "监管检查", "public_report": "群众举报"})
HAZARD_STATUS = Vocab({"reported": "已上报", "rectifying": "整改中", "verifying": "待验收", "closed": "已销号"})
SUPERVISION_LEVEL = Vocab({1: "市级挂牌督办", 2: "县级挂牌督办", 3: "乡级挂牌督办"})
INSPECTOR_LEVEL = Vocab({1: "市级", 2: "县级", 3: "乡级", 4: "村级"})
INSPECTION_KIND = Vocab({
    "routine": "日常检查", "unannounced": "四不两直", "double_random": "双随机",
    "special": "专项检查", "review": "复查",
})
INSPECTION_RESULT = Vocab({
    "passed": "合格", "hazards_found": "发现隐患", "ordered_rectify": "责令整改",
    "penalized": "行政处罚", "closed_down": "停产整顿",
})
USER_ROLE = Vocab({
    "admin": "系统管理员", "leader": "领导", "grid_manager": "网格管理员", "planner": "规划分析人员",
    "inspector": "执法检查人员", "enterprise": "企业用户",
})
# The default catalogue's industries (domain/catalogues.py; an administrator may add more on /admin/rules).
INDUSTRIES = tuple(i.name for i in DEFAULT_INDUSTRIES)
# Map legend classes that are not an enum value of their own.
MAP_CLASS = {"unrated": "尚未评定", "unassessed": "未评估", "overdue": "逾期隐患"}
# Inputs of the four-colour rule (domain/risk_rule.py) as the UI names them.
RISK_INPUT = {
    "ent_red": "红色企业", "ent_orange": "橙色企业", "ent_yellow": "黄色企业", "ent_blue": "蓝色企业",
    "ent_unassessed": "未评估企业", "hazards_open": "未销号隐患", "hazards_major_open": "未销号重大隐患",
    "hazards_overdue": "逾期隐患", "hazards_supervised": "挂牌督办隐患", "sources_g1": "一级重大危险源",
    "sources_g2": "二级重大危险源", "sources_g3": "三级重大危险源", "sources_g4": "四级重大危险源",
}
# Metrics of the H3 heatmaps on /risk (geo/risk_queries.py METRICS).
RISK_METRIC = {
    "risk_score": "加权风险分值", "enterprises": "生产经营单位数（按风险等级）", "hazards_open": "未销号隐患",
    "hazards_major_open": "未销号重大隐患", "hazards_overdue": "逾期隐患", "sources": "重大危险源",
}
ETL_STATUS = Vocab({"running": "进行中", "ok": "成功", "partial": "部分导入", "rejected": "已拒绝", "failed": "失败",
                     "interrupted": "已中断"})
# Public reports (随手拍 / 群众举报) wait in the grid manager's queue as 待核实 (migration 0006).
PUBLIC_REPORT_STATUS = Vocab({"pending": "待核实", "confirmed": "已受理", "dismissed": "不予受理"})
# Accidents (issue 18, migration 0010): 事故类别 of GB 6441-1986 《企业职工伤亡事故分类》 (its 20 classes in
# its order), grades of 《生产安全事故报告和调查处理条例》 (国务院令第493号) 第三条, investigation status.
ACCIDENT_TYPE = Vocab({
    "struck_by": "物体打击", "vehicle": "车辆伤害", "machinery": "机械伤害", "lifting": "起重伤害",
    "electrocution": "触电", "drowning": "淹溺", "burn": "灼烫", "fire": "火灾", "fall": "高处坠落",
    "collapse": "坍塌", "roof_fall": "冒顶片帮", "water_inrush": "透水", "blasting": "放炮",
    "explosive": "火药爆炸", "gas_explosion": "瓦斯爆炸", "boiler_explosion": "锅炉爆炸",
    "vessel_explosion": "容器爆炸", "other_explosion": "其他爆炸", "poisoning": "中毒和窒息", "other": "其他伤害",
})
ACCIDENT_GRADE = Vocab({"general": "一般事故", "larger": "较大事故", "major": "重大事故",
                        "extra_major": "特别重大事故"})
INVESTIGATION_STATUS = Vocab({"reported": "已报告", "investigating": "调查中", "closed": "已结案"})
# Photos kept with a hazard or a public report (migration 0006).
ATTACHMENT_KIND = Vocab({"finding": "隐患照片", "before": "整改前", "after": "整改后", "evidence": "整改材料",
                         "report": "举报照片", "scene": "现场照片", "document": "签字文书"})
