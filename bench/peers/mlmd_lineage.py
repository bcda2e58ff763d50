"""ML Metadata (ml-metadata 1.17.1, SQLite store, in process) on the same generated graph as
Metagate's own benchmark: bulk load, one run per call, and a deployment's complete upstream
lineage. Runs inside the MLMD virtual environment with the repository root on PYTHONPATH
(bench.generate needs only the standard library):

    PYTHONPATH=. .bench/venvs/mlmd/bin/python -m bench.peers.mlmd_lineage --nodes 10000 --output out.json

How the graph is mapped (MLMD's graph is bipartite: artifacts and executions joined by
INPUT/OUTPUT events; Metagate's direction table in store/model.py says which end of each
edge is upstream, and every edge below keeps that direction):

- datasets, featuresets, models, modelparams, devperf and servingperf are Artifacts, one
  ArtifactType each; params and metrics are typed properties (max_depth INT, rmse DOUBLE,
  the serving period as two STRING properties);
- runs are Executions (type Run, state COMPLETE): INPUT events from their dataset,
  featureset and modelparams, OUTPUT events to their model and devperf;
- deployments are Executions (type Deploy, property tag): INPUT events from their model,
  featureset and modelparams, OUTPUT events to their servingperf artifacts. A deployment
  "is derived from" its model and "produces" serving performance, which is exactly what
  an execution is in MLMD, and it adds no node of its own;
- "a featureset is derived from its dataset" needs an execution between two artifacts: one
  Featurize execution per featureset (INPUT dataset, OUTPUT featureset). These are the only
  nodes MLMD has that Metagate does not (one per featureset, ~2% of the graph);
- projects are Contexts (type Project) with an Attribution to each of their models:
  project_model groups models and is not lineage, which is what a context is;
- every event carries the Metagate edge kind's role as its path key ("dataset", "model", ...).

A deployment's complete upstream lineage is then 7 nodes: the Deploy execution, its model,
featureset and modelparams, the Run that output the model, the Featurize execution that
output the featureset, and the dataset (Metagate: the same 6 nodes without Featurize).
MLMD counts one hop per artifact-execution step, so the walk needs 4 hops; it is asked for
with max_num_hops=10 and direction UPSTREAM from the deployment's execution id.

Measured:
- bulk load: the generator's batches of 1,000 runs, one put_lineage_subgraph call per batch
  (plus one put_attributions_and_associations for the project attributions); nodes/s and
  runs/s over the whole load, generation included as in Metagate's loader; latency per call;
- one run per call: put_execution of a run with its new modelparams, model and devperf
  artifacts and events to an existing dataset and featureset (passed as the stored
  artifacts, unchanged), on a sample after the bulk load; runs/s and latency per call;
- upstream lineage, plain: get_lineage_subgraph without a field mask (the library then fetches
  the nodes, their types, contexts, events, attributions and associations);
- upstream lineage, ids only + details: get_lineage_subgraph with read mask ["events"] (node
  ids only), then get_artifacts_by_id and get_executions_by_id for the nodes' details.
Deployments are taken round-robin from the generator's catalog; each query is checked once
against the expected 7 nodes before timing. Latency percentiles in ms; peak RSS is the
whole process's (generator and load included).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ml_metadata import __version__ as MLMD_VERSION
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

from bench.generate import Batch, generate, runs_for, sweep
from bench.peers.common import progress, row, write_rows
from metagate.store.model import Kind

PEER = f"ML Metadata {MLMD_VERSION}"
HOPS = 10
UPSTREAM = pb.LineageSubgraphQueryOptions.UPSTREAM
INPUT, OUTPUT = pb.Event.INPUT, pb.Event.OUTPUT

ARTIFACT_TYPES: dict[Kind, dict[str, int]] = {
    Kind.DATASET: {},
    Kind.FEATURESET: {},
    Kind.MODEL: {},
    Kind.MODELPARAMS: {"max_depth": pb.INT, "trial": pb.INT},  # trial: the dense sweep's params
    Kind.DEVPERF: {"rmse": pb.DOUBLE},
    Kind.SERVINGPERF: {"rmse": pb.DOUBLE, "period_start": pb.STRING, "period_end": pb.STRING},
}
EXECUTION_TYPES: dict[str, dict[str, int]] = {"Run": {}, "Deploy": {"tag": pb.STRING}, "Featurize": {}}
EXECUTION_KIND = {Kind.RUN: "Run", Kind.DEPLOYMENT: "Deploy"}

# Metagate edge kind -> (event type, path key). Each edge's "from" end is the run or
# deployment execution, its "to" end the artifact. featureset_dataset and project_model
# are handled apart.
EVENTS: dict[str, tuple[int, str]] = {
    "run_dataset": (INPUT, "dataset"),
    "run_featureset": (INPUT, "featureset"),
    "run_modelparams": (INPUT, "modelparams"),
    "run_model": (OUTPUT, "model"),
    "run_devperf": (OUTPUT, "devperf"),
    "deployment_model": (INPUT, "model"),
    "deployment_featureset": (INPUT, "featureset"),
    "deployment_modelparams": (INPUT, "modelparams"),
    "deployment_servingperf": (OUTPUT, "servingperf"),
}
# Kinds whose MLMD ids are kept for the whole load: later batches refer to them.
KEPT = (Kind.DATASET, Kind.FEATURESET, Kind.DEPLOYMENT)


def _event(kind: int, key: str, artifact_id: int | None = None) -> pb.Event:
    event = pb.Event(type=kind, artifact_id=artifact_id)
    event.path.steps.add().key = key
    return event


def _value(value: Any) -> pb.Value:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return pb.Value(string_value=str(value))
    return pb.Value(int_value=value) if isinstance(value, int) else pb.Value(double_value=value)


@dataclass
class Expected:
    """A deployment's upstream lineage in MLMD ids, to check the answers against."""

    artifacts: set[int] = field(default_factory=set)
    executions: set[int] = field(default_factory=set)


