# Two commands: `make run` serves the tour on http://127.0.0.1:8080/, `make test` runs the whole suite.
# Both create the virtual environment when it is missing and are safe to run again.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/tourkg serve --host 127.0.0.1 --port 8080

test: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

# The benchmark needs wrk and nginx (Debian: apt-get install wrk nginx) and rdflib-endpoint, the slowest
# reference, installed here.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/run.py

# The soak: a mixed workload at 32 connections for 10 minutes (SECONDS=30 for a short one); fails on any
# unexpected status or memory growth over 10 % after the warm-up.
SECONDS ?= 600
soak: $(STAMP)
	$(BIN)/python bench/soak.py --seconds $(SECONDS)

clean:
	rm -rf $(VENV) .pytest_cache build src/*.egg-info
