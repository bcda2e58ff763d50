"""Mutation payloads on the compiled path: the write runs, and its payload, however deeply
it navigates, is read in one query inside the write's transaction. The same steps run on
the compiled path (the gateway) and on the executor with its per-field resolvers, each on
a fresh store with the same ids and times, and the answers must be the same bytes."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import graphql
import httpx
import orjson
import pytest

from metagate.gateway.app import create_app
from metagate.gateway.config import Settings
from metagate.resolvers import registry
from metagate.resolvers.ids import encode_id
from metagate.resolvers.queries import Limits
from metagate.schema import build_schema
from metagate.schema.context import make_context
from metagate.schema.planner import Planner
from metagate.store.model import Kind
from metagate.store.port import Store
from tests.conftest import ADAPTERS, opened_store

NODE = "id kind name createdAt tags attributes __typename"

# Each step: a mutation, and its variables made from the answers of the steps before.
STEPS: list[tuple[str, Any]] = [
    (
        f"""mutation {{ createProject(input: {{name: "credit", tags: ["t"], attributes: {{owner: "ana"}}}}) {{
          __typename created project {{ {NODE} models {{ nodes {{ name }} pageInfo {{ hasNextPage endCursor }} }} }} }} }}""",
        lambda a: {},
    ),
    (
        f"""mutation {{ registerDataset(input: {{name: "loans", attributes: {{rows: 3.0, big: 1e16}}}}) {{
          created dataset {{ {NODE} featuresets {{ nodes {{ name }} }} runs {{ edges {{ cursor node {{ name }} }} }} }} }} }}""",
        lambda a: {},
    ),
    (
        """mutation($d: ID!) { registerFeatureset(input: {name: "loans-fs", datasetId: $d}) {
          created featureset { id name dataset { name featuresets { nodes { name dataset { name } } } } } } }""",
        lambda a: {"d": a[1]["registerDataset"]["dataset"]["id"]},
    ),
    (
        """mutation($p: ID!) { m: registerModel(input: {name: "gbm", projectId: $p}) {
          c: created x: model { id n: name project { name models { nodes { name } } } runs { nodes { name } } } } }""",
        lambda a: {"p": a[0]["createProject"]["project"]["id"]},
    ),
    (
        """mutation($m: ID!, $d: ID!, $f: ID!) { logRun(input: {name: "r1", modelId: $m, datasetId: $d, featuresetId: $f,
            params: {depth: 4, rate: 0.1}, metrics: {rmse: 0.25, auc: 3.0}, deploymentTag: "gbm-v1",
            startTime: "2026-11-01T00:00:00Z", endTime: "2026-11-01T01:00:00Z"}) {
          __typename created
          run { id name status startTime endTime deploymentTag model { name runs { nodes { name } } }
                dataset { name } featureset { name runs { nodes { name } } } }
          modelParams { id params run { name } deployments { nodes { name } } }
          devPerf { metrics rmse: metric(name: "rmse") auc: metric(name: "auc") run { devPerf { metrics } } } } }""",
        lambda a: {
            "m": a[3]["m"]["x"]["id"],
            "d": a[1]["registerDataset"]["dataset"]["id"],
            "f": a[2]["registerFeatureset"]["featureset"]["id"],
        },
    ),
    (
        # Three runs, one of them a repeat of r1 (created: false), one without metrics.
        """mutation($runs: [LogRunInput!]!) { logRuns(input: {runs: $runs}) {
          __typename runs { created run { name model { runs(first: 2) { nodes { name } pageInfo { hasNextPage } } } }
                            devPerf { metrics run { name } } modelParams { params } } } }""",
        lambda a: {
            "runs": [
                _run(a, "r2", metrics={"rmse": 0.5}),
                _run(a, "r1", metrics={"rmse": 0.25, "auc": 3.0}, params={"depth": 4, "rate": 0.1}),
                _run(a, "r3"),
            ]
        },
    ),
    (
        """mutation($m: ID!, $f: ID!, $mp: ID!) { registerDeployment(input: {name: "prod", modelId: $m, featuresetId: $f,
            modelParamsId: $mp, tag: "prod-tag"}) {
          created deployment { name tag model { name runs { nodes { name devPerf { metrics } } } }
                               featureset { name } modelParams { params } servingPerf { nodes { periodStart } } } } }""",
        lambda a: {
            "m": a[3]["m"]["x"]["id"],
            "f": a[2]["registerFeatureset"]["featureset"]["id"],
            "mp": a[4]["logRun"]["modelParams"]["id"],
        },
    ),
    (
        """mutation { logServingPerf(input: {deploymentTag: "prod-tag", periodStart: "2026-11-02T00:00:00Z",
            periodEnd: "2026-11-03T00:00:00Z", metrics: {rmse: 0.3}}) {
          created servingPerf { periodStart periodEnd metrics deployment { name servingPerf { nodes { metrics } } } } } }""",
        lambda a: {},
    ),
    (
        """mutation($id: ID!) { updateAttributes(input: {id: $id, attributes: {rows: 4, note: "x"}}) {
          node { id __typename ... on Dataset { attributes featuresets { nodes { name } } } ... on Run { name } } } }""",
        lambda a: {"id": a[1]["registerDataset"]["dataset"]["id"]},
    ),
    (
        """mutation($id: ID!) { addTags(input: {id: $id, tags: ["best", "t"]}) {
          node { ... on Run { name tags devPerf { metrics } } kind } } }""",
        lambda a: {"id": a[4]["logRun"]["run"]["id"]},
    ),
    (
        # An idempotency key, twice: the second answers what the first wrote, as it is now.
        """mutation { registerDataset(input: {name: "keyed", idempotencyKey: "k1"}) { created dataset { name tags } } }""",
        lambda a: {},
    ),
    (
        """mutation { registerDataset(input: {name: "keyed", idempotencyKey: "k1"}) { created dataset { name tags } } }""",
        lambda a: {},
    ),
    (
        # Only the write's own values: nothing to read.
        """mutation { registerDataset(input: {name: "loans"}) { created __typename } }""",
        lambda a: {},
    ),
    (
        """mutation($s: Boolean!) { __typename registerDataset(input: {name: "other"}) {
          created dataset @skip(if: $s) { name } ...on RegisterDatasetPayload { dataset { id } } } }""",
        lambda a: {"s": True},
    ),
]

T = TypeVar("T")


def _run(answers: list[dict[str, Any]], name: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "modelId": answers[3]["m"]["x"]["id"],
        "datasetId": answers[1]["registerDataset"]["dataset"]["id"],
        "featuresetId": answers[2]["registerFeatureset"]["featureset"]["id"],
        "deploymentTag": "gbm-v1" if name == "r1" else None,
        "startTime": "2026-11-01T00:00:00Z" if name == "r1" else None,
        "endTime": "2026-11-01T01:00:00Z" if name == "r1" else None,
        **fields,
    }


def _deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ids and times from counters, so that two stores written the same way hold the same."""
    ids, ticks = itertools.count(), itertools.count()
    monkeypatch.setattr(registry, "new_id", lambda kind: f"{kind.value}/{next(ids):032x}")
    monkeypatch.setattr(registry, "utcnow", lambda: f"2026-11-30T00:00:00.{next(ticks):06d}Z")


