"""Ledger loads end to end on a real PostGIS: templates, idempotence, updates, history, grid cells."""

from __future__ import annotations

from pathlib import Path

from etl.load import load_file
from etl.template import write_template
from tests.etl_support import clean_fixture, etl_url_fixture, query  # noqa: F401

KINDS = ("enterprises", "hazard-sources", "hazards", "inspections", "persons")


def test_every_template_example_loads(clean: str, tmp_path: Path) -> None:
    for kind in KINDS:
        path = write_template(kind, tmp_path / f"{kind}.xlsx")
        result = load_file(kind, path, url=clean)
        assert result.status == "ok", (kind, result.message, result.rejects)
        assert result.rows_in == 1 and result.rows_loaded == 1
    row = query(clean, "SELECT e.name, u.code, u.level FROM enterprises e LEFT JOIN units u ON u.id = e.unit_id")[0]
    assert row.level == 5
