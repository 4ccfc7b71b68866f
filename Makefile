# The README's two commands: `make run` and `make test`. Both create .venv if missing and install.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow install clean bench bench-quick bench-check bench-publish microbench peers asv-env

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

# ---- speed and accuracy over commits (docs/performance.md) -----------------------------------
# asv runs in this clone's .venv, reached through a fixed path so that the environment name
# (asv derives it from the interpreter's path) is the same in every clone and on every machine;
# results are recorded under one machine name and committed in benchmarks/results/.
ASV := $(BIN)/asv
ASV_LINK := /tmp/slt-bench-asv
ASV_ENV := existing:$(ASV_LINK)/venv/bin/python
ASV_MACHINE := slt-bench-ref

asv-env: $(STAMP)
	@mkdir -p $(ASV_LINK) && ln -sfn $(CURDIR)/$(VENV) $(ASV_LINK)/venv
	@$(ASV) machine --yes --machine $(ASV_MACHINE) > /dev/null

## bench: the asv suite for HEAD, saved in benchmarks/results/ (commit them)
bench: asv-env
	$(ASV) run -E $(ASV_ENV) --machine $(ASV_MACHINE) --set-commit-hash $$(git rev-parse HEAD) --show-stderr

## bench-quick: every asv benchmark once, nothing saved (CI: a broken benchmark fails the build)
bench-quick: asv-env
	$(ASV) run -E $(ASV_ENV) --machine $(ASV_MACHINE) --quick --dry-run --show-stderr

## bench-check: HEAD against the previous commit with stored results; non-zero on a regression
bench-check: $(STAMP)
	$(BIN)/python benchmarks/check.py --machine $(ASV_MACHINE)

## bench-publish: the HTML history of every stored result, in .asv/html
bench-publish: asv-env
	$(ASV) publish && echo "open .asv/html/index.html"

## microbench: pytest-benchmark on the hot kernels, autosaved and compared with the last run
microbench: $(STAMP)
	$(BIN)/python -m pytest benchmarks/micro -q -p no:cacheprovider --benchmark-only --benchmark-autosave \
		--benchmark-storage=.benchmarks $$(ls .benchmarks/*/*.json > /dev/null 2>&1 && echo --benchmark-compare)

## peers: slt-bench against devinterp (SGLD) and pyro (NUTS), side by side; writes docs/performance.md
peers: $(STAMP)
	$(BIN)/pip install --quiet -e '.[peers]'
	$(BIN)/python benchmarks/peers.py --write docs/performance.md

clean:
	rm -rf $(VENV)
