"""Bad input to every mutation: the right ``extensions.code``, a message that names the
field, and nothing written.

Each rejection is checked against ``count_all``; rejections of the mutations that change
existing nodes (updateAttributes, addTags) are also checked against the tags and
attributes of every node of a small recorded pipeline, which the counts do not show.
Cases are looped inside a few tests rather than parametrized one by one, to keep the
file fast: each test builds a fresh gateway and pipeline per store adapter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from metagate.resolvers import registry
from metagate.resolvers.ids import encode_id
from metagate.store.errors import Conflict
from metagate.store.port import Store
from tests.conftest import GraphQLClient
from tests.pipeline import Pipeline, record_pipeline

SELECTIONS = {
    "createProject": "project { id } created",
    "registerDataset": "dataset { id } created",
    "registerFeatureset": "featureset { id } created",
    "registerModel": "model { id } created",
    "logRun": "run { id } created",
    "registerDeployment": "deployment { id } created",
    "logServingPerf": "servingPerf { id } created",
    "updateAttributes": "node { id attributes }",
    "addTags": "node { id tags }",
}
MUTATIONS = list(SELECTIONS)
DOCS = {m: f"mutation($i: {m[0].upper()}{m[1:]}Input!) {{ {m}(input: $i) {{ {sel} }} }}" for m, sel in SELECTIONS.items()}

DROP = object()  # an override that removes the key from the base input


def unknown(kind: str) -> str:
    """A well-formed id of ``kind`` that no node has."""
    return encode_id(f"{kind}/" + "0" * 32)


def base_input(mutation: str, p: Pipeline) -> dict[str, Any]:
    """An input that succeeds against the recorded pipeline and writes something new."""
    inputs: dict[str, dict[str, Any]] = {
        "createProject": {"name": "new-project", "attributes": {"team": "ml"}},
        "registerDataset": {"name": "new-dataset", "tags": ["raw"]},
        "registerFeatureset": {"name": "new-features", "datasetId": p.dataset},
        "registerModel": {"name": "new-model", "projectId": p.project},
        "logRun": {
            "name": "new-run",
            "modelId": p.model,
            "datasetId": p.dataset,
            "featuresetId": p.featureset,
            "params": {"lr": 0.1},
            "metrics": {"rmse": 0.4},
            "startTime": "2026-01-01T00:00:00Z",
            "endTime": "2026-01-01T01:00:00Z",
        },
        "registerDeployment": {
            "name": "new-deployment",
            "modelId": p.model,
            "featuresetId": p.featureset,
            "modelParamsId": p.params[0],
        },
        "logServingPerf": {
            "deploymentId": p.deployment,
            "periodStart": "2027-01-01T00:00:00Z",
            "periodEnd": "2027-01-02T00:00:00Z",
            "metrics": {"rmse": 0.5},
        },
        "updateAttributes": {"id": p.dataset, "attributes": {"owner": "ana"}},
        "addTags": {"id": p.dataset, "tags": ["gold"]},
    }
    return inputs[mutation]


def build(mutation: str, p: Pipeline, **changes: Any) -> dict[str, Any]:
    data = base_input(mutation, p)
    for key, value in changes.items():
        if value is DROP:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def nest(levels: int) -> dict[str, Any]:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.fixture
async def p(gql: GraphQLClient) -> Pipeline:
    # One run carrying deploymentTag "prod", deployment "prod" (tag "prod") built from it,
    # and three serving-perf records.
    return await record_pipeline(gql, runs=1)


async def snapshot(gql: GraphQLClient, store: Store, p: Pipeline) -> tuple[dict[str, int], Any]:
    ids = [p.project, p.dataset, p.featureset, p.model, *p.runs, *p.params, *p.perfs, p.deployment, *p.serving]
    nodes = (await gql("query($ids: [ID!]!) { nodes(ids: $ids) { id tags attributes } }", ids=ids))["nodes"]
    return await store.count_all(), nodes


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 300 else text[:300] + "..."


def check_error(
    error: dict[str, Any], code: str, *, field: str | None = None, mention: str | None = None, context: Any = None
) -> None:
    extensions = error.get("extensions") or {}
    where = f"{short(context)} -> {short(error)}"
    assert extensions.get("code") != "INTERNAL", where
    assert extensions.get("code") == code, where
    if field is not None:
        assert extensions.get("field") == field, where
    wanted = mention if mention is not None else field
    if wanted is not None:
        assert wanted.lower() in error["message"].lower(), where


# Only these mutations change existing nodes; the others can only add nodes and edges,
# which count_all sees, so the (slower) query of tags and attributes is kept for these.
UPDATING = ("updateAttributes", "addTags")


class Reject:
    """Sends a mutation that must fail, checks its one error, and checks that the store
    still looks as it did before the first rejection (or the last ``resync``)."""

    def __init__(self, gql: GraphQLClient, store: Store, p: Pipeline) -> None:
        self.gql, self.store, self.p = gql, store, p
        self.before: tuple[dict[str, int], Any] | None = None

    async def resync(self) -> None:
        self.before = await snapshot(self.gql, self.store, self.p)

    async def doc(
        self, doc: str, code: str, *, field: str | None = None, mention: str | None = None, context: Any = None, **variables: Any
    ) -> dict[str, Any]:
        if self.before is None:
            await self.resync()
        context = context if context is not None else variables
        body = await self.gql.raw(doc, **variables)
        errors = body.get("errors") or []
        assert len(errors) == 1, f"{short(context)} -> {short(body)}"
        check_error(errors[0], code, field=field, mention=mention, context=context)
        assert self.before is not None
        if any(m in doc for m in UPDATING):
            after = await snapshot(self.gql, self.store, self.p)
            assert after == self.before, f"{short(context)} wrote despite {short(errors[0])}"
        else:
            counts = await self.store.count_all()
            assert counts == self.before[0], f"{short(context)} wrote despite {short(errors[0])}"
        return errors[0]

    async def __call__(
        self, mutation: str, data: dict[str, Any], code: str, *, field: str | None = None, mention: str | None = None
    ) -> dict[str, Any]:
        return await self.doc(DOCS[mutation], code, field=field, mention=mention, context=(mutation, data), i=data)


@pytest.fixture
def reject(gql: GraphQLClient, store: Store, p: Pipeline) -> Reject:
    return Reject(gql, store, p)


# --- positive controls: the same inputs, fixed, do write ----------------------------------


async def test_each_valid_base_input_succeeds_and_writes(gql: GraphQLClient, store: Store, p: Pipeline) -> None:
    # Without these the rejections below could pass against a gateway that rejects everything.
    for mutation in MUTATIONS:
        before = await snapshot(gql, store, p)
        result = (await gql(DOCS[mutation], i=base_input(mutation, p)))[mutation]
        after = await snapshot(gql, store, p)
        assert after != before, mutation
        if mutation == "updateAttributes":
            assert result["node"]["attributes"]["owner"] == "ana"
        elif mutation == "addTags":
            assert after[0]["tags"] == before[0]["tags"] + 1
        else:
            assert after[0] != before[0], mutation
            assert result.get("created", True) is True, mutation


async def test_inputs_at_the_limits_are_accepted(gql: GraphQLClient, store: Store) -> None:
    # The limits are inclusive: these mark where the rejections below begin.
    before = await store.count_all()
    data = {
        "name": "  " + "x" * 200 + "  ",  # surrounding whitespace is stripped before the length check
        "tags": [f"t{i}" for i in range(49)] + ["y" * 100],
        "attributes": {"deep": nest(19), "blob": "z" * 60_000, "list": [[[1.5, None, True]]]},
    }
    result = (await gql(DOCS["registerDataset"], i=data))["registerDataset"]
    assert result["created"] is True
    assert (await store.count_all())["dataset"] == before.get("dataset", 0) + 1


# --- ids -----------------------------------------------------------------------------------

# (mutation, field, kind the field expects, getter of an existing id of another kind)
ID_FIELDS: list[tuple[str, str, str | None, Callable[[Pipeline], str] | None]] = [
    ("registerFeatureset", "datasetId", "dataset", lambda p: p.model),
    ("registerModel", "projectId", "project", lambda p: p.dataset),
    ("logRun", "modelId", "model", lambda p: p.dataset),
    ("logRun", "datasetId", "dataset", lambda p: p.featureset),
    ("logRun", "featuresetId", "featureset", lambda p: p.dataset),
    ("registerDeployment", "modelId", "model", lambda p: p.runs[0]),
    ("registerDeployment", "featuresetId", "featureset", lambda p: p.dataset),
    ("registerDeployment", "modelParamsId", "modelparams", lambda p: p.perfs[0]),
    ("logServingPerf", "deploymentId", "deployment", lambda p: p.serving[0]),
    ("updateAttributes", "id", None, None),  # any kind is allowed
    ("addTags", "id", None, None),
]

MALFORMED_IDS = [
    "abc",
    "",
    "   ",
    "!!!",
    "__4",  # base64 of bytes that are not UTF-8
    encode_id("hello"),
    encode_id("dataset/"),
    encode_id("/" + "0" * 32),
    encode_id("nosuchkind/" + "0" * 32),
    encode_id("dataset/has space"),
    encode_id("dataset/" + "a" * 255),
    encode_id("dataset/" + "0" * 32) + "$$",
    encode_id("dataset/" + "0" * 32) + "A",
    encode_id("dataset/" + "0" * 32 + "\n"),  # a regex '$' would let the newline through
]


async def test_an_unknown_id_is_not_found(reject: Reject, p: Pipeline) -> None:
    for mutation, field, kind, _ in ID_FIELDS:
        for k in [kind] if kind else ["dataset", "servingperf"]:
            await reject(mutation, build(mutation, p, **{field: unknown(k)}), "NOT_FOUND", field=field)


async def test_a_malformed_id_is_bad_input(reject: Reject, p: Pipeline) -> None:
    for mutation, field, _, _ in ID_FIELDS:
        # Every malformed id on one field of each resolver path, a sample on the others.
        values = MALFORMED_IDS if field in ("modelId", "id") else MALFORMED_IDS[:2] + MALFORMED_IDS[-2:]
        for bad in values:
            error = await reject(mutation, build(mutation, p, **{field: bad}), "BAD_USER_INPUT", field=field)
            assert "not a metagate id" in error["message"].lower(), (mutation, field, bad, error)


async def test_an_id_of_the_wrong_kind_is_bad_input(reject: Reject, p: Pipeline) -> None:
    for mutation, field, kind, wrong in ID_FIELDS:
        if kind is None or wrong is None:
            continue
        error = await reject(mutation, build(mutation, p, **{field: wrong(p)}), "BAD_USER_INPUT", field=field)
        assert f"id of a {kind}" in error["message"], error
        # The kind is checked before existence: an unknown id of the wrong kind is no different.
        other = "dataset" if kind != "dataset" else "model"
        await reject(mutation, build(mutation, p, **{field: unknown(other)}), "BAD_USER_INPUT", field=field)


# --- missing or contradictory references ---------------------------------------------------

NO_IDS = {"modelId": DROP, "featuresetId": DROP, "modelParamsId": DROP}

# (mutation, changes to the base input, code, extensions.field, what the message names if not the field)
REFERENCE_CASES: list[tuple[str, dict[str, Any], str, str, str | None]] = [
    ("registerDeployment", NO_IDS, "BAD_USER_INPUT", "deploymentTag", None),
    ("registerDeployment", {"modelParamsId": DROP}, "BAD_USER_INPUT", "deploymentTag", None),
    ("registerDeployment", {"modelId": DROP, "featuresetId": DROP}, "BAD_USER_INPUT", "deploymentTag", None),
    ("registerDeployment", {"deploymentTag": "prod"}, "BAD_USER_INPUT", "deploymentTag", None),
    ("registerDeployment", {**NO_IDS, "deploymentTag": "prod", "tag": "other"}, "BAD_USER_INPUT", "deploymentTag", None),
    ("registerDeployment", {"name": DROP}, "BAD_USER_INPUT", "name", None),
    ("registerDeployment", {**NO_IDS, "name": DROP, "deploymentTag": "never-carried"}, "NOT_FOUND", "deploymentTag", None),
    ("logServingPerf", {"deploymentId": DROP}, "BAD_USER_INPUT", "deploymentId", None),
    ("logServingPerf", {"deploymentTag": "prod"}, "BAD_USER_INPUT", "deploymentId", None),
    ("logServingPerf", {"deploymentId": DROP, "deploymentTag": "no-such-tag"}, "NOT_FOUND", "deploymentTag", None),
    ("addTags", {"tags": []}, "BAD_USER_INPUT", "tags", None),
]


async def test_missing_or_contradictory_references(reject: Reject, p: Pipeline) -> None:
    for mutation, changes, code, field, mention in REFERENCE_CASES:
        await reject(mutation, build(mutation, p, **changes), code, field=field, mention=mention)


async def test_the_fixed_references_succeed(gql: GraphQLClient, store: Store, p: Pipeline) -> None:
    # Positive controls for the table above: each alternative on its own is enough.
    before = await store.count_all()
    await gql(DOCS["logServingPerf"], i=build("logServingPerf", p, deploymentId=DROP, deploymentTag="prod"))
    await gql(DOCS["registerDeployment"], i=build("registerDeployment", p, name=DROP, tag="by-tag"))
    after = await store.count_all()
    assert after["servingperf"] == before["servingperf"] + 1
    assert after["deployment"] == before["deployment"] + 1


async def test_a_missing_or_unknown_input_field_is_rejected_before_execution(reject: Reject, p: Pipeline) -> None:
    for mutation, field, value in [
        ("createProject", "name", None),
        ("registerFeatureset", "datasetId", None),
        ("logRun", "modelId", None),
        ("logServingPerf", "metrics", None),
        ("logServingPerf", "periodStart", None),
        ("updateAttributes", "attributes", None),
        ("addTags", "tags", None),
        ("addTags", "tags", [None]),
        ("createProject", "name", DROP),
        ("logRun", "featuresetId", DROP),
        ("createProject", "name", 42),
        ("createProject", "colour", "red"),
    ]:
        await reject(mutation, build(mutation, p, **{field: value}), "BAD_USER_INPUT", mention=field)


# --- JSON: attributes, params, metrics -----------------------------------------------------

BAD_OBJECTS: list[Any] = [
    [1, 2],
    [{"a": 1}],
    "text",
    '{"a": 1}',  # a JSON string that holds an object is still a string
    42,
    1.5,
    True,
    {"blob": "x" * (64 * 1024)},
    {f"k{i}": "v" * 1000 for i in range(70)},
    nest(21),
    {"list": [[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]},  # lists count as nesting too
    {"nul": "a\x00b"},
    {"a\x00b": 1},
]


async def test_malformed_attributes_and_params_are_bad_input(reject: Reject, p: Pipeline) -> None:
    # Every case on a few mutations, a sample on the others: all reach validate.json_object,
    # what differs between them is the path there.
    sample = [BAD_OBJECTS[i] for i in (0, 2, 7, 9, 12)]
    for mutation in [m for m in MUTATIONS if m != "addTags"]:
        for bad in BAD_OBJECTS if mutation in ("createProject", "logRun", "updateAttributes") else sample:
            await reject(mutation, build(mutation, p, attributes=bad), "BAD_USER_INPUT", field="attributes")
    for bad in BAD_OBJECTS:
        await reject("logRun", build("logRun", p, params=bad), "BAD_USER_INPUT", field="params")


BAD_METRICS: list[Any] = [
    *BAD_OBJECTS,
    {"rmse": "0.5"},
    {"rmse": True},
    {"rmse": None},
    {"rmse": [0.5]},
    {"rmse": {"value": 0.5}},
    {"bad name": 1},
    {"1st": 1},
    {"a/b": 1},
    {"": 1},
    {"r\u00e9sum\u00e9": 1},
    {"x" * 129: 1},
    {"rmse": 0.5, "auc;drop": 0.9},
    {"rmse\n": 0.5},  # a regex '$' would let the newline through
]


async def test_malformed_metrics_are_bad_input(reject: Reject, p: Pipeline) -> None:
    for mutation in ["logRun", "logServingPerf"]:
        for bad in BAD_METRICS:
            await reject(mutation, build(mutation, p, metrics=bad), "BAD_USER_INPUT", field="metrics")


async def test_metric_names_at_the_limits_are_accepted(gql: GraphQLClient, p: Pipeline) -> None:
    metrics = {"_x": 1, "a" * 128: 2, "val.rmse:fold-1": 0.5, "n": -3, "big": 1e300}
    result = (
        await gql(
            "mutation($i: LogRunInput!) { logRun(input: $i) { devPerf { metrics } } }",
            i=build("logRun", p, metrics=metrics),
        )
    )["logRun"]
    assert result["devPerf"]["metrics"] == metrics


async def test_out_of_range_numbers_in_a_graphql_literal_are_bad_input(reject: Reject, p: Pipeline) -> None:
    # GraphQL literals carry what JSON text cannot: 1e999 is parsed as float('inf'), and
    # integer literals are unbounded; neither may reach orjson.dumps as an INTERNAL error.
    serving = (
        'mutation($d: ID!) { logServingPerf(input: {deploymentId: $d, periodStart: "2027-01-01T00:00:00Z",'
        ' periodEnd: "2027-01-02T00:00:00Z", metrics: %s}) { servingPerf { id } } }'
    )
    for doc, field in [
        ('mutation { registerDataset(input: {name: "inf", attributes: {x: 1e999}}) { dataset { id } } }', "attributes"),
        ('mutation { createProject(input: {name: "inf", attributes: {x: [1, -1e999]}}) { project { id } } }', "attributes"),
        (serving % "{rmse: 1e999}", "metrics"),
        (serving % "{rmse: -1e999}", "metrics"),
        ("mutation($d: ID!) { updateAttributes(input: {id: $d, attributes: {x: {y: -1e999}}}) { node { id } } }", "attributes"),
        (
            'mutation { registerDataset(input: {name: "big", attributes: {x: 99999999999999999999999}}) { dataset { id } } }',
            "attributes",
        ),
        (
            'mutation { registerDataset(input: {name: "big", attributes: {x: [18446744073709551616]}}) { dataset { id } } }',
            "attributes",
        ),
        (
            'mutation { registerDataset(input: {name: "big", attributes: {x: -9223372036854775809}}) { dataset { id } } }',
            "attributes",
        ),
        (serving % "{rmse: -99999999999999999999999}", "metrics"),
    ]:
        variables = {"d": p.deployment} if "$d" in doc else {}
        await reject.doc(doc, "BAD_USER_INPUT", field=field, context=doc, **variables)


async def test_64_bit_integer_literals_are_accepted(gql: GraphQLClient) -> None:
    """The range is signed 64 bits, as filters take (SQLite binds no larger integer)."""
    data = await gql(
        'mutation { registerDataset(input: {name: "edges", attributes:'
        " {max: 9223372036854775807, min: -9223372036854775808}}) { dataset { attributes } } }"
    )
    assert data["registerDataset"]["dataset"]["attributes"] == {"max": 2**63 - 1, "min": -(2**63)}
    error = await gql.error('mutation { registerDataset(input: {name: "u", attributes: {x: 18446744073709551615}}) { created } }')
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "attributes"}


async def test_nan_in_the_request_body_is_refused_and_writes_nothing(gql: GraphQLClient, store: Store, p: Pipeline) -> None:
    # orjson refuses these in JSON text, so the request is refused before GraphQL sees it.
    before = await snapshot(gql, store, p)
    for number in ["NaN", "Infinity", "-Infinity", "1e999"]:
        body = (
            '{"query": "mutation($i: RegisterDatasetInput!) { registerDataset(input: $i) { dataset { id } } }",'
            ' "variables": {"i": {"name": "nan", "attributes": {"x": %s}}}}' % number
        )
        # Authentication may be on: send the client's own credentials so that only the body is at fault.
        credentials: dict[str, str] = getattr(gql, "headers", {})
        headers = {**credentials, "content-type": "application/json"}
        response = await gql.http.post("/graphql", content=body, headers=headers)
        assert response.status_code == 400, (number, response.text)
    assert await snapshot(gql, store, p) == before


async def test_update_attributes_checks_the_merged_object(gql: GraphQLClient, reject: Reject, p: Pipeline) -> None:
    # Each half is within the limit; together they are not.
    await gql(DOCS["updateAttributes"], i={"id": p.dataset, "attributes": {"a": "x" * 40_000}})
    await reject.resync()
    await reject("updateAttributes", {"id": p.dataset, "attributes": {"b": "y" * 40_000}}, "BAD_USER_INPUT", field="attributes")
    replaced = await gql(DOCS["updateAttributes"], i={"id": p.dataset, "attributes": {"b": "y" * 40_000}, "replace": True})
    assert set(replaced["updateAttributes"]["node"]["attributes"]) == {"b"}


# --- names and tags ------------------------------------------------------------------------

NAME_FIELDS: list[tuple[str, str, dict[str, Any]]] = [
    ("createProject", "name", {}),
    ("registerDataset", "name", {}),
    ("registerFeatureset", "name", {}),
    ("registerModel", "name", {}),
    ("logRun", "name", {}),
    ("logRun", "tag", {}),
    ("logRun", "deploymentTag", {}),
    ("registerDeployment", "name", {}),
    ("registerDeployment", "tag", {}),
    ("registerDeployment", "deploymentTag", NO_IDS),
]

BAD_NAMES = [
    "",
    "   ",
    "\t\n",
    "x" * 201,
    "a\x07b",
    "a\nb",
    "a\rb",
    "a\x00b",
    "\x1b[31mred",
    "a\x7fb",
    "a\x85b",
]


async def test_bad_names_are_bad_input(reject: Reject, p: Pipeline) -> None:
    sample = [BAD_NAMES[i] for i in (0, 1, 3, 5)]
    for mutation, field, extra in NAME_FIELDS:
        for bad in BAD_NAMES if field == "name" and mutation in ("createProject", "logRun") else sample:
            await reject(mutation, build(mutation, p, **extra, **{field: bad}), "BAD_USER_INPUT", field=field)


BAD_TAGS: list[list[str]] = [
    [f"t{i}" for i in range(51)],
    ["same"] * 51,  # counted before duplicates are dropped
    ["x" * 101],
    [""],
    ["   "],
    ["ok", "a\x01b"],
    ["ok", "line\nbreak"],
]


async def test_bad_tags_are_bad_input(reject: Reject, p: Pipeline) -> None:
    for mutation in [m for m in MUTATIONS if m != "updateAttributes"]:
        for bad in BAD_TAGS:
            await reject(mutation, build(mutation, p, tags=bad), "BAD_USER_INPUT", field="tags")


async def test_add_tags_checks_the_merged_list(gql: GraphQLClient, reject: Reject, p: Pipeline) -> None:
    # The dataset already has one tag ("tabular"): 50 more make 51.
    fifty = [f"t{i}" for i in range(50)]
    await reject("addTags", {"id": p.dataset, "tags": fifty}, "BAD_USER_INPUT", field="tags")
    tagged = (await gql(DOCS["addTags"], i={"id": p.dataset, "tags": fifty[:49]}))["addTags"]
    assert len(tagged["node"]["tags"]) == 50
    await reject.resync()
    await reject("addTags", {"id": p.dataset, "tags": ["one-more"]}, "BAD_USER_INPUT", field="tags")
    # A tag the node already has adds nothing, so a full node takes it.
    again = (await gql(DOCS["addTags"], i={"id": p.dataset, "tags": ["tabular", "t0"]}))["addTags"]
    assert len(again["node"]["tags"]) == 50


# --- enums and times -----------------------------------------------------------------------


async def test_an_unknown_run_status_is_bad_input(gql: GraphQLClient, reject: Reject, p: Pipeline) -> None:
    for status in ["EXPLODED", "completed", "", 3]:
        await reject("logRun", build("logRun", p, status=status), "BAD_USER_INPUT", mention="status")
    error = await reject.doc(
        """mutation($m: ID!, $d: ID!, $f: ID!) { logRun(input: {modelId: $m, datasetId: $d,
             featuresetId: $f, status: EXPLODED}) { run { id } } }""",
        "BAD_USER_INPUT",
        mention="RunStatus",
        m=p.model,
        d=p.dataset,
        f=p.featureset,
    )
    assert "EXPLODED" in error["message"]
    for status in ["RUNNING", "FAILED"]:
        run = (await gql(DOCS["logRun"], i=build("logRun", p, name=status, status=status)))["logRun"]
        assert run["created"] is True
    # Null is a status left out: a new run is COMPLETED.
    run = (await gql(DOCS["logRun"], i=build("logRun", p, name="null-status", status=None)))["logRun"]
    stored = await gql("query($id: ID!) { node(id: $id) { ... on Run { status } } }", id=run["run"]["id"])
    assert run["created"] is True and stored["node"]["status"] == "COMPLETED"


TIME_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("logRun", {"startTime": "2026-01-02T00:00:00Z", "endTime": "2026-01-01T00:00:00Z"}, "endTime"),
    ("logRun", {"startTime": "2026-01-01T10:00:00+00:00", "endTime": "2026-01-01T11:00:00+02:00"}, "endTime"),
    ("logServingPerf", {"periodEnd": "2027-01-01T00:00:00Z"}, "periodEnd"),  # empty period
    ("logServingPerf", {"periodEnd": "2026-12-31T00:00:00Z"}, "periodEnd"),
    ("logServingPerf", {"periodEnd": "2027-01-01T01:00:00+01:00"}, "periodEnd"),  # the same instant
    # Valid ISO-8601 that falls outside years 1..9999 once converted to UTC.
    ("logServingPerf", {"periodStart": "0001-01-01T00:00:00+01:00"}, "periodStart"),
    ("logRun", {"endTime": "9999-12-31T23:59:59-01:00"}, "endTime"),
]

UNPARSEABLE_TIMES: list[Any] = [
    "yesterday",
    "",
    "2026-13-01T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "2026-01-01T25:00:00Z",
    "12:00",
    "2026-01-01T00:00:00+25:00",
    1767225600,
]


async def test_bad_times_are_bad_input(reject: Reject, p: Pipeline) -> None:
    for mutation, changes, field in TIME_CASES:
        await reject(mutation, build(mutation, p, **changes), "BAD_USER_INPUT", field=field)
    for mutation, field in [
        ("logRun", "startTime"),
        ("logRun", "endTime"),
        ("logServingPerf", "periodStart"),
        ("logServingPerf", "periodEnd"),
    ]:
        for bad in UNPARSEABLE_TIMES:
            await reject(mutation, build(mutation, p, **{field: bad}), "BAD_USER_INPUT", mention=field)
    await reject.doc(
        """mutation($d: ID!) { logServingPerf(input: {deploymentId: $d, periodStart: "last tuesday",
             periodEnd: "2027-01-02T00:00:00Z", metrics: {}}) { servingPerf { id } } }""",
        "BAD_USER_INPUT",
        mention="DateTime",
        d=p.deployment,
    )


async def test_times_are_compared_as_instants(gql: GraphQLClient, p: Pipeline) -> None:
    # Positive controls for the time checks: no zone means UTC, equal run times are fine,
    # and years before 1000 still order before later ones (stored text must be fixed-width).
    for name, start, end in [
        ("no-zone", "2026-01-01T10:00:00", "2026-01-01T12:00:00+02:00"),
        ("old", "0999-06-01T00:00:00Z", "2026-01-01T00:00:00Z"),
        ("edge-of-range", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"),
    ]:
        data = build("logRun", p, name=name, startTime=start, endTime=end)
        assert (await gql(DOCS["logRun"], i=data))["logRun"]["created"] is True, name
    served = build("logServingPerf", p, periodStart="0999-06-01T00:00:00Z")
    assert (await gql(DOCS["logServingPerf"], i=served))["logServingPerf"]["servingPerf"]["id"]


# --- conflicts -----------------------------------------------------------------------------


async def test_a_second_run_with_the_same_deployment_tag_conflicts(gql: GraphQLClient, reject: Reject, p: Pipeline) -> None:
    await reject("logRun", build("logRun", p, deploymentTag="prod"), "CONFLICT", field="deploymentTag")
    logged = (await gql(DOCS["logRun"], i=build("logRun", p, deploymentTag="canary")))["logRun"]
    assert logged["created"] is True


async def test_a_featureset_name_from_another_dataset_conflicts(gql: GraphQLClient, reject: Reject, p: Pipeline) -> None:
    other = (await gql(DOCS["registerDataset"], i={"name": "other-data"}))["registerDataset"]["dataset"]["id"]
    await reject(
        "registerFeatureset",
        {"name": "housing-features", "datasetId": other},
        "CONFLICT",
        field="name",
        mention="housing-features",
    )
    same = await gql(DOCS["registerFeatureset"], i={"name": "housing-features", "datasetId": p.dataset})
    assert same["registerFeatureset"] == {"featureset": {"id": p.featureset}, "created": False}


async def test_deployment_tag_and_name_conflicts(gql: GraphQLClient, reject: Reject, p: Pipeline) -> None:
    cases: list[tuple[dict[str, Any], str, str | None]] = [
        ({"tag": "prod"}, "tag", None),  # explicit ids, a tag another deployment has
        ({**NO_IDS, "deploymentTag": "prod"}, "tag", None),  # the run's tag is deployed already
        ({"name": "prod", "tag": "other-tag"}, "name", "prod"),  # the name exists with another tag
    ]
    for changes, field, mention in cases:
        await reject("registerDeployment", build("registerDeployment", p, **changes), "CONFLICT", field=field, mention=mention)
    await gql(DOCS["logRun"], i=build("logRun", p, deploymentTag="canary"))
    await reject.resync()
    await reject("registerDeployment", {"name": "prod", "deploymentTag": "canary"}, "CONFLICT", field="name", mention="prod")
    again = await gql(DOCS["registerDeployment"], i={"name": "prod", "deploymentTag": "prod"})
    assert again["registerDeployment"] == {"deployment": {"id": p.deployment}, "created": False}


# --- atomicity -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        pytest.param({"featuresetId": unknown("featureset")}, "NOT_FOUND", "featuresetId", id="last-reference-unknown"),
        pytest.param({"deploymentTag": "prod"}, "CONFLICT", "deploymentTag", id="deployment-tag-conflict"),
    ],
)
async def test_a_log_run_failing_on_its_last_check_writes_nothing(
    gql: GraphQLClient,
    store: Store,
    reject: Reject,
    p: Pipeline,
    changes: dict[str, Any],
    code: str,
    field: str,
) -> None:
    # Everything else in the input is valid, including the model and dataset ids.
    before = await store.count_all()
    await reject("logRun", build("logRun", p, tags=["t"], **changes), code, field=field)
    after = await store.count_all()
    for kind in [
        "run",
        "modelparams",
        "devperf",
        "tags",
        "edge:run_model",
        "edge:run_dataset",
        "edge:run_featureset",
        "edge:run_modelparams",
        "edge:run_devperf",
    ]:
        assert after.get(kind) == before.get(kind), kind
    runs = (await gql("query($m: ID!) { node(id: $m) { ... on Model { runs { nodes { id } } } } }", m=p.model))["node"]["runs"][
        "nodes"
    ]
    assert [r["id"] for r in runs] == p.runs


LAST_EDGES = {
    "logRun": "run_devperf",
    "registerDeployment": "deployment_modelparams",
    "registerFeatureset": "featureset_dataset",
    "registerModel": "project_model",
    "logServingPerf": "deployment_servingperf",
}


@pytest.mark.parametrize("failure", [Conflict("injected failure"), RuntimeError("injected failure")], ids=["coded", "unexpected"])
async def test_a_failure_after_the_nodes_are_written_rolls_them_back(
    gql: GraphQLClient,
    store: Store,
    p: Pipeline,
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
) -> None:
    # The edges are built after the nodes were inserted, so failing there proves that the
    # store undoes a half-done write rather than relying on the checks running first.
    original = registry._edge
    for mutation, last_edge in LAST_EDGES.items():

        def failing_edge(kind: str, *nodes: Any, _last: str = last_edge) -> Any:
            if kind == _last:
                raise failure
            return original(kind, *nodes)

        monkeypatch.setattr(registry, "_edge", failing_edge)
        before = await snapshot(gql, store, p)
        error = await gql.error(DOCS[mutation], i=base_input(mutation, p))
        assert error["extensions"]["code"] == ("CONFLICT" if isinstance(failure, Conflict) else "INTERNAL")
        assert await snapshot(gql, store, p) == before, mutation

        monkeypatch.setattr(registry, "_edge", original)
        await gql(DOCS[mutation], i=base_input(mutation, p))
        assert (await snapshot(gql, store, p))[0] != before[0], mutation
