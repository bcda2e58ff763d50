"""A document strawberry's pipeline has parsed, validated and let through before is
answered again on the compiled path without that pipeline (its extensions' hooks,
parse and validation caches): the same answer, byte for byte, errors included; what the
compiled path cannot answer still goes to strawberry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from metagate.gateway.app import create_app
from metagate.gateway.config import Settings
from metagate.store.port import Store
from tests.conftest import ADAPTERS, GraphQLClient, opened_store
from tests.pipeline import Pipeline, record_pipeline

LINEAGE = """query($id: ID!) { lineage(id: $id, direction: UPSTREAM, depth: 5) {
  root { id name } nodes { depth node { __typename id name } } edges { kind from to } } }"""
LOG_RUN = """mutation($m: ID!, $d: ID!, $f: ID!, $n: String!) {
  logRun(input: {name: $n, modelId: $m, datasetId: $d, featuresetId: $f, params: {depth: 3}, metrics: {rmse: 0.5}}) {
    created run { name model { name } devPerf { metrics } } } }"""


class _App:
    def __init__(self, http: httpx.AsyncClient, app: Any) -> None:
        self.http, self.gql = http, GraphQLClient(http)
        self.fast = app.state.graphql.schema.fast

    async def body(self, query: str, **variables: Any) -> bytes:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        return response.content

    async def twice(self, query: str, **variables: Any) -> tuple[bytes, bytes, int]:
        """The answer through strawberry, the answer again, and how many took the fast path."""
        taken = self.fast.taken
        first = await self.body(query, **variables)
        second = await self.body(query, **variables)
        return first, second, self.fast.taken - taken


@pytest.fixture(params=ADAPTERS)
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[_App, Store, Pipeline]]:
    async with opened_store(request.param, tmp_path) as store:
        app = create_app(Settings(AUTH=False), store=store)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:
            served = _App(http, app)
            yield served, store, await record_pipeline(served.gql, runs=2)


async def test_a_read_asked_again_is_answered_without_strawberry_the_same_bytes(served: tuple[_App, Store, Pipeline]) -> None:
    app, store, p = served
    first, second, taken = await app.twice(LINEAGE, id=p.deployment)
    assert first == second and b'"errors"' not in first
    assert taken == (1 if store.compiled_reads else 0)


async def test_a_write_logged_again_by_the_same_document_takes_the_fast_path(served: tuple[_App, Store, Pipeline]) -> None:
    app, store, p = served
    taken = app.fast.taken
    ids = {"m": p.model, "d": p.dataset, "f": p.featureset}
    one = await app.gql(LOG_RUN, n="fast-1", **ids)
    two = await app.gql(LOG_RUN, n="fast-2", **ids)
    assert one["logRun"] == {
        "created": True,
        "run": {"name": "fast-1", "model": {"name": "gbr"}, "devPerf": {"metrics": {"rmse": 0.5}}},
    }
    assert two["logRun"]["run"]["name"] == "fast-2" and two["logRun"]["created"] is True
    assert app.fast.taken - taken == (1 if store.compiled_reads else 0)


@pytest.mark.parametrize(
    "query, variables",
    [
        # a write refused: nothing written, the same coded error
        (LOG_RUN, {"m": "bW9kZWwvMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA=", "d": "x", "f": "y", "n": "refused"}),
        # a node that is not there
        ("query($id: ID!) { node(id: $id) { id } }", {"id": "bW9kZWwvMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA="}),
        # over the cost limit: strawberry's refusal both times
        ("query { datasets(first: 1000) { nodes { runs(first: 1000) { nodes { name } } } } }", {}),
        # an operation the document does not define
        ("query A { datasets { nodes { name } } }", {}),
    ],
)
async def test_what_fails_fails_the_same_way_again(
    served: tuple[_App, Store, Pipeline], query: str, variables: dict[str, Any]
) -> None:
    app, store, _ = served
    operation = {"operationName": "B"} if "query A" in query else {}
    responses = [await app.http.post("/graphql", json={"query": query, "variables": variables, **operation}) for _ in (1, 2)]
    assert responses[0].content == responses[1].content
    assert responses[0].json().get("errors") or responses[0].json()["data"] == {"node": None}
    names = await app.gql("{ runs(first: 100) { nodes { name } } }")
    assert "refused" not in {run["name"] for run in names["runs"]["nodes"]}


async def test_a_long_document_is_not_remembered(served: tuple[_App, Store, Pipeline]) -> None:
    """Its text and syntax tree would be held beside strawberry's parse cache: the 256
    remembered could each be as long as a request body may be (1 MB)."""
    app, _, p = served
    padded = "#" + "x" * app.fast.longest + "\n" + LINEAGE
    taken = app.fast.taken
    first, second, _ = await app.twice(padded, id=p.deployment)
    assert first == second and b'"errors"' not in first
    assert app.fast.taken == taken and padded not in app.fast._known


CREATE = "mutation($n: String!) { createProject(input: {name: $n}) { project { name } } }"


async def test_a_remembered_document_is_refused_over_get_as_before(served: tuple[_App, Store, Pipeline]) -> None:
    """GET runs nothing here (queries over GET are off): a document sent once by POST must
    not become runnable by a link or an image on another site."""
    app, _, _ = served
    await app.gql(CREATE, n="by-post")
    await app.gql("{ projects(first: 50) { nodes { name } } }")
    for query, variables in ((CREATE, '{"n": "by-get"}'), ("{ projects(first: 50) { nodes { name } } }", "{}")):
        answer = await app.http.get(
            "/graphql", params={"query": query, "variables": variables}, headers={"accept": "application/json"}
        )
        assert answer.status_code == 400, answer.text
    names = {n["name"] for n in (await app.gql("{ projects(first: 50) { nodes { name } } }"))["projects"]["nodes"]}
    assert "by-get" not in names


async def test_an_unexpected_failure_is_answered_as_a_masked_internal_error(
    served: tuple[_App, Store, Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, store, p = served
    through_strawberry = await app.http.post("/graphql", json={"query": LINEAGE, "variables": {"id": p.deployment}})
    assert through_strawberry.status_code == 200

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    from metagate.schema import compiled

    monkeypatch.setattr(compiled, "compiled_result", broken)
    answer = await app.http.post("/graphql", json={"query": LINEAGE, "variables": {"id": p.deployment}})
    assert answer.status_code == 200, answer.text
    [error] = answer.json()["errors"]
    assert error["extensions"]["code"] == "INTERNAL" and "a bug" not in error["message"]
