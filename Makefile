# The README's two commands: `make run` and `make test`. Both install what is missing first.
VENV   := .venv
PY     := $(VENV)/bin/python
DATA   ?= data/sample
PORT   ?= 8501

.PHONY: run test lint unit e2e bench install install-dev chromium postgres bytecode clean

$(PY):
	python3 -m venv $(VENV)

# Stamps re-run pip only when a requirements file changes.
$(VENV)/.run-installed: requirements.txt | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt $(VENV)/.run-installed
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.run-installed
install-dev: $(VENV)/.dev-installed

# Debian's Chromium drives the browser tests and Plotly's image export (kaleido).
chromium:
	@./scripts/install-chromium.sh

# Debian's PostgreSQL: the meeting record's tests run against a throwaway cluster of it too.
postgres:
	@if [ -x ./scripts/install-postgres.sh ]; then ./scripts/install-postgres.sh; fi

# The project's modules as bytecode, as pip leaves an installed package: with
# PYTHONDONTWRITEBYTECODE set (CI) every process would compile them again (about 0.1 s each).
# The one list of folders is bench.machine.SOURCE_DIRS (the benchmarks call it too).
bytecode: install
	$(PY) -c "from pathlib import Path; from bench.machine import compile_sources; compile_sources(Path('.'))"

run: install bytecode
	FLIGHTDECK_DATA=$${FLIGHTDECK_DATA:-$(DATA)} $(PY) -m ui.serve run app.py --server.port $(PORT)

lint: install-dev
	$(PY) -m ruff check .

test: install-dev chromium postgres lint
	$(PY) -m pytest

bench: install-dev chromium bytecode
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache test-output bench/data