class Loader:
    """Writes the generator's batches into an MLMD store, one put_lineage_subgraph per batch."""

    def __init__(self, store: metadata_store.MetadataStore) -> None:
        self.store = store
        self.artifact_type = {
            kind: store.put_artifact_type(pb.ArtifactType(name=kind.value, properties=props))
            for kind, props in ARTIFACT_TYPES.items()
        }
        self.execution_type = {
            name: store.put_execution_type(pb.ExecutionType(name=name, properties=props))
            for name, props in EXECUTION_TYPES.items()
        }
        self.project_type = store.put_context_type(pb.ContextType(name="Project"))
        self.kept: dict[str, int] = {}  # Metagate id -> MLMD id, for KEPT kinds and projects
        self.featurize: dict[str, int] = {}  # featureset's Metagate id -> its Featurize execution id
        self.call_seconds: list[float] = []

    def _artifact(self, node: Any) -> pb.Artifact:
        artifact = pb.Artifact(type_id=self.artifact_type[node.kind], name=node.name)
        values = {**node.fields.get("params", {}), **node.fields.get("metrics", {})}
        if "periodStart" in node.fields:
            values.update(period_start=node.fields["periodStart"], period_end=node.fields["periodEnd"])
        for key, value in values.items():
            artifact.properties[key].CopyFrom(_value(value))
        return artifact

    def _execution(self, node: Any) -> pb.Execution:
        execution = pb.Execution(
            type_id=self.execution_type[EXECUTION_KIND[node.kind]], name=node.name, last_known_state=pb.Execution.COMPLETE
        )
        if node.kind is Kind.DEPLOYMENT:
            execution.properties["tag"].string_value = node.fields["tag"]
        return execution

    def write(self, batch: Batch, expected: dict[str, Expected]) -> None:
        projects = [n for n in batch.nodes if n.kind is Kind.PROJECT]
        if projects:
            ids = self.store.put_contexts([pb.Context(type_id=self.project_type, name=n.name) for n in projects])
            self.kept.update({n.id: i for n, i in zip(projects, ids)})
        artifacts: list[pb.Artifact] = []
        executions: list[pb.Execution] = []
        artifact_index: dict[str, int] = {}
        execution_index: dict[str, int] = {}
        batch_nodes: dict[str, Any] = {}
        for node in batch.nodes:
            batch_nodes[node.id] = node
            if node.kind in EXECUTION_KIND:
                execution_index[node.id] = len(executions)
                executions.append(self._execution(node))
            elif node.kind in ARTIFACT_TYPES:
                artifact_index[node.id] = len(artifacts)
                artifacts.append(self._artifact(node))
        edges: list[tuple[int, int | None, pb.Event]] = []

        def artifact_end(node_id: str, kind: int, key: str) -> tuple[int | None, pb.Event]:
            if node_id in artifact_index:
                return artifact_index[node_id], _event(kind, key)
            return None, _event(kind, key, artifact_id=self.kept[node_id])  # KeyError: an unknown node

        attributions: list[tuple[str, str]] = []
        for edge in batch.edges:
            if edge.kind == "project_model":
                attributions.append((edge.from_id, edge.to_id))
            elif edge.kind == "featureset_dataset":
                execution_index[f"featurize:{edge.from_id}"] = len(executions)
                executions.append(
                    pb.Execution(
                        type_id=self.execution_type["Featurize"],
                        name=f"featurize-{batch_nodes[edge.from_id].name}",
                        last_known_state=pb.Execution.COMPLETE,
                    )
                )
                edges.append((len(executions) - 1, *artifact_end(edge.to_id, INPUT, "dataset")))
                edges.append((len(executions) - 1, *artifact_end(edge.from_id, OUTPUT, "featureset")))
            else:
                kind, key = EVENTS[edge.kind]
                edges.append((execution_index[edge.from_id], *artifact_end(edge.to_id, kind, key)))
        started = time.perf_counter()
        execution_ids, artifact_ids, _ = self.store.put_lineage_subgraph(executions, artifacts, [], edges)
        if attributions:
            self.store.put_attributions_and_associations(
                [pb.Attribution(context_id=self.kept[p], artifact_id=artifact_ids[artifact_index[m]]) for p, m in attributions],
                [],
            )
        self.call_seconds.append(time.perf_counter() - started)
        for node_id, index in artifact_index.items():
            if batch_nodes[node_id].kind in KEPT:
                self.kept[node_id] = artifact_ids[index]
        for node_id, index in execution_index.items():
            if node_id.startswith("featurize:"):
                self.featurize[node_id.removeprefix("featurize:")] = execution_ids[index]
            elif batch_nodes[node_id].kind in KEPT:
                self.kept[node_id] = execution_ids[index]
        in_batch = {node_id: artifact_ids[i] for node_id, i in artifact_index.items()}
        in_batch.update({node_id: execution_ids[i] for node_id, i in execution_index.items()})
        self._expect(batch, in_batch, expected)

    def _expect(self, batch: Batch, in_batch: dict[str, int], expected: dict[str, Expected]) -> None:
        """Records each deployment's upstream lineage in MLMD ids: the Deploy execution, its model,
        featureset and params, the Run that output the model and its dataset, and the Featurize
        execution that output the featureset."""

        def mlmd(node_id: str) -> int:
            return in_batch[node_id] if node_id in in_batch else self.kept[node_id]

        run_of_model = {e.to_id: e.from_id for e in batch.edges if e.kind == "run_model"}
        dataset_of_run = {e.from_id: e.to_id for e in batch.edges if e.kind == "run_dataset"}
        for edge in batch.edges:
            if edge.kind not in ("deployment_model", "deployment_featureset", "deployment_modelparams"):
                continue
            entry = expected.setdefault(edge.from_id, Expected())
            entry.executions.add(mlmd(edge.from_id))
            entry.artifacts.add(mlmd(edge.to_id))
            if edge.kind == "deployment_model":
                run = run_of_model[edge.to_id]
                entry.executions.add(mlmd(run))
                entry.artifacts.add(mlmd(dataset_of_run[run]))
            elif edge.kind == "deployment_featureset":
                entry.executions.add(self.featurize[edge.to_id])