class _ReadsOutside:
    """The store, failing any read made outside a write transaction."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        if name in {"get_nodes", "find_named", "find_by_field", "find_serving_perf", "neighbors", "answer", "list_nodes"}:

            async def refused(*args: Any) -> Any:
                raise AssertionError(f"{name} outside the write's transaction: a resolver read the payload")

            return refused
        return getattr(self.inner, name)


@asynccontextmanager
async def _compiled(store: Store) -> AsyncIterator[Any]:
    app = create_app(Settings(AUTH=False), store=_ReadsOutside(store))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:

        async def run(text: str, variables: dict[str, Any]) -> bytes:
            response = await http.post("/graphql", json={"query": text, "variables": variables})
            return orjson.dumps(response.json())

        yield run


@asynccontextmanager
async def _executor(store: Store) -> AsyncIterator[Any]:
    schema = build_schema()

    async def run(text: str, variables: dict[str, Any]) -> bytes:
        executed = await graphql.graphql(
            schema._schema, text, variable_values=variables, context_value=make_context(store, Limits(), "test")
        )
        assert not executed.errors, executed.errors
        return orjson.dumps({"data": executed.data})

    yield run


async def _answers(adapter: str, tmp_path: Path, path: Any, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    _deterministic(monkeypatch)
    answers: list[dict[str, Any]] = []
    out = []
    tmp_path.mkdir()
    async with opened_store(adapter, tmp_path) as store, path(store) as run:
        for text, variables in STEPS:
            body = await run(text, variables(answers))
            out.append(body)
            answers.append(orjson.loads(body)["data"])
    return out


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_every_mutation_payload_is_answered_as_the_executor_answers_it(
    adapter: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled = await _answers(adapter, tmp_path / "c", _compiled, monkeypatch)
    executed = await _answers(adapter, tmp_path / "e", _executor, monkeypatch)
    for (text, _), got, want in zip(STEPS, compiled, executed, strict=True):
        assert b'"errors"' not in got, got
        assert got == want, text


class _TxAnswers:
    """The store, whose write transactions' ``answer`` is ``answer``; every call counted."""

    def __init__(self, inner: Store, answer: Any) -> None:
        self.inner = inner
        self.answer_in_tx = answer
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def transact(self, work: Callable[[Any], Awaitable[T]]) -> T:
        return await self.inner.transact(lambda tx: work(_Tx(tx, self)))


