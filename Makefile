# SafeGrid — two commands for a new user: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SG := $(VENV)/bin/safegrid
STAMP := $(VENV)/.installed
APT_PKGS := postgresql-15 postgresql-15-postgis-3 chromium fonts-noto-cjk nginx redis-server
DEMO_DIR := .local/demo
DEMO_ENTERPRISES ?= 20000

.PHONY: demo test screenshots setup sysdeps venv db lint pytest clean-db bench-deps

## demo: set everything up, load the 许昌市 demo data and serve http://127.0.0.1:8050
demo: setup
	@$(MAKE) --no-print-directory demo-data
	$(SG) serve --host 127.0.0.1 --port 8050

## test: set everything up and run linters + the full pytest suite (unit, PostGIS, browser)
test: setup lint pytest

## screenshots: refresh the tracked docs/screenshots/*.png on purpose by running the browser tests
## (make test writes its screenshots to the git-ignored tests/artifacts/screenshots instead)
screenshots: setup
	SAFEGRID_SCREENSHOT_DIR=docs/screenshots $(PY) -m pytest -q $(sort $(wildcard tests/test_*browser*.py))

setup: sysdeps venv db

sysdeps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "安装系统软件包:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "缺少系统软件包:$$missing"; echo "请运行: sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

## bench-deps: what the benchmarks compare against, not needed to run or test the app: Debian's gdal-bin
## (ogr2ogr, the baseline of bench/bench_ogc.py's GeoPackage export) and libjs-leaflet (plain Leaflet for the
## bare pages of bench/bench_browser_risk.py)
bench-deps:
	@$(MAKE) --no-print-directory sysdeps APT_PKGS="gdal-bin libjs-leaflet"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "需要 Python 3.11+"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

db: venv
	$(SG) db start
	$(SG) db migrate

demo-data: db
	@if [ "$$($(SG) db psql -- -tAc 'select count(*) from units' 2>/dev/null)" = "0" ] || [ -n "$(FORCE)" ]; then \
	  if $(SG) demo --help >/dev/null 2>&1; then \
	    $(SG) demo build $(DEMO_DIR) --enterprises $(DEMO_ENTERPRISES) && $(SG) demo load $(DEMO_DIR); \
	  else \
	    echo "数据库已就绪 (已迁移到最新)。演示数据与界面尚未实现 (见 README)。"; exit 3; \
	  fi; \
	fi
	@if $(SG) users --help >/dev/null 2>&1; then $(SG) users demo; fi

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

pytest: venv db
	$(PY) -m pytest

clean-db:
	-$(SG) db stop
	rm -rf .local/pg
