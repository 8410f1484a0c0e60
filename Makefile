# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TESTSTAMP := $(VENV)/.installed-test

.PHONY: run test lint bench docs docs-fast examples sweeps sweep-depth-gain sweep-inits sweep-width-depth clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --quiet -e '.[explore]'
	touch $@

$(TESTSTAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --quiet -e '.[test,explore]'
	touch $@

# The browser tests (tests/test_explore_browser.py) drive Debian's chromium with Playwright;
# no test tool downloads a browser. Installed here when missing and apt-get runs as root;
# otherwise one line says the browser tests are skipped, and why.
chromium:
	@if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; } || \
	  echo "browser tests skipped: apt-get install chromium failed"; \
	else echo "browser tests skipped: no chromium, and installing it needs root (apt-get install chromium)"; fi

run: $(STAMP)
	$(BIN)/gradsim run --depth 152 --init he

test: $(TESTSTAMP) chromium
	$(BIN)/python -m pytest -q

lint: $(TESTSTAMP)
	$(BIN)/ruff check gradsim tests benchmarks examples docs
	$(BIN)/ruff format --check gradsim tests benchmarks examples docs

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# the generated docs: the options reference, the tables from the registries and examples/,
# every terminal excerpt (rerun) and every figure (redrawn) of the docs, from the real
# commands (docs/excerpts.py; tests/test_docs.py fails when they are out of date). The slow
# excerpts and figures (trainings, a 1260-run sweep, the browser) take several minutes;
# docs-fast leaves them out. The explorer's screenshot needs Playwright (the test tools) and
# chromium.
docs: $(TESTSTAMP) chromium
	$(BIN)/python -m gradsim.cli.reference > docs/options.md.tmp
	mv docs/options.md.tmp docs/options.md
	$(BIN)/python docs/generate.py

docs-fast: $(STAMP)
	$(BIN)/python -m gradsim.cli.reference > docs/options.md.tmp
	mv docs/options.md.tmp docs/options.md
	$(BIN)/python docs/generate.py --skip-slow

# the classic pictures, into results/examples/
examples: $(STAMP)
	$(BIN)/python examples/he2015_relu30.py results/examples
	$(BIN)/python examples/glorot2010_tanh5.py results/examples
	$(BIN)/python examples/all_inits_152.py results/examples
	$(BIN)/python examples/he2015_train30.py results/examples
	$(BIN)/python examples/circles_inits.py results/examples
	$(BIN)/python examples/residual_152.py results/examples
	$(BIN)/gradsim train --depth 6 --width 32 --init lsuv --optimizer adam --lr 0.003 --clip-norm 1 --dtype float64 --save-run results/examples/replay_run.npz --format json -o results/examples/replay_run.json
	$(BIN)/python examples/replay_training.py results/examples/replay_run.npz --every 50

SWEEPS := results/sweeps
# each grid → a store, a CSV and figures in results/sweeps/NAME/ (a rerun only redraws)
sweep-depth-gain: $(STAMP)
	$(BIN)/gradsim sweep examples/grids/depth_gain_tanh_relu.toml --out $(SWEEPS)/depth_gain --csv --plot $(SWEEPS)/depth_gain/map.png --x depth --y gain
	$(BIN)/gradsim sweep examples/grids/depth_gain_tanh_relu.toml --out $(SWEEPS)/depth_gain --no-table --plot $(SWEEPS)/depth_gain/gain.png --x gain

sweep-inits: $(STAMP)
	$(BIN)/gradsim sweep examples/grids/inits_acts_152.toml --out $(SWEEPS)/inits_acts_152 --csv --plot $(SWEEPS)/inits_acts_152/map.png --x init --y act

sweep-width-depth: $(STAMP)
	$(BIN)/gradsim sweep examples/grids/width_depth_he.toml --out $(SWEEPS)/width_depth_he --csv --plot $(SWEEPS)/width_depth_he/spread.png --x depth

sweeps: sweep-depth-gain sweep-inits sweep-width-depth

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
