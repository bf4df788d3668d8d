# Two entry points: `make demo` (set up, then trace the bundled demo queue offline) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export OMP_NUM_THREADS ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: demo test setup setup-test lint typecheck clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install -q -e .

setup-test: $(BIN)/python
	bash scripts/install_test_deps.sh $(BIN)

demo: setup
	rm -rf .oda/demo
	$(BIN)/oda trace examples/demo/queue.txt --snapshot examples/demo/snapshot --offline --store .oda/demo/graph
	$(BIN)/oda export --format json --store .oda/demo/graph

test: setup-test
	$(BIN)/python -m pytest

lint:
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

clean:
	rm -rf .oda .pytest_cache .mypy_cache .ruff_cache test-artifacts
