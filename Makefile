PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SERVE_STAMP := $(VENV)/.installed-serve
STAMP := $(VENV)/.installed-test

.PHONY: serve test demo schema vocabulary lint clean bench bench-quick bench-load bench-workers bench-peers bench-dense

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# `make serve` installs what serving needs and nothing more; the test and dev tools,
# and the client distribution (client/), come with the targets that use them.
$(SERVE_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP): $(SERVE_STAMP) client/pyproject.toml
	$(BIN)/python -m pip install --quiet -e ./client -e '.[test,dev]'
	touch $@

serve: $(SERVE_STAMP)
	$(BIN)/metagate serve $(if $(filter command line,$(origin PORT)),--port $(PORT))

demo: $(SERVE_STAMP)
	$(BIN)/metagate demo

test: $(STAMP)
	$(BIN)/python -m pytest

schema: $(SERVE_STAMP)
	$(BIN)/metagate export-schema -o schema/schema.graphql

# The client's copy of the data dictionary's names (tests/test_client_vocabulary.py checks it).
vocabulary: $(SERVE_STAMP)
	$(BIN)/python -c "from metagate.store.model import client_vocabulary as v; open('client/metagate_client/_vocabulary.py', 'w').write(v())"

# mypy does not follow package-dir mappings, so it checks the package through a tree of
# links laid out as it installs (metagate/gateway -> gateway/, ...: the mapping of
# pyproject.toml's package-dir), made anew each run; its cache stays in the venv.
TYPECHECK := $(VENV)/typecheck

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)/metagate
	ln -s $(CURDIR)/metagate/*.py $(CURDIR)/metagate/py.typed $(CURDIR)/gateway $(CURDIR)/schema \
	  $(CURDIR)/resolvers $(CURDIR)/store $(TYPECHECK)/metagate/
	cd $(TYPECHECK) && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml \
	  --cache-dir $(CURDIR)/$(VENV)/.mypy_cache -p metagate
	cd client && $(CURDIR)/$(BIN)/mypy -p metagate_client

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info client/*.egg-info build client/build

bench-load: $(STAMP)
	$(BIN)/python -m bench.load --seconds 60 --writers 16 --readers 16 --workers 2

# logRun and logRuns against 1 and 2 gateway processes in one run: bench/results-workers.md.
bench-workers: $(STAMP)
	$(BIN)/python -m bench.ingest --workers 1,2 --seconds 10 --output bench/results-workers.md

# ML Metadata and MLflow are measured in their own virtual environments (.bench/venvs):
# skipped with a message by `bench` when those cannot be built, an error in `bench-peers`.
bench: $(STAMP)
	$(BIN)/python -m bench.run --sizes 10000,100000,1000000 --peers optional

bench-peers: $(STAMP)
	$(BIN)/python -m bench.run --sizes 10000,100000,1000000 --peers required

bench-quick: $(STAMP)
	$(BIN)/python -m bench.run --sizes 10000 --seconds 2 --peers no --output bench/results-quick.md

# Lineage on sweeps of 5,000 and 50,000 runs on one model, and the previous walk beside
# today's at sweeps it can finish: bench/results-dense.md.
bench-dense: $(STAMP)
	$(BIN)/python -m bench.dense --sweeps 5000,50000 --previous 500,2000
