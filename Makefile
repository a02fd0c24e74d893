# Developer entry points. `make test` is the README's test command and what CI runs (.ci/run).
# Pass pytest arguments with ARGS, e.g. `make test ARGS='-k stack -x'`.

VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: test lint stack-up stack-down stack-status run bench

test:
	deploy/test.sh $(ARGS)

lint: $(BIN)/wfe
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

stack-up: $(BIN)/wfe
	$(BIN)/wfe stack up

stack-down: $(BIN)/wfe
	$(BIN)/wfe stack down

stack-status: $(BIN)/wfe
	$(BIN)/wfe stack status

# The embedded mode: every service in one process, SQLite, no Kafka, no PostgreSQL; it fills
# itself with a generated ecosystem through its own APIs (again later, nothing doubles).
run: $(BIN)/wfe
	$(BIN)/wfe dev --demo 500

# The benchmark suite against the running stack (`make stack-up` first); writes
# docs/benchmarks.md and docs/benchmarks.png. `make bench ARGS=--quick` checks it in a minute.
bench: $(BIN)/wfe
	eval "$$($(BIN)/wfe stack env)" && $(BIN)/wfe bench $(ARGS)

$(BIN)/wfe: pyproject.toml
	test -x $(BIN)/pip || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@
