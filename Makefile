# citybrain: one entry for each habit. Everything the project needs is installed from here.
SHELL := /bin/bash
PY ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test lint typecheck pytest bench deps clean docs

# uv (from PyPI) manages the venv from uv.lock; bootstrap it with the system Python.
$(UV):
	$(PY) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q 'uv>=0.9,<1'

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --all-extras --python $(PY) -q
	touch $@

deps: $(VENV)/.synced
	@bash scripts/apt-deps.sh
	@if [ -f scripts/web-deps.sh ]; then bash scripts/web-deps.sh; fi

run: deps
	$(BIN)/citybrain run

lint: deps
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: deps
	$(BIN)/mypy

pytest: deps
	$(BIN)/pytest

test: lint typecheck pytest

bench: deps
	$(BIN)/python bench/run_all.py

docs: deps
	$(BIN)/citybrain docs events > docs/events.md

clean:
	rm -rf $(VENV) $(TOOLS) var .pytest_cache .mypy_cache .ruff_cache
