"""A ledger kind is one record: a toy kind (model + record + its own check) loads end to end.

The toy table lives only in this module's ETL database (tests/etl_support.py) and the toy record only
inside ``registered``: the other tests see the five real kinds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, Boolean, Date, DateTime, Integer, Numeric, String, create_engine, func, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from etl.load import kinds, load_file
from etl.template import docs_columns, write_template
from geo import etl_sql
from geo.ledger_kinds import LEDGER_KINDS, Column, LedgerKind, Location, registered
from tests.etl_support import (
    ROOT,
    cell_points,
    etl_url_fixture,  # noqa: F401
    query,
    write_csv,
)


class ToyBase(DeclarativeBase):
    """Metadata of its own: the toy table never joins the project's schema (or its no-drift test)."""


class Hydrant(ToyBase):
    """消火栓: a located toy ledger with a grid-code fallback."""

    __tablename__ = "toy_hydrants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(12))
    pressure: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    checked_at: Mapped[date | None] = mapped_column(Date)
    in_service: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=True)
    h3_r6: Mapped[int | None] = mapped_column(BigInteger)
    h3_r7: Mapped[int | None] = mapped_column(BigInteger)
    h3_r8: Mapped[int | None] = mapped_column(BigInteger)
    h3_r9: Mapped[int | None] = mapped_column(BigInteger)
    unit_id: Mapped[int | None] = mapped_column(Integer)
    source_run_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


def _check_pressure(state: dict[str, Any], values: dict[str, Any], errors: list[str]) -> None:
    """Check 水压 0.1-1.6 MPa."""
    pressure = values.get("pressure")
    if pressure is not None and not 0.1 <= pressure <= 1.6:
        errors.append(f"“水压”应在 0.1-1.6 MPa 之间，实际 {pressure}")


HYDRANTS = LedgerKind(
    "fire-hydrants", (Hydrant,), ("code",),
    (
        Column("code", "消火栓编号", "str", True, ("编号",), example="XHS0001"),
        Column("name", "位置", "str", True, ("名称",), example="西大街 1 号"),
        Column("pressure", "水压(MPa)", "float", aliases=("水压",), example="0.35"),
        Column("checked_at", "检查日期", "date", example="2025-09-01", not_future=True),
        Column("in_service", "在用", "bool", example="是"),
        Column("grid_code", "网格代码", "admin_code"),
        Column("lon", "经度", "lon"),
        Column("lat", "纬度", "lat"),
    ),
    joins="LEFT JOIN units g ON g.code = s.grid_code",
    location=Location(fallback_unit="g.id", described="the cell of 网格代码"),
    cross_check=_check_pressure,
)


@pytest.fixture(name="toy")
def toy_fixture(etl_url: str) -> Iterator[str]:
    """The ETL database with the toy table, and the toy kind registered."""
    eng = create_engine(etl_url)
    ToyBase.metadata.create_all(eng)
    try:
        with registered(HYDRANTS):
            yield etl_url
    finally:
        ToyBase.metadata.drop_all(eng)
        eng.dispose()


def test_a_toy_kind_loads_end_to_end_through_its_record(toy: str, tmp_path: Path) -> None:
    assert "fire-hydrants" in kinds() and "toy_hydrants" in etl_sql.LOCATED
    template = load_file("fire-hydrants", write_template("fire-hydrants", tmp_path / "t.xlsx"), url=toy)
    assert (template.status, template.rows_loaded) == ("ok", 1), template.message

    (cell, lon, lat), (other, _, _) = cell_points()[:2]
    rows = [
        ["XHS0002", "西大街 2 号", "0.4", "2025-08-01", "是", "", round(lon, 6), round(lat, 6)],  # located
        ["XHS0003", "西大街 3 号", "3", "2025-08-01", "否", "", "", ""],  # 水压 out of range
        ["XHS0004", "西大街 4 号", "", "", "", other, "", ""],  # no point: the cell of 网格代码
        ["XHS0002", "重复", "0.5", "", "", "", "", ""],  # the key again
        ["XHS0005", "西大街 5 号", "", "2999-01-01", "", "", "", ""],  # in the future
    ]
    header = ["消火栓编号", "名称", "水压", "检查日期", "在用", "网格代码", "经度", "纬度"]
    path = write_csv(tmp_path / "fire-hydrants.csv", header, rows)
    result = load_file("fire-hydrants", path, url=toy)
    assert result.status == "partial", result.message
    assert (result.rows_in, result.rows_loaded, result.rows_rejected) == (5, 2, 3)
    reasons = dict(result.rejects)
    assert reasons[3] == ["“水压”应在 0.1-1.6 MPa 之间，实际 3.0"]
    assert reasons[5] == ["与第 2 行重复 (键 XHS0002)：保留第 2 行"]
    assert reasons[6][0].startswith("“检查日期” 2999-01-01 在未来")
    stored = query(toy, "SELECT r.row_number, r.errors FROM etl_rejects r WHERE r.run_id = :run ORDER BY 1",
                   run=result.run_id)
    assert [(r.row_number, r.errors) for r in stored] == [(n, e) for n, e in result.rejects]

    placed = {r.code: r for r in query(
        toy, "SELECT t.code, t.pressure, t.in_service, u.code AS cell, t.h3_r9 IS NOT NULL AS h3, t.source_run_id "
             "FROM toy_hydrants t LEFT JOIN units u ON u.id = t.unit_id")}
    assert set(placed) == {"XHS0001", "XHS0002", "XHS0004"}
    assert (placed["XHS0002"].cell, placed["XHS0002"].h3, placed["XHS0002"].pressure) == (cell, True, Decimal("0.40"))
    assert (placed["XHS0004"].cell, placed["XHS0004"].h3, placed["XHS0004"].in_service) == (other, False, False)
    assert placed["XHS0002"].source_run_id == result.run_id

    again = load_file("fire-hydrants", path, url=toy)  # idempotent like every kind
    assert (again.counts["inserted"], again.counts["updated"], again.unchanged) == (0, 0, 2)


def test_the_registry_is_back_to_the_real_kinds_and_the_docs_follow_it() -> None:
    assert tuple(LEDGER_KINDS) == ("persons", "enterprises", "hazard-sources", "hazards", "inspections", "accidents",
                                 "denominators")
    assert kinds() == ("boundaries", *LEDGER_KINDS)
    assert docs_columns() in (ROOT / "docs" / "etl.md").read_text(encoding="utf-8"), (
        "docs/etl.md is out of date: run etl.template.write_docs_columns(Path('docs/etl.md'))")
    with registered(HYDRANTS):
        assert "`fire-hydrants` → `toy_hydrants`" in docs_columns()
    assert "fire-hydrants" not in LEDGER_KINDS


def test_a_record_that_contradicts_itself_is_refused() -> None:
    with pytest.raises(ValueError, match="lon and lat"):
        LedgerKind("bad", (Hydrant,), ("code",), (Column("code", "编号"),), location=Location())
    with pytest.raises(ValueError, match="key"):
        LedgerKind("bad", (Hydrant,), ("nope",), (Column("code", "编号"),))
    with pytest.raises(ValueError, match="exists"), registered(HYDRANTS), registered(HYDRANTS):
        pass
