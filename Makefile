# Navreme — every target a person or CI needs. `make help` lists them.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
JASMIN_VENV := .venv-jasmin
JASMIN_VERSION := 0.11.0
UV_VERSION := 0.13.9
HOST ?= 127.0.0.1
PORT ?= 8000
export NAVREME_HOME ?= $(CURDIR)/var

.DEFAULT_GOAL := help
.PHONY: help translations screenshots bench-pages install install-dev os-packages jasmin install-prosody run test lint audit-deps migrations-check seed bench-seed bench-rules bench-planning bench-booking cluster cluster-down load nightly clean

help: ## list every target
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

$(BIN)/uv:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: $(BIN)/uv pyproject.toml uv.lock
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --inexact --quiet
	@touch $@

$(VENV)/.installed-dev: $(BIN)/uv pyproject.toml uv.lock
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --inexact --quiet --extra dev --extra bench --extra sim
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed ## create .venv and install Navreme from the lock file

install-prosody: ## install the Prosody XMPP server from Debian when absent (the XMPP channel tests start one)
	@command -v prosody >/dev/null || apt-get install -y --no-install-recommends prosody \
	  || { apt-get update -qq && apt-get install -y --no-install-recommends prosody; }

# Debian packages outside the venv, installed only when absent: the letters' Unicode font
# (Cyrillic, Albanian), the voice channel's speech synthesiser, and the browser tests' Chromium.
DEBIAN_PACKAGES := fonts-dejavu-core:/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf espeak-ng:/usr/bin/espeak-ng chromium:/usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

os-packages: ## the Debian packages the letter (DejaVu font) and voice (espeak-ng) channels need
	@missing=""; for pair in $(DEBIAN_PACKAGES); do \
	  [ -e "$${pair#*:}" ] || missing="$$missing $${pair%%:*}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

install-dev: os-packages jasmin install-prosody $(VENV)/.installed-dev ## install Navreme with the development tools (and the benchmarks' peer and the simulation's extra, so their tests run)

# Jasmin pins Twisted 23.10 and friends, so it gets a venv of its own; 0.11.1 loses DLRs (jasmin#1236)
$(JASMIN_VENV)/bin/jasmind.py:
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y --no-install-recommends redis-server; }
	@command -v rabbitmqctl >/dev/null || { apt-get update -qq && apt-get install -y --no-install-recommends rabbitmq-server; }
	$(PY) -m venv $(JASMIN_VENV)
	$(JASMIN_VENV)/bin/pip install -q --disable-pip-version-check "jasmin==$(JASMIN_VERSION)"

jasmin: $(JASMIN_VENV)/bin/jasmind.py ## the Jasmin SMS gateway in .venv-jasmin (and redis/rabbitmq if absent) for the SMS channel's tests

run: install ## set up the embedded database under ./var, seed the demo country, serve on http://127.0.0.1:8000
	NAVREME_ENV=$${NAVREME_ENV:-development} $(BIN)/navreme demo --host $(HOST) --port $(PORT)

lint: install-dev ## ruff (house rules) and bandit (security)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/bandit -q -c pyproject.toml -r src

audit-deps: install-dev ## pip-audit the locked dependencies; says NOT AUDITED where no vulnerability service is reachable (NAVREME_REQUIRE_AUDIT=1 makes that fail)
	$(BIN)/python scripts/audit_deps.py

migrations-check: install-dev ## Alembic: exactly one head, models and migrations agree
	NAVREME_DATABASE_URL=sqlite:///$$(mktemp -d)/check.db $(BIN)/navreme db check

test: install-dev lint migrations-check audit-deps ## lint, then the whole test suite (SQLite; PostgreSQL too when reachable, always under CI=true)
	$(BIN)/pytest -q -p no:cacheprovider

screenshots: install-dev ## PNGs of the main pages (citizen on a phone, officer on a desktop; mk and en) into docs/screenshots/
	$(BIN)/python scripts/screenshots.py

bench-pages: install-dev ## benchmark: p50/p95/p99 of the main pages over 100k persons (PostgreSQL; ARGS="--backend sqlite --requests N" …)
	$(BIN)/python bench/pages.py $(ARGS)

translations: install ## list page texts without an mk or sq translation; add them to locale/*/LC_MESSAGES/new.po
	$(BIN)/navreme translations update
	$(BIN)/navreme translations check

seed: install ## seed the demo country into ./var (PERSONS=20000 by default)
	$(BIN)/navreme seed --persons $${PERSONS:-20000}

bench-seed: install ## benchmark: generate 10k, 100k and 1.8M persons, print a table
	$(BIN)/python bench/seed.py

$(VENV)/.installed-bench: $(BIN)/uv pyproject.toml uv.lock
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --inexact --quiet --extra bench
	@touch $@ $(VENV)/.installed

bench-rules: $(VENV)/.installed-bench ## benchmark: 20 rules over 10k, 100k, 1.8M persons on SQLite and PostgreSQL, beside OpenFisca (ARGS=... passes options)
	$(BIN)/navreme bench rules $(ARGS)

bench-planning: $(VENV)/.installed-bench ## benchmark: renewal waves for 10k, 100k, 1.8M persons beside the OR-Tools optimum (ARGS=... passes options)
	$(BIN)/navreme bench planning $(ARGS)

bench-booking: $(VENV)/.installed-bench ## benchmark: 10k racing bookings through the API on PostgreSQL beside a naive route (ARGS=...)
	$(BIN)/navreme bench booking $(ARGS)

# The scaled mode on this machine: the local PostgreSQL (database `navreme`, created if absent)
# and Redis; override CLUSTER_DATABASE_URL / CLUSTER_QUEUE_URL / CLUSTER_ARGS (--apis, --workers, --port).
CLUSTER_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/navreme
CLUSTER_QUEUE_URL ?= redis://127.0.0.1:6379/0
CLUSTER_ENV = NAVREME_DATABASE_URL=$(CLUSTER_DATABASE_URL) NAVREME_QUEUE_URL=$(CLUSTER_QUEUE_URL)

cluster: install ## start 2 API processes (ports 8100, 8101) and 3 workers on PostgreSQL + Redis (CLUSTER_ARGS=...)
	$(CLUSTER_ENV) $(BIN)/navreme cluster up --create-database $(CLUSTER_ARGS)

cluster-down: install ## stop the processes `make cluster` started, by their PIDs
	$(CLUSTER_ENV) $(BIN)/navreme cluster down

DURATION ?= 120s
load: install-dev ## T25 reduced: locust's realistic mix for DURATION (120s; nightly: make load DURATION=30m) on a fresh cluster
	$(BIN)/python bench/load.py --duration $(DURATION) $(ARGS)

nightly: install-dev ## full sizes: dependency audit required, T05/T06 with 10,000 messages, backup of 10,000 persons, fuzzing at 50 examples on both databases, then the 30-minute T25 load
	NAVREME_REQUIRE_AUDIT=1 $(BIN)/python scripts/audit_deps.py
	NAVREME_T05_MESSAGES=10000 NAVREME_BACKUP_PERSONS=10000 NAVREME_FUZZ_EXAMPLES=50 \
	  $(BIN)/pytest -q -p no:cacheprovider tests/cluster tests/messaging/test_worker_crash.py tests/security \
	  --deselect tests/cluster/test_load.py
	$(MAKE) load DURATION=30m ARGS="--persons 100000"

clean: ## remove the virtual environments and ./var
	rm -rf $(VENV) $(JASMIN_VENV) var
