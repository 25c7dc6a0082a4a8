# The two commands: `make run` (the local stack) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install run test lint format migrate bench clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

## Embedded PostgreSQL (data kept in FLEET_DATA_DIR, default .fleet/) + every function on PORT.
run: $(INSTALLED)
	$(BIN)/fleet serve

## The whole suite on a real PostgreSQL: embedded, or TEST_DATABASE_URL. One worker more than
## CPUs: a fifth of the suite is waiting (for servers to start and stop, for the browser), and
## the extra worker fills it; an idle worker takes tests queued on a busy one (worksteal).
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(len(os.sched_getaffinity(0)) + 1)')
test: $(INSTALLED)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared functions main.py local ops deploy

format: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Apply pending migrations to the configured database (the embedded one when none is set).
migrate: $(INSTALLED)
	$(BIN)/fleet migrate

bench: $(INSTALLED)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
