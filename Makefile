# Brightline — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: run check test test-deps test-slow lint typecheck pytest bench vendor clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## Front-end packages from the npm registry (axe-core for the console's browser tests).
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

## Copies htmx from the npm package into the console's static files (committed).
vendor: $(NODE_STAMP)
	cp node_modules/htmx.org/dist/htmx.min.js src/brightline/web/static/htmx.min.js
	cp node_modules/htmx.org/LICENSE src/brightline/web/static/htmx.LICENSE

## Runs Brightline's main job on the embedded defaults: the server (SQLite ./brightline.db,
## ./brightline-data/; on first start a ledger key, an admin API key, the example world and
## its restrictions as a recorded bootstrap, so that it decides as `check` printed).
## Ctrl-C stops it.
run: $(STAMP)
	$(BIN)/brightline validate --world examples/world
	$(BIN)/brightline check --world examples/world --requests examples/requests.csv
	$(BIN)/brightline serve --world examples/world

## The decision engine's job alone, without the server.
check: $(STAMP)
	$(BIN)/brightline check --world examples/world --requests examples/requests.csv

## What the tests need besides Python (python3-venv, PostgreSQL, Java for Spark, Chromium,
## npm): installed from Debian's packages when missing and run as root, otherwise one line
## naming what to install. Only looks when everything is there.
test-deps:
	@scripts/test-deps

## Install what is missing, lint, type-check (strict on src/), check the import contracts
## (pyproject.toml) and run the whole test suite on a throwaway PostgreSQL cluster that is
## started first and stopped at the end, whatever happens.
test: test-deps
	@$(MAKE) --no-print-directory $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	scripts/postgres-test-cluster.sh run $(BIN)/pytest

## The long-running tests the default run leaves out (the attack on the transparency
## series, over more random providers).
test-slow: $(STAMP)
	$(BIN)/pytest -m slow

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: test-deps
	@$(MAKE) --no-print-directory $(STAMP) $(NODE_STAMP)
	scripts/postgres-test-cluster.sh run $(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/decision.py
	$(BIN)/python bench/ledger.py
	$(BIN)/python bench/detection.py
	$(BIN)/python bench/api.py

clean:
	rm -rf $(VENV) node_modules .mypy_cache .pytest_cache .ruff_cache .import_linter_cache
