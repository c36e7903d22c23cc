# Two entry points (README): `make demo` runs the main job on the demo park, `make test` the tests.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO := inventories/demo-park
OUT := certificates

.PHONY: install demo test lint bench

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/footprint validate $(DEMO)
	$(BIN)/footprint calc $(DEMO) --json $(OUT)/demo-park-results.json --csv $(OUT)/demo-park-results.csv

test: install
	$(BIN)/ruff check footprint tests benchmarks
	$(BIN)/pytest -q

bench: install
	$(BIN)/python benchmarks/bench_engine.py
