PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test demo schema lint clean bench bench-quick bench-load bench-peers

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

# ML Metadata and MLflow are measured in their own virtual environments (.bench/venvs):
# skipped with a message by `bench` when those cannot be built, an error in `bench-peers`.
bench: $(STAMP)
	$(BIN)/python -m bench.run --sizes 10000,100000,1000000 --peers optional

bench-peers: $(STAMP)
	$(BIN)/python -m bench.run --sizes 10000,100000,1000000 --peers required

bench-quick: $(STAMP)
	$(BIN)/python -m bench.run --sizes 10000 --seconds 2 --peers no --output bench/results-quick.md
