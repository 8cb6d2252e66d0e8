"""The inbox scheduler: names say the kind, loads run top-down, files end in done/ or failed/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from etl.schedule import classify, run_once
from tests.etl_support import (
    ENTERPRISE_HEADER,
    ETL_DB,
    ROOT,
    clean_fixture,  # noqa: F401
    enterprise_rows,
    etl_url_fixture,  # noqa: F401
    query,
    weidu_tree,
    write_csv,
    write_geojson,
)


def test_file_names_announce_kind_and_level() -> None:
    assert classify(Path("enterprises_2025-09.xlsx")).kind == "enterprises"  # type: ignore[union-attr]
    item = classify(Path("boundaries_level5_grids.geojson"))
    assert item is not None and (item.kind, item.level) == ("boundaries", 5)
    assert classify(Path("hazard_sources.csv")).kind == "hazard-sources"  # type: ignore[union-attr]
    assert classify(Path("photo.png")) is None and classify(Path("misc.csv")) is None


def test_run_once_loads_top_down_and_files_away(clean: str, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    # The enterprises need the grid loaded first; the scheduler sorts boundaries before ledgers.
    write_csv(inbox / "enterprises_batch1.csv", ENTERPRISE_HEADER, enterprise_rows(5))
    write_geojson(inbox / "boundaries_level5.geojson", weidu_tree()[5])
    (inbox / "enterprises_broken.xlsx").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (inbox / "notes.csv").write_text("hello\n", encoding="utf-8")
    results = run_once(inbox, url=clean, refresh=False)
    assert [(r.kind, r.status) for r in results] == [("boundaries", "ok"), ("enterprises", "ok"),
                                                      ("enterprises", "rejected")]
    done = sorted(p.name.split("_", 1)[1] for p in (inbox / "done").iterdir())
    failed = sorted(p.name.split("_", 1)[1] for p in (inbox / "failed").iterdir())
    assert done == ["boundaries_level5.geojson", "boundaries_level5.geojson.result.txt", "enterprises_batch1.csv",
                    "enterprises_batch1.csv.result.txt"]
    assert "enterprises_broken.xlsx" in failed and "notes.csv" in failed
    report = next((inbox / "failed").glob("*enterprises_broken.xlsx.result.txt")).read_text(encoding="utf-8")
    assert "PNG 图片" in report
    assert not [p for p in inbox.iterdir() if p.is_file()]
    assert query(clean, "SELECT count(*) FROM enterprises WHERE unit_id IS NOT NULL")[0][0] == 5


def test_schedule_once_on_the_command_line(clean: str, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_csv(inbox / "enterprises.csv", ENTERPRISE_HEADER, enterprise_rows(2))
    env = dict(os.environ, SAFEGRID_PG_DATABASE=ETL_DB, SAFEGRID_ETL_INBOX=str(inbox))
    res = subprocess.run([sys.executable, "-m", "safegrid", "etl", "schedule", "--once"], env=env, cwd=ROOT,
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "enterprises.csv: 成功" in res.stdout
    assert len(list((inbox / "done").glob("*enterprises.csv"))) == 1
