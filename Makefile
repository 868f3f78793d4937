# Two entry points: `make run` (the app on http://localhost:3000) and `make test`.
# Everything else they need is installed into this folder: .venv/ and .tools/.

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin

export PATH := $(CURDIR)/.tools/node_modules/.bin:$(BIN):$(PATH)
export REFLEX_CHECK_LATEST_VERSION := 0
export REFLEX_TELEMETRY_ENABLED := false

.PHONY: run test test-fast serve bench setup migrate browser lint typecheck

run: setup migrate
	reflex run

test: setup browser lint typecheck
	pytest

# Unit and in-process tests only: no app server, no browser, SQLite only (`make test` runs them all).
test-fast: setup
	pytest -q -m "not browser and not wire and not deploy" -k "not postgresql"

# Production (see README): settings checked, migrations applied, then the workers.
serve: setup
	scripts/serve

# The benchmark (see README): production server on SQLite and PostgreSQL, simulated browsers.
# BENCH_ARGS=--quick for a short run.
bench: setup
	$(BIN)/python -m bench $(BENCH_ARGS)

setup: $(VENV)/.installed .tools/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

# Reflex builds the frontend with bun; install it from the npm registry rather
# than letting Reflex download it (that needs the open internet).
.tools/.installed:
	scripts/install-bun
	touch $@

migrate: setup
	alembic upgrade head

browser: setup
	scripts/install-browser

lint: setup
	ruff check .

# pyright (strict, settings in pyproject.toml); the wheel bundles pyright itself and runs it on Node.
typecheck: setup
	pyright
