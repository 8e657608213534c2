# The two commands: `make up` runs the whole pipeline locally; `make test` runs every test
# against real Kafka and PostgreSQL. Both install what they need first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: up down status test test-unit lint typecheck check bench clean venv sysdeps lock audit

# Every dependency of `.[dev]` comes from requirements.lock, pinned with its hashes (pip refuses
# anything else); then the project itself, editable, built with the locked setuptools and without
# letting pip resolve anything more (PYTHONWARNINGS: setuptools' banner about editable installs).
$(STAMP): pyproject.toml requirements.lock
	@scripts/ensure-system-deps.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --require-hashes -r requirements.lock
	@PYTHONWARNINGS=ignore $(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

venv: $(STAMP)

up: $(STAMP)
	$(BIN)/vitalstream up

down: $(STAMP)
	$(BIN)/vitalstream down

status: $(STAMP)
	$(BIN)/vitalstream status

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

# After changing a dependency in pyproject.toml: re-resolve and re-hash (commit the lock files).
LOCK := $(BIN)/pip-compile -q --generate-hashes --strip-extras --allow-unsafe --no-emit-find-links --no-emit-index-url
lock: $(STAMP)
	$(LOCK) --extra dev -o requirements.lock pyproject.toml
	$(LOCK) -o requirements-runtime.lock pyproject.toml

# Known vulnerabilities of the installed (locked) set (see scripts/audit.sh and README: Supply chain).
audit: $(STAMP)
	@BIN=$(BIN) scripts/audit.sh

bench: $(STAMP)
	@$(BIN)/python -m pip install -q -e '.[dev,bench]'
	$(BIN)/vitalstream bench

clean:
	rm -rf $(VENV) .vitalstream .pytest_cache .mypy_cache .ruff_cache
