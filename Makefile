PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test demo schema lint clean bench bench-quick bench-load

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/metagate serve

demo: $(STAMP)
	$(BIN)/metagate demo

test: $(STAMP)
	$(BIN)/python -m pytest

schema: $(STAMP)
	$(BIN)/metagate export-schema -o schema/schema.graphql

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info

bench-load: $(STAMP)
	$(BIN)/python -m bench.load --seconds 20 --writers 8 --readers 8

bench: $(STAMP)
	$(BIN)/python -m bench.run --sizes 10000,100000,1000000

bench-quick: $(STAMP)
	$(BIN)/python -m bench.run --sizes 10000 --seconds 2