def _options(deployment_execution: int) -> pb.LineageSubgraphQueryOptions:
    return pb.LineageSubgraphQueryOptions(
        starting_executions=pb.LineageSubgraphQueryOptions.StartingNodes(filter_query=f"id = {deployment_execution}"),
        max_num_hops=HOPS,
        direction=UPSTREAM,
    )


# A lineage query: (store, deployment's execution id) -> (artifact ids, execution ids) of the answer.
Query = Callable[[metadata_store.MetadataStore, int], tuple[set[int], set[int]]]


def lineage_plain(store: metadata_store.MetadataStore, deployment: int) -> tuple[set[int], set[int]]:
    graph = store.get_lineage_subgraph(_options(deployment))
    return {a.id for a in graph.artifacts}, {e.id for e in graph.executions}


def lineage_ids_then_details(store: metadata_store.MetadataStore, deployment: int) -> tuple[set[int], set[int]]:
    skeleton = store.get_lineage_subgraph(_options(deployment), field_mask_paths=["events"])
    artifact_ids = {e.artifact_id for e in skeleton.events}
    execution_ids = {e.execution_id for e in skeleton.events}
    artifacts = store.get_artifacts_by_id(artifact_ids)
    executions = store.get_executions_by_id(execution_ids)
    return {a.id for a in artifacts}, {e.id for e in executions}


