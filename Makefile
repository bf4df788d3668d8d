# Two entry points: `make demo` (set up, then trace the bundled demo queue offline) and `make test`.
# `.ci/run` also runs `test-plain`: every quick test (and the slow tracing one) in a venv made by a plain `pip install -e .[dev]`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export OMP_NUM_THREADS ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: demo test test-plain setup setup-test lint typecheck clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install -q -e .

setup-test: $(BIN)/python
	bash scripts/install_test_deps.sh $(BIN)

# The demo's graph is .oda/demo/graph (pass --store .oda/demo/graph to read it); the default store .oda/graph is
# left for your own traces. The lineage JSON goes to a file; the trace summary and a contamination query print last.
demo: setup
	rm -rf .oda/demo
	$(BIN)/oda trace examples/demo/queue.txt --snapshot examples/demo/snapshot --offline --store .oda/demo/graph --checkpoints .oda/demo/trace-runs.sqlite
	$(BIN)/oda export --format json --store .oda/demo/graph -o .oda/demo/lineage.json
	$(BIN)/oda query contamination EleutherAI/hendrycks_math --store .oda/demo/graph

test: setup-test
	$(BIN)/python -m pytest

# The resolution a user's plain install gets (no heavy extras: e.g. huggingface_hub 2.x on httpx2, where the test
# extras pull 1.x on httpx), tested on the parts that talk to the Hub.
PLAIN_VENV ?= .venv-plain
test-plain:
	bash scripts/test_plain_install.sh $(PLAIN_VENV)

lint:
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy
	$(BIN)/mypy --strict oda/

clean:
	rm -rf .oda .pytest_cache .mypy_cache .ruff_cache test-artifacts .venv-plain
