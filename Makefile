# bondlab: `make demo` and `make test` work on a fresh machine (they create .venv when it is missing).
# Elsewhere, override the torch pin: `make test TORCH_SPEC='torch>=2.3'` (the pin takes a CPU wheel here).
PYTHON      ?= python3
VENV        ?= .venv
TORCH_VERSION ?= 2.13.0
TORCH_SPEC  ?= torch==$(TORCH_VERSION)
BIN         := $(VENV)/bin
STAMP       := $(VENV)/.bondlab-installed
PYTEST_ARGS ?=

.PHONY: install demo test test-threads2 lab bench clean docs docs-deps docs-execute student test-browser notebooks-tidy

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev,notebooks,hf]"
	touch $@

install: $(STAMP)

demo: install  # --force: a rerun replaces the figures of the last one (bondlab never clobbers without it)
	$(BIN)/bondlab demo --force

# BONDLAB_TORCH_THREADS (default 1, read by tests/conftest.py): torch's thread count for the whole suite.
test: install
	BONDLAB_SMOKE=1 MPLBACKEND=Agg $(BIN)/python -m pytest $(PYTEST_ARGS)

# The same suite with two torch threads: other summation orders, the same tolerances.
test-threads2: install
	BONDLAB_TORCH_THREADS=2 BONDLAB_SMOKE=1 MPLBACKEND=Agg $(BIN)/python -m pytest $(PYTEST_ARGS)

lab: install
	$(BIN)/jupyter lab bondlab/notebooks/

bench: install
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b --quick || exit 1; done

# The site shows each notebook as run in full mode, from docs/notebooks/ (committed executed copies, keyed by a
# hash of the notebook's cells): `make docs` runs only the notebooks changed since their copy was made.
docs-deps: install
	$(BIN)/python -c "import mkdocs, material, mkdocs_jupyter, mathjax, mkdocstrings, mkdocstrings_handlers.python, ruff" 2>/dev/null || $(BIN)/python -m pip install -q -e ".[docs]"

docs: docs-deps
	$(BIN)/python tools/docs_notebooks.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --site-dir site

# Run every notebook again (after a change to bondlab that alters the figures), then build the site.
docs-execute: docs-deps
	$(BIN)/python tools/docs_notebooks.py --force
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --site-dir site

student: install
	$(BIN)/python tools/make_student.py bondlab/notebooks build/student

# After editing a notebook in Jupyter: clear outputs, drop run metadata, number new cells (small diffs).
notebooks-tidy: install
	$(BIN)/python tools/tidy_notebooks.py

test-browser: install
	bash tools/browser/setup.sh $(BIN)/python
	BONDLAB_SMOKE=1 MPLBACKEND=Agg $(BIN)/python -m pytest -p no:cacheprovider -ra tools/browser

clean:
	rm -rf runs build site .pytest_cache test-artifacts
