# Two entry points do everything on a fresh machine with Python 3.11+, make and package registries:
#   make run   validate catalog/, render generated/, render the chart with every generated values file
#   make test  the whole test suite
# Every bootstrap step is a file target, so a second invocation downloads nothing.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/uv/bin/uv
VENV := .venv
VENV_STAMP := $(VENV)/.synced
HELM3 := $(TOOLS)/helm/3.19.0/helm
HELM4 := $(TOOLS)/helm/4.3.1/helm

export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help bootstrap run test lint check

help:
	@echo "make run    validate catalog/, render generated/ and the chart for every service"
	@echo "make test   run the whole test suite (installs everything it needs first)"
	@echo "make lint   ruff, mypy, yamllint, shellcheck, actionlint and the chart-testing lint"
	@echo "make check  fail if generated files (generated/, schemas, GitOps files) are stale"

$(UV): tools/uv-requirements.txt
	$(PYTHON) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/python -m pip install --quiet --disable-pip-version-check \
		--require-hashes --only-binary=:all: -r tools/uv-requirements.txt
	touch $@

$(VENV_STAMP): $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --python $(PYTHON) --quiet
	touch $@

$(HELM3) $(HELM4) &: tools/bootstrap_helm.py
	$(PYTHON) tools/bootstrap_helm.py

bootstrap: $(VENV_STAMP) $(HELM3) $(HELM4)
	@$(VENV)/bin/python tools/bootstrap_system.py

run: bootstrap
	$(VENV)/bin/catalog-gen render
	$(VENV)/bin/python -m tools.render_chart

test: bootstrap
	$(VENV)/bin/pytest -n auto --dist worksteal

lint: bootstrap
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/yamllint --strict .
	$(VENV)/bin/shellcheck --shell=sh charts/ollama-inference-load/files/*.sh
	$(VENV)/bin/shellcheck tools/render_pr.sh tools/diff_pr.sh
	$(VENV)/bin/actionlint
	$(VENV)/bin/python tools/ct_lint.py
	$(VENV)/bin/python tools/chart_docs.py --check

check: bootstrap
	$(VENV)/bin/catalog-gen check
	$(VENV)/bin/catalog-gen schema --check
	$(VENV)/bin/catalog-gen backstage --check
