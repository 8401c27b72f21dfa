# One place for setting up and running things; the README and .ci/run call these targets.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-all test-slow lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch 2.13.0 first: on these machines it is the local CPU build; a bare `torch` could pull CUDA wheels.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# A second run starts the demo's database afresh so it alerts again; `make demo DEMO_ARGS=--keep-data` keeps it.
demo: install
	$(BIN)/monitor demo $(DEMO_ARGS)

test: install
	$(BIN)/python -m pytest -q

test-slow: install
	$(BIN)/python -m pytest -q -m slow

test-all: install
	$(BIN)/python -m pytest -q -m 'not gpu'

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/quality.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
