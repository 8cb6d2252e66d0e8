"""Cell parsers: turn what people type into spreadsheets into typed values, or say why not (in Chinese).

Every parser takes the raw cell (str, int, float, date, datetime, bool from openpyxl; str from CSV)
and returns the typed value or raises ``CellError``. Blank cells never reach a parser.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, timedelta
from operator import mul
from typing import Any

from domain import labels
from domain.catalogues import Catalogue
from domain.codes import (
    CREDIT_CHARSET,
    CREDIT_WEIGHTS,
    credit_code_error,
    normalize_admin_code,
    normalize_credit_code,
    parse_admin_code,
)


class CellError(ValueError):
    """A cell that cannot be parsed; the message is the Chinese reason."""


class Formula:
    """An XLSX formula cell: rejected, because cached values may be stale or absent."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


class TooLong:
    """A cell longer than the configured limit; only its length and start are kept."""

    __slots__ = ("head", "length")

    def __init__(self, length: int, head: str) -> None:
        self.length = length
        self.head = head

    def __str__(self) -> str:
        return f"{self.head}…(共 {self.length} 字符)"


def norm_text(value: Any) -> str:
    """NFKC (full-width → ASCII, Ⅰ → I), strip, drop inner whitespace, lower-case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value))).lower()


def is_blank(value: Any) -> bool:
    """Tell whether a cell is empty (None, '', whitespace, or the usual placeholders)."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() in BLANK_WORDS
    return False


BLANK_WORDS = frozenset(("", "-", "—", "/", "无数据", "null", "NULL", "None", "NaN", "nan", "#N/A"))


# --- enums ------------------------------------------------------------------------------------

# Extra spellings people use, per domain.labels table; the Chinese label and the English value are
# always accepted. Keys are compared after ``norm_text``.
SYNONYMS: dict[str, dict[str, Any]] = {
    "RISK_LEVEL": {
        "红色": "red", "重大风险": "red", "重大": "red", "红色风险": "red", "r": "red",
        "橙色": "orange", "较大风险": "orange", "较大": "orange", "橙色风险": "orange",
        "黄色": "yellow", "一般风险": "yellow", "一般": "yellow", "黄色风险": "yellow",
        "蓝色": "blue", "低风险": "blue", "较低风险": "blue", "低": "blue", "蓝色风险": "blue",
    },
    "STD_GRADE": {
        "1": "grade1", "i": "grade1", "i级": "grade1", "一": "grade1", "一级企业": "grade1", "标准化一级": "grade1",
        "2": "grade2", "ii": "grade2", "ii级": "grade2", "二": "grade2", "二级企业": "grade2", "标准化二级": "grade2",
        "3": "grade3", "iii": "grade3", "iii级": "grade3", "三": "grade3", "三级企业": "grade3", "标准化三级": "grade3",
        "小微企业": "small_micro", "小微达标": "small_micro", "未评级": "none", "无": "none", "不达标": "none",
    },
    "SCALE": {"大": "large", "中": "medium", "小": "small", "微": "micro", "规上": "medium", "小微": "small"},
    "SUPERVISION_TIER": {
        "央企": 4, "中央企业": 4, "中央": 4, "中直": 4, "央属企业": 4,
        "省": 5, "省级": 5, "省管": 5, "省属企业": 5, "省直": 5,
        "市": 1, "市级": 1, "市管": 1, "县": 2, "县级": 2, "区属": 2, "县管": 2, "区级": 2,
        "乡": 3, "乡级": 3, "镇": 3, "乡镇": 3, "街道": 3, "乡管": 3,
    },
    "SOURCE_GRADE": {
        "i": 1, "i级": 1, "一": 1, "ii": 2, "ii级": 2, "二": 2, "iii": 3, "iii级": 3, "三": 3,
        "iv": 4, "iv级": 4, "四": 4,
    },
    "HAZARD_LEVEL": {
        "一般": "general", "一般事故隐患": "general", "重大": "major", "重大事故隐患": "major",
    },
    "HAZARD_CHANNEL": {
        "自查": "self_check", "企业自查自报": "self_check", "自查自报": "self_check",
        "检查": "inspection", "执法检查": "inspection", "监督检查": "inspection", "督查": "inspection",
        "举报": "public_report", "随手拍": "public_report", "群众举报随手拍": "public_report",
        "投诉举报": "public_report",
    },
    "HAZARD_STATUS": {
        "上报": "reported", "待整改": "reported", "未整改": "reported", "新发现": "reported",
        "整改": "rectifying", "正在整改": "rectifying",
        "待复查": "verifying", "待核查": "verifying", "验收中": "verifying", "整改完成待验收": "verifying",
        "销号": "closed", "已整改": "closed", "已完成": "closed", "已闭环": "closed", "已关闭": "closed",
    },
    "SUPERVISION_LEVEL": {
        "市级": 1, "市": 1, "市挂牌": 1, "县级": 2, "县": 2, "区级": 2, "县挂牌": 2,
        "乡级": 3, "乡": 3, "镇级": 3, "乡镇": 3, "乡挂牌": 3,
    },
    "DUTY_ROLE": {
        "第一责任": "first", "主要负责人": "first", "党政主要负责人": "first",
        "直接责任人": "leader", "分管负责人": "leader", "分管": "leader",
        "监管责任人": "supervisor", "安全监管员": "supervisor", "监管员": "supervisor",
        "信息员": "info_officer", "安全信息员": "info_officer", "网格长": "grid_worker", "专职网格员": "grid_worker",
    },
    "INSPECTOR_LEVEL": {"市": 1, "县": 2, "区级": 2, "区": 2, "乡": 3, "镇级": 3, "乡镇": 3, "村": 4, "社区": 4},
    "INSPECTION_KIND": {
        "日常": "routine", "例行检查": "routine", "暗查暗访": "unannounced", "双随机一公开": "double_random",
        "专项": "special", "专项整治": "special", "回头看": "review", "复核": "review",
    },
    "INSPECTION_RESULT": {
        "通过": "passed", "无问题": "passed", "未发现问题": "passed", "有隐患": "hazards_found",
        "限期整改": "ordered_rectify", "整改": "ordered_rectify", "处罚": "penalized", "罚款": "penalized",
        "停产停业整顿": "closed_down", "停产": "closed_down", "关闭": "closed_down",
    },
}

