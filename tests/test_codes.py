import pytest

from domain.codes import (
    credit_code_error,
    is_valid_credit_code,
    looks_like_unit_code,
    make_credit_code,
    normalize_credit_code,
    org_check_char,
    parse_admin_code,
)

# Published codes of real companies (national enterprise credit system).
REAL_CODES = [
    "91350100M000100Y43",  # the GB 32100-2015 standard's own example
    "91110108551385082Q",  # 小米科技有限责任公司
    "914403001922038216",  # 华为技术有限公司
    "9144030071526726XG",  # 深圳市腾讯计算机系统有限公司
    "91110000802100433B",  # 中国石油化工股份有限公司
]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_credit_codes_pass(code: str) -> None:
    assert is_valid_credit_code(code)
    assert org_check_char(code[8:16]) == code[16]


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("91350100M000100Y44", "校验位错误：应为 3"),
        ("914403001922038217", "校验位错误"),
        ("91350100M000100Y4", "应为 18 位"),
        ("91350100M0001O0Y43", "不允许的字符"),
        ("9135010OM000100Y43", "不允许的字符"),
        ("", "实际 0 位"),
    ],
)
def test_bad_credit_codes_say_why(code: str, fragment: str) -> None:
    err = credit_code_error(code)
    assert err is not None and fragment in err


def test_single_character_changes_are_caught() -> None:
    code = REAL_CODES[1]
    for i in range(17):
        for c in "0A":
            if code[i] != c:
                mutated = code[:i] + c + code[i + 1:]
                assert not is_valid_credit_code(mutated), mutated


def test_make_credit_code_is_valid() -> None:
    code = make_credit_code("91", "411002", "MA3X5K7B")
    assert len(code) == 18 and is_valid_credit_code(code)


def test_normalize_full_width_and_spaces() -> None:
    assert normalize_credit_code(" ９１３５０１００ｍ000100y43 ") == "91350100M000100Y43"


@pytest.mark.parametrize(
    ("raw", "level", "parent", "kind"),
    [
        ("411000", 1, None, "city"),
        ("411002", 2, "411000", "district"),
        ("411024", 2, "411000", "county"),
        ("411081", 2, "411000", "county_city"),
        ("411071", 2, "411000", "county_other"),
        ("411002001", 3, "411002", "subdistrict"),
        ("411003101", 3, "411003", "town"),
        ("411024203", 3, "411024", "township"),
        ("411071400", 3, "411071", "dev_zone"),
        ("411002001001", 4, "411002001", "community"),
        ("411024203210", 4, "411024203", "village"),
        ("41100200100101", 5, "411002001001", "grid"),
        ("411002001000", 3, "411002", "subdistrict"),  # NBS 12-digit padding
        ("411002000000", 2, "411000", "district"),
    ],
)
def test_parse_admin_code(raw: str, level: int, parent: str | None, kind: str) -> None:
    parsed = parse_admin_code(raw)
    assert (parsed.level, parsed.parent, parsed.kind) == (level, parent, kind)


@pytest.mark.parametrize("raw", ["4110", "41100200", "410000", "abcdef", "41100200100100", ""])
def test_parse_admin_code_rejects(raw: str) -> None:
    with pytest.raises(ValueError, match="代码"):
        parse_admin_code(raw)


@pytest.mark.parametrize(("value", "ok"), [
    ("411002", True), ("41100200100101", True), ("41100", False), ("411002001001011", False),
    ("４１１００２", False), ("411002\x00", False), (411002, False), (None, False), ("", False),
])
def test_a_request_value_that_can_name_a_unit(value: object, ok: bool) -> None:
    assert looks_like_unit_code(value) is ok
