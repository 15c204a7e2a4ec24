# bondlab: `make demo` and `make test` work on a fresh machine (they create .venv when it is missing).
# Elsewhere, override the torch pin: `make test TORCH_SPEC='torch>=2.3'` (the pin takes a CPU wheel here).
PYTHON      ?= python3
VENV        ?= .venv
TORCH_VERSION ?= 2.13.0
TORCH_SPEC  ?= torch==$(TORCH_VERSION)
BIN         := $(VENV)/bin
STAMP       := $(VENV)/.bondlab-installed
PYTEST_ARGS ?=

.PHONY: install demo test test-threads2 lab bench clean docs student test-browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev,notebooks,hf]"
	touch $@

install: $(STAMP)

demo: install
	$(BIN)/bondlab demo

# BONDLAB_TORCH_THREADS (default 1, read by tests/conftest.py): torch's thread count for the whole suite.
test: install
	BONDLAB_SMOKE=1 MPLBACKEND=Agg $(BIN)/python -m pytest $(PYTEST_ARGS)

# The same suite with two torch threads: other summation orders, the same tolerances.
test-threads2: install
	BONDLAB_TORCH_THREADS=2 BONDLAB_SMOKE=1 MPLBACKEND=Agg $(BIN)/python -m pytest $(PYTEST_ARGS)

lab: install
	$(BIN)/jupyter lab notebooks/

bench: install
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b --quick || exit 1; done

docs: install
	$(BIN)/python -c "import mkdocs, material, mkdocs_jupyter" 2>/dev/null || $(BIN)/python -m pip install -q -e ".[docs]"
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --site-dir site

student: install
	$(BIN)/python tools/make_student.py notebooks build/student

test-browser: install
	bash tools/browser/setup.sh $(BIN)/python
	BONDLAB_SMOKE=1 MPLBACKEND=Agg $(BIN)/python -m pytest -p no:cacheprovider -ra tools/browser

clean:
	rm -rf runs build site .pytest_cache test-artifacts
