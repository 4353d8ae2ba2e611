# citybrain: one entry for each habit. Everything the project needs is installed from here.
SHELL := /bin/bash
PY ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test test-fast lint typecheck pytest bench deps clean docs dist interop-peers

# uv (from PyPI) manages the venv from uv.lock; bootstrap it with the system Python.
$(UV):
	$(PY) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q 'uv>=0.9,<1'

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --all-extras --python $(PY) -q
	touch $@

# third-party protocol implementations for the interop tests, in their own environment (see
# tests/interop/peers/pyproject.toml): separate processes, their own pins
PEERS := .interop
$(PEERS)/.synced: $(UV) tests/interop/peers/pyproject.toml tests/interop/peers/uv.lock
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/$(PEERS) $(UV) sync --locked --project tests/interop/peers --python $(PY) -q
	touch $@

# the test OpenID Connect provider (tests/interop/oidc/: panva's oidc-provider on Node.js 20+), from
# its lock file; npm writes the stamp on every install, so this runs again only when the lock changes
OIDC_IDP := tests/interop/oidc
$(OIDC_IDP)/node_modules/.package-lock.json: $(OIDC_IDP)/package.json $(OIDC_IDP)/package-lock.json
	cd $(OIDC_IDP) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

interop-peers: $(PEERS)/.synced $(OIDC_IDP)/node_modules/.package-lock.json

deps: $(VENV)/.synced
	@bash scripts/apt-deps.sh
	@if [ -f scripts/web-deps.sh ]; then bash scripts/web-deps.sh; fi
	@if [ -f scripts/console-build.sh ]; then bash scripts/console-build.sh; fi
	@bash scripts/divisions.sh

run: deps
	$(BIN)/citybrain run

lint: deps
	$(BIN)/ruff check src tests bench scripts tools
	$(BIN)/ruff format --check src tests bench scripts tools
	$(BIN)/python tools/check_scenes.py

typecheck: deps
	$(BIN)/mypy

pytest: deps interop-peers
	$(BIN)/pytest

test: lint typecheck pytest dist

# unit tests only (no browser, no real-server reliability or scale-out runs, no wheel build)
test-fast: deps
	$(BIN)/pytest -m "not slow" --ignore=tests/web --ignore=tests/reliability --ignore=tests/scaleout \
		--ignore=tests/packaging --ignore=tests/test_run_e2e.py

# the wheel and sdist (with the dashboard's npm files, copied in by deps), checked as PyPI would
dist: deps
	rm -rf dist
	$(UV) build -q --out-dir dist
	$(BIN)/twine check --strict dist/*

bench: deps
	$(BIN)/python bench/run_all.py

docs: deps
	$(BIN)/citybrain docs events > docs/events.md
	$(BIN)/citybrain docs settings > docs/settings.md
	$(BIN)/citybrain docs panels > docs/panels.md

clean:
	rm -rf $(VENV) $(PEERS) $(TOOLS) var dist .pytest_cache .mypy_cache .ruff_cache