_ENUM_CACHE: dict[str, dict[str, Any]] = {}


def enum_table(name: str) -> dict[str, Any]:
    """Every accepted spelling (normalised) → stored value for the ``domain.labels`` table ``name``."""
    if name not in _ENUM_CACHE:
        source: dict[Any, str] = getattr(labels, name)
        table: dict[str, Any] = {}
        for value, label in source.items():
            table[norm_text(label)] = value
            table[norm_text(value)] = value
        if name == "RISK_LEVEL":
            for value, label in labels.RISK_LEVEL_LONG.items():
                table[norm_text(label)] = value
        for spelling, value in SYNONYMS.get(name, {}).items():
            table[norm_text(spelling)] = value
        _ENUM_CACHE[name] = table
    return _ENUM_CACHE[name]


def parse_enum(name: str) -> Callable[[Any], Any]:
    """Return a parser for the enum ``name`` (values in Chinese, synonyms or English)."""
    table = enum_table(name)
    allowed = "/".join(getattr(labels, name).values())

    def parse(value: Any) -> Any:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        hit = table.get(norm_text(value))
        if hit is None:
            raise CellError(f"“{value}”不是有效取值 (可填：{allowed})")
        return hit

    return parse


# --- scalars ----------------------------------------------------------------------------------

_TRUE = {"是", "y", "yes", "true", "1", "√", "有", "对", "t", "✓", "✔"}
_FALSE = {"否", "n", "no", "false", "0", "×", "无", "不是", "f", "x", "✗"}


