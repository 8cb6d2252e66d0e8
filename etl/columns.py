"""Ledger columns per kind: the contract between bureau spreadsheets, the loaders and the demo builder.

Headers are the Chinese names a bureau uses; ``aliases`` lists other spellings accepted on load
(always including the English key). ``type`` tells the validator how to parse the cell:
``str``, ``int``, ``float``, ``date``, ``bool`` (是/否), ``credit_code``, ``admin_code``, ``lon``,
``lat``, ``phone`` or ``enum:NAME`` where NAME is a table in ``domain.labels`` (values are accepted in
Chinese, with the usual synonyms, or as the English value).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """One ledger column."""

    key: str
    header: str
    type: str = "str"
    required: bool = False
    aliases: tuple[str, ...] = ()
    note: str = ""
    example: str = ""

    @property
    def accepted(self) -> tuple[str, ...]:
        """Every header spelling accepted for this column."""
        return (self.header, self.key, *self.aliases)


_LON = Column("lon", "经度", "lon", aliases=("longitude", "x", "东经"), note="十进制度；坐标系见 --crs", example="113.8526")
_LAT = Column("lat", "纬度", "lat", aliases=("latitude", "y", "北纬"), note="十进制度", example="34.0357")
_CREDIT = Column(
    "credit_code", "统一社会信用代码", "credit_code", True, ("信用代码", "社会信用代码"),
    "18 位，按 GB 32100 校验", "91411002MA40AAAA4W",
)

LEDGERS: dict[str, tuple[Column, ...]] = {
    "persons": (
        Column("unit_code", "单位代码", "admin_code", True, ("区划代码", "网格代码", "unit"), "6/9/12/14 位区划或网格代码",
               "411002001"),
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
    "enterprises": (
        _CREDIT,
        Column("name", "企业名称", "str", True, ("单位名称", "名称"), example="许昌市某某化工有限公司"),
        Column("industry", "行业", aliases=("行业类别", "所属行业"), note="危险化学品、冶金、机械……", example="危险化学品"),
        Column("industry_detail", "行业细类", example="化学原料制造"),
        Column("scale", "规模", "enum:SCALE", aliases=("企业规模",), note="大型/中型/小型/微型", example="小型"),
        Column("employees", "从业人数", "int", aliases=("职工人数",), example="56"),
        Column("supervising_dept", "行业主管部门", aliases=("主管部门",), example="许昌市应急管理局"),
        Column("supervision_tier", "属地监管层级", "enum:SUPERVISION_TIER", aliases=("监管层级",), note="市属/县属/乡属",
               example="县属"),
        Column("risk_level", "风险等级", "enum:RISK_LEVEL", aliases=("风险颜色", "安全风险等级"),
               note="红/橙/黄/蓝，可为空 (未评估)", example="黄"),
        Column("risk_method", "评估方法", aliases=("风险评估方法",), example="LEC"),
        Column("risk_assessed_at", "评估日期", "date", aliases=("风险评估日期",), example="2025-06-30"),
        Column("std_grade", "标准化等级", "enum:STD_GRADE", aliases=("安全生产标准化等级",), note="一级/二级/三级/小微/未达标",
               example="三级"),
        Column("key_hazardous_process", "重点监管危险化工工艺", "bool", note="是/否", example="否"),
        Column("key_hazardous_chemical", "重点监管危险化学品", "bool", note="是/否", example="是"),
        Column("has_major_hazard_source", "构成重大危险源", "bool", note="是/否", example="否"),
        Column("address", "地址", aliases=("注册地址", "经营地址"), example="许昌市魏都区西大街 1 号"),
        Column("legal_rep", "法定代表人", aliases=("法人",), example="李明"),
        Column("legal_rep_phone", "法定代表人电话", "phone", example="13937400000"),
        Column("safety_manager", "安全负责人", aliases=("安全管理负责人",), example="赵强"),
        Column("safety_manager_phone", "安全负责人电话", "phone", example="15038400000"),
        _LON,
        _LAT,
        Column("grid_code", "网格代码", "admin_code", note="可选；为空时按坐标落格"),
    ),
    "hazard-sources": (
        Column("code", "危险源编号", "str", True, ("重大危险源编号", "备案编号"), example="WXY411002001"),
        _CREDIT,
        Column("name", "危险源名称", "str", True, ("名称",), example="液氨储罐区"),
        Column("grade", "危险源等级", "enum:SOURCE_GRADE", aliases=("等级", "级别"), note="一级~四级；为空时按 R 值定级",
               example="三级"),
        Column("r_value", "R值", "float", aliases=("R", "r值"), note="GB 18218 计算值", example="23.5"),
        Column("substances", "危险物质", aliases=("主要危险物质",), example="液氨"),
        Column("recorded_at", "备案日期", "date", example="2024-03-15"),
        Column("main_person", "主要负责人", example="王刚"),
        Column("main_person_phone", "主要负责人电话", "phone", example="13700000000"),
        Column("tech_person", "技术负责人", example="刘洋"),
        Column("tech_person_phone", "技术负责人电话", "phone", example="13700000001"),
        Column("op_person", "操作负责人", example="陈杰"),
        Column("op_person_phone", "操作负责人电话", "phone", example="13700000002"),
        Column("lon", "经度", "lon", aliases=("longitude", "x"), note="可选；为空时取企业位置"),
        Column("lat", "纬度", "lat", aliases=("latitude", "y"), note="可选；为空时取企业位置"),
    ),
    "hazards": (
        Column("code", "隐患编号", "str", True, ("编号",), example="YH2025000001"),
        Column("credit_code", "统一社会信用代码", "credit_code", aliases=("信用代码",), note="企业隐患必填；群众举报可为空",
               example="91411002MA40AAAA4W"),
        Column("unit_code", "所在单位代码", "admin_code", aliases=("网格代码", "区划代码"), note="无企业时必填"),
        Column("title", "隐患名称", "str", True, ("隐患内容", "名称"), example="配电箱未接地"),
        Column("description", "隐患描述", aliases=("描述",)),
        Column("category", "隐患类别", aliases=("类别",), example="电气安全"),
        Column("level", "隐患等级", "enum:HAZARD_LEVEL", True, ("等级", "隐患级别"), "一般隐患/重大隐患", "一般隐患"),
        Column("channel", "隐患来源", "enum:HAZARD_CHANNEL", aliases=("来源", "发现渠道"), note="企业自查/监管检查/群众举报",
               example="监管检查"),
        Column("status", "整改状态", "enum:HAZARD_STATUS", True, ("状态",), "已上报/整改中/待验收/已销号", "整改中"),
        Column("found_at", "发现日期", "date", True, ("排查日期", "上报日期"), example="2025-09-01"),
        Column("deadline", "整改期限", "date", aliases=("整改时限", "限期"), example="2025-10-01"),
        Column("verified_at", "验收日期", "date", example=""),
        Column("closed_at", "销号日期", "date", aliases=("销号时间",), note="已销号时必填", example=""),
        Column("reporter", "上报人", aliases=("发现人",), example="张敏"),
        Column("supervision_level", "挂牌督办", "enum:SUPERVISION_LEVEL", aliases=("督办级别",), note="市级/县级/乡级；空为未督办"),
        Column("supervision_at", "督办日期", "date"),
        Column("resp_person", "整改责任人", aliases=("责任人",), example="李明"),
        Column("resp_person_phone", "责任人电话", "phone"),
        Column("measures", "整改措施", example="更换接地线"),
        Column("funds_yuan", "整改资金(元)", "float", aliases=("整改资金", "资金"), example="2000"),
        Column("contingency_plan", "应急预案", aliases=("应急措施",), example="设置警示标志"),
        Column("lon", "经度", "lon", aliases=("longitude", "x"), note="可选；为空时取企业位置"),
        Column("lat", "纬度", "lat", aliases=("latitude", "y"), note="可选；为空时取企业位置"),
    ),
    "inspections": (
        Column("code", "检查编号", "str", True, ("编号",), example="JC2025000001"),
        Column("unit_code", "被检查单位代码", "admin_code", True, ("区划代码", "网格代码"), example="411002001"),
        Column("credit_code", "统一社会信用代码", "credit_code", aliases=("信用代码",), note="检查企业时填写"),
        Column("inspector_level", "检查层级", "enum:INSPECTOR_LEVEL", aliases=("检查级别",), note="市级/县级/乡级/村级",
               example="乡级"),
        Column("kind", "检查方式", "enum:INSPECTION_KIND", aliases=("检查类型",), note="日常检查/四不两直/双随机/专项检查/复查",
               example="日常检查"),
        Column("inspected_at", "检查日期", "date", True, ("日期",), example="2025-09-01"),
        Column("inspectors", "检查人员", example="张敏、王磊"),
        Column("result", "检查结果", "enum:INSPECTION_RESULT", aliases=("结果",), note="合格/发现隐患/责令整改/行政处罚/停产整顿",
               example="合格"),
        Column("hazards_found", "发现隐患数", "int", example="0"),
        Column("note", "备注"),
    ),
}

# Boundary files carry these properties (GeoJSON/Shapefile/GeoPackage attribute names).
BOUNDARY_PROPERTIES = (
    Column("code", "代码", "admin_code", True, ("区划代码", "CODE", "gb", "adcode")),
    Column("name", "名称", "str", True, ("NAME", "区划名称")),
    Column("is_demo_geometry", "示意边界", "bool", aliases=("demo",), note="生成的示意几何为 是"),
)
