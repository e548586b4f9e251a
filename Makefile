# Two commands for a fresh machine with Python 3.11 and pip: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
export RETENTO_DATABASE_URL ?= sqlite:///./retento.db

.PHONY: install demo serve test lint format bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/retento db upgrade
	$(BIN)/retento demo --customers 2000 --seed 42 --if-empty
	$(BIN)/retento serve --demo --host 127.0.0.1 --port 8000

serve: install
	$(BIN)/retento serve

lint: install
	$(BIN)/ruff check src tests benchmarks

format: install
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

test: install lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) retento.db retento.db-wal retento.db-shm .pytest_cache
