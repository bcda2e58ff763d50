"""Lineage on a dense graph, a hyper-parameter sweep of thousands of runs on one model, on
every store adapter: the answer equals a breadth-first walk done here over the same
edges (least depth per node, ordered by depth, kind, creation time and id, cut at the
limit; the edges the walk follows between the nodes kept), and the walk's cost follows
the answer and its last level, not everything the start reaches."""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, replace

import pytest

from metagate.store.model import LINEAGE_EDGE_KINDS, Direction, Edge, Kind, Node, Step, format_time, new_id
from metagate.store.port import LineageNode, LineageQuery, LineageResult, Store
from metagate.store.sqlite import LINEAGE_FIRST_CAP, LINEAGE_SQL, SQLiteStore
from metagate.store.sqlite_sql import lineage_values

RUNS = 3000
T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


@dataclass
class Sweep:
    nodes: dict[str, Node]
    edges: list[Edge]
    deployment: str
    dataset: str
    run: str


def _node(kind: Kind, i: int, name: str | None = None) -> Node:
    # Creation times interleave kinds, so that the order within a level is not insertion order.
    return Node(id=new_id(kind), kind=kind, name=name, created_at=format_time(T0 + dt.timedelta(seconds=(i * 7919) % 10007)))


async def _sweep(store: Store, runs: int = RUNS, prefix: str = "") -> Sweep:
    nodes: list[Node] = []
    edges: list[Edge] = []

    def add(kind: Kind, i: int, name: str | None = None) -> Node:
        nodes.append(_node(kind, i, name))
        return nodes[-1]

    def link(kind: str, a: Node, b: Node) -> None:
        edges.append(Edge(kind, a.id, b.id, a.created_at))

    project, dataset = add(Kind.PROJECT, 0, prefix + "sweep"), add(Kind.DATASET, 1, prefix + "raw")
    featureset, model = add(Kind.FEATURESET, 2, prefix + "features"), add(Kind.MODEL, 3, prefix + "m")
    link("featureset_dataset", featureset, dataset)
    link("project_model", project, model)
    first_params = None
    run0 = None
    for r in range(runs):
        run, params, perf = (
            add(Kind.RUN, 10 + r, f"{prefix}trial-{r}"),
            add(Kind.MODELPARAMS, 20000 + r),
            add(Kind.DEVPERF, 40000 + r),
        )
        for kind, end in (("run_model", model), ("run_dataset", dataset), ("run_featureset", featureset)):
            link(kind, run, end)
        link("run_modelparams", run, params)
        link("run_devperf", run, perf)
        first_params, run0 = first_params or params, run0 or run
    deployment = add(Kind.DEPLOYMENT, 4, prefix + "prod")
    assert first_params is not None and run0 is not None
    for kind, end in (
        ("deployment_model", model),
        ("deployment_featureset", featureset),
        ("deployment_modelparams", first_params),
    ):
        link(kind, deployment, end)
    link("deployment_servingperf", deployment, add(Kind.SERVINGPERF, 5))
    async with store.write() as tx:
        await tx.insert_nodes(nodes)
        await tx.insert_edges(edges)
    return Sweep({n.id: n for n in nodes}, edges, deployment.id, dataset.id, run0.id)


def _expected(sweep: Sweep, query: LineageQuery) -> LineageResult:
    """The lineage as a plain breadth-first walk over the sweep's edges computes it."""
    walks = [Direction.UPSTREAM, Direction.DOWNSTREAM] if query.direction is Direction.BOTH else [query.direction]
    found: dict[tuple[str, Direction], int] = {}
    followed: set[tuple[str, Direction, Edge]] = set()  # (from node, walk, edge)
    outgoing: dict[str, list[Edge]] = {}
    incoming: dict[str, list[Edge]] = {}
    for edge in sweep.edges:
        outgoing.setdefault(edge.from_id, []).append(edge)
        incoming.setdefault(edge.to_id, []).append(edge)
    for walk in walks:
        steps = {e.name: e.step(walk) for e in LINEAGE_EDGE_KINDS}
        frontier, seen, depth = [query.start], {query.start}, 0
        while frontier and depth < query.depth:
            level = []
            for node_id in frontier:
                reached = [(e, e.to_id) for e in outgoing.get(node_id, []) if steps.get(e.kind) is Step.OUT]
                reached += [(e, e.from_id) for e in incoming.get(node_id, []) if steps.get(e.kind) is Step.IN]
                for edge, other in reached:
                    followed.add((node_id, walk, edge))
                    if other not in seen:
                        seen.add(other)
                        level.append(other)
                        found[(other, walk)] = depth + 1
            frontier, depth = level, depth + 1
    matching = [
        LineageNode(sweep.nodes[i], d, w)
        for (i, w), d in found.items()
        if query.kinds is None or sweep.nodes[i].kind in query.kinds
    ]
    matching.sort(key=lambda n: (n.depth, n.node.kind.value, n.node.created_at, n.node.id))
    kept = matching[: query.limit]
    ids = {n.node.id for n in kept} | {query.start}
    edges = sorted({e for _, _, e in followed if e.from_id in ids and e.to_id in ids}, key=lambda e: (e.kind, e.from_id, e.to_id))
    return LineageResult(nodes=kept, edges=edges, truncated=len(matching) > query.limit)


