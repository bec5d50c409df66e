# rolemill — every target sets up what it needs; `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON      ?= python3
UV_VERSION  := 0.13.9
VENV        := .venv
PY          := $(VENV)/bin/python
UV          := $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: help setup test demo dashboard lint lock bench clean

help:
	@echo "make demo   - set up, then run a real build on the embedded local model"
	@echo "make test   - set up, then run the whole test suite"
	@echo "make dashboard - set up, then the Prefect dashboard with the deployments and a worker (DASHBOARD_PORT=4200)"
	@echo "make setup  - venv from requirements.lock, git-lfs, embedded llama-server and model (idempotent)"
	@echo "make lint   - ruff"
	@echo "make bench  - benchmarks under bench/ (print their figures)"
	@echo "make lock   - re-resolve dependencies into requirements.lock"

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

# --compile-bytecode: where PYTHONDONTWRITEBYTECODE is set (as on the dev machines), a venv without
# .pyc files compiles every module at every import (seconds per process for prefect, numba, ...)
$(VENV)/.synced: requirements.lock pyproject.toml | $(UV)
	@test -x $(PY) || $(UV) venv --quiet --python $(PYTHON) $(VENV)
	$(UV) pip install --quiet --python $(PY) --compile-bytecode --require-hashes -r requirements.lock
	$(UV) pip install --quiet --python $(PY) --no-deps -e .
	@touch $@

# Debian packages (each also the name of its command) set-up needs: git-lfs for the hub; cmake and g++ to build llama-server
# (not needed once it is cached, see rolemill/tasks/llm/embedded_build.py)
APT_NEEDS := git-lfs cmake g++

setup: $(VENV)/.synced
	@missing=""; for need in $(APT_NEEDS); do \
	  command -v $$need >/dev/null || missing="$$missing $$need"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing$$missing (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing:$$missing; run 'sudo apt-get install$$missing' and then 'make setup' again" >&2; exit 1; fi; fi
	$(PY) -m rolemill.tasks.llm.embedded_build

test: setup
	$(PY) -m pytest

demo: setup
	$(VENV)/bin/rolemill build recipes/demo.yaml

DASHBOARD_PORT ?= 4200
dashboard: setup
	$(PY) -m rolemill.dashboard --port $(DASHBOARD_PORT)

lint: setup
	$(PY) -m ruff check rolemill tests bench
	$(PY) -m ruff format --check rolemill tests bench

bench: setup
	$(PY) bench/gateway.py
	$(PY) bench/personas.py
	$(PY) bench/dedup.py

lock: | $(UV)
	$(UV) lock
	$(UV) export --frozen --format requirements-txt --no-emit-project --all-groups --no-header -o requirements.lock

clean:
	rm -rf $(VENV) .tools .pytest_cache
