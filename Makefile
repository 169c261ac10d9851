# modelhealthd developer targets. `make help` lists them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export DO_NOT_TRACK := 1
export PYTHONDONTWRITEBYTECODE := 1

.DEFAULT_GOAL := help
.PHONY: help venv system-deps demo test test-slow test-reliability lint format bench docs dashboards clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

# A venv whose python lacks pip is what a failed `python -m venv` (no ensurepip) leaves behind.
$(STAMP): pyproject.toml
	$(BIN)/python -m pip --version >/dev/null 2>&1 || \
	  { .ci/system-deps --venv $(PYTHON) && $(PYTHON) -m venv --clear $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## Create .venv and install the project (torch==2.13.0 first)

system-deps: ## Install the Debian packages the tests run (prometheus, alertmanager, postgresql, systemd) if missing
	@.ci/system-deps

demo: $(STAMP) ## Run the whole loop on the built-in digits demo (artefacts in ./demo-out)
	$(BIN)/modelhealthd demo --out demo-out

test: system-deps $(STAMP) ## Run the test suite (what CI runs)
	$(BIN)/python -m pytest -q

test-reliability: system-deps $(STAMP) ## Run the fault-injection suite; ends with a table of scenarios
	$(BIN)/python -m pytest -q -m reliability tests/reliability

test-slow: system-deps $(STAMP) ## Run only the tests marked slow (exit code 5 means none are marked)
	$(BIN)/python -m pytest -q -m slow || [ $$? -eq 5 ]


lint: $(STAMP) ## Lint, check formatting, import layering (import-linter) and types (mypy)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(STAMP) ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP) ## Run the benchmarks under bench/ (each ends with a JSON line)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

docs: $(STAMP) ## Regenerate docs/configuration.md and docs/metrics.md from the code
	$(BIN)/python docs/generate.py

dashboards: $(STAMP) ## Rebuild grafana/dashboards/*.json from grafana/build.py
	$(BIN)/python grafana/build.py

clean: ## Remove build and demo artefacts (keeps .venv)
	rm -rf demo-out build *.egg-info .pytest_cache .ruff_cache