@pytest.fixture
async def sweep(store: Store) -> Sweep:
    return await _sweep(store)


def _summary(result: LineageResult) -> tuple[list[tuple[str, int, str]], list[tuple[str, str, str]], bool]:
    return (
        [(n.node.id, n.depth, n.direction.value) for n in result.nodes],
        [(e.kind, e.from_id, e.to_id) for e in result.edges],
        result.truncated,
    )


@dataclass(frozen=True)
class Case:
    name: str
    start: str  # deployment, dataset or run
    direction: Direction
    depth: int
    limit: int
    kinds: tuple[Kind, ...] | None = None
    passes_the_sweep: bool = True  # walks thousands of runs before its answer is complete

    def query(self, sweep: Sweep) -> LineageQuery:
        start = {"deployment": sweep.deployment, "dataset": sweep.dataset, "run": sweep.run}[self.start]
        return LineageQuery(start=start, direction=self.direction, depth=self.depth, limit=self.limit, kinds=self.kinds)


CASES = [
    Case("deployment upstream, limit 10", "deployment", Direction.UPSTREAM, 5, 10),
    Case("deployment upstream, limit 100", "deployment", Direction.UPSTREAM, 5, 100),
    Case("deployment upstream, all of it", "deployment", Direction.UPSTREAM, 5, 10000, passes_the_sweep=False),
    Case("dataset impact: deployments, limit 1", "dataset", Direction.DOWNSTREAM, 5, 1, (Kind.DEPLOYMENT,)),
    Case("dataset downstream, limit 50, depth 2", "dataset", Direction.DOWNSTREAM, 2, 50),
    Case("a run both ways, limit 5", "run", Direction.BOTH, 4, 5, passes_the_sweep=False),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_dense_lineage_equals_a_breadth_first_walk(store: Store, sweep: Sweep, case: Case) -> None:
    query = case.query(sweep)
    assert _summary(await store.lineage(query)) == _summary(_expected(sweep, query))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_walks_cut_again_and_again_by_a_small_cap_give_the_same_answers(store: Store, sweep: Sweep, case: Case) -> None:
    if not isinstance(store, SQLiteStore) or store.memory:
        pytest.skip("a second SQLite store on the same file, with a first cap of 8 rows")
    query = case.query(sweep)
    small = SQLiteStore(store.path, lineage_first_cap=8)
    await small.open()
    try:
        assert _summary(await small.lineage(query)) == _summary(_expected(sweep, query))
        if case.passes_the_sweep and case.kinds is not None:
            # The first pass's cap (8 + 4 x (limit + 1)) was hit, and the answer came
            # from the passes after it.
            assert small.lineage_rows > 8 + 4 * (case.limit + 1)
    finally:
        await small.close()


def _walk(path: str, query: LineageQuery, cap: int | None = None) -> tuple[list[tuple[str, int, str]], int, int]:
    """One pass of the adapter's lineage statement on its own connection: the nodes it
    ranks (up to limit + 1), the rows it walked, and the SQLite VM instructions it took
    (counted by a progress handler called at every one: the walk's work, not its time)."""
    params = lineage_values(query, LINEAGE_FIRST_CAP)
    if cap is not None:
        params["cap"] = cap
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    conn = sqlite3.connect(path)
    try:
        conn.set_progress_handler(count, 1)
        rows = conn.execute(LINEAGE_SQL[query.kinds is None, False, False], params).fetchall()
    finally:
        conn.close()
    nodes = [(row[3], row[1], row[2]) for row in rows if row[0] == "n"]
    return nodes, rows[0][1], steps[0]


@pytest.mark.parametrize("case", [c for c in CASES if c.kinds is None], ids=[c.name for c in CASES if c.kinds is None])
async def test_every_cut_of_the_walk_is_a_prefix_of_the_answer(store: Store, sweep: Sweep, case: Case) -> None:
    """The walk's queue is ordered as the answer is, so wherever its cap cuts it, the
    nodes it ranks are the answer's first ones, in order: a pass cut short is exact as
    far as it goes, and only one with too few nodes is walked again."""
    if not isinstance(store, SQLiteStore) or store.memory:
        pytest.skip("the SQLite adapter's statement, on a connection of the test's own")
    query = case.query(sweep)
    whole = [(n.node.id, n.depth, n.direction.value) for n in _expected(sweep, replace(query, limit=10**6)).nodes]
    longest = 0
    for cap in range(1, 3 * (min(case.limit, 20) + 2)):
        nodes, walked, _ = _walk(store.path, query, cap)
        # A pass that stopped before its cap walked everything: it holds the whole answer.
        assert walked == cap or len(nodes) == min(len(whole), query.limit + 1), f"cap {cap}"
        assert nodes == whole[: len(nodes)], f"cap {cap}"
        assert len(nodes) <= query.limit + 1
        longest = max(longest, len(nodes))
    assert longest == min(len(whole), query.limit + 1, 3 * (min(case.limit, 20) + 2) - 2)


async def test_a_limited_walk_costs_its_answer_whatever_the_degree_of_the_nodes_it_passes(store: Store, sweep: Sweep) -> None:
    if not isinstance(store, SQLiteStore) or store.memory:
        pytest.skip("the SQLite adapter's statement, on a connection of the test's own")
    # Upstream of the deployment: its model, featureset and params (depth 1), the model's
    # 3,000 runs (depth 2), then their params (depth 3). Ten nodes are asked for: the
    # walk reads the model's first runs in answer order, by index, in one pass.
    query = LineageQuery(start=sweep.deployment, direction=Direction.UPSTREAM, depth=10, limit=10)
    before, statements = store.lineage_rows, store.statements
    result = await store.lineage(query)
    assert result.truncated and len(result.nodes) == 10
    walked = store.lineage_rows - before
    assert store.statements - statements == 1  # one pass
    assert walked < RUNS // 30  # not the 3,000 runs: a few rows per node answered
    # The same walk from a deployment of a sweep a tenth the size, in the same database,
    # takes about the same work, and so do a dataset's downstream walk and a run's walk
    # both ways: what the start reaches (3,000 runs or 300) does not count.
    small = await _sweep(store, RUNS // 10, "small-")
    for start, other, direction in (
        (sweep.deployment, small.deployment, Direction.UPSTREAM),
        (sweep.dataset, small.dataset, Direction.DOWNSTREAM),
        (sweep.run, small.run, Direction.BOTH),
    ):
        big_nodes, _, big_work = _walk(store.path, replace(query, start=start, direction=direction))
        small_nodes, _, small_work = _walk(store.path, replace(query, start=other, direction=direction))
        assert len(big_nodes) == len(small_nodes)
        assert big_work <= 1.25 * small_work, (direction, big_work, small_work)
    # Asked for deployments only, the walk from the dataset passes every run, at the two
    # depths it reaches them (straight, and by the featureset), but not their dev perf,
    # which leads to no deployment: twice the runs and a few nodes more, not four times.
    impact = LineageQuery(start=sweep.dataset, direction=Direction.DOWNSTREAM, depth=10, limit=10, kinds=(Kind.DEPLOYMENT,))
    deployments, impact_rows, _ = _walk(store.path, impact, cap=10**6)
    assert [n[0] for n in deployments] == [sweep.deployment]
    assert 2 * RUNS < impact_rows <= 2 * RUNS + 10
    # A node reached by 3,000 edges at one depth is walked once: the dataset and the
    # featureset, which every run points at, do not multiply the rows.
    everything = LineageQuery(start=sweep.deployment, direction=Direction.UPSTREAM, depth=10, limit=10000)
    before = store.lineage_rows
    whole = await store.lineage(everything)
    assert len(whole.nodes) == 2 * RUNS + 3  # runs, their params, model, featureset, dataset
    assert store.lineage_rows - before <= 2 * (2 * RUNS + 4)
