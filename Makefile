# The README's two commands: `make run` and `make test`. Both create .venv if missing and install.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow install browser clean bench bench-quick bench-check bench-ci bench-publish bench-backfill \
	microbench peers peers-scale asv-env leaderboard help

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,devinterp]'
	touch $(STAMP)

install: $(STAMP)

## run: the main job on the embedded defaults (SGLD on the smoke suite, results in ./slt_bench_results.sqlite)
run: $(STAMP)
	$(BIN)/slt-bench run --method sgld

## test: the test suite (statistical accuracy runs marked slow are excluded; `make test-slow` runs them)
test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n auto --dist loadfile

## browser: Debian's chromium and chromium-driver for the report's browser test (installed with apt-get
## when missing and we are root, as in CI; otherwise the browser test is skipped outside CI)
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver > /dev/null; \
	else echo "note: chromium/chromium-driver missing and not root: the browser test will be skipped"; fi

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
# one round (process) per benchmark instead of asv's two: the suite's time halves, and the figures
# keep their repeat-based confidence intervals (bench-check compares with them). asv's forkserver
# imports the suite (torch, JAX, slt_bench: 3-4 s of CPU) once and forks a process per benchmark,
# instead of importing it again in each of some 150 processes.
ASV_LAUNCH := --launch-method forkserver
ASV_RUN_OPTS := -a rounds=1 $(ASV_LAUNCH)

asv-env: $(STAMP)
	@mkdir -p $(ASV_LINK) && ln -sfn $(CURDIR)/$(VENV) $(ASV_LINK)/venv
	@$(ASV) machine --yes --machine $(ASV_MACHINE) > /dev/null

## bench: the asv suite for HEAD (9-24 min measured, by host), saved in benchmarks/results/: part of finishing a change
## that touches slt_bench/, methods/ or tasks/ — commit the files it writes with the change
bench: asv-env
	$(ASV) run -E $(ASV_ENV) --machine $(ASV_MACHINE) $(ASV_RUN_OPTS) --set-commit-hash $$(git rev-parse HEAD) --show-stderr

## bench-quick: every asv benchmark once, nothing saved (CI: a broken benchmark fails the build); the
## estimate suite is left to bench-ci, which runs the same estimate() for every method and task
bench-quick: asv-env
	$(ASV) run -E $(ASV_ENV) --machine $(ASV_MACHINE) --quick --dry-run --show-stderr $(ASV_LAUNCH) --bench '^(?!bench_estimates)'

## bench-check: the two newest commits with stored results (says so when HEAD has none); non-zero on a regression
bench-check: $(STAMP)
	$(BIN)/python benchmarks/check.py --machine $(ASV_MACHINE)

## bench-ci: the fixed-seed accuracy figures recomputed now against the newest stored results; fails when
## one got worse by more than 2 SE without an entry in benchmarks/expected_changes.toml (CI runs this)
bench-ci: $(STAMP)
	$(BIN)/python benchmarks/check.py --machine $(ASV_MACHINE) --accuracy-now

## bench-backfill: asv results for earlier commits (COMMITS="sha1 sha2 ..."), each run from a worktree of
## that commit with its own benchmarks, saved beside the others in benchmarks/results/
bench-backfill: asv-env
	@for c in $(COMMITS); do \
		dir=$$(mktemp -d) && git worktree add --detach -f $$dir $$c > /dev/null && \
		(cd $$dir && PYTHONPATH=$$dir $(CURDIR)/$(ASV) run -E $(ASV_ENV) --machine $(ASV_MACHINE) $(ASV_RUN_OPTS) \
			--set-commit-hash $$(git -C $$dir rev-parse HEAD) --show-stderr) ; \
		cp $$dir/benchmarks/results/$(ASV_MACHINE)/$$(git -C $$dir rev-parse HEAD | cut -c1-8)-*.json \
			benchmarks/results/$(ASV_MACHINE)/ ; \
		git worktree remove --force $$dir ; \
	done

## bench-publish: the HTML history of every stored result, in .asv/html (not committed; open
## .asv/html/index.html in a browser, or `$(ASV) preview` to serve it on localhost)
bench-publish: asv-env
	$(ASV) publish && echo "open .asv/html/index.html"

## microbench: pytest-benchmark on the hot kernels, autosaved and compared with the last run
microbench: $(STAMP)
	$(BIN)/python -m pytest benchmarks/micro -q -p no:cacheprovider --benchmark-only --benchmark-autosave \
		--benchmark-storage=.benchmarks $$(ls .benchmarks/*/*.json > /dev/null 2>&1 && echo --benchmark-compare)

## peers-scale: seconds per minibatch step at 10⁵ and 10⁶ parameters against devinterp 2.x, with GFLOP/s
## against a measured matrix-multiply peak; writes the scale section of docs/performance.md
peers-scale: $(STAMP)
	$(BIN)/python benchmarks/peers.py --scale --write docs/performance.md

## peers: slt-bench against devinterp 1.3.2 (SGLD) and pyro (NUTS), side by side; writes docs/performance.md
## (then puts devinterp 2.x, the `devinterp` method's, back)
peers: $(STAMP)
	$(BIN)/pip install --quiet -e '.[peers]'
	$(BIN)/python benchmarks/peers.py --write docs/performance.md; status=$$?; \
		$(BIN)/pip install --quiet -e '.[dev,devinterp]'; exit $$status

## leaderboard: every built-in method on the standard suite at tier standard, 5 dataset seeds, --jobs 2
## (resumable), then docs/leaderboard/ (the HTML site, leaderboard.md and the baseline store)
leaderboard: $(STAMP)
	$(BIN)/python benchmarks/leaderboard.py --jobs 2 --store docs/leaderboard/baseline.sqlite --out docs/leaderboard

## help: this list
help:
	@grep -E '^## ' Makefile | sed 's/^## /  /'

clean:
	rm -rf $(VENV)
