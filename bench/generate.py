"""A synthetic pipeline graph, deterministic by seed, sized by its number of runs R:
R/20 datasets, two featuresets per dataset, per run one modelparams, one devperf and one
model, every 10th model deployed with three servingperf periods, models spread over 10
projects. About 4.55 nodes per run: R = 2,200 gives ~10k nodes, 22,000 ~100k,
220,000 ~1M.

The loader writes it through the store port (``Store.write``), in batches, so that it
measures and exercises what the gateway itself uses.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from metagate.store.model import Edge, Kind, Node, format_time
from metagate.store.port import Store

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NODES_PER_RUN = 4.55


@dataclass
class Batch:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)


@dataclass
class Catalog:
    """What a benchmark needs to find in the generated graph."""

    runs: int
    deployments: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    nodes: int = 0


def runs_for(nodes: int) -> int:
    return max(20, round(nodes / NODES_PER_RUN))


def _key(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def generate(runs: int, *, seed: int = 7, batch_runs: int = 1000) -> Iterator[tuple[Batch, Catalog]]:
    """Yields batches of nodes and edges; the catalog fills in as it goes."""
    rng = random.Random(seed)
    catalog = Catalog(runs=runs)
    clock = [0]

    def node(kind: Kind, name: str | None, scope: str = "", **fields: object) -> Node:
        clock[0] += 1
        created = format_time(EPOCH + dt.timedelta(milliseconds=clock[0]))
        return Node(f"{kind.value}/{_key(rng)}", kind, name, created, scope, (), {}, dict(fields))

    def edge(kind: str, a: Node, b: Node) -> Edge:
        return Edge(kind, a.id, b.id, b.created_at)

    first = Batch()
    projects = [node(Kind.PROJECT, f"project-{p}") for p in range(10)]
    datasets = [node(Kind.DATASET, f"dataset-{d}") for d in range(max(1, runs // 20))]
    featuresets = []
    for d, dataset in enumerate(datasets):
        for f in range(2):
            featureset = node(Kind.FEATURESET, f"featureset-{d}-{f}")
            featuresets.append((featureset, dataset))
            first.edges.append(edge("featureset_dataset", featureset, dataset))
    first.nodes += projects + datasets + [f for f, _ in featuresets]
    catalog.datasets = [d.id for d in datasets]
    batch = first
    for r in range(runs):
        project = projects[r % len(projects)]
        featureset, dataset = featuresets[rng.randrange(len(featuresets))]
        model = node(Kind.MODEL, f"model-{r}", project.id)
        run = node(Kind.RUN, f"run-{r}", model.id, status="COMPLETED")
        params = node(Kind.MODELPARAMS, None, run.id, params={"max_depth": rng.randint(2, 8)})
        perf = node(Kind.DEVPERF, None, run.id, metrics={"rmse": round(rng.uniform(0.1, 1.0), 4)})
        batch.nodes += [model, run, params, perf]
        batch.edges += [
            edge("project_model", project, model),
            edge("run_model", run, model),
            edge("run_dataset", run, dataset),
            edge("run_featureset", run, featureset),
            edge("run_modelparams", run, params),
            edge("run_devperf", run, perf),
        ]
        if r % 10 == 0:
            deployment = node(Kind.DEPLOYMENT, f"deployment-{r}", tag=f"deployment-{r}")
            batch.nodes.append(deployment)
            batch.edges += [
                edge("deployment_model", deployment, model),
                edge("deployment_featureset", deployment, featureset),
                edge("deployment_modelparams", deployment, params),
            ]
            for period in range(3):
                served = node(
                    Kind.SERVINGPERF,
                    None,
                    deployment.id,
                    metrics={"rmse": round(rng.uniform(0.1, 1), 4)},
                    periodStart=format_time(EPOCH + dt.timedelta(days=7 * period)),
                    periodEnd=format_time(EPOCH + dt.timedelta(days=7 * period + 7)),
                )
                batch.nodes.append(served)
                batch.edges.append(edge("deployment_servingperf", deployment, served))
            catalog.deployments.append(deployment.id)
        if (r + 1) % batch_runs == 0:
            catalog.nodes += len(batch.nodes)
            yield batch, catalog
            batch = Batch()
    if batch.nodes or batch.edges:
        catalog.nodes += len(batch.nodes)
        yield batch, catalog


async def load(store: Store, runs: int, *, seed: int = 7, progress: bool = True) -> tuple[Catalog, float]:
    """Loads the generated graph; returns its catalog and the nodes loaded per second."""
    started = time.perf_counter()
    catalog = Catalog(runs=runs)
    expected = round(runs * NODES_PER_RUN)
    for batch, catalog in generate(runs, seed=seed):
        async with store.write() as tx:
            await tx.insert_nodes(batch.nodes)
            await tx.insert_edges(batch.edges)
        if progress:
            done = min(catalog.nodes / expected, 1.0)
            sys.stderr.write(f"\rloading {catalog.nodes:>9,} nodes [{'#' * int(done * 30):<30}] {done:4.0%}")
    if progress:
        sys.stderr.write("\n")
    return catalog, catalog.nodes / (time.perf_counter() - started)


@dataclass
class Sweep:
    """A hyper-parameter sweep: one model with ``runs`` runs (all on one dataset and
    featureset, each with its params and dev performance), one deployment of the last run."""

    batch: Batch
    deployment: str
    dataset: str


def sweep(runs: int) -> Sweep:
    """The dense graph of ``make bench-dense``, the same for Metagate and ML Metadata."""
    clock = [0]

    def node(kind: Kind, name: str | None, scope: str = "", **fields: object) -> Node:
        clock[0] += 1
        return Node(
            f"{kind.value}/{clock[0]:012d}",
            kind,
            name,
            format_time(EPOCH + dt.timedelta(milliseconds=clock[0])),
            scope,
            (),
            {},
            dict(fields),
        )

    project, dataset = node(Kind.PROJECT, "sweep"), node(Kind.DATASET, "sweep-data")
    featureset, model = node(Kind.FEATURESET, "sweep-features"), node(Kind.MODEL, "sweep-model", project.id)
    batch = Batch([project, dataset, featureset, model])
    batch.edges += [
        Edge("featureset_dataset", featureset.id, dataset.id, featureset.created_at),
        Edge("project_model", project.id, model.id, model.created_at),
    ]
    best = None
    for r in range(runs):
        run = node(Kind.RUN, f"trial-{r}", model.id, status="COMPLETED")
        params = node(Kind.MODELPARAMS, None, run.id, params={"trial": r})
        perf = node(Kind.DEVPERF, None, run.id, metrics={"rmse": 1 / (r + 2)})
        batch.nodes += [run, params, perf]
        batch.edges += [Edge(kind, run.id, other.id, run.created_at) for kind, other in (
            ("run_model", model), ("run_dataset", dataset), ("run_featureset", featureset),
            ("run_modelparams", params), ("run_devperf", perf))]  # fmt: skip
        best = params
    assert best is not None
    deployment = node(Kind.DEPLOYMENT, "sweep-prod", tag="sweep-prod")
    batch.nodes.append(deployment)
    batch.edges += [Edge(kind, deployment.id, other.id, deployment.created_at) for kind, other in (
        ("deployment_model", model), ("deployment_featureset", featureset), ("deployment_modelparams", best))]  # fmt: skip
    return Sweep(batch, deployment.id, dataset.id)
