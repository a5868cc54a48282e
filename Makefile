# The two set-up commands: `make run` and `make test`. Everything else is a step they use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

TEST_ENV := DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/contactcentre} \
	REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/1} CACHE_URL=$${TEST_CACHE_URL:-redis://127.0.0.1:6379/2} \
	CHANNEL_LAYER_PREFIX=$${TEST_CHANNEL_LAYER_PREFIX:-$${CHANNEL_LAYER_PREFIX:-asgi}} \
	SECRET_KEY=test-secret-key-not-for-production DEBUG=0 \
	SESSION_COOKIE_SECURE=0 CSRF_COOKIE_SECURE=0
# `make test` runs the suite in this many pytest-xdist workers, each on a test database, Redis databases and
# channel prefix of its own (tests/parallel.py): worker N uses TEST_REDIS_URL's and TEST_CACHE_URL's
# database numbers plus 2N. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2

.PHONY: run test install install-test vendor services chromium lint migrate demo bench clean lock upgrade

# Dependencies install at the versions locked in requirements/ (with their hashes), by uv; `make lock`
# re-locks them after a change to pyproject.toml, `make upgrade` moves every one to its newest allowed
# release (docs/dependencies.md).
UV_VERSION := 0.13.10
UV := $(VENV)/bin/uv
LOCK := $(UV) pip compile -q --universal --generate-hashes --python-version 3.11 pyproject.toml

$(UV):
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: requirements/base.txt pyproject.toml | $(UV)
	$(UV) pip sync -q --python $(PY) requirements/base.txt
	$(UV) pip install -q --python $(PY) --no-deps -e .
	touch $@

# The product and its test tools, which is `install` too.
$(VENV)/.installed-test: requirements/test.txt pyproject.toml | $(UV)
	$(UV) pip sync -q --python $(PY) requirements/test.txt
	$(UV) pip install -q --python $(PY) --no-deps -e .
	touch $(VENV)/.installed $@

$(VENV)/.installed-bench: $(VENV)/.installed requirements/bench.txt
	$(UV) pip install -q --python $(PY) -r requirements/bench.txt
	touch $@

lock: | $(UV)
	$(LOCK) $(LOCK_ARGS) -o requirements/base.txt
	$(LOCK) $(LOCK_ARGS) --extra test -o requirements/test.txt
	$(LOCK) $(LOCK_ARGS) --extra bench -o requirements/bench.txt

upgrade:
	$(MAKE) lock LOCK_ARGS=--upgrade

# The browser libraries the pages load, from the npm registry as package-lock.json pins them (package.json
# lists them), copied where collectstatic finds them: static/vendor/ (git-ignored, as node_modules/ is).
VENDOR := static/vendor
$(VENDOR)/chart.js/chart.umd.min.js: package.json package-lock.json
	npm ci --omit=dev --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)/chart.js
	cp node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/dist/chart.umd.min.js.map \
		node_modules/chart.js/LICENSE.md $(VENDOR)/chart.js/
	touch $@

vendor: $(VENDOR)/chart.js/chart.umd.min.js

install: $(VENV)/.installed vendor

install-test: $(VENV)/.installed-test vendor

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo

run: demo
	@$(PY) manage.py run_banner --host $(HOST) --port $(PORT)
	$(VENV)/bin/daphne --no-server-name -b $(HOST) -p $(PORT) contactcentre.asgi:application

services:
	@bash scripts/ensure_services.sh

chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

test: install-test services chromium lint
	$(TEST_ENV) $(PY) manage.py collectstatic --noinput -v0
	$(TEST_ENV) $(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# Load benchmarks against a real deployment and bare baselines (docs/performance.md); BENCH_ARGS=--quick for a smoke run.
bench: $(VENV)/.installed-bench services
	$(PY) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache node_modules $(VENDOR)

# The fault harness (faults/, tests/faults/): a real deployment on this machine broken on purpose, on a
# database of its own and a Redis of its own (port FAULTS_REDIS_PORT, started and killed by the harness).
# Minutes long, so outside `make test`; FAULTS_DIR keeps each run's logs and figures.
FAULTS_REDIS := redis://127.0.0.1:$${FAULTS_REDIS_PORT:-6391}
FAULTS_ENV := FAULTS=1 DEBUG=0 SECRET_KEY=faults-secret-not-for-production \
	DATABASE_URL=$${FAULTS_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/contactcentre_faults} \
	REDIS_URL=$(FAULTS_REDIS)/0 CACHE_URL=$(FAULTS_REDIS)/1 JOB_INTERVAL_SECONDS=1 \
	AGENT_CONNECTION_GRACE_SECONDS=10 AGENT_HEARTBEAT_SECONDS=2 WEBSOCKET_MAX_PER_IP=100 \
	WEBCHAT_RATE_PER_IP=100000 WEBCHAT_RATE_PER_CHAT=1000

.PHONY: faults
faults: install-test services
	@$(PY) -c "import websockets" 2>/dev/null || $(PY) -m pip install -q "websockets>=14,<17"
	$(FAULTS_ENV) $(PY) -m pytest tests/faults -p no:cacheprovider -v $(PYTEST_ARGS)
