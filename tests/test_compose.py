"""docker-compose.yml has the stack's topology, and everything it names exists in the project (issue 20).

No Docker here: the file is parsed with PyYAML and each reference is checked against the code — the
``safegrid`` sub-commands (typer), gunicorn's own option parser and app module, every ``SAFEGRID_*``
variable against the settings classes, mounted files, service names in URLs, ``depends_on`` and the
nginx upstream.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from gunicorn.config import Config
from typer.testing import CliRunner

from safegrid.cli import app as cli
from tests.test_project import _settings_classes

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
OURS = [name for name, s in SERVICES.items() if s.get("build") == "."]


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    return {str(k): str(v) for k, v in env.items()}


def _known_settings() -> set[str]:
    return {(cls.model_config.get("env_prefix", "") + field).upper()
            for cls in _settings_classes() for field in cls.model_fields}


def test_topology() -> None:
    assert {"nginx", "app", "redis", "db", "db-replica", "migrate", "etl"} <= set(SERVICES)
    assert SERVICES["app"]["deploy"]["replicas"] >= 2
    assert set(OURS) == {"app", "migrate", "etl"}
    assert "ports" not in SERVICES["app"]  # only nginx is published
    assert SERVICES["nginx"]["ports"] == ["8050:8050"]
    for name in ("db", "db-replica", "redis", "app", "nginx", "etl"):
        assert SERVICES[name]["healthcheck"]["test"], name


def test_every_safegrid_setting_exists() -> None:
    known = _known_settings()
    used = {key for s in SERVICES.values() for key in _env(s) if key.startswith("SAFEGRID_")}
    assert used and sorted(used - known) == []
    documented = (ROOT / ".env.example").read_text()
    assert sorted(k for k in used if k not in documented) == []


def test_urls_name_the_services() -> None:
    for name in OURS:
        env = _env(SERVICES[name])
        assert urlsplit(env["SAFEGRID_DATABASE_URL"]).hostname == "db"
        assert urlsplit(env["SAFEGRID_DATABASE_REPLICA_URL"]).hostname == "db-replica"
        assert urlsplit(env["SAFEGRID_REDIS_URL"]).hostname == "redis"
    assert _env(SERVICES["app"])["SAFEGRID_TRUSTED_PROXY_HOPS"] == "1"


def test_depends_on_and_mounts_exist() -> None:
    for name, service in SERVICES.items():
        for dep in service.get("depends_on") or {}:
            assert dep in SERVICES, (name, dep)
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).is_file(), (name, source)
            else:
                assert source in COMPOSE["volumes"], (name, source)


@pytest.mark.parametrize("name", [n for n in SERVICES if n in {"migrate", "etl"}])
def test_safegrid_commands_exist(name: str) -> None:
    commands = [SERVICES[name]["command"]]
    health = SERVICES[name].get("healthcheck", {}).get("test", [])
    if health[:2] == ["CMD", "safegrid"]:
        commands.append(health[1:])
    for command in commands:
        assert command[0] == "safegrid"
        res = CliRunner().invoke(cli, [*command[1:], "--help"])
        assert res.exit_code == 0, (command, res.output)


def test_gunicorn_command_parses_and_names_our_app() -> None:
    command = SERVICES["app"]["command"]
    assert command[0] == "gunicorn"
    args = Config().parser().parse_args(command[1:])  # an unknown option would exit here
    assert args.bind == ["0.0.0.0:8050"]
    module, _, attr = args.args[0].partition(":")
    tree = ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text())
    assigned = any(isinstance(n, ast.Assign) and any(getattr(t, "id", None) == attr for t in n.targets)
                   for n in tree.body)
    lazy = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "__getattr__"]  # built on first use
    assert assigned or (lazy and repr(attr) in ast.unparse(lazy[0])), f"{module} defines no {attr}"
    assert args.config.startswith("python:")
    assert importlib.util.find_spec(args.config.removeprefix("python:")) is not None


def test_nginx_upstream_is_the_app_service() -> None:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    servers = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", conf, re.M)
    bound = SERVICES["app"]["command"][SERVICES["app"]["command"].index("--bind") + 1].rsplit(":", 1)[1]
    assert servers == [("app", bound)]
    assert re.search(r"listen\s+8050;", conf)
    assert "proxy_next_upstream error timeout" in conf


def test_replica_is_made_with_pg_basebackup() -> None:
    script = (ROOT / "deploy" / "db" / "replica-entrypoint.sh").read_text()
    assert "pg_basebackup -h db " in script and " -R " in script
    init = (ROOT / "deploy" / "db" / "primary-init.sh").read_text()
    assert "REPLICATION" in init and "host replication replicator" in init
    assert "REPLICATION_PASSWORD" in SERVICES["db"]["environment"]


def test_dockerfile_copies_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    packages = ["safegrid", "domain", "geo", "layers", "etl", "dashboard"]
    for pkg in packages:
        assert re.search(rf"^COPY {pkg} {pkg}$", dockerfile, re.M), pkg


def test_gunicorn_keeps_connections_longer_than_nginx() -> None:
    """Otherwise an instance closes an idle connection as nginx reuses it: a 502 on a POST (not retried)."""
    from safegrid import gunicorn_conf
    from safegrid.stack import NGINX_CONF

    for conf in ((ROOT / "deploy" / "nginx.conf").read_text(), NGINX_CONF):
        upstream = re.search(r"upstream safegrid \{+(.*?)\n\s*\}", conf, re.S)
        assert upstream is not None
        idle = re.search(r"keepalive_timeout (\d+)s;", upstream.group(1))
        assert idle is not None and "keepalive 32;" in upstream.group(1)
        assert gunicorn_conf.keepalive > int(idle.group(1))