def _check(name: str, query: Query, store: metadata_store.MetadataStore, deployments: list[tuple[int, Expected]]) -> None:
    for execution_id, expected in deployments[:20]:
        artifacts, executions = query(store, execution_id)
        if (artifacts, executions) != (expected.artifacts, expected.executions):
            raise AssertionError(
                f"{name}: deployment execution {execution_id}: got artifacts {sorted(artifacts)},"
                f" executions {sorted(executions)}; expected artifacts {sorted(expected.artifacts)},"
                f" executions {sorted(expected.executions)}"
            )


def _timed(seconds: float, call: Callable[[int], object], minimum: int = 20) -> tuple[list[float], float]:
    """Calls call(0), call(1), ... for ``seconds`` (at least ``minimum`` times); returns the
    latencies and the calls per second of busy time."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    number = 0
    while time.perf_counter() < deadline or number < minimum:
        started = time.perf_counter()
        call(number)
        latencies.append(time.perf_counter() - started)
        number += 1
    return latencies, number / sum(latencies)


def one_run_per_call(loader: Loader, store: metadata_store.MetadataStore, count: int) -> list[float]:
    """put_execution per run: Run execution, new modelparams/model/devperf, existing dataset and featureset."""
    dataset_id = next(i for k, i in loader.kept.items() if k.startswith("dataset/"))
    featureset_id = next(i for k, i in loader.kept.items() if k.startswith("featureset/"))
    [dataset] = store.get_artifacts_by_id([dataset_id])
    [featureset] = store.get_artifacts_by_id([featureset_id])
    latencies = []
    for i in range(count):
        params = pb.Artifact(type_id=loader.artifact_type[Kind.MODELPARAMS], properties={"max_depth": pb.Value(int_value=3)})
        model = pb.Artifact(type_id=loader.artifact_type[Kind.MODEL], name=f"sample-model-{i}")
        perf = pb.Artifact(type_id=loader.artifact_type[Kind.DEVPERF], properties={"rmse": pb.Value(double_value=0.5)})
        run = pb.Execution(type_id=loader.execution_type["Run"], name=f"sample-run-{i}", last_known_state=pb.Execution.COMPLETE)
        started = time.perf_counter()
        store.put_execution(
            run,
            [
                (dataset, _event(INPUT, "dataset")),
                (featureset, _event(INPUT, "featureset")),
                (params, _event(INPUT, "modelparams")),
                (model, _event(OUTPUT, "model")),
                (perf, _event(OUTPUT, "devperf")),
            ],
            contexts=[],
        )
        latencies.append(time.perf_counter() - started)
    [after] = store.get_artifacts_by_id([dataset_id])
    assert after.name == dataset.name and after.type_id == dataset.type_id, "put_execution changed the dataset"
    return latencies


def bench(nodes: int, seconds: float, sample_runs: int, workdir: Path) -> list[dict[str, Any]]:
    path = workdir / f"mlmd-{nodes}.sqlite"
    store = _store(path)
    loader = Loader(store)
    runs = runs_for(nodes)
    expected: dict[str, Expected] = {}
    total = round(runs * 4.55)
    started = time.perf_counter()
    catalog = None
    for batch, catalog in generate(runs):
        loader.write(batch, expected)
        done = min(catalog.nodes / total, 1.0)
        rate = catalog.nodes / (time.perf_counter() - started)
        progress(f"\rMLMD: loading {catalog.nodes:>9,} nodes [{'#' * int(done * 30):<30}] {done:4.0%} {rate:,.0f} nodes/s")
    load_seconds = time.perf_counter() - started
    progress("\n")
    assert catalog is not None
    featurize = len(loader.featurize)
    rows = [
        row(
            PEER,
            catalog.nodes,
            "bulk load: put_lineage_subgraph, 1,000 runs per call (per-call latency)",
            loader.call_seconds,
            catalog.nodes / load_seconds,
            unit="nodes",
            note=f"{runs / load_seconds:,.0f} runs/s; {catalog.nodes:,} generator nodes"
            f" (+{featurize:,} Featurize executions MLMD needs) in {load_seconds:.1f} s, generation included;"
            f" SQLite file {path.stat().st_size / 2**20:,.0f} MB",
        )
    ]

    sample = one_run_per_call(loader, store, sample_runs)
    rows.append(
        row(
            PEER,
            catalog.nodes,
            "log one run per put_execution call",
            sample,
            len(sample) / sum(sample),
            unit="runs",
            note=f"{sample_runs} runs after the bulk load; each: a Run execution, new"
            " modelparams, model and devperf artifacts, 5 events",
        )
    )

    deployments = [(loader.kept[d], expected[d]) for d in catalog.deployments]
    queries: list[tuple[str, Query, str]] = [
        ("plain", lineage_plain, "deployment upstream lineage: get_lineage_subgraph (plain, all fields)"),
        (
            "ids",
            lineage_ids_then_details,
            "deployment upstream lineage: get_lineage_subgraph ids-only read mask + get_artifacts/executions_by_id",
        ),
    ]
    for name, query, label in queries:
        _check(name, query, store, deployments)
        progress(f"MLMD {catalog.nodes:,} nodes: {label}\n")

        def call(i: int, query: Query = query) -> object:
            return query(store, deployments[i % len(deployments)][0])

        latencies, throughput = _timed(seconds, call)
        rows.append(
            row(
                PEER,
                catalog.nodes,
                label,
                latencies,
                throughput,
                note=f"in process, SQLite; max_num_hops={HOPS}, UPSTREAM from the Deploy execution;"
                f" 7 nodes per answer; {len(deployments):,} deployments round-robin",
            )
        )
    return rows


def sweep_bench(sizes: list[int], seconds: float, workdir: Path) -> list[dict[str, Any]]:
    """A sweep's deployment (bench.generate.sweep, as ``make bench-dense`` loads it): its
    complete upstream lineage, get_lineage_subgraph without a field mask. The answer is the
    Deploy execution, the model, the featureset and the deployed params, every Run that
    output the model with its params, the Featurize execution and the dataset: 2 x runs + 5."""
    rows = []
    for runs in sizes:
        store = _store(workdir / f"mlmd-sweep-{runs}.sqlite")
        loader = Loader(store)
        made = sweep(runs)
        loader.write(made.batch, {})
        deployment = loader.kept[made.deployment]
        artifacts, executions = lineage_plain(store, deployment)
        answered = len(artifacts) + len(executions)
        assert answered == 2 * runs + 5, (runs, answered)
        progress(f"MLMD sweep of {runs:,} runs: complete upstream lineage ({answered:,} nodes)\n")
        latencies, throughput = _timed(seconds, lambda _, s=store, d=deployment: lineage_plain(s, d), minimum=5)
        rows.append(
            row(
                PEER,
                answered,
                f"sweep of {runs:,} runs: a deployment's complete upstream lineage, get_lineage_subgraph (plain)",
                latencies,
                throughput,
                note=f"in process, SQLite; max_num_hops={HOPS}, UPSTREAM from the Deploy execution; {answered:,} nodes",
            )
        )
    return rows


def _store(path: Path) -> metadata_store.MetadataStore:
    config = pb.ConnectionConfig(
        sqlite=pb.SqliteMetadataSourceConfig(
            filename_uri=str(path), connection_mode=pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        )
    )
    return metadata_store.MetadataStore(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, help="graph size in nodes, as bench/run.py --sizes")
    parser.add_argument("--sweeps", help="instead: sweeps of these many runs (comma-separated), as bench/dense.py")
    parser.add_argument("--seconds", type=float, default=5.0, help="time per lineage scenario")
    parser.add_argument("--sample-runs", type=int, default=300, help="runs written one put_execution call each")
    parser.add_argument("--output", type=Path, help="JSON file for the rows (default: stdout)")
    parser.add_argument("--workdir", type=Path, help="where the SQLite file goes (default: a temporary directory)")
    args = parser.parse_args()
    if (args.nodes is None) == (args.sweeps is None):
        parser.error("give --nodes or --sweeps")

    def measure(workdir: Path) -> list[dict[str, Any]]:
        if args.sweeps:
            return sweep_bench([int(s) for s in args.sweeps.split(",")], args.seconds, workdir)
        return bench(args.nodes, args.seconds, args.sample_runs, workdir)

    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        rows = measure(args.workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="mlmd-bench-") as tmp:
            rows = measure(Path(tmp))
    write_rows(rows, args.output)


if __name__ == "__main__":
    main()
