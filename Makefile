# Teapot — every target installs what it needs first, so a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SERVICES_VENV := .venv-services
SERVICES_STAMP := $(SERVICES_VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install install-services demo test lint typecheck unit e2e bench clean

install: $(STAMP) $(SERVICES_STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -U pip setuptools wheel
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# Ironic and the Redfish emulator are separate services with their own pinned dependency trees,
# so they live in their own virtualenv (as they would run in their own containers in production).
$(SERVICES_STAMP): requirements-services.txt
	test -x $(SERVICES_VENV)/bin/python || $(PYTHON) -m venv $(SERVICES_VENV)
	$(SERVICES_VENV)/bin/pip install -q --disable-pip-version-check -U pip setuptools wheel
	$(SERVICES_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-services.txt
	touch $(SERVICES_STAMP)

DEMO_ARGS ?= --fleet examples/datacenter.yaml

demo: install
	$(BIN)/teapot up $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q -m "not e2e" $(PYTEST_ARGS)

e2e: install
	$(BIN)/pytest -q -m e2e $(PYTEST_ARGS)

test: install lint typecheck
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/apiserver.py --n 2000 --concurrency 16

clean:
	rm -rf $(VENV) $(SERVICES_VENV) .teapot .pytest_cache .mypy_cache .ruff_cache
