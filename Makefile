# Datenwerk: `make run` and `make test` are all a fresh machine needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export DATENWERK_HOME ?= $(CURDIR)/data
export DAGSTER_HOME ?= $(DATENWERK_HOME)/dagster
VENV := .venv
BIN := $(VENV)/bin
# The venv's bin first: dagster-dbt calls `dbt` from PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)
# uv itself: the machine's if it has one, otherwise pinned from PyPI into .tools/ with
# `pip --target`, which works without a venv, without ~/.local/bin on PATH and on Debian's
# externally managed Python (PEP 668 refuses plain and --user installs there).
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/uv/bin/uv)
# Only package registries are reachable: never let uv fetch a Python build.
export UV_PYTHON_DOWNLOADS := never
# TLS through the operating system's certificate store, as pip does (a site's own CA, a proxy).
export UV_SYSTEM_CERTS := 1
export UV_NATIVE_TLS := 1
STAMP := $(VENV)/.installed

.PHONY: help install run dev test bench docs lint clean browser-deps old-reader standard \
	spark-deps test-spark test-long bench-spark

help:
	@echo "make run    install, make demo data if the inbox is empty, run the whole pipeline"
	@echo "make test   install and run the tests"
	@echo "make test-long  the longest end-to-end tests (UI and GraphQL nights; CI runs them)"
	@echo "make dev    Dagster UI on http://127.0.0.1:3000"
	@echo "make lint   ruff, mypy and sqlfluff, as CI runs them"
	@echo "make bench  scale benchmarks (results in bench/results/)"
	@echo "make bench-spark  DuckDB and Spark engines at demo scale 20 and 100"
	@echo "make docs   the data catalog (dbt docs, one static HTML file under DATENWERK_HOME/docs/)"
	@echo "make clean  remove the environment and all runtime data under DATENWERK_HOME"

# uv from PyPI if the machine has none; the environment exactly as locked, with bytecode
# compiled once at install (where PYTHONDONTWRITEBYTECODE is set, every process would
# otherwise recompile dagster, dbt and pandas from source: ~2 s per process).
$(STAMP): pyproject.toml uv.lock
	@test -x "$(UV)" || python3 -m pip install --quiet --disable-pip-version-check \
		--target .tools/uv "uv==$(UV_VERSION)"
	"$(UV)" sync --frozen --compile-bytecode --python 3.11
	@touch $(STAMP)

install: $(STAMP) ingestion/standard_v1.md

# The standard's document is generated from the standard and the shipped profiles: a new profile
# only needs `make` (or `make standard`) to bring it up to date.
ingestion/standard_v1.md: ingestion/standard_v1.yml ingestion/standard.py \
		$(wildcard ingestion/case_management/profiles/*.yml) | $(STAMP)
	$(BIN)/datenwerk standard > $@.tmp && mv $@.tmp $@

standard: ingestion/standard_v1.md

# The impact reports' PDFs are printed by Debian's Chromium: installed where we may (root), else
# the reports come as HTML only and the run says so.
run: install $(if $(filter spark,$(DATENWERK_ENGINE)),spark-deps)
	@test -x /usr/bin/chromium || test "$$(id -u)" != 0 || $(MAKE) --no-print-directory browser-deps
	$(BIN)/datenwerk run --demo-if-empty

# Dagster's webserver and daemon, behind a guard against cross-site requests (orchestration/webserver.py).
dev: install
	$(BIN)/python -m orchestration.webserver -H 127.0.0.1 -p 3000

# The browser tests drive Debian's Chromium (Playwright's Python API with executable_path; no
# browser is ever downloaded by a test tool). Installed once, as root, as CI does.
browser-deps:
	@test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

# An analyst's DuckDB 1.0 in an environment of its own (like browser-deps, installed once from the
# registry before the tests): the tests open the published marts with it.
OLD_READER := .venv-duckdb1
$(OLD_READER)/.installed:
	"$(UV)" venv --quiet --python 3.11 $(OLD_READER)
	"$(UV)" pip install --quiet --python $(OLD_READER)/bin/python "duckdb==1.0.0"
	@touch $@
old-reader: install $(OLD_READER)/.installed

# The Spark engine (DATENWERK_ENGINE=spark): pyspark and dbt-spark from the lock's `spark` group,
# and a Java runtime from the system's packages (installed where we may, as root).
spark-deps: install
	"$(UV)" sync --frozen --compile-bytecode --python 3.11 --group spark
	@command -v java >/dev/null || test -x "$$JAVA_HOME/bin/java" || test "$$(id -u)" != 0 || \
		(apt-get update && apt-get install -y openjdk-17-jre-headless)
	@command -v java >/dev/null || test -x "$$JAVA_HOME/bin/java" || { echo "Spark needs \
		Java 17: apt-get install openjdk-17-jre-headless (as root), or set JAVA_HOME" >&2; exit 1; }

# DuckDB and Spark build the whole dbt project (seeds, models, data and unit tests) from the same
# raw data (small demo); every table, each published mart among them, compared row by row.
test-spark: spark-deps
	$(BIN)/python -m pytest -q -m spark -p no:cacheprovider -o addopts=""

# Two workers (the CI machine has two cores). Tests sharing a session fixture that costs a
# pipeline run stay on one worker (tests/conftest.py: group_by_shared_fixture), handed out in
# the order of collection, longest first.
TEST_WORKERS ?= 2
test: install browser-deps old-reader
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

# The longest end-to-end tests (marker long: the UI's and GraphQL's nights in a real browser, a
# delivery's night against a fresh full one), a few minutes on two workers; .ci/run runs them
# after make test, which stays within 15 minutes.
test-long: install browser-deps old-reader
	$(BIN)/python -m pytest -q -m long -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder \
		-o addopts=""

bench: install
	$(BIN)/python -m pytest -q -m bench -p no:cacheprovider -o addopts=""

# DuckDB and Spark on the same warehouse at demo scales DATENWERK_BENCH_SPARK_SCALES (default
# "20 100"; bench/results/spark_engines.json). Scale 100 takes long on a small machine.
bench-spark: spark-deps
	$(BIN)/python -m pytest -q -s -m bench_spark -p no:cacheprovider -o addopts="" \
		tests/bench/test_spark_engines.py

# The data catalog: dbt docs as one self-contained HTML file (dbt ships the page; nothing is
# downloaded). Column types come from the build database when a run has made one.
DOCS_DIR := $(DATENWERK_HOME)/docs/catalog
BUILD_DB := $(DATENWERK_HOME)/warehouse/build.duckdb
docs: install
	@mkdir -p "$(DOCS_DIR)" "$(DATENWERK_HOME)/warehouse"
	cd transform && DO_NOT_TRACK=1 DBT_SEND_ANONYMOUS_USAGE_STATS=false \
		DATENWERK_BUILD_DB="$(BUILD_DB)" ../$(BIN)/dbt --quiet docs generate --static \
		--target-path "$(DOCS_DIR)" --log-path "$(DOCS_DIR)/logs" \
		$$(test -f "$(BUILD_DB)" || echo --empty-catalog)
	@mv -f "$(DOCS_DIR)/static_index.html" "$(DOCS_DIR)/index.html"
	@echo "Data catalog: $(DOCS_DIR)/index.html (open it in a browser; works offline)"

# Python style and types, then the dbt models' SQL (sqlfluff reads transform/.sqlfluff).
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	cd transform && ../$(BIN)/sqlfluff lint .

clean:
	rm -rf $(VENV) $(OLD_READER) .tools "$(DATENWERK_HOME)" transform/target transform/logs
