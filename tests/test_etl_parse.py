"""Cell parsers: the spellings people type into ledgers."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from etl.parse import CellError, parse_admin, parse_bool, parse_credit_code, parse_date, parse_degrees, parse_enum


@pytest.mark.parametrize("text", ["红", "红色", "重大风险", "red", "RED", " 红 ", "重大"])
def test_red_spellings(text: str) -> None:
    assert parse_enum("RISK_LEVEL")(text) == "red"


@pytest.mark.parametrize(("text", "value"), [("一般隐患", "general"), ("一般", "general"), ("重大隐患", "major"),
                                             ("major", "major")])
def test_hazard_level_spellings(text: str, value: str) -> None:
    assert parse_enum("HAZARD_LEVEL")(text) == value


@pytest.mark.parametrize(("text", "grade"), [("一级", 1), ("1", 1), (1, 1), (1.0, 1), ("Ⅰ级", 1), ("I级", 1),
                                             ("Ⅱ", 2), ("三级", 3), ("四级", 4), ("IV", 4)])
def test_source_grade_spellings(text: object, grade: int) -> None:
    assert parse_enum("SOURCE_GRADE")(text) == grade


@pytest.mark.parametrize(("text", "value"), [("一级", "grade1"), ("Ⅱ级", "grade2"), ("小微", "small_micro"),
                                             ("未达标", "none")])
def test_std_grade_spellings(text: str, value: str) -> None:
    assert parse_enum("STD_GRADE")(text) == value


def test_unknown_enum_value_lists_the_allowed_ones() -> None:
    with pytest.raises(CellError, match="红/橙/黄/蓝"):
        parse_enum("RISK_LEVEL")("紫")


@pytest.mark.parametrize(("text", "value"), [("是", True), ("否", False), ("Y", True), ("n", False), ("TRUE", True),
                                             (1, True), (0, False), ("√", True), ("有", True), ("无", False)])
def test_bools(text: object, value: bool) -> None:
    assert parse_bool(text) is value


@pytest.mark.parametrize(
    "raw",
    ["2025-01-02", "2025/1/2", "2025.1.2", "2025年1月2日", "2025 年 1 月 2 日", "20250102", 45659, "45659",
     datetime(2025, 1, 2, 8, 30), date(2025, 1, 2), "2025-01-02 08:30:00", "２０２５－０１－０２"],
)
def test_dates(raw: object) -> None:
    assert parse_date(raw) == date(2025, 1, 2)


@pytest.mark.parametrize(("raw", "fragment"), [("2025-02-30", "不存在"), ("01/02/2025", "无法识别的日期"),
                                               ("1900-01-01", "早于 1949"), ("明天", "无法识别的日期")])
def test_bad_dates(raw: str, fragment: str) -> None:
    with pytest.raises(CellError, match=fragment):
        parse_date(raw)


def test_credit_code_full_width_and_check_char() -> None:
    assert parse_credit_code("９１４１１００２ＭＡ４０ＡＡＡＡ４Ｗ") == "91411002MA40AAAA4W"
    with pytest.raises(CellError, match="校验位错误：应为 4W"[:6]):
        parse_credit_code("91411002MA40AAAA4X")


def test_admin_codes_from_excel_numbers_and_padding() -> None:
    assert parse_admin(411002001.0) == "411002001"
    assert parse_admin("411002001000") == "411002001"
    with pytest.raises(CellError, match="格式错误"):
        parse_admin("41100")


def test_degrees_decimal_and_dms() -> None:
    assert parse_degrees("113.8526") == pytest.approx(113.8526)
    assert parse_degrees("113°51′09″") == pytest.approx(113 + 51 / 60 + 9 / 3600)
    with pytest.raises(CellError, match="经纬度"):
        parse_degrees("东经一百一十三度")


def test_chunk_validation_matches_row_by_row() -> None:
    """The column-wise fast paths (credit codes, coordinates, text) give exactly the per-row verdicts."""
    from domain.codes import make_credit_code
    from etl.columns import LEDGERS
    from etl.validate import RowValidator

    good = make_credit_code("91", "411002", "00000001")
    wrong_check = good[:17] + ("0" if good[17] != "0" else "1")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in good)
    positions = {"credit_code": 0, "name": 1, "lon": 2, "lat": 3, "risk_level": 4, "risk_assessed_at": 5}
    rows: list[list[object]] = [
        [good, "企业一", "113.85", "34.03", "红", "2025-06-30"],
        [good.lower(), "  企业二  ", " 113.8 ", "34.0", "", "2025/6/30"],
        [wrong_check, "企业三", "113°51′09″", "34", "黄色", "2099-01-01"],
        [full_width, "-", "nan", "34.0", "紫", "不是日期"],
        [good[:17], "名" * 300, "1,5", "", "蓝", ""],
        [good, None, 113.5, 34.5, None, datetime(2025, 6, 30)],
        ["", "企业七", "1_0", "١٢٣"],
        [f" {good} ", "企业八", "113.85", "34.03", "red", "20250630"],
    ]
    as_of = date(2026, 1, 1)
    per_row = RowValidator("enterprises", positions, as_of=as_of)
    chunked = RowValidator("enterprises", positions, as_of=as_of)
    expected = [per_row(cells) for cells in rows]
    assert chunked.chunk(rows) == expected
    assert chunked.chunk(rows[:1] * 3) == [per_row(rows[0])] * 3  # cached verdicts on a second chunk
    assert [k for k in LEDGERS["enterprises"] if k.key in positions]  # the columns exist
    assert expected[0][1] == [] and expected[2][1] and expected[4][1]