class _Tx:
    def __init__(self, tx: Any, store: _TxAnswers) -> None:
        self.tx, self.store = tx, store

    def __getattr__(self, name: str) -> Any:
        attr = self.tx.answer if name == "answer" else getattr(self.tx, name)

        async def counted(*args: Any) -> Any:
            self.store.calls.append(name)
            if name == "answer":
                return await self.store.answer_in_tx(attr, *args)
            return await attr(*args)

        return counted


@asynccontextmanager
async def _gateway(store: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(AUTH=False), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:
        yield http


REGISTER = """mutation($n: String!) { registerDataset(input: {name: $n}) { created dataset { name runs { nodes { name } } } } }"""


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_a_payload_is_one_read_at_the_end_of_the_writes_transaction(adapter: str, tmp_path: Path) -> None:
    async def answer(real: Any, plan: Any) -> Any:
        return await real(plan)

    async with opened_store(adapter, tmp_path) as inner:
        store = _TxAnswers(inner, answer)
        async with _gateway(store) as http:
            body = (await http.post("/graphql", json={"query": REGISTER, "variables": {"n": "a"}})).json()
    assert body == {"data": {"registerDataset": {"created": True, "dataset": {"name": "a", "runs": {"nodes": []}}}}}
    assert store.calls[-1] == "answer" and store.calls.count("answer") == 1, store.calls


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_a_payload_the_store_cannot_answer_rolls_the_write_back_and_the_executor_runs_it(
    adapter: str, tmp_path: Path
) -> None:
    refused: list[bool] = []

    async def answer(real: Any, plan: Any) -> Any:
        if not refused:
            refused.append(True)
            return None  # as ArangoDB does for a query over its plan limits
        return await real(plan)

    async with opened_store(adapter, tmp_path) as inner:
        store = _TxAnswers(inner, answer)
        async with _gateway(store) as http:
            body = (await http.post("/graphql", json={"query": REGISTER, "variables": {"n": "a"}})).json()
            again = (await http.post("/graphql", json={"query": REGISTER, "variables": {"n": "a"}})).json()
        named = await inner.find_named([registry.NameKey(Kind.DATASET, "a", "")])
    # The first write was rolled back: the executor's run of it created the dataset.
    assert refused and body["data"]["registerDataset"]["created"] is True, body
    assert again["data"]["registerDataset"]["created"] is False
    assert len(named[0]) == 1


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_a_failing_write_answers_its_error_and_writes_nothing(adapter: str, tmp_path: Path) -> None:
    async with opened_store(adapter, tmp_path) as store:
        async with _gateway(store) as http:
            bad = """mutation($d: ID!) { registerFeatureset(input: {name: "f", datasetId: $d}) {
              created featureset { name } } }"""
            missing = encode_id("dataset/" + "0" * 32)
            body = (await http.post("/graphql", json={"query": bad, "variables": {"d": missing}})).json()
        named = await store.find_named([registry.NameKey(Kind.FEATURESET, "f", "")])
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "NOT_FOUND" and error["path"] == ["registerFeatureset"], error
    assert named == [[]]


TWO = """mutation { a: registerDataset(input: {name: "a"}) { created dataset { name } }
  t: __typename
  b: registerDataset(input: {name: "a"}) { created dataset { name featuresets { nodes { name } } } }
  c: registerDataset(input: {name: "c"}) { created dataset { name } } }"""
TWO_ANSWER = {
    "data": {
        "a": {"created": True, "dataset": {"name": "a"}},
        "t": "Mutation",
        "b": {"created": False, "dataset": {"name": "a", "featuresets": {"nodes": []}}},
        "c": {"created": True, "dataset": {"name": "c"}},
    }
}


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_several_mutation_fields_in_one_operation_run_in_order(adapter: str, tmp_path: Path) -> None:
    async def answer(real: Any, plan: Any) -> Any:
        return await real(plan)

    async with opened_store(adapter, tmp_path) as inner:
        store = _TxAnswers(inner, answer)
        async with _gateway(store) as http:
            body = (await http.post("/graphql", json={"query": TWO})).json()
    assert body == TWO_ANSWER
    assert store.calls.count("answer") == 3, store.calls  # one read per field, in its transaction


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_a_later_payload_the_store_cannot_answer_goes_to_the_executor_with_the_fields_after_it(
    adapter: str, tmp_path: Path
) -> None:
    asked: list[int] = []

    async def answer(real: Any, plan: Any) -> Any:
        asked.append(1)
        return None if len(asked) == 2 else await real(plan)  # b's payload

    async with opened_store(adapter, tmp_path) as inner:
        store = _TxAnswers(inner, answer)
        async with _gateway(store) as http:
            body = (await http.post("/graphql", json={"query": TWO})).json()
        named = await inner.find_named([registry.NameKey(Kind.DATASET, n, "") for n in ("a", "c")])
    # a written once on the compiled path, b rolled back and run again with c by the executor.
    assert body == TWO_ANSWER
    assert [len(found) for found in named] == [1, 1]


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_a_later_field_that_fails_stops_the_operation_as_the_executor_does(
    adapter: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = """mutation { a: registerDataset(input: {name: "a"}) { created dataset { name } }
      b: registerDataset(input: {name: ""}) { created }
      c: registerDataset(input: {name: "c"}) { created } }"""

    async def run(path: Path) -> tuple[Any, list[list[Any]]]:
        path.mkdir()
        async with opened_store(adapter, path) as store:
            async with _gateway(store) as http:
                body = (await http.post("/graphql", json={"query": failing})).json()
            return body, await store.find_named([registry.NameKey(Kind.DATASET, n, "") for n in ("a", "c")])

    compiled, compiled_named = await run(tmp_path / "c")
    with monkeypatch.context() as patched:
        patched.setattr(Planner, "mutation", lambda *args: None)
        executed, executed_named = await run(tmp_path / "e")
    assert compiled["data"] is None and compiled["errors"][0]["path"] == ["b"], compiled
    assert compiled == executed
    # a's write stands, c never ran: on both paths.
    assert [len(f) for f in compiled_named] == [len(f) for f in executed_named] == [1, 0]


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_a_payload_of_ids_only_reads_nothing(adapter: str, tmp_path: Path) -> None:
    async def answer(real: Any, plan: Any) -> Any:
        return await real(plan)

    ids_only = """mutation { registerDataset(input: {name: "a"}) { created dataset { id kind __typename } } }"""
    async with opened_store(adapter, tmp_path) as inner:
        store = _TxAnswers(inner, answer)
        async with _gateway(store) as http:
            body = (await http.post("/graphql", json={"query": ids_only})).json()
        [[dataset]] = await inner.find_named([registry.NameKey(Kind.DATASET, "a", "")])
    assert body == {
        "data": {
            "registerDataset": {
                "created": True,
                "dataset": {"id": encode_id(dataset.id), "kind": "DATASET", "__typename": "Dataset"},
            }
        }
    }
    assert "answer" not in store.calls, store.calls


FAILING = [
    # (mutation, variables): each fails with a coded error, nothing written
    (
        """mutation($d: ID!) { registerFeatureset(input: {name: "f", datasetId: $d}) { created featureset { name } } }""",
        {"d": encode_id("dataset/" + "0" * 32)},
    ),
    ("""mutation { registerDataset(input: {name: "   "}) { created } }""", {}),
    ("""mutation { a: registerDataset(input: {name: "x", tags: ["", "b"]}) { created } }""", {}),
    ("""mutation { addTags(input: {id: "ZGF0YXNldC9ub3Bl", tags: ["t"]}) { node { id } } }""", {}),
    ("""mutation { __typename registerDataset(input: {name: "x", idempotencyKey: "k"}) { created } }""", {}),
]


@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_a_failing_write_is_answered_as_the_executor_answers_it(
    adapter: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def answers(store: Store) -> list[Any]:
        async with _gateway(store) as http:
            # The idempotency key's first use, so that its reuse below conflicts.
            await http.post(
                "/graphql", json={"query": 'mutation { registerDataset(input: {name: "y", idempotencyKey: "k"}) { created } }'}
            )
            return [(await http.post("/graphql", json={"query": q, "variables": v})).json() for q, v in FAILING]

    (tmp_path / "c").mkdir()
    (tmp_path / "e").mkdir()
    async with opened_store(adapter, tmp_path / "c") as store:
        compiled = await answers(store)
    with monkeypatch.context() as patched:
        patched.setattr(Planner, "mutation", lambda *args: None)
        async with opened_store(adapter, tmp_path / "e") as store:
            executed = await answers(store)
    for (query, _), got, want in zip(FAILING, compiled, executed, strict=True):
        assert got["errors"] and got["data"] is None, got
        assert got == want, query


async def test_a_store_that_cannot_answer_plans_runs_mutations_in_the_executor_only(tmp_path: Path) -> None:
    # As ArangoDB before 3.12.1: no write is made only to be rolled back for its payload.
    async def answer(real: Any, plan: Any) -> Any:
        raise AssertionError("the payload was asked of a store that cannot answer plans")

    async with opened_store("sqlite-memory", tmp_path) as inner:
        store = _TxAnswers(inner, answer)
        store.compiled_reads = False
        async with _gateway(store) as http:
            body = (await http.post("/graphql", json={"query": REGISTER, "variables": {"n": "a"}})).json()
    assert body == {"data": {"registerDataset": {"created": True, "dataset": {"name": "a", "runs": {"nodes": []}}}}}
    assert store.calls.count("insert_nodes") == 1, store.calls


@pytest.mark.parametrize("compiled", [True, False])
async def test_a_serving_perf_key_recorded_before_created_was_kept_replays_as_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiled: bool
) -> None:
    # Such a record names the node alone ({"type": "node"}): the call that recorded it
    # created the node, on the compiled path and the executor's alike.
    if not compiled:
        monkeypatch.setattr(Planner, "mutation", lambda *args: None)
    log = """mutation($d: ID!) { logServingPerf(input: {deploymentId: $d, periodStart: "2026-11-01T00:00:00Z",
      periodEnd: "2026-11-02T00:00:00Z", metrics: {rmse: 0.4}, idempotencyKey: "k"}) { created servingPerf { metrics } } }"""
    async with opened_store("sqlite-memory", tmp_path) as store:
        async with _gateway(store) as http:
            answers: list[dict[str, Any]] = []
            for text, variables in STEPS[:7]:  # up to the deployment
                answers.append(
                    (await http.post("/graphql", json={"query": text, "variables": variables(answers)})).json()["data"]
                )
            deployment = (await http.post("/graphql", json={"query": '{ deployment(name: "prod") { id } }'})).json()
            d = deployment["data"]["deployment"]["id"]
            first = (await http.post("/graphql", json={"query": log, "variables": {"d": d}})).json()
            async with store.write() as tx:
                [record] = [await tx.get_idempotency("local:k")]
                assert record is not None and record.result["type"] == "registered"
                older = orjson.dumps({"type": "node", "ids": record.result["ids"]}).decode()
                await tx._conn.execute("UPDATE idempotency SET result = ? WHERE key = ?", (older, "local:k"))  # type: ignore[attr-defined]
            again = (await http.post("/graphql", json={"query": log, "variables": {"d": d}})).json()
    assert first["data"]["logServingPerf"]["created"] is True
    assert again == first, again
