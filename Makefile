# The README's two commands: `make run` and `make test`. Both create .venv if missing and install.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## run: the main job on the embedded defaults (SGLD on the smoke suite, results in ./slt_bench_results.sqlite)
run: $(STAMP)
	$(BIN)/slt-bench run --method sgld

## test: the test suite (statistical accuracy runs marked slow are excluded; `make test-slow` runs them)
test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

clean:
	rm -rf $(VENV)
