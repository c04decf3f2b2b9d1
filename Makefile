# synack — two commands: `make demo` and `make test`. Both work from a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/synack demo

test: $(STAMP)
	bash tools/install-deps.sh
	$(BIN)/ruff check src tests tools bench
	$(BIN)/mypy --strict src
	$(BIN)/python -m pytest

docs: $(STAMP)
	$(BIN)/python tools/gen_state_diagram.py
	$(BIN)/python tools/gen_requirements.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
