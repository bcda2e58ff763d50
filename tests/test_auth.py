"""Authentication and authorization: tokens, roles, and project limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
)
from graphql.pyutils import Undefined

from metagate.gateway.app import create_app
from metagate.gateway.auth import issue
from metagate.gateway.cli import main
from metagate.gateway.config import Settings
from metagate.resolvers.authz import ROOT_FIELDS, Principal, Role
from metagate.schema import build_schema
from metagate.store.port import Store
from metagate.store.sqlite import SQLiteStore
from tests.conftest import GraphQLClient
from tests.pipeline import record_pipeline

SCHEMA = build_schema()._schema
ROOTS = {"Query": SCHEMA.query_type, "Mutation": SCHEMA.mutation_type}
SCALARS = {"ID": "x", "String": "x", "Int": 1, "Float": 1.0, "Boolean": True, "JSON": {}, "DateTime": "2026-01-01T00:00:00Z"}


def _sample(type_: Any) -> Any:
    """A value of the right shape for a GraphQL input type (required parts only)."""
    if isinstance(type_, GraphQLNonNull):
        return _sample(type_.of_type)
    if isinstance(type_, GraphQLList):
        return [_sample(type_.of_type)]
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLScalarType):
        return SCALARS[type_.name]
    assert isinstance(type_, GraphQLInputObjectType)
    return {
        name: _sample(field.type)
        for name, field in type_.fields.items()
        if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
    }


def _operation(parent: str, name: str) -> tuple[str, dict[str, Any]]:
    field = ROOTS[parent].fields[name]
    required = {a: arg for a, arg in field.args.items() if isinstance(arg.type, GraphQLNonNull)}
    declared = ", ".join(f"${a}: {arg.type}" for a, arg in required.items())
    passed = ", ".join(f"{a}: ${a}" for a in required)
    keyword = "query" if parent == "Query" else "mutation"
    document = f"{keyword}{f'({declared})' if declared else ''} {{ {name}{f'({passed})' if passed else ''} {{ __typename }} }}"
    return document, {a: _sample(arg.type) for a, arg in required.items()}


OPERATIONS = [(parent, name) for parent, root in ROOTS.items() for name in root.fields]


def test_every_root_field_has_an_access_rule() -> None:
    # A field missing here is refused to everybody: this test names it. (Subscriptions
    # run over WebSockets: tests/test_subscriptions.py checks them.)
    roots = {**ROOTS, "Subscription": SCHEMA.subscription_type}
    assert {p: set(fields) for p, fields in ROOT_FIELDS.items()} == {p: set(root.fields) for p, root in roots.items()}


async def _client(store: Store, token: str | None) -> GraphQLClient:
    app = create_app(Settings(), store=store)
    return GraphQLClient(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost"), token)


@pytest.mark.parametrize(("parent", "name"), OPERATIONS, ids=[f"{p}.{n}" for p, n in OPERATIONS])
async def test_authorization_matrix(memory_store: SQLiteStore, parent: str, name: str) -> None:
    document, variables = _operation(parent, name)
    needed = ROOT_FIELDS[parent][name]
    tokens = {role: (await issue(memory_store, name=role.value, role=role)).secret for role in Role}
    for role, token in [*tokens.items(), (None, None)]:
        client = await _client(memory_store, token)
        body = await client.raw(document, **variables)
        codes = {e["extensions"]["code"] for e in body.get("errors", [])}
        if role is None:
            assert codes == {"UNAUTHENTICATED"}, (role, body)
        elif Principal(token_id=None, role=role).may(needed):
            assert not codes & {"UNAUTHENTICATED", "FORBIDDEN"}, (role, body)
        else:
            assert codes == {"FORBIDDEN"}, (role, body)
        await client.http.aclose()


async def test_a_writer_limited_to_a_project_writes_only_there(memory_store: SQLiteStore) -> None:
    admin = await _client(memory_store, (await issue(memory_store, name="admin", role=Role.ADMIN)).secret)
    a = await record_pipeline(admin, runs=1, prefix="a-")
    b = await record_pipeline(admin, runs=1, prefix="b-")
    limited = await _client(memory_store, (await issue(memory_store, name="ci", role=Role.WRITER, projects=["a-housing"])).secret)
    before = await memory_store.count_all()

    async def code(query: str, **variables: Any) -> str | None:
        body = await limited.raw(query, **variables)
        return body["errors"][0]["extensions"]["code"] if body.get("errors") else None

    register_model = 'mutation($p: ID!) { registerModel(input: {name: "m2", projectId: $p}) { created } }'
    log_run = """mutation($m: ID!, $d: ID!, $f: ID!) { logRun(input: {modelId: $m, datasetId: $d,
                   featuresetId: $f, metrics: {rmse: 0.3}}) { created } }"""
    serving = """mutation($d: ID!) { logServingPerf(input: {deploymentId: $d, periodStart: "2026-12-01T00:00:00Z",
                   periodEnd: "2026-12-02T00:00:00Z", metrics: {rmse: 0.4}}) { servingPerf { id } } }"""
    tag = 'mutation($id: ID!) { addTags(input: {id: $id, tags: ["x"]}) { node { id } } }'
    attrs = "mutation($id: ID!) { updateAttributes(input: {id: $id, attributes: {x: 1}}) { node { id } } }"

    assert await code(register_model, p=b.project) == "FORBIDDEN"
    assert await code(log_run, m=b.model, d=b.dataset, f=b.featureset) == "FORBIDDEN"
    assert await code(serving, d=b.deployment) == "FORBIDDEN"
    assert await code(tag, id=b.perfs[0]) == "FORBIDDEN"
    assert await code(attrs, id=b.runs[0]) == "FORBIDDEN"
    # One run of a batch in a project the token may not write to: the whole batch is refused.
    batch = "mutation($runs: [LogRunInput!]!) { logRuns(input: {runs: $runs}) { runs { created } } }"
    mixed = [{"modelId": p.model, "datasetId": p.dataset, "featuresetId": p.featureset} for p in (a, b)]
    assert await code(batch, runs=mixed) == "FORBIDDEN"
    assert await memory_store.count_all() == before

    assert await code(register_model, p=a.project) is None
    assert await code(log_run, m=a.model, d=a.dataset, f=a.featureset) is None
    assert await code(batch, runs=mixed[:1]) is None
    assert await code(serving, d=a.deployment) is None
    assert await code(tag, id=a.perfs[0]) is None
    # Datasets are shared by every project.
    assert await code(attrs, id=b.dataset) is None
    await admin.http.aclose()
    await limited.http.aclose()


async def test_a_writer_limited_to_a_project_moves_on_only_its_projects_steps(memory_store: SQLiteStore) -> None:
    admin = await _client(memory_store, (await issue(memory_store, name="admin", role=Role.ADMIN)).secret)
    a = await record_pipeline(admin, runs=1, prefix="a-")
    b = await record_pipeline(admin, runs=1, prefix="b-")
    limited = await _client(memory_store, (await issue(memory_store, name="ci", role=Role.WRITER, projects=["a-housing"])).secret)
    log = "mutation($i: LogStepInput!) { logStep(input: $i) { step { id } } }"
    update = "mutation($id: ID!) { updateStep(input: {stepId: $id, state: FAILED}) { step { state } } }"

    async def step(**fields: Any) -> str:
        logged = await admin(log, i={"name": "s", "phase": "TRAIN", "state": "RUNNING", **fields})
        return str(logged["logStep"]["step"]["id"])

    async def code(query: str, **variables: Any) -> str | None:
        body = await limited.raw(query, **variables)
        return body["errors"][0]["extensions"]["code"] if body.get("errors") else None

    # A step without a parent is of the project of the model it wrote...
    of_b = await step(outputs=[{"id": b.model}])
    # ...and one deep in pipeline runs of a run of b's, of b's, however deep.
    parent = await step(phase="PIPELINE", parentId=b.runs[0])
    for _ in range(10):
        parent = await step(phase="PIPELINE", parentId=parent)
    deep_in_b = await step(parentId=parent)
    before = await memory_store.count_all()
    assert await code(update, id=of_b) == "FORBIDDEN"
    assert await code(update, id=deep_in_b) == "FORBIDDEN"
    assert await memory_store.count_all() == before
    # Its own project's steps, and steps of shared datasets only, it moves on.
    assert await code(update, id=await step(outputs=[{"id": a.model}])) is None
    assert await code(update, id=await step(inputs=[{"id": b.dataset}])) is None
    await admin.http.aclose()
    await limited.http.aclose()


async def test_revoked_tokens_are_refused_within_a_second(memory_store: SQLiteStore) -> None:
    issued = await issue(memory_store, name="old", role=Role.READER)
    app = create_app(Settings(), store=memory_store)
    now = [1000.0]
    app.state.verified_tokens.clock = lambda: now[0]
    client = GraphQLClient(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost"), issued.secret)
    assert "errors" not in await client.raw("{ datasets { nodes { id } } }")
    assert await memory_store.revoke_token(issued.token.id, "2026-11-23T00:00:00.000000Z")
    # Verified a moment ago: answered without asking the store again...
    statements = memory_store.statements
    assert "errors" not in await client.raw("{ datasets { nodes { id } } }")
    assert memory_store.statements == statements + 1  # the list alone, no token look-up
    # ...until a second has passed: then the revocation holds.
    now[0] += 1.0
    body = await client.raw("{ datasets { nodes { id } } }")
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    await client.http.aclose()


def test_verified_tokens_expire_and_stay_bounded() -> None:
    from metagate.gateway.auth import VerifiedTokens
    from metagate.resolvers.authz import Principal

    now = [0.0]
    verified = VerifiedTokens(ttl=1.0, size=2, clock=lambda: now[0])
    reader = Principal(token_id="a", role=Role.READER, projects=frozenset())
    verified.put("mg_a", reader)
    assert verified.get("mg_a") == reader and verified.get("mg_b") is None
    verified.put("mg_b", reader)
    verified.put("mg_c", reader)  # the oldest goes: at most `size` entries
    assert verified.get("mg_a") is None and verified.get("mg_c") == reader
    now[0] = 1.0
    assert verified.get("mg_c") is None


def test_token_commands(tmp_path: Path) -> None:
    db = str(tmp_path / "t.db")
    runner = CliRunner()
    runner.invoke(main, ["demo", "--store", db])
    created = runner.invoke(
        main, ["token", "create", "--name", "ci", "--role", "writer", "--project", "housing-prices", "--store", db]
    )
    unknown = runner.invoke(main, ["token", "create", "--name", "x", "--role", "writer", "--project", "nope", "--store", db])
    listed = runner.invoke(main, ["token", "list", "--store", db])
    secret = created.output.strip()
    token_id = secret.split("_")[1]
    revoked = runner.invoke(main, ["token", "revoke", token_id, "--store", db])
    again = runner.invoke(main, ["token", "revoke", token_id, "--store", db])

    assert created.exit_code == 0 and secret.startswith("mg_")
    assert unknown.exit_code != 0 and "no project named" in unknown.output
    assert token_id in listed.output and "writer" in listed.output and secret not in listed.output
    assert revoked.exit_code == 0 and again.exit_code != 0
    assert "revoked" in runner.invoke(main, ["token", "list", "--store", db]).output


def test_no_auth_is_refused_off_loopback() -> None:
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--no-auth"])
    assert result.exit_code != 0 and "refusing" in result.output


async def test_graphiql_opens_without_a_token_and_takes_one_in_its_headers(memory_store: SQLiteStore) -> None:
    app = create_app(Settings(), store=memory_store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:
        page = await http.get("/graphql", headers={"accept": "text/html"})
        schema = await http.post("/graphql", json={"query": "{ __schema { types { name } } }"})
    # The build's GraphiQL (make ui), whose headers editor takes the token (tests/ui).
    assert page.status_code == 200 and '<div id="graphiql"></div>' in page.text
    # GraphiQL loads the schema before the person has pasted a token.
    assert "errors" not in schema.json()


@pytest.mark.parametrize(
    "host", ["attacker.example", "127.0.0.1.attacker.example", "localhost.attacker.example", "10.0.0.7:8000"]
)
async def test_without_auth_only_loopback_host_names_are_served(memory_store: SQLiteStore, host: str) -> None:
    """A web page can point its own domain at 127.0.0.1 (DNS rebinding) and post to a
    gateway that runs without tokens: such a request carries the page's Host, and is
    refused before anything runs."""
    app = create_app(Settings(AUTH=False), store=memory_store)
    create = {"query": 'mutation { createProject(input: {name: "p"}) { created } }'}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:
        refused = await http.post("/graphql", json=create, headers={"host": host})
        metrics = await http.get("/metrics", headers={"host": host})
        served = [
            (await http.post("/graphql", json={"query": "{ __typename }"}, headers={"host": name})).status_code
            for name in ("localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000", "127.0.0.1", "api.localhost")
        ]
    assert refused.status_code == 403 and metrics.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await memory_store.count_all()).get("project", 0) == 0
    assert served == [200] * 6
    # With tokens, the Host is the operator's business (a proxy's name, a LAN address).
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(Settings(), store=memory_store))) as http:
        assert (await http.get("http://attacker.example/healthz")).status_code == 200


async def test_without_auth_a_request_with_a_second_host_header_is_refused(memory_store: SQLiteStore) -> None:
    """Two Host headers, one loopback and one not: servers and proxies disagree on which
    counts, so none is trusted."""
    app = create_app(Settings(AUTH=False), store=memory_store)
    scope_headers = [(b"host", b"localhost"), (b"host", b"attacker.example")]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b'{"query": "{ __typename }"}', "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    for headers in (scope_headers, scope_headers[::-1]):
        sent.clear()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "query_string": b"",
            "root_path": "",
            "headers": [*headers, (b"content-type", b"application/json")],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 8000),
        }
        await app(scope, receive, send)  # type: ignore[arg-type]
        assert sent[0]["status"] == 403
