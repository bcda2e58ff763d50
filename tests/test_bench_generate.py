"""The benchmark's synthetic graph is deterministic and shaped as specified."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bench.generate import generate, load
from metagate.store.model import Direction, Kind
from metagate.store.port import LineageQuery
from metagate.store.sqlite import SQLiteStore


def _all(runs: int, seed: int) -> tuple[list, list]:
    nodes, edges = [], []
    for batch, _ in generate(runs, seed=seed, batch_runs=50):
        nodes += batch.nodes
        edges += batch.edges
    return nodes, edges


def test_the_graph_is_deterministic_and_shaped_as_specified() -> None:
    nodes, edges = _all(200, seed=1)
    again, _ = _all(200, seed=1)
    other, _ = _all(200, seed=2)
    kinds = Counter(n.kind for n in nodes)

    assert [n.id for n in nodes] == [n.id for n in again] and [n.id for n in nodes] != [n.id for n in other]
    assert kinds[Kind.RUN] == kinds[Kind.MODEL] == kinds[Kind.MODELPARAMS] == kinds[Kind.DEVPERF] == 200
    assert kinds[Kind.DATASET] == 10 and kinds[Kind.FEATURESET] == 20 and kinds[Kind.PROJECT] == 10
    assert kinds[Kind.DEPLOYMENT] == 20 and kinds[Kind.SERVINGPERF] == 60
    assert len({n.id for n in nodes}) == len(nodes)
    assert Counter(e.kind for e in edges)["run_model"] == 200


async def test_loaded_through_the_store_port_it_answers_lineage() -> None:
    store = SQLiteStore(":memory:")
    await store.open()
    catalog, rate = await load(store, 100, progress=False)
    result = await store.lineage(LineageQuery(catalog.deployments[0], Direction.UPSTREAM, 10, 1000))
    await store.close()
    assert rate > 0 and catalog.nodes == sum((await _count(100)).values())
    assert {n.node.kind for n in result.nodes} >= {Kind.MODEL, Kind.RUN, Kind.DATASET, Kind.FEATURESET}


async def _count(runs: int) -> Counter:
    nodes, _ = _all(runs, seed=7)
    return Counter(n.kind for n in nodes)


def test_every_benchmark_module_imports() -> None:
    # A benchmark is run by hand (`make bench*`), not by the suite: a name it takes from
    # the product and the product renamed shows here instead of at the next run.
    import importlib

    for path in sorted((Path(__file__).parent.parent / "bench").glob("*.py")):
        importlib.import_module(f"bench.{path.stem}")


def test_a_peers_environment_imports_the_generator_without_metagate_installed(tmp_path: Path) -> None:
    # The peers' venvs (ML Metadata, MLflow) hold no Metagate: their scripts import the
    # generator and the data dictionary through the package tree on PYTHONPATH. -S: no
    # site-packages, so nothing installed helps; -m from the working directory a peer's
    # script runs in, as run_script starts it.
    import subprocess
    import sys

    from bench.peers.run import peer_environment

    script = "import bench.generate, bench.peers.common, sys; print(bench.generate.Kind.RUN.value)"
    (tmp_path / "probe.py").write_text(script)
    done = subprocess.run(
        [sys.executable, "-S", "-m", "probe"], env=peer_environment(tmp_path), cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.strip() == "run", done.stderr
