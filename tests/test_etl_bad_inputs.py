"""The bad-input corpus: every broken file gets its Chinese message, and a refused file changes nothing."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from etl.load import load_file
from tests.bad_inputs.corpus import CASES, Case
from tests.etl_support import ETL_DB, ROOT, clean_fixture, counts, etl_url_fixture, query  # noqa: F401


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", [c for c in CASES if not c.big], ids=lambda c: c.name)
def test_bad_input(case: Case, clean: str, tmp_path: Path) -> None:
    path = case.build(tmp_path / case.name)
    before = counts(clean)
    result = load_file(case.kind, path, url=clean, **case.options)
    said = result.message + " " + " ".join("；".join(errors) for _n, errors in result.rejects)
    assert case.expect in said, said
    assert result.status == case.status, said
    run = query(clean, "SELECT status, message, rows_rejected FROM etl_runs WHERE id = :r", r=result.run_id)[0]
    assert run.status == case.status and run.rows_rejected == result.rows_rejected
    if case.status == "rejected":
        after = counts(clean)
        assert after == before, "a refused file must leave the database unchanged"
    if result.rejects:
        stored = query(clean, "SELECT row_number, errors FROM etl_rejects WHERE run_id = :r ORDER BY row_number",
                       r=result.run_id)
        assert [(r.row_number, list(r.errors)) for r in stored] == [(n, e) for n, e in result.rejects]


@pytest.mark.parametrize("case", [c for c in CASES if c.big], ids=lambda c: c.name)
def test_a_50_mb_cell_is_rejected_without_blowing_up_memory(case: Case, clean: str, tmp_path: Path) -> None:
    path = case.build(tmp_path / case.name)
    assert path.stat().st_size > 45 * 1024 * 1024 or case.name.endswith(".xlsx")
    code = (
        "import resource, sys; from pathlib import Path; from etl.load import load_file; "
        f"r = load_file({case.kind!r}, Path({str(path)!r})); "
        "print(r.status); print(' '.join('；'.join(e) for _n, e in r.rejects)); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    env = {"SAFEGRID_PG_DATABASE": ETL_DB, "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    status, reasons, max_rss_kb = res.stdout.strip().splitlines()[-3:]
    assert status == case.status and case.expect in reasons
    assert int(max_rss_kb) < 1_200_000, f"peak memory {int(max_rss_kb) // 1024} MB"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 2_000_000
