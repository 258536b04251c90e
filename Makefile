# `make test` and `make demo` work on a machine that has only python3, git and make:
# the virtual environment is created and filled on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# One pytest worker per core (at most 4: each starts its own PostgreSQL and Chromium); the 20 slowest
# tests are listed at the end, where the suite's time goes.
test: lint
	$(VENV)/bin/pytest -n auto --maxprocesses 4 --durations 20

demo: $(STAMP)
	$(PY) -m demo

clean:
	rm -rf $(VENV) .nightshift .mypy_cache .ruff_cache
