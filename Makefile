# Two commands: `make run` serves the tour on http://127.0.0.1:8080/, `make test` runs the whole suite.
# Both create the virtual environment when it is missing and are safe to run again.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench soak audit lock clean compiled

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Every dependency is pinned in requirements/constraints.txt (see `make lock` to update them).
CONSTRAINTS := requirements/constraints.txt

$(STAMP): pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[test]'
	touch $(STAMP)

# The modules and templates compiled ahead, as pip does for an installed package: an editable install
# does not, and where PYTHONDONTWRITEBYTECODE is set (many containers) every start would compile them
# again (0.1 s of CPU each for the modules and the templates, on the start's critical path). Only what
# changed is compiled again; Python and Jinja check their sources before using what is compiled.
compiled: $(STAMP)
	$(BIN)/python -m compileall -q src
	$(BIN)/python -c 'from tourkg.web.template_cache import compile_all; compile_all()'

run: compiled
	$(BIN)/tourkg serve --host 127.0.0.1 --port 8080

test: compiled
	$(BIN)/ruff check src tests bench .ci
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench .ci

# The benchmark needs wrk and nginx (Debian: apt-get install wrk nginx) and rdflib-endpoint, the slowest
# reference, installed here.
bench: compiled
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[test,bench]'
	$(BIN)/python bench/run.py

# The soak: a mixed workload at 32 connections for 10 minutes (SOAK_SECONDS=30 for a short one); fails on any
# unexpected status or memory growth over 10 % after the warm-up.
SOAK_SECONDS ?= 600
soak: compiled
	$(BIN)/python bench/soak.py --seconds $(SOAK_SECONDS)

# Known vulnerabilities in the pinned dependencies (pip-audit, against PyPI's advisory data).
audit: $(STAMP)
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) pip-audit
	$(BIN)/python .ci/audit.py $(CONSTRAINTS)

# Re-resolve every dependency to the newest versions pyproject.toml allows, in a fresh environment, and
# rewrite the constraints; then run `make test` and `make audit` and commit the file.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet -e '.[test,bench]' pip-audit
	.venv-lock/bin/python .ci/lock.py .venv-lock $(CONSTRAINTS)
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) .pytest_cache build src/*.egg-info
	find src tests -name __pycache__ -prune -exec rm -rf {} +