def parse_bool(value: Any) -> bool:
    """是/否, Y/N, yes/no, true/false, 1/0, √/×, 有/无."""
    if isinstance(value, bool):
        return value
    text = norm_text(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = str(int(value)) if float(value).is_integer() else text
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CellError(f"“{value}”应为 是 或 否")


def parse_int(value: Any) -> int:
    """Parse an integer; accepts 56, '56', 56.0, '1,200'."""
    if isinstance(value, bool):
        raise CellError(f"“{value}”不是整数")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise CellError(f"“{value}”不是整数")
    text = norm_text(value).replace(",", "")
    if re.fullmatch(r"[+-]?\d+(\.0+)?", text):
        return int(float(text))
    raise CellError(f"“{value}”不是整数")


def parse_float(value: Any) -> float:
    """Parse a number; accepts '2,000', '2000元', '23.5'."""
    if isinstance(value, bool):
        raise CellError(f"“{value}”不是数字")
    if isinstance(value, int | float):
        return float(value)
    text = norm_text(value).replace(",", "").removesuffix("元").removesuffix("万元")
    try:
        number = float(text)
    except ValueError:
        raise CellError(f"“{value}”不是数字") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise CellError(f"“{value}”不是数字")
    return number


EXCEL_EPOCH = date(1899, 12, 30)
_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[t ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?(?:\d{1,2}[:时].*)?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
MIN_DATE = date(1949, 10, 1)


def parse_date(value: Any) -> date:
    """2025-01-02, 2025/1/2, 2025.1.2, 2025年1月2日, 20250102, Excel serial numbers, datetime cells."""
    if isinstance(value, datetime):
        result = value.date()
    elif isinstance(value, date):
        result = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        result = _from_serial(value)
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip().lower()
        text = re.sub(r"\s+", " ", text)
        if re.fullmatch(r"\d{5}(\.\d+)?", text):
            result = _from_serial(float(text))
        else:
            result = _from_text(value, text.replace(" ", "") if "年" in text else text)
    if result < MIN_DATE:
        raise CellError(f"日期“{value}”早于 1949-10-01，不合理")
    return result


def _from_serial(serial: float) -> date:
    if not 1 <= serial < 2958466:
        raise CellError(f"“{serial}”不是有效的 Excel 日期序号")
    return EXCEL_EPOCH + timedelta(days=int(serial))


def _from_text(raw: Any, text: str) -> date:
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            year, month, day = (int(g) for g in match.groups())
            try:
                return date(year, month, day)
            except ValueError:
                raise CellError(f"日期“{raw}”不存在") from None
    raise CellError(f"无法识别的日期“{raw}” (可用格式：2025-01-02、2025/1/2、2025年1月2日、20250102)")


_CREDIT_VALUE = {c: i for i, c in enumerate(CREDIT_CHARSET)}


def parse_credit_code(value: Any) -> str:
    """统一社会信用代码 with its GB 32100 check character."""
    code = normalize_credit_code(str(value))
    # Fast path for the common valid code (domain.codes' weights); domain.codes words every error.
    try:
        total = sum(map(mul, map(_CREDIT_VALUE.__getitem__, code[:17]), CREDIT_WEIGHTS))
    except KeyError:
        total = -1
    if len(code) == 18 and total >= 0 and code[17] == CREDIT_CHARSET[(31 - total % 31) % 31] and code[2:8].isdigit():
        return code
    error = credit_code_error(code)
    if error:
        raise CellError(f"“{value}”：{error}")
    return code


def parse_admin(value: Any) -> str:
    """Parse a 6/9/12/14-digit administrative or grid code (Excel numbers and NBS padding accepted)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    code = normalize_admin_code(str(value))
    try:
        parse_admin_code(code)
    except ValueError as exc:
        raise CellError(str(exc)) from None
    return code


# NFKC turns ″ into ′′, so seconds may end with two primes.
_DMS = re.compile(r"^(\d{1,3})[°度](?:(\d{1,2})['′分])?(?:(\d{1,2}(?:\.\d+)?)(?:\"|″|秒|′′|'')?)?[nsewNSEW]?$")


def parse_degrees(value: Any) -> float:
    """Decimal degrees, or degrees-minutes-seconds such as 113°51′09″."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = unicodedata.normalize("NFKC", str(value)).strip().replace(" ", "")
    try:
        return float(text)
    except ValueError:
        pass
    match = _DMS.match(text)
    if match:
        deg, minutes, seconds = match.groups()
        return int(deg) + int(minutes or 0) / 60 + float(seconds or 0) / 3600
    raise CellError(f"“{value}”不是有效的经纬度 (应为十进制度，如 113.8526)")


_PHONE = re.compile(r"^[+\d][\d\-() ,，/、转#]{5,28}$")


def parse_phone(value: Any) -> str:
    """Parse a phone number (mobile, landline with area code, extensions, several separated by /)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if not _PHONE.match(text) or sum(ch.isdigit() for ch in text) < 7:
        raise CellError(f"“{value}”不是有效的电话号码")
    return text


def parse_str(value: Any) -> str:
    """Text, stripped; numbers from Excel lose a trailing '.0'."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


PARSERS: dict[str, Callable[[Any], Any]] = {
    "str": parse_str,
    "int": parse_int,
    "float": parse_float,
    "date": parse_date,
    "bool": parse_bool,
    "credit_code": parse_credit_code,
    "admin_code": parse_admin,
    "lon": parse_degrees,
    "lat": parse_degrees,
    "phone": parse_phone,
}


def parse_industry(catalogue: Catalogue) -> Callable[[Any], Any]:
    """Return a parser storing an industry under its catalogue name (an unknown one as given)."""
    def parse(value: Any) -> str:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return catalogue.normalise(str(value))[0]

    return parse


def parser_for(type_name: str, catalogue: Catalogue | None = None) -> Callable[[Any], Any]:
    """Return the parser of a column type of ``etl.columns`` (``enum:NAME`` and ``industry`` included)."""
    if type_name == "industry":
        return parse_industry(catalogue or Catalogue())
    if type_name.startswith("enum:"):
        return parse_enum(type_name.split(":", 1)[1])
    return PARSERS[type_name]


def raw_json(value: Any) -> Any:
    """Render a cell as JSON for ``etl_rejects.raw`` (dates as ISO strings, markers as text)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
