# The two commands that matter: `make demo` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Settings need these at import time; lint and type checks connect to nothing.
LINT_ENV := DASH_ENV=test REDIS_URL=redis://127.0.0.1:1/0 MONGO_URL=mongodb://127.0.0.1:1

.PHONY: bootstrap demo test lint format bench bench-metrics vendor-js chaos soak clean

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=python3"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

bootstrap: $(STAMP)

demo: bootstrap
	$(PY) -m devstack.demo

lint: bootstrap
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(LINT_ENV) $(VENV)/bin/mypy
	$(LINT_ENV) $(VENV)/bin/lint-imports --no-cache

format: bootstrap
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: bootstrap lint
	$(PY) -m devstack.testrun $(PYTEST_ARGS)

# Every scenario of docs/BENCHMARKS.md on daphne and uvicorn over real processes (about 25 min;
# needs node and npm): one table, var/bench/results.json and docs/BENCHMARKS.md's latest run.
bench: bootstrap
	$(PY) -m bench.run $(BENCH_ARGS)

# Tier and per-event costs (flow measures included) at 10,000 and 100,000 patients on the embedded
# MongoDB, with the MongoDB commands each change event costs (docs/BENCHMARKS.md; about 30 min).
bench-metrics: bootstrap
	$(PY) -m bench.metrics $(BENCH_METRICS_ARGS)

# Re-fetch the page's chart library (Chart.js, pinned in devstack/vendor_js.py) with npm pack,
# check its sha512 against the pin and write it under dashboard/static/dashboard/vendor/.
vendor-js: bootstrap
	$(PY) -m devstack.vendor_js $(VENDOR_JS_ARGS)

# The fault matrix of docs/RELIABILITY.md: every built row under load on daphne and uvicorn
# (about 2 min a row). CHAOS_ARGS picks rows, servers, clients: --rows 1,3 --servers uvicorn --clients 50.
chaos: bootstrap
	$(PY) -m chaos.matrix $(CHAOS_ARGS)

# SOAK_MINUTES (default 30) with 1,000 clients and the simulator at 10×: var/chaos/soak.json and soak.png.
SOAK_MINUTES ?= 30
soak: bootstrap
	SOAK_MINUTES=$(SOAK_MINUTES) $(PY) -m chaos.soak $(SOAK_ARGS)

clean:
	rm -rf $(VENV) var/bench var/chaos var/screenshots bench/loadgen/node_modules bench/peers/socketio/node_modules
