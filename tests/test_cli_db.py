import os
import subprocess
import sys

from sqlalchemy import Engine

from geo import migrate


def _sg(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SAFEGRID_PG_DATABASE=os.environ.get("SAFEGRID_TEST_DB", "safegrid_test"))
    return subprocess.run([sys.executable, "-m", "safegrid", *args], capture_output=True, text=True,
                          env=env, check=False)


def test_db_start_is_idempotent_and_status_shows_versions(engine: Engine) -> None:
    assert _sg("db", "start").returncode == 0
    res = _sg("db", "status")
    assert res.returncode == 0, res.stderr
    assert "PostgreSQL 15" in res.stdout
    assert "postgis:    3." in res.stdout
    assert f"{migrate.head()} (head {migrate.head()}" in res.stdout and "已是最新" in res.stdout


def test_db_psql_passes_arguments(engine: Engine) -> None:
    res = _sg("db", "psql", "--", "-tAc", "select count(*) from geometry_columns")
    assert res.returncode == 0, res.stderr
    assert int(res.stdout.strip()) >= 7
