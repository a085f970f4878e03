# One entry point. `make synth` sets everything up and synthesizes the default app;
# `make test` is the gate (format check, ruff, mypy, pytest) that CI runs through .ci/run.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The project's own Node.js (from the npm package "node") and CDK CLI come first on PATH.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)

# What the tests run for real (a check, then the Debian package that satisfies it): the runner's tools,
# sudo and cron for the rehearsal, and a system python with boto3 that the notebook user can run (as
# JupyterSystemEnv's on an instance) for the auto-stop module in the rehearsal; jq, which the review
# workflows' steps use (as on GitHub's runners) when tests/test_workflow.py runs them.
SYSTEM_DEPS := "command -v xz:xz-utils" "command -v sudo:sudo" "command -v crontab:cron" \
	"command -v setsid:util-linux" "command -v unshare:util-linux" "/usr/bin/python3 -c 'import boto3':python3-boto3" \
	"command -v bwrap:bubblewrap" "command -v jq:jq" "command -v gawk:gawk" "command -v mawk:mawk" \
	"command -v systemd-analyze:systemd"

.PHONY: setup synth test lint format typecheck pytest system-deps clean deploy-local

setup: $(VENV)/.installed node_modules/.installed system-deps

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

system-deps:
	@missing=""; for pair in $(SYSTEM_DEPS); do \
	  sh -c "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "run as root (or install:$$missing) first" >&2; exit 1; fi; \
	fi

synth: setup
	npx cdk synth --quiet

format:
	$(PY) -m ruff format .

lint: setup
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .

typecheck: setup
	$(PY) -m mypy

pytest: setup
	$(PY) -m pytest

test: lint typecheck pytest

# cdk bootstrap + deploy + auto-stop + destroy of the notebook stack against moto's server on 127.0.0.1.
deploy-local: setup
	$(PY) -m pytest -v tests/test_local_deploy.py

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache
