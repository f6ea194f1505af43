# One command to a running stack (make run), one to every test suite (make test).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
SETTINGS := gateway_project.settings orders_service.settings customers_service.settings
DEMO_GATEWAY ?= http://127.0.0.1:8000
DEMO_ORDERS ?= http://127.0.0.1:8001

.DEFAULT_GOAL := help
.PHONY: help install migrate seed run demo lint test bench chaos clean

help: ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-runtime.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install requirements.txt (skipped when up to date)

migrate: install ## Migrate the three databases
	@for s in $(SETTINGS); do DJANGO_DEBUG=1 $(PY) manage.py migrate --noinput -v 0 --settings=$$s || exit 1; done

seed: migrate ## Create the demo users (idempotent)
	DJANGO_DEBUG=1 $(PY) manage.py seed_demo

run: seed ## Start gateway :8000, orders :8001, customers :8002 (banner when up)
	DJANGO_DEBUG=1 DJANGO_HTTPS=0 WEB_CONCURRENCY=1 $(VENV)/bin/honcho start -f Procfile

demo: install ## With make run going: walk the token story (DEMO_GATEWAY=, DEMO_ORDERS=)
	$(PY) -m common.demo --gateway $(DEMO_GATEWAY) --orders $(DEMO_ORDERS)

lint: install ## Check the code with ruff
	$(VENV)/bin/ruff check .

# The browser tests drive Debian's Chromium (Playwright never downloads a browser).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@echo "installing Debian's chromium for the browser tests (apt-get, as root)"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

test: lint $(CHROMIUM) ## Lint, then run every test suite (unit, integration, end to end)
	$(PY) tests/run.py

bench: install ## Measure direct vs gateway vs nginx (BENCH_ARGS="--profile" etc.)
	$(PY) -m bench.run $(BENCH_ARGS)

chaos: install ## Faults under load on a private PostgreSQL and Redis, then invariants (CHAOS_ARGS="--duration 60")
	$(PY) -m chaos.run $(CHAOS_ARGS)

clean: ## Remove .venv and var/ (databases, keys, artifacts)
	rm -rf $(VENV) var
