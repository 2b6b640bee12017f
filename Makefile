# Two commands do everything on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup constraints demo test lint unit bench bench-gateway bench-simulate bench-linking bench-audit clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# After upgrading on purpose (`.venv/bin/pip install -U …`) and a green `make test`.
constraints: setup
	{ sed -n '1,3p' constraints.txt; $(BIN)/pip freeze --exclude-editable; } > constraints.tmp
	if cmp -s constraints.tmp constraints.txt; then rm constraints.tmp; else mv constraints.tmp constraints.txt; fi

demo: setup
	$(BIN)/python demo/run.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest

test: lint unit

# Every benchmark prints its figures (about 10 minutes in all); each also runs on its own.
bench: bench-gateway bench-simulate bench-linking bench-audit

bench-gateway: setup
	$(BIN)/python bench/run.py

bench-simulate: setup
	$(BIN)/python bench/simulate.py

bench-linking: setup
	$(BIN)/python -m bench.linking

bench-audit: setup
	$(BIN)/python -m bench.audit_search
	$(BIN)/python -m bench.audit_merkle
	$(BIN)/python -m bench.audit_export

clean:
	rm -rf $(VENV) var certs/out .pytest_cache .mypy_cache .ruff_cache
