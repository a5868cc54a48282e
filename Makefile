# The two set-up commands: `make run` and `make test`. Everything else is a step they use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

TEST_ENV := DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/contactcentre} \
	REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/1} CACHE_URL=$${TEST_CACHE_URL:-redis://127.0.0.1:6379/2} \
	SECRET_KEY=test-secret-key-not-for-production DEBUG=0 \
	SESSION_COOKIE_SECURE=0 CSRF_COOKIE_SECURE=0

.PHONY: run test install install-test services chromium lint migrate demo bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q -e '.[test]'
	touch $@

$(VENV)/.installed-bench: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q -e '.[bench]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo

run: demo
	@$(PY) manage.py run_banner --host $(HOST) --port $(PORT)
	$(VENV)/bin/daphne -b $(HOST) -p $(PORT) contactcentre.asgi:application

services:
	@bash scripts/ensure_services.sh

chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: install-test services chromium lint
	$(TEST_ENV) $(PY) manage.py collectstatic --noinput -v0
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

# Load benchmarks against a real deployment and bare baselines (docs/performance.md); BENCH_ARGS=--quick for a smoke run.
bench: $(VENV)/.installed-bench services
	$(PY) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache
