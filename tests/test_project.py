"""Project-level checks: compose file, one-way imports, CLI contract."""

import ast
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

# DESIGN.md §3: dashboard → layers → geo → domain, etl → geo → domain; nothing imports dashboard
# (safegrid/ is the CLI root). The domain home imports no other package of the project.
ALLOWED = {
    "domain": {"domain"},
    "geo": {"geo", "domain"},
    "layers": {"layers", "geo", "domain"},
    "etl": {"etl", "geo", "domain"},
    "dashboard": {"dashboard", "layers", "geo", "domain"},
}
PACKAGES = {"domain", "geo", "layers", "etl", "dashboard", "safegrid"}
# The domain home is pure: no database, no web framework (docs/architecture.md).
DOMAIN_FORBIDDEN = {"sqlalchemy", "geoalchemy2", "psycopg2", "alembic", "dash", "dash_leaflet", "flask", "flask_login"}


def _top_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _imports(path: Path) -> set[str]:
    return _top_imports(path) & PACKAGES


def test_imports_flow_one_way() -> None:
    bad = []
    for pkg, allowed in ALLOWED.items():
        for path in (ROOT / pkg).rglob("*.py"):
            extra = _imports(path) - allowed
            if extra:
                bad.append(f"{path.relative_to(ROOT)} imports {sorted(extra)}")
    assert bad == []


def test_domain_is_pure() -> None:
    bad = [f"{p.relative_to(ROOT)} imports {sorted(_top_imports(p) & DOMAIN_FORBIDDEN)}"
           for p in (ROOT / "domain").rglob("*.py") if _top_imports(p) & DOMAIN_FORBIDDEN]
    assert bad == []


def _dashboard_imports(path: Path) -> set[str]:
    """Every ``dashboard.…`` module ``path`` imports, a ``from X import name`` counted as ``X.name`` too."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: resolve against the importing module's package
                base = path.relative_to(ROOT).with_suffix("").parts[:-node.level]
                module = ".".join([*base, *([module] if module else [])])
            found |= {module} | {f"{module}.{a.name}" for a in node.names}
    return {m for m in found if m.startswith("dashboard.")}


def test_pages_are_leaves() -> None:
    """No module imports a page but the page registry; components import nothing of the pages at all."""
    pages = {f"dashboard.pages.{p.stem}" for p in (ROOT / "dashboard" / "pages").glob("*.py") if p.stem != "__init__"}
    registry = ROOT / "dashboard" / "pages" / "__init__.py"
    assert "dashboard.pages.command_map" in pages
    bad = []
    for pkg in sorted(PACKAGES):
        for path in (ROOT / pkg).rglob("*.py"):
            imported = _dashboard_imports(path)
            if path != registry and imported & pages:
                bad.append(f"{path.relative_to(ROOT)} imports the page {sorted(imported & pages)}")
            if "components" in path.parts and any(m.startswith("dashboard.pages") for m in imported):
                bad.append(f"{path.relative_to(ROOT)}: a component imports {sorted(imported)}")
    assert bad == []


def test_sql_lives_only_in_geo() -> None:
    offenders = []
    for pkg in ("domain", "layers", "etl", "dashboard"):
        for path in (ROOT / pkg).rglob("*.py"):
            if "demo_data" in path.parts:
                continue
            src = path.read_text(encoding="utf-8")
            if "sqlalchemy import text" in src or ("from sqlalchemy import" in src and " text" in src):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_today_is_the_business_day() -> None:
    """``date.today()`` is the server's day (UTC in CI: the previous day in Beijing from 16:00 to 24:00 UTC);
    code and tests read "today" from ``domain.clock`` — a CI run at 00:14 Beijing time failed on this."""
    offenders = [f"{p.relative_to(ROOT)}:{n}" for pkg in (*sorted(PACKAGES), "tests", "bench")
                 for p in (ROOT / pkg).rglob("*.py") if p.name not in ("clock.py", "test_project.py")
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if "date.today()" in line]
    assert offenders == []


def test_compose_services_images_env_healthchecks() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"db", "app", "etl"} <= set(services)
    assert services["db"]["image"].startswith("postgis/postgis:15")
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert "gunicorn" in services["app"]["command"]
    assert "dashboard.app:server" in services["app"]["command"]
    assert services["etl"]["command"][:3] == ["safegrid", "etl", "schedule"]
    for name in ("app", "etl", "migrate"):
        env = services[name]["environment"]
        assert env["SAFEGRID_DATABASE_URL"].endswith("@db:5432/safegrid")
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy"
    for name in ("db", "app", "etl"):
        assert services[name]["healthcheck"]["test"]
    assert (ROOT / "Dockerfile").exists()


def _settings_classes() -> set[type]:
    """Every pydantic-settings class of the project (all modules imported first)."""
    import importlib
    import pkgutil

    from pydantic_settings import BaseSettings

    for pkg in ("domain", "geo", "layers", "etl", "dashboard"):
        for info in pkgutil.walk_packages(importlib.import_module(pkg).__path__, f"{pkg}."):
            if "demo_data" not in info.name and "migrations" not in info.name:
                importlib.import_module(info.name)

    def below(cls: type) -> set[type]:
        return {s for sub in cls.__subclasses__() for s in {sub, *below(sub)}}

    ours = ("domain", "geo", "layers", "etl", "dashboard")  # not a library's own settings (openapi-spec-validator…)
    return {cls for cls in below(BaseSettings) if cls.__module__.split(".")[0] in ours}


def test_env_example_documents_every_setting() -> None:
    documented = (ROOT / ".env.example").read_text()
    missing = [f"{cls.__name__}: {(cls.model_config.get('env_prefix', '') + field).upper()}"
               for cls in _settings_classes() for field in cls.model_fields
               if field != "home" and (cls.model_config.get("env_prefix", "") + field).upper() not in documented]
    assert sorted(missing) == []


def test_cli_usage_error_exits_2() -> None:
    res = subprocess.run([sys.executable, "-m", "safegrid", "db", "nonsense"], capture_output=True, check=False)
    assert res.returncode == 2


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
