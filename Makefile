# Every routine task of the pipeline. `make help` lists the targets from their ## comments.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# Batch runs draw charts off-screen (never matplotlib.use() inside the package).
export MPLBACKEND := Agg
# Validation must never be switched off by an inherited environment variable.
unexport PANDERA_VALIDATION_ENABLED

RAW ?= data/raw
PROCESSED ?= data/processed
REPORTS ?= reports
TEMPLATE ?= data/processed/insandningsmall.xlsx
# Period for `make report`: YEAR=2025, or FROM=2025-01-01 TO=2025-08-31; default last full year.
PERIOD_ARGS := $(if $(YEAR),--year $(YEAR),$(if $(FROM),--from $(FROM) --to $(TO),))
# A pooled store (several förbund): ALLA_FORBUND=1, or FORBUND=F001 for one of them.
POOLED_ARGS := $(if $(ALLA_FORBUND),--alla-forbund,$(if $(FORBUND),--forbund $(FORBUND),))

.DEFAULT_GOAL := help
.PHONY: help install report ingest nightly template example test test-fast lint format bench clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP) ## Create the virtual environment and install the pipeline (done by every target)

report: $(STAMP) ## Build the report (example förbund generated when data/raw is empty)
	$(PY) -m pipeline report --raw $(RAW) --processed $(PROCESSED) --reports $(REPORTS) $(PERIOD_ARGS) $(POOLED_ARGS)

ingest: $(STAMP) ## Validate raw exports and update the processed store only
	$(PY) -m pipeline ingest --raw $(RAW) --processed $(PROCESSED)

nightly: $(STAMP) ## Run the nightly job once (incremental; exit codes in README and docs/nattkorning.md)
	$(PY) -m pipeline nightly --raw $(RAW) --processed $(PROCESSED) --reports $(REPORTS)

template: $(STAMP) ## Write the parties' submission template (TEMPLATE=data/processed/insandningsmall.xlsx)
	$(PY) -m pipeline template --raw $(RAW) --out $(TEMPLATE)

example: $(STAMP) ## Write the fictitious example förbund into data/raw (refuses if it holds files)
	$(PY) -m pipeline example --raw $(RAW)

CODE := pipeline tests benchmarks tools

test: lint ## Run lint and the whole test suite (tests and doctests)
	$(PY) -m pytest

test-fast: $(STAMP) ## Run the tests except the slow end-to-end and property ones (< 60 s)
	$(PY) -m pytest -m "not slow"

lint: $(STAMP) ## Check style (ruff), formatting (ruff format) and the stages' layers (import-linter)
	$(VENV)/bin/ruff check $(CODE)
	$(VENV)/bin/ruff format --check $(CODE)
	$(VENV)/bin/lint-imports

format: $(STAMP) ## Format the code with ruff
	$(VENV)/bin/ruff format $(CODE)
	$(VENV)/bin/ruff check --fix $(CODE)

bench: $(STAMP) ## Run the benchmarks and write benchmarks/results.md
	$(PY) -m benchmarks.run

clean: ## Remove generated data, reports and the virtual environment
	rm -rf $(VENV) $(PROCESSED)/* $(REPORTS)/* .pytest_cache .ruff_cache
