# The two commands: `make up` runs the whole pipeline locally; `make test` runs every test
# against real Kafka and PostgreSQL. Both install what they need first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: up down status test test-unit lint typecheck check bench clean venv sysdeps

$(STAMP): pyproject.toml
	@scripts/ensure-system-deps.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[dev]'
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

bench: $(STAMP)
	@$(BIN)/python -m pip install -q -e '.[dev,bench]'
	$(BIN)/vitalstream bench

clean:
	rm -rf $(VENV) .vitalstream .pytest_cache .mypy_cache .ruff_cache
