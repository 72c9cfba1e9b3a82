# Two commands on a fresh machine: `make demo` and `make test`. Both make their own
# virtual environment and install Debian's Chromium (as root): the demo captures one
# statement in a browser, the tests drive it. `make test` also starts a PostgreSQL
# server when none answers on 127.0.0.1:5432.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8080

.PHONY: demo test lint pytest chromium system bench quotes-model clean

# uv installs the same packages from PyPI as pip, in a quarter of the time (13 s against
# 52 s here, with every wheel cached), compiled to bytecode as pip does: a package's
# warnings at compile time (surt's escapes) stay out of the test report.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[test]'
	touch $@

# The demo's script-built statement is captured in Chromium (installed by `chromium` as
# root); without it the demo still runs and says what it left out. The demo needs no
# server: SQLite and a folder.
demo: chromium $(STAMP)
	$(BIN)/onrecord demo --port $(PORT)

# Debian's Chromium: browser captures, the demo, the browser tests.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else \
	    echo "note: run 'sudo apt-get install chromium' for browser captures and their tests"; \
	  fi; \
	fi

# What the tests use besides: wget (WARC import tests), redis-server (the task-queue
# tests start brokers of their own, on free ports) and a PostgreSQL server on
# 127.0.0.1:5432 (catalog tests; installed and started only when none answers there).
system: chromium
	@if ! command -v wget >/dev/null || ! command -v redis-server >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wget redis-server; \
	  else \
	    echo "note: run 'sudo apt-get install wget redis-server' for the WARC import and task-queue tests"; \
	  fi; \
	fi
	@bash .ci/postgres.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The project's own modules are compiled first: where Python is told not to write bytecode
# (PYTHONDONTWRITEBYTECODE, set on CI machines), every `onrecord` process a test starts
# compiled them again (half a second of CPU each, on a slow machine); it reads them.
pytest: $(STAMP)
	$(BIN)/python -m compileall -q -j 0 archive scrapers index web tests bench
	$(BIN)/pytest

test: system lint pytest

# Rebuild the quote speaker model from PolNeAR's training split; prints its dev score.
quotes-model: $(STAMP)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[train]'
	$(BIN)/python -m bench.train_quotes

# Benchmarks run as modules from the repository root (bench/web.py would shadow the
# web package if bench/ came first on the path).
bench: system $(STAMP)
	$(BIN)/python -m bench.store
	$(BIN)/python -m bench.verify
	$(BIN)/python -m bench.extraction
	$(BIN)/python -m bench.quotes
	$(BIN)/python -m bench.search --sizes 10000
	$(BIN)/python -m bench.pipeline
	$(BIN)/python -m bench.capture
	$(BIN)/python -m bench.web --seconds 30

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
