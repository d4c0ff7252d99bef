# The two commands of the README: `make demo` and `make test`. Both install what they need first.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: help demo test lint deps bench clean

help:
	@echo "make demo   run the whole sync on the local stack (Azurite, Graph emulator, reference ERP)"
	@echo "make test   run every test (sets up .venv and Azurite first)"
	@echo "make lint   ruff and mypy (part of make test)"

$(PIP_STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

deps: $(PIP_STAMP) $(NODE_STAMP)

# Azurite runs in memory on free loopback ports for the length of the pytest run, then is stopped.
test: deps
	$(PY) -m emulators.azurite -- $(PY) -m pytest
	$(MAKE) --no-print-directory lint

lint: $(PIP_STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

demo: deps
	$(PY) -m emulators.demo $(DEMO_ARGS)

bench: deps
	$(PY) -m emulators.azurite -- $(PY) -m bench.run --sizes 10,100,1000
	$(PY) -m emulators.azurite -- $(PY) -m bench.notifications
	$(PY) -m emulators.azurite -- $(PY) -m bench.meetings
	$(PY) -m emulators.azurite -- $(PY) -m bench.series
	$(PY) -m emulators.azurite -- $(PY) -m bench.attachments
	$(PY) -m bench.big_mailbox --events 20000 --budget 8
	$(PY) -m bench.latency

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
