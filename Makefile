PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SERVE_STAMP := $(VENV)/.installed-serve
STAMP := $(VENV)/.installed-test

.PHONY: serve test demo schema vocabulary lint clean ui browser bench bench-ui bench-quick bench-load bench-workers bench-peers bench-dense bench-hub bench-openlineage bench-metrics bench-changelog bench-gc bench-subscriptions bench-as-of

NPM := $(shell command -v npm)

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

# The web UI (ui/): React and GraphiQL from the npm registry, pinned by ui/package-lock.json,
# built by Vite into ui/dist, which the gateway serves at / and /graphql.
UI_DEPS := ui/node_modules/.package-lock.json
UI_BUILD := ui/dist/index.html
UI_SOURCES := $(shell find ui/src -type f 2>/dev/null) ui/index.html ui/graphiql.html ui/vite.config.ts ui/tsconfig.json

$(UI_DEPS): ui/package.json ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(UI_BUILD): $(UI_DEPS) $(UI_SOURCES)
	cd ui && npm run --silent build

ui: $(UI_BUILD)

# The UI tests' browser: Debian's chromium, installed when missing (as root, as CI runs).
browser:
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
	@command -v chromium >/dev/null || { echo "the UI tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; }

# Without npm the API serves, and / says how to get the UI.
serve: $(SERVE_STAMP) $(if $(NPM),$(UI_BUILD))
	$(BIN)/metagate serve $(if $(filter command line,$(origin PORT)),--port $(PORT))

demo: $(SERVE_STAMP)
	$(BIN)/metagate demo

test: $(STAMP) $(UI_BUILD) browser
	$(BIN)/python -m pytest

schema: $(SERVE_STAMP)
	$(BIN)/metagate export-schema -o schema/schema.graphql

# The client's and the web UI's copies of the data dictionary's names (tests/test_client_vocabulary.py checks them).
vocabulary: $(SERVE_STAMP)
	$(BIN)/python -c "from metagate.store.model import client_vocabulary as v; open('client/metagate_client/_vocabulary.py', 'w').write(v())"
	$(BIN)/python -c "from metagate.store.model import ui_vocabulary as v; open('ui/src/vocabulary.ts', 'w').write(v())"

# mypy does not follow package-dir mappings, so it checks the package through a tree of
# links laid out as it installs (metagate/gateway -> gateway/, ...: the mapping of
# pyproject.toml's package-dir), made anew each run; its cache stays in the venv.
TYPECHECK := $(VENV)/typecheck

lint: $(STAMP) $(UI_DEPS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)/metagate
	ln -s $(CURDIR)/metagate/*.py $(CURDIR)/metagate/py.typed $(CURDIR)/gateway $(CURDIR)/schema \
	  $(CURDIR)/resolvers $(CURDIR)/store $(TYPECHECK)/metagate/
	cd $(TYPECHECK) && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml \
	  --cache-dir $(CURDIR)/$(VENV)/.mypy_cache -p metagate
	cd client && $(CURDIR)/$(BIN)/mypy -p metagate_client
	cd ui && npm run --silent typecheck

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info client/*.egg-info build client/build ui/node_modules ui/dist

bench-load: $(STAMP)
	$(BIN)/python -m bench.load --seconds 60 --writers 16 --readers 16 --workers 2

# logRun and logRuns against 1 and 2 gateway processes in one run: bench/results-workers.md.
bench-workers: $(STAMP)
	$(BIN)/python -m bench.ingest --workers 1,2 --seconds 10 --output bench/results-workers.md

# OpenLineage events one per request and batched, beside logRun in the same run:
# bench/results-openlineage.md.
bench-openlineage: $(STAMP)
	$(BIN)/python -m bench.openlineage --seconds 10 --output bench/results-openlineage.md

# logMetrics batched beside logRun, and a 10,000-point curve read as 500 beside the run
# alone, in the same run: bench/results-metrics.md.
bench-metrics: $(STAMP)
	$(BIN)/python -m bench.metrics --seconds 10 --output bench/results-metrics.md

# logRun and logRuns against a gateway with the change log and one without, taking
# turns in the same run: bench/results-changelog.md.
bench-changelog: $(STAMP)
	$(BIN)/python -m bench.changelog --seconds 10 --output bench/results-changelog.md

bench-gc: $(STAMP)
	$(BIN)/python -m bench.gc --deleted 100000 --output bench/results-gc.md

bench-subscriptions: $(STAMP)
	$(BIN)/python -m bench.subscriptions --runs 100 --output bench/results-subscriptions.md

# lineage(asOf:) against plain lineage on the ~1M-node store: bench/results-as-of.md.
bench-as-of: $(STAMP)
	$(BIN)/python -m bench.as_of --nodes 1000000 --output bench/results-as-of.md

# ML Metadata and MLflow are measured in their own virtual environments (.bench/venvs):
# skipped with a message by `bench` when those cannot be built, an error in `bench-peers`.
bench: $(STAMP)
	$(BIN)/python -m bench.run --sizes 10000,100000,1000000 --peers optional

bench-peers: $(STAMP)
	$(BIN)/python -m bench.run --sizes 10000,100000,1000000 --peers required

# A deployment's page in Debian's chromium on a ~1M-node store, against a ~10k-node one:
# bench/results-ui.md (the stores are made once, in .bench/).
bench-ui: $(STAMP) $(UI_BUILD) browser
	$(BIN)/python -m bench.ui --nodes 1000000 --baseline 10000 --loads 20

# The model zoo and setTrafficWeights beside the read and write paths: bench/results-hub.md.
bench-hub: $(STAMP)
	$(BIN)/python -m bench.hub

bench-quick: $(STAMP)
	$(BIN)/python -m bench.run --sizes 10000 --seconds 2 --peers no --output bench/results-quick.md

# Lineage on sweeps of 5,000 and 50,000 runs on one model, and the previous walk beside
# today's at sweeps it can finish: bench/results-dense.md.
bench-dense: $(STAMP)
	$(BIN)/python -m bench.dense --sweeps 5000,50000 --previous 500,2000
