# Engagements: one virtual environment (.venv), built from uv.lock with the project's own tooling.
#   make run     start everything on this machine (SQLite, nats-server, API on http://127.0.0.1:8000)
#   make test    run the linters (make lint), then the test suite (in parallel: PYTEST_WORKERS)
#   make lint    ruff (lint rules in pyproject.toml) and mypy (strict) over the tree
#   make bench   run the benchmarks
#   make fuzz    schemathesis over every operation of both APIs, long run (SQLite and PostgreSQL)
#   make faults  the multi-node fault run (3-node NATS cluster, PostgreSQL, 2 replicas of everything, every kill,
#                10,000 events and more), printing the fault table (docs/operations.md)
#   make clean   remove the environment and caches (not ./data: delete it yourself to start afresh)

PYTHON3 ?= python3
VENV   := .venv
PYTHON := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
export UV_PROJECT_ENVIRONMENT := $(VENV)
# --inexact: keep pip and uv themselves, which are not in the lock, inside the environment.
# --compile-bytecode: every process starts from compiled modules, even where Python may not write them
# (PYTHONDONTWRITEBYTECODE, a read-only checkout); after the first sync it costs a tenth of a second.
SYNC   := $(UV) sync --frozen --inexact --compile-bytecode

.PHONY: run test lint bench fuzz faults clean env env-dev system-packages

# Programs the tests run that PyPI does not ship: nginx (the reverse proxy of tests/deploy/test_proxy.py),
# chromium and chromedriver (the dashboard's browser tests, tests/services/reporting/pages/test_browser.py), npm
# (to install axe-core for them). Each is `package` or `package:program` when the program is named otherwise.
# Installed with apt-get when missing (quiet, and nothing when present); without apt-get as root their tests
# are skipped, except under CI=true, where this fails instead.
SYSTEM_PACKAGES := nginx chromium chromium-driver:chromedriver npm
# axe-core from the npm registry, as locked in its package-lock.json, injected into the page by the browser tests.
AXE_DIR := tests/services/reporting/pages/node

$(PYTHON):
	@echo "creating the project's environment in $(VENV) (the first time only)"
	@$(PYTHON3) -m venv $(VENV)

$(UV): | $(PYTHON)
	@$(PYTHON) -m pip --version >/dev/null 2>&1 || $(PYTHON) -m ensurepip --upgrade >/dev/null
	@$(PYTHON) -m pip install -q uv

env: $(UV)
	@$(SYNC) --no-dev

env-dev: $(UV) system-packages $(AXE_DIR)/node_modules/axe-core/axe.min.js
	$(SYNC)

system-packages:
	@missing=""; for entry in $(SYSTEM_PACKAGES); do package=$${entry%%:*}; program=$${entry##*:}; \
		command -v $$program >/dev/null 2>&1 || [ -x /usr/sbin/$$program ] || missing="$$missing $$package"; done; \
	if [ -z "$$missing" ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing system packages:$$missing"; \
		log=$$( (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $$missing) 2>&1) || { echo "$$log" >&2; exit 1; }; \
	elif [ "$$CI" = true ]; then echo "missing system packages:$$missing (and no apt-get as root)" >&2; exit 1; \
	else echo "system packages missing:$$missing (no apt-get as root): their tests will be skipped"; fi

$(AXE_DIR)/node_modules/axe-core/axe.min.js: $(AXE_DIR)/package-lock.json | system-packages
	@if command -v npm >/dev/null 2>&1; then \
		log=$$(npm ci --prefix $(AXE_DIR) --no-audit --no-fund 2>&1) || { echo "$$log" >&2; exit 1; }; \
		touch $@; \
	elif [ "$$CI" = true ]; then echo "npm missing: axe-core cannot be installed" >&2; exit 1; \
	else echo "npm missing: the browser tests will be skipped"; fi

# The first lines of `make run` are the banner's (where the API is, the admin key), not a package listing.
run: SYNC += --quiet
run: env
	@$(PYTHON) -m deploy.embedded

# The suite waits far more than it computes (servers, subprocesses, NATS round trips), so it runs in
# PYTEST_WORKERS processes (pytest-xdist), more than the machine's cores; each worker has its own databases,
# streams and ports (tests/conftest.py, tests/ports.py). `make test PYTEST_WORKERS=0` runs it in one process.
PYTEST_WORKERS ?= 4
test: lint
	$(PYTHON) -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: env-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: env-dev
	$(PYTHON) -m bench

# The suite runs the same tests with a few examples per operation, on PostgreSQL only (tests/api_fuzzing.py).
FUZZ_EXAMPLES ?= 200
fuzz: env-dev
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SQLITE=1 $(PYTHON) -m pytest -p no:cacheprovider $(PYTEST_ARGS) \
		tests/services/commitments/test_fuzz_api.py tests/services/notifications/test_fuzz_api.py

# PostgreSQL from TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test); FAULTS_ARGS e.g.
# "--events 20000 --clients 8 --keep-logs /tmp/faults-logs". The suite runs a short variant (tests/faults/).
FAULTS_ARGS ?=
faults: env-dev
	$(PYTHON) -m tests.faults $(FAULTS_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
