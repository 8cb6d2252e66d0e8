"""Domain codes: 统一社会信用代码 (GB 32100-2015) and administrative division codes (NBS 统计用区划代码)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeGuard

CREDIT_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714 organisation code, positions 9-16 of the credit code
_FULL_WIDTH = {c: c - 0xFEE0 for c in range(0xFF10, 0xFF5B)}  # ０-９, Ａ-Ｚ, ａ-ｚ → ASCII
_CREDIT_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def credit_check_char(body17: str) -> str:
    """Return the 18th (check) character for the first 17 characters of a credit code."""
    total = sum(CREDIT_CHARSET.index(c) * w for c, w in zip(body17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_CHARSET[(31 - total % 31) % 31]


def org_check_char(body8: str) -> str:
    """Return the GB 11714 check character of an 8-character organisation code body."""
    total = sum(CREDIT_CHARSET.index(c) * w for c, w in zip(body8, ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def normalize_credit_code(raw: str) -> str:
    """Upper-case and strip spaces and full-width characters people paste into ledgers."""
    return re.sub(r"\s+", "", raw.translate(_FULL_WIDTH)).upper()


def credit_code_error(code: str) -> str | None:
    """Return why ``code`` is not a valid 统一社会信用代码 (in Chinese), or None when it is valid."""
    if len(code) != 18:
        return f"统一社会信用代码应为 18 位，实际 {len(code)} 位"
    if not _CREDIT_RE.match(code):
        return "统一社会信用代码含有不允许的字符 (不使用 I、O、S、V、Z)"
    expected = credit_check_char(code[:17])
    if code[17] != expected:
        return f"统一社会信用代码校验位错误：应为 {expected}，实际 {code[17]}"
    return None


def is_valid_credit_code(code: str) -> bool:
    """Tell whether ``code`` passes the GB 32100-2015 check."""
    return credit_code_error(code) is None


def make_credit_code(registration: str, division: str, org8: str) -> str:
    """Build a valid credit code from registration+type (2), division code (6) and an 8-char org body."""
    body = registration + division + org8 + org_check_char(org8)
    return body + credit_check_char(body)


UNIT_LEVEL_BY_LENGTH = {9: 3, 12: 4, 14: 5}


@dataclass(frozen=True)
class AdminCode:
    """A parsed administrative code: its level (1-5), its parent's code and the unit kind."""

    code: str
    level: int
    parent: str | None
    kind: str


def looks_like_unit_code(value: object) -> TypeGuard[str]:
    """Tell whether a request value can name a unit (6-14 ASCII digits) before any database lookup."""
    return isinstance(value, str) and value.isascii() and value.isdigit() and 6 <= len(value) <= 14


def normalize_admin_code(raw: str) -> str:
    """Strip NBS zero padding: '411002000000' → '411002', '411002001000' → '411002001'."""
    code = re.sub(r"\D", "", str(raw).strip())
    if len(code) == 12 and code.endswith("000000"):
        return code[:6]
    if len(code) == 12 and code.endswith("000"):
        return code[:9]
    return code


def _township_kind(digits: int) -> str:
    if 1 <= digits <= 99:
        return "subdistrict"
    if 100 <= digits <= 199:
        return "town"
    if 200 <= digits <= 399:
        return "township"
    if 400 <= digits <= 599:
        return "dev_zone"
    return "township_other"


def _village_kind(digits: int) -> str:
    if 1 <= digits <= 199:
        return "community"
    if 200 <= digits <= 399:
        return "village"
    return "village_other"


def _county_kind(digits: int) -> str:
    if 1 <= digits <= 20:
        return "district"
    if 71 <= digits <= 79:  # 经济技术开发区、管理区 and similar non-statutory county-level units
        return "county_other"
    if 21 <= digits <= 80:
        return "county"
    if 81 <= digits <= 99:
        return "county_city"
    return "county_other"


def parse_admin_code(raw: str) -> AdminCode:
    """Parse a 6/9/12/14-digit code; raise ``ValueError`` (Chinese message) when it is malformed."""
    code = normalize_admin_code(raw)
    if not code.isdigit() or len(code) not in (6, 9, 12, 14):
        raise ValueError(f"区划代码“{raw}”格式错误：应为 6、9、12 或 14 位数字")
    if len(code) == 6:
        if code.endswith("0000"):
            raise ValueError(f"区划代码“{raw}”是省级代码，不属于市以下五级网格")
        if code.endswith("00"):
            return AdminCode(code, 1, None, "city")
        return AdminCode(code, 2, code[:4] + "00", _county_kind(int(code[4:6])))
    level = UNIT_LEVEL_BY_LENGTH[len(code)]
    if level == 3:
        return AdminCode(code, 3, code[:6], _township_kind(int(code[6:9])))
    if level == 4:
        return AdminCode(code, 4, code[:9], _village_kind(int(code[9:12])))
    if code.endswith("00"):
        raise ValueError(f"网格代码“{raw}”的序号不能为 00")
    return AdminCode(code, 5, code[:12], "grid")


# NBS 统计用区划代码: 12 digits, segments 2-4-6-9-12 (province, city, county, township, village);
# SafeGrid stores the short forms (6/9/12 digits) and adds a 2-digit grid sequence (14).
NBS_SEGMENTS = (2, 4, 6, 9, 12)


def nbs12(raw: str) -> str:
    """Pad a 6- or 9-digit unit code to the 12 digits of the NBS tables (grid codes stay 14)."""
    code = normalize_admin_code(raw)
    return code + "0" * (12 - len(code)) if len(code) in (6, 9) else code


def parent_by_prefix(raw: str) -> str | None:
    """Return the parent's code read from the code's own prefix (None for a city); ``ValueError`` if malformed."""
    return parse_admin_code(raw).parent


def ancestors_by_prefix(raw: str) -> tuple[str, ...]:
    """Every ancestor's code from the city down to the parent, read from the prefixes of ``raw``."""
    chain: list[str] = []
    parent = parent_by_prefix(raw)
    while parent is not None:
        chain.append(parent)
        parent = parent_by_prefix(parent)
    return tuple(reversed(chain))


def declared_parent_error(code: AdminCode, declared: str) -> str | None:
    """Why a file's parent column disagrees with the code's prefix (Chinese), or None when it agrees.

    A parent named by a province code (``xx0000``) is accepted for a city or county: the province is
    above the five levels. A 12-digit NBS parent (``411002000000``) is read in its short form.
    """
    text = str(declared).strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    digits = re.sub(r"\D", "", text)
    if not digits:
        return f"上级代码“{declared}”不是数字代码"
    short = normalize_admin_code(digits)
    if short == code.parent:
        return None
    if code.level <= 2 and len(short) == 6 and short.endswith("0000") and short[:2] == code.code[:2]:
        return None
    expected = code.parent or "无 (市级)"
    return (f"上级代码“{declared}”与代码“{code.code}”的前缀所示上级“{expected}”不一致："
            "SafeGrid 按代码前缀确定上级 (统计用区划代码 2-4-6-9-12 位分段)")
