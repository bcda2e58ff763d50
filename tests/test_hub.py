"""The information hub over every store adapter: model variations, numbered versions and
their aliases, the version a deployment serves and its rollbacks, a project's status and
traffic weights, and the history of every move, read back at every instant it records."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metagate.gateway.app import create_app
from metagate.gateway.auth import issue
from metagate.gateway.config import Settings
from metagate.resolvers.authz import Role
from metagate.resolvers.ids import decode_id
from metagate.store.port import Store
from tests.conftest import GraphQLClient
from tests.pipeline import Pipeline, record_pipeline

REGISTER = """mutation($m: ID!, $r: ID!, $s: String!) {
  registerModelVersion(input: {modelId: $m, runId: $r, source: $s, signature: {inputs: ["x"]}}) {
    created modelVersion { id name version registration source signature model { id } run { id } } } }"""
ALIAS = """mutation($m: ID!, $a: String!, $v: Int!, $why: String) {
  setModelAlias(input: {modelId: $m, alias: $a, version: $v, reason: $why}) {
    moved model { id } modelVersion { version aliasNames } previous { version } } }"""
SERVE = """mutation($d: ID!, $v: Int, $a: String) {
  serveModelVersion(input: {deploymentId: $d, version: $v, alias: $a}) {
    moved deployment { id } modelVersion { version } previous { version } } }"""
ROLLBACK = """mutation($d: ID!, $v: Int, $a: String, $why: String!) {
  rollbackDeployment(input: {deploymentId: $d, version: $v, alias: $a, reason: $why}) {
    moved modelVersion { version } previous { version } } }"""
TRAFFIC = """mutation($p: ID!, $w: [TrafficWeightInput!]!) {
  setTrafficWeights(input: {projectId: $p, weights: $w, reason: "canary"}) {
    project { traffic { weight deployment { name } } } } }"""


async def _versions(gql: GraphQLClient, pipeline: Pipeline, count: int) -> list[dict[str, Any]]:
    return [
        (await gql(REGISTER, m=pipeline.model, r=pipeline.runs[i % len(pipeline.runs)], s=f"s3://models/gbr/{i}"))[
            "registerModelVersion"
        ]
        for i in range(count)
    ]


async def _deployment(gql: GraphQLClient, pipeline: Pipeline, name: str, version_id: str | None = None) -> str:
    data = await gql(
        """mutation($m: ID!, $n: String!, $f: ID!, $p: ID!, $v: ID) {
             registerDeployment(input: {name: $n, modelId: $m, featuresetId: $f, modelParamsId: $p, modelVersionId: $v}) {
               deployment { id } } }""",
        m=pipeline.model,
        n=name,
        f=pipeline.featureset,
        p=pipeline.params[0],
        v=version_id,
    )
    return data["registerDeployment"]["deployment"]["id"]  # type: ignore[no-any-return]


def _between(earlier: str, later: str) -> str:
    """An instant strictly between two answered times."""
    a, b = dt.datetime.fromisoformat(earlier), dt.datetime.fromisoformat(later)
    return (a + (b - a) / 2).isoformat()


def _before(time: str) -> str:
    return (dt.datetime.fromisoformat(time) - dt.timedelta(microseconds=1)).isoformat()


async def test_versions_are_numbered_per_model_and_lineage_passes_through_them(gql: GraphQLClient, store: Store) -> None:
    pipeline = await record_pipeline(gql, runs=2)
    v1, v2 = await _versions(gql, pipeline, 2)
    assert [v1["modelVersion"]["version"], v2["modelVersion"]["version"]] == [1, 2]
    assert v1["created"] and v1["modelVersion"]["name"] == "1" and v1["modelVersion"]["registration"] == "READY"
    assert v1["modelVersion"]["run"]["id"] == pipeline.runs[0] and v1["modelVersion"]["signature"] == {"inputs": ["x"]}

    # The same run and source again: the version they made, nothing written.
    before = await store.count_all()
    again = (await gql(REGISTER, m=pipeline.model, r=pipeline.runs[0], s="s3://models/gbr/0"))["registerModelVersion"]
    assert again == {**v1, "created": False}
    assert await store.count_all() == before

    model = await gql(
        "query($m: ID!) { node(id: $m) { ... on Model { lastVersion versions { nodes { version } } } } }", m=pipeline.model
    )
    assert model["node"] == {"lastVersion": 2, "versions": {"nodes": [{"version": 2}, {"version": 1}]}}

    # A deployment serving v2 has v2's run and that run's dataset upstream.
    deployment = await _deployment(gql, pipeline, "gbr-live", v2["modelVersion"]["id"])
    lineage = await gql(
        "query($d: ID!) { lineage(id: $d, direction: UPSTREAM, kinds: [MODELVERSION, RUN, DATASET]) {"
        " nodes { node { id } depth } } }",
        d=deployment,
    )
    depths = {n["node"]["id"]: n["depth"] for n in lineage["lineage"]["nodes"]}
    assert depths[v2["modelVersion"]["id"]] == 1
    assert depths[pipeline.runs[1]] == 2  # the run that produced v2
    assert pipeline.dataset in depths
    downstream = await gql(
        "query($r: ID!) { lineage(id: $r, direction: DOWNSTREAM, kinds: [DEPLOYMENT]) { nodes { node { id } } } }",
        r=pipeline.runs[1],
    )
    assert deployment in {n["node"]["id"] for n in downstream["lineage"]["nodes"]}


async def test_a_version_from_a_run_of_another_model_or_without_a_source_is_refused(gql: GraphQLClient, store: Store) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    other = await record_pipeline(gql, runs=1, prefix="b-")
    before = await store.count_all()
    wrong_run = await gql.error(REGISTER, m=pipeline.model, r=other.runs[0], s="s3://x")
    no_source = await gql.error(REGISTER, m=pipeline.model, r=pipeline.runs[0], s="  ")
    assert (wrong_run["extensions"]["code"], wrong_run["extensions"]["field"]) == ("BAD_USER_INPUT", "runId")
    assert (no_source["extensions"]["code"], no_source["extensions"]["field"]) == ("BAD_USER_INPUT", "source")
    assert await store.count_all() == before


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sources=st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=12))
async def test_concurrent_registrations_give_each_source_one_number_without_gaps(gql: GraphQLClient, sources: list[str]) -> None:
    # A model of its own per example; the registrations race.
    project = (await gql('mutation { createProject(input: {name: "race"}) { project { id } } }'))["createProject"]["project"]
    model_name = f"m{abs(hash(tuple(sources))) % 10**9}-{len(sources)}"
    pipeline = await record_pipeline(gql, runs=1, prefix=f"{model_name}-")
    del project
    answers = await asyncio.gather(
        *(gql(REGISTER, m=pipeline.model, r=pipeline.runs[0], s=f"s3://race/{source}") for source in sources)
    )
    by_source: dict[str, set[int]] = {}
    for source, answer in zip(sources, answers):
        by_source.setdefault(source, set()).add(answer["registerModelVersion"]["modelVersion"]["version"])
    assert all(len(numbers) == 1 for numbers in by_source.values()), by_source
    assert sorted(n for numbers in by_source.values() for n in numbers) == list(range(1, len(by_source) + 1))
    assert sum(a["registerModelVersion"]["created"] for a in answers) == len(by_source)


async def test_aliases_move_atomically_and_their_history_answers_every_instant(gql: GraphQLClient, store: Store) -> None:
    pipeline = await record_pipeline(gql, runs=2)
    await _versions(gql, pipeline, 3)
    first = (await gql(ALIAS, m=pipeline.model, a="champion", v=1, why="first"))["setModelAlias"]
    assert first["moved"] and first["previous"] is None and first["modelVersion"] == {"version": 1, "aliasNames": ["champion"]}
    moved = (await gql(ALIAS, m=pipeline.model, a="champion", v=3, why="better rmse"))["setModelAlias"]
    assert moved["previous"] == {"version": 1} and moved["modelVersion"]["version"] == 3
    before = await store.count_all()
    same = (await gql(ALIAS, m=pipeline.model, a="champion", v=3))["setModelAlias"]
    assert same["moved"] is False and await store.count_all() == before
    await gql(ALIAS, m=pipeline.model, a="fallback", v=1)

    read = await gql(
        """query($m: ID!) {
             champion: modelVersion(modelId: $m, alias: "champion") { version aliasNames }
             second: modelVersion(modelId: $m, version: 2) { version aliasNames }
             none: modelVersion(modelId: $m, version: 9) { version }
             node(id: $m) { ... on Model { aliases { alias modelVersion { version } }
               aliasHistory(alias: "champion") { seq at reason modelVersion { version } } } } }""",
        m=pipeline.model,
    )
    assert read["champion"] == {"version": 3, "aliasNames": ["champion"]}
    assert read["second"] == {"version": 2, "aliasNames": []} and read["none"] is None
    assert read["node"]["aliases"] == [
        {"alias": "champion", "modelVersion": {"version": 3}},
        {"alias": "fallback", "modelVersion": {"version": 1}},
    ]
    history = read["node"]["aliasHistory"]
    assert [(h["seq"], h["reason"], h["modelVersion"]["version"]) for h in history] == [(2, "better rmse", 3), (1, "first", 1)]

    at = 'query($m: ID!, $t: DateTime!) { node(id: $m) { ... on Model { aliasAt(alias: "champion", at: $t) { version } } } }'
    newest, oldest = history[0]["at"], history[1]["at"]
    for instant, expected in [
        (_before(oldest), None),
        (oldest, {"version": 1}),
        (_between(oldest, newest), {"version": 1}),
        (newest, {"version": 3}),
    ]:
        assert (await gql(at, m=pipeline.model, t=instant))["node"]["aliasAt"] == expected, instant


async def test_bad_aliases_are_refused_and_write_nothing(gql: GraphQLClient, store: Store) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    await _versions(gql, pipeline, 1)
    before = await store.count_all()
    for alias, version, code, field in [
        ("v2", 1, "BAD_USER_INPUT", "alias"),
        ("latest", 1, "BAD_USER_INPUT", "alias"),
        ("two words", 1, "BAD_USER_INPUT", "alias"),
        ("champion", 7, "NOT_FOUND", "version"),
    ]:
        error = await gql.error(ALIAS, m=pipeline.model, a=alias, v=version)
        assert (error["extensions"]["code"], error["extensions"]["field"]) == (code, field), alias
    assert await store.count_all() == before


async def test_deployments_serve_versions_roll_back_and_answer_which_version_served_when(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=2)
    v1, _, _ = await _versions(gql, pipeline, 3)
    deployment = await _deployment(gql, pipeline, "gbr-live", v1["modelVersion"]["id"])
    await gql(ALIAS, m=pipeline.model, a="champion", v=3)

    to_two = (await gql(SERVE, d=deployment, v=2))["serveModelVersion"]
    assert (to_two["moved"], to_two["previous"], to_two["modelVersion"]) == (True, {"version": 1}, {"version": 2})
    by_alias = (await gql(SERVE, d=deployment, a="champion"))["serveModelVersion"]
    assert by_alias["modelVersion"] == {"version": 3}
    assert (await gql(SERVE, d=deployment, a="champion"))["serveModelVersion"]["moved"] is False

    back = (await gql(ROLLBACK, d=deployment, v=1, why="latency regression"))["rollbackDeployment"]
    assert back == {"moved": True, "modelVersion": {"version": 1}, "previous": {"version": 3}}

    read = await gql(
        """query($d: ID!) { node(id: $d) { ... on Deployment { lifecycle modelVersion { version }
             versionHistory { seq at rollback alias reason modelVersion { version } } } } }""",
        d=deployment,
    )
    node = read["node"]
    assert node["lifecycle"] == "LIVE" and node["modelVersion"] == {"version": 1}
    history = node["versionHistory"]
    assert [(h["seq"], h["modelVersion"]["version"], h["rollback"], h["alias"], h["reason"]) for h in history] == [
        (4, 1, True, None, "latency regression"),
        (3, 3, False, "champion", None),
        (2, 2, False, None, None),
        (1, 1, False, None, None),
    ]
    at = "query($d: ID!, $t: DateTime!) { node(id: $d) { ... on Deployment { modelVersionAt(at: $t) { version } } } }"
    times = [h["at"] for h in reversed(history)]
    checks: list[tuple[str, Any]] = [(_before(times[0]), None)]
    for i, time in enumerate(times):
        served = {"version": [1, 2, 3, 1][i]}
        checks.append((time, served))
        if i + 1 < len(times) and times[i + 1] != time:
            checks.append((_between(time, times[i + 1]), served))
    for instant, expected in checks:
        assert (await gql(at, d=deployment, t=instant))["node"]["modelVersionAt"] == expected, instant


async def test_rollbacks_go_back_to_a_version_served_before_and_say_why(gql: GraphQLClient, store: Store) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    v1, _ = await _versions(gql, pipeline, 2)
    deployment = await _deployment(gql, pipeline, "gbr-live", v1["modelVersion"]["id"])
    other = await record_pipeline(gql, runs=1, prefix="b-")
    before = await store.count_all()
    never = await gql.error(ROLLBACK, d=deployment, v=2, why="x")
    no_reason = await gql.error(ROLLBACK, d=deployment, v=1, why=" ")
    both = await gql.error(SERVE, d=deployment, v=1, a="champion")
    unknown_alias = await gql.error(SERVE, d=deployment, a="champion")
    assert (never["extensions"]["code"], never["extensions"]["field"]) == ("BAD_USER_INPUT", "version")
    assert (no_reason["extensions"]["code"], no_reason["extensions"]["field"]) == ("BAD_USER_INPUT", "reason")
    assert both["extensions"]["code"] == "BAD_USER_INPUT" and unknown_alias["extensions"]["code"] == "NOT_FOUND"
    assert await store.count_all() == before  # the refused moves wrote nothing
    # Another model's deployment has no version 1 of this model to serve: numbers are per model.
    await _versions(gql, other, 1)
    served = (await gql(SERVE, d=other.deployment, v=1))["serveModelVersion"]
    assert served["modelVersion"] == {"version": 1}
    check = await gql(
        "query($d: ID!) { node(id: $d) { ... on Deployment { model { id } modelVersion { model { id } } } } }",
        d=other.deployment,
    )
    assert check["node"]["model"] == check["node"]["modelVersion"]["model"] == {"id": other.model}


async def test_racing_alias_moves_and_serves_keep_every_deployment_on_a_version_of_its_model(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=2)
    versions = await _versions(gql, pipeline, 4)
    deployment = await _deployment(gql, pipeline, "gbr-live", versions[0]["modelVersion"]["id"])
    await gql(ALIAS, m=pipeline.model, a="champion", v=1)
    moves = [gql(ALIAS, m=pipeline.model, a="champion", v=1 + i % 4) for i in range(8)]
    serves = [gql(SERVE, d=deployment, a="champion") for _ in range(8)]
    await asyncio.gather(*moves, *serves)
    read = await gql(
        """query($d: ID!, $m: ID!) { node(id: $d) { ... on Deployment { model { id } modelVersion { model { id } }
             versionHistory(first: 100) { seq } } }
             modelVersion(modelId: $m, alias: "champion") { id } }""",
        d=deployment,
        m=pipeline.model,
    )
    assert read["node"]["modelVersion"]["model"] == read["node"]["model"] == {"id": pipeline.model}
    seqs = [h["seq"] for h in read["node"]["versionHistory"]]
    assert seqs == list(range(len(seqs), 0, -1))  # numbered without a gap or a repeat


async def test_traffic_weights_are_validated_set_atomically_and_kept(gql: GraphQLClient, store: Store) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    canary = await _deployment(gql, pipeline, "gbr-canary")
    other = await record_pipeline(gql, runs=1, prefix="b-")
    before = await store.count_all()
    for weights, code, field in [
        (
            [{"deploymentId": pipeline.deployment, "weight": 70}, {"deploymentId": canary, "weight": 20}],
            "BAD_USER_INPUT",
            "weights",
        ),
        ([{"deploymentId": pipeline.deployment, "weight": 101}], "BAD_USER_INPUT", "weights[0].weight"),
        (
            [{"deploymentId": canary, "weight": 50}, {"deploymentId": canary, "weight": 50}],
            "BAD_USER_INPUT",
            "weights[1].deploymentId",
        ),
        ([{"deploymentId": other.deployment, "weight": 100}], "BAD_USER_INPUT", "weights[0].deploymentId"),
        ([], "BAD_USER_INPUT", "weights"),
    ]:
        error = await gql.error(TRAFFIC, p=pipeline.project, w=weights)
        assert (error["extensions"]["code"], error["extensions"]["field"]) == (code, field), weights
    assert await store.count_all() == before

    set_ = await gql(
        TRAFFIC,
        p=pipeline.project,
        w=[{"deploymentId": pipeline.deployment, "weight": 90}, {"deploymentId": canary, "weight": 10}],
    )
    assert set_["setTrafficWeights"]["project"]["traffic"] == [
        {"weight": 90, "deployment": {"name": "prod"}},
        {"weight": 10, "deployment": {"name": "gbr-canary"}},
    ]
    # A deployment carrying traffic is not retired; at 0 it is, and leaves the weights.
    retire = "mutation($d: ID!) { retireDeployment(input: {deploymentId: $d}) { deployment { lifecycle } } }"
    carrying = await gql.error(retire, d=canary)
    assert carrying["extensions"]["code"] == "CONFLICT"
    await gql(
        TRAFFIC,
        p=pipeline.project,
        w=[{"deploymentId": pipeline.deployment, "weight": 100}, {"deploymentId": canary, "weight": 0}],
    )
    assert (await gql(retire, d=canary))["retireDeployment"]["deployment"]["lifecycle"] == "RETIRED"
    retired = await gql.error(TRAFFIC, p=pipeline.project, w=[{"deploymentId": canary, "weight": 100}])
    assert (retired["extensions"]["code"], retired["extensions"]["field"]) == ("BAD_USER_INPUT", "weights[0].deploymentId")

    read = await gql(
        """query($p: ID!) { node(id: $p) { ... on Project { stage traffic { weight deployment { name } }
             trafficHistory { seq at reason weights { weight deployment { name } } }
             servingStatus { weight deployment { name } latest { periodEnd } ageSeconds } } } }""",
        p=pipeline.project,
    )
    node = read["node"]
    assert node["stage"] == "DEVELOPMENT"
    assert node["traffic"] == [{"weight": 100, "deployment": {"name": "prod"}}]
    history = node["trafficHistory"]
    assert [(h["seq"], h["reason"]) for h in history] == [(3, "deployment gbr-canary retired"), (2, "canary"), (1, "canary")]
    assert history[2]["weights"][1] == {"weight": 10, "deployment": {"name": "gbr-canary"}}
    [serving] = node["servingStatus"]  # the retired canary is not live
    assert serving["deployment"] == {"name": "prod"} and serving["weight"] == 100
    assert serving["latest"]["periodEnd"].startswith("2026-11-04") and serving["ageSeconds"] > 0
    at = "query($p: ID!, $t: DateTime!) { node(id: $p) { ... on Project { trafficAt(at: $t) { weight } } } }"
    for instant, expected in [
        (_before(history[2]["at"]), []),
        (history[2]["at"], [{"weight": 90}, {"weight": 10}]),
        (history[1]["at"], [{"weight": 100}, {"weight": 0}]),
        (history[0]["at"], [{"weight": 100}]),
    ]:
        assert (await gql(at, p=pipeline.project, t=instant))["node"]["trafficAt"] == expected, instant

    status = await gql(
        "mutation($p: ID!) { setProjectStage(input: {projectId: $p, stage: PRODUCTION}) { project { stage } } }",
        p=pipeline.project,
    )
    assert status["setProjectStage"]["project"]["stage"] == "PRODUCTION"


async def test_a_models_variation_is_typed_registered_once_and_updated(gql: GraphQLClient, store: Store) -> None:
    project = (await gql('mutation { createProject(input: {name: "zoo"}) { project { id } } }'))["createProject"]["project"]["id"]
    register = """mutation($p: ID!, $task: String, $hw: DefaultHardwareInput) {
      registerModel(input: {name: "resnet", projectId: $p, task: $task, framework: "pytorch", defaultHardware: $hw}) {
        created model { task framework defaultHardware { serving { instanceType cpu memoryGb gpu gpuType count extras }
          training { gpu count } } } } }"""
    hardware = {
        "serving": {"instanceType": "m5.large", "cpu": 2, "memoryGb": 8, "count": 3, "extras": {"zone": "a"}},
        "training": {"gpu": 4, "gpuType": "a100"},
    }
    created = (await gql(register, p=project, task="image-classification", hw=hardware))["registerModel"]
    assert created["created"] and created["model"]["task"] == "image-classification"
    assert created["model"]["defaultHardware"] == {
        "serving": {
            "instanceType": "m5.large",
            "cpu": 2.0,
            "memoryGb": 8.0,
            "gpu": None,
            "gpuType": None,
            "count": 3,
            "extras": {"zone": "a"},
        },
        "training": {"gpu": 4, "count": None},
    }
    again = (await gql(register, p=project, task="image-classification", hw=hardware))["registerModel"]
    assert again == {**created, "created": False}
    before = await store.count_all()
    conflict = await gql.error(register, p=project, task="detection", hw=hardware)
    assert (conflict["extensions"]["code"], conflict["extensions"]["field"]) == ("CONFLICT", "task")
    bad = await gql.error(register, p=project, task="x", hw={"serving": {"gpu": -1}})
    assert (bad["extensions"]["code"], bad["extensions"]["field"]) == ("BAD_USER_INPUT", "defaultHardware.serving.gpu")
    assert await store.count_all() == before

    model_id = (await gql('query { models(filter: {name: "resnet"}) { nodes { id } } }'))["models"]["nodes"][0]["id"]
    updated = await gql(
        'mutation($m: ID!) { updateModel(input: {id: $m, task: "detection"}) {'
        " model { task framework defaultHardware { training { gpu } } } } }",
        m=model_id,
    )
    assert updated["updateModel"]["model"] == {
        "task": "detection",
        "framework": "pytorch",
        "defaultHardware": {"training": {"gpu": 4}},
    }


async def test_moving_what_serves_needs_the_deployer_role_within_its_projects(store: Store) -> None:
    admin = await issue(store, name="admin", role=Role.ADMIN)
    app = create_app(Settings(), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:
        as_admin = GraphQLClient(http, admin.secret)
        pipeline = await record_pipeline(as_admin, runs=1)
        other = await record_pipeline(as_admin, runs=1, prefix="b-")
        await _versions(as_admin, pipeline, 1)
        writer = GraphQLClient(http, (await issue(store, name="w", role=Role.WRITER)).secret)
        deployer = GraphQLClient(http, (await issue(store, name="d", role=Role.DEPLOYER, projects=["housing"])).secret)

        # A writer registers versions and moves aliases, but does not move what serves.
        assert (await writer(ALIAS, m=pipeline.model, a="champion", v=1))["setModelAlias"]["moved"]
        for doc, values in [
            (SERVE, {"d": pipeline.deployment, "v": 1}),
            (TRAFFIC, {"p": pipeline.project, "w": [{"deploymentId": pipeline.deployment, "weight": 100}]}),
        ]:
            refused = await writer.error(doc, **values)
            assert refused["extensions"]["code"] == "FORBIDDEN"
        # A deployer of "housing" moves what serves there, and only there.
        assert (await deployer(SERVE, d=pipeline.deployment, v=1))["serveModelVersion"]["moved"]
        await deployer(TRAFFIC, p=pipeline.project, w=[{"deploymentId": pipeline.deployment, "weight": 100}])
        elsewhere = await deployer.error(TRAFFIC, p=other.project, w=[{"deploymentId": other.deployment, "weight": 100}])
        assert elsewhere["extensions"]["code"] == "FORBIDDEN"
        status = await deployer.error(
            "mutation($p: ID!) { setProjectStage(input: {projectId: $p, stage: ARCHIVED}) { project { stage } } }",
            p=pipeline.project,
        )
        assert status["extensions"]["code"] == "FORBIDDEN"


ZOO = """query($w: ModelVersionWhere) { modelZoo(where: $w, first: 10) { nodes { version zoo source signature
  model { name task framework } run { devPerf { metrics } }
  deployments { nodes { name lifecycle servingPerf(first: 1) { nodes { metrics } } } } } } }"""


async def _zoo(client: GraphQLClient, where: dict[str, Any] | None = None) -> list[int]:
    return [n["version"] for n in (await client(ZOO, w=where))["modelZoo"]["nodes"]]


async def test_the_model_zoo_lists_champions_and_versions_served_live(gql: GraphQLClient, store: Store) -> None:
    pipeline = await record_pipeline(gql, runs=3)  # runs' rmse: 0.5, 0.4, 0.3
    await gql(
        'mutation($m: ID!) { updateModel(input: {id: $m, task: "regression", framework: "scikit-learn"}) { model { id } } }',
        m=pipeline.model,
    )
    versions = await _versions(gql, pipeline, 3)
    assert await _zoo(gql) == []
    await gql(ALIAS, m=pipeline.model, a="champion", v=1)
    live = await _deployment(gql, pipeline, "gbr-live", versions[1]["modelVersion"]["id"])
    await gql(ALIAS, m=pipeline.model, a="fallback", v=3)  # only the champion lists a version
    assert await _zoo(gql) == [2, 1]

    [served, champion] = (await gql(ZOO))["modelZoo"]["nodes"]
    assert served["zoo"] == "LISTED" and served["source"] == "s3://models/gbr/1" and served["signature"] == {"inputs": ["x"]}
    assert served["model"] == {"name": "gbr", "task": "regression", "framework": "scikit-learn"}
    assert served["run"]["devPerf"]["metrics"] == {"rmse": 0.4}
    assert served["deployments"]["nodes"] == [{"name": "gbr-live", "lifecycle": "LIVE", "servingPerf": {"nodes": []}}]
    assert champion["deployments"]["nodes"] == []

    # Searchable by the model's task and framework and by a dev metric.
    assert await _zoo(gql, {"model": {"task": {"eq": "regression"}}}) == [2, 1]
    assert await _zoo(gql, {"model": {"framework": {"eq": "pytorch"}}}) == []
    assert await _zoo(gql, {"run": {"devPerf": {"metric": {"name": "rmse", "lt": 0.45}}}}) == [2]

    # The champion moves on; a retired deployment's version leaves unless it is champion.
    await gql(ALIAS, m=pipeline.model, a="champion", v=3)
    assert await _zoo(gql) == [3, 2]
    await gql("mutation($d: ID!) { retireDeployment(input: {deploymentId: $d}) { deployment { id } } }", d=live)
    assert await _zoo(gql) == [3]
    await gql(SERVE, d=pipeline.deployment, v=3)  # serving the champion keeps it listed once
    assert await _zoo(gql) == [3]

    # Readers browse it; the executor's answer (aliases makes it) is the store's one-query answer.
    reader = await issue(store, name="zoo-reader", role=Role.READER)
    as_reader = GraphQLClient(gql.http, reader.secret)
    compiled = (await as_reader(ZOO))["modelZoo"]["nodes"]
    executed = (await as_reader(ZOO.replace("version zoo", "version aliasNames zoo")))["modelZoo"]["nodes"]
    assert [{k: v for k, v in n.items() if k != "aliasNames"} for n in executed] == compiled
    assert executed[0]["aliasNames"] == ["champion", "fallback"]


async def test_only_ready_versions_serve_and_a_redeclared_deployment_keeps_its_version(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=2)
    v1, _ = await _versions(gql, pipeline, 2)
    failed = await gql(
        """mutation($m: ID!, $r: ID!) { registerModelVersion(input: {modelId: $m, runId: $r, source: "s3://broken",
             registration: FAILED_REGISTRATION}) { modelVersion { version } } }""",
        m=pipeline.model,
        r=pipeline.runs[1],
    )
    number = failed["registerModelVersion"]["modelVersion"]["version"]
    refused = await gql.error(SERVE, d=pipeline.deployment, v=number)
    assert (refused["extensions"]["code"], refused["extensions"]["field"]) == ("CONFLICT", "version")
    await gql(ALIAS, m=pipeline.model, a="champion", v=number)
    assert await _zoo(gql) == []  # a champion that is not READY is not production-ready

    deployment = await _deployment(gql, pipeline, "gbr-live", v1["modelVersion"]["id"])
    other = (await _versions(gql, pipeline, 3))[2]["modelVersion"]["id"]
    again = await gql.error(
        """mutation($m: ID!, $f: ID!, $p: ID!, $v: ID) { registerDeployment(input: {name: "gbr-live", modelId: $m,
             featuresetId: $f, modelParamsId: $p, modelVersionId: $v}) { deployment { id } } }""",
        m=pipeline.model,
        f=pipeline.featureset,
        p=pipeline.params[0],
        v=other,
    )
    assert (again["extensions"]["code"], again["extensions"]["field"]) == ("CONFLICT", "modelVersionId")
    serves = "query($d: ID!) { node(id: $d) { ... on Deployment { modelVersion { version } } } }"
    assert (await gql(serves, d=deployment))["node"]["modelVersion"] == {"version": 1}


async def test_a_retired_deployment_served_nothing_since_its_retirement(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    v1 = (await _versions(gql, pipeline, 1))[0]
    deployment = await _deployment(gql, pipeline, "gbr-live", v1["modelVersion"]["id"])
    await gql("mutation($d: ID!) { retireDeployment(input: {deploymentId: $d}) { deployment { id } } }", d=deployment)
    read = await gql(
        """query($d: ID!) { node(id: $d) { ... on Deployment { lifecycle modelVersion { version }
             versionHistory { seq at reason modelVersion { version } } } } }""",
        d=deployment,
    )
    node = read["node"]
    # Its lineage keeps the version it last served; its history says it serves none since.
    assert node["lifecycle"] == "RETIRED" and node["modelVersion"] == {"version": 1}
    [retired, served] = node["versionHistory"]
    assert (retired["modelVersion"], retired["reason"], served["modelVersion"]) == (None, "retired", {"version": 1})
    at = "query($d: ID!, $t: DateTime!) { node(id: $d) { ... on Deployment { modelVersionAt(at: $t) { version } } } }"
    assert (await gql(at, d=deployment, t=retired["at"]))["node"]["modelVersionAt"] is None
    assert (await gql(at, d=deployment, t=_before(retired["at"])))["node"]["modelVersionAt"] == {"version": 1}


async def test_a_model_version_registered_again_with_other_content_is_a_conflict(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    await _versions(gql, pipeline, 1)
    again = await gql.error(
        """mutation($m: ID!, $r: ID!) { registerModelVersion(input: {modelId: $m, runId: $r, source: "s3://models/gbr/0",
             description: "other"}) { modelVersion { version } } }""",
        m=pipeline.model,
        r=pipeline.runs[0],
    )
    assert (again["extensions"]["code"], again["extensions"]["field"]) == ("CONFLICT", "description")


async def test_updating_one_use_of_a_models_hardware_keeps_the_other(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    update = """mutation($m: ID!, $hw: DefaultHardwareInput) { updateModel(input: {id: $m, defaultHardware: $hw}) {
      model { defaultHardware { serving { cpu } training { gpu } } } } }"""
    await gql(update, m=pipeline.model, hw={"training": {"gpu": 2}})
    both = await gql(update, m=pipeline.model, hw={"serving": {"cpu": 4}})
    assert both["updateModel"]["model"]["defaultHardware"] == {"serving": {"cpu": 4.0}, "training": {"gpu": 2}}


async def test_lists_filter_on_the_hubs_enum_fields_a_missing_value_as_its_default(gql: GraphQLClient, store: Store) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    canary = await _deployment(gql, pipeline, "gbr-canary")
    await gql("mutation($d: ID!) { retireDeployment(input: {deploymentId: $d}) { deployment { id } } }", d=canary)
    # A deployment recorded before deployments had a lifecycle holds none: it is LIVE.
    [old] = await store.get_nodes([decode_id(pipeline.deployment)])
    assert old is not None
    fields = {k: v for k, v in old.fields.items() if k != "status"}
    await store.transact(lambda tx: tx.update_node(old.id, fields=fields))

    query = "query($w: DeploymentWhere) { deployments(where: $w) { nodes { name lifecycle } } }"
    live = (await gql(query, w={"lifecycle": {"eq": "LIVE"}}))["deployments"]["nodes"]
    retired = (await gql(query, w={"lifecycle": {"in": ["RETIRED"]}}))["deployments"]["nodes"]
    assert live == [{"name": "prod", "lifecycle": "LIVE"}]
    assert retired == [{"name": "gbr-canary", "lifecycle": "RETIRED"}]
    not_live = (await gql(query, w={"NOT": {"lifecycle": {"eq": "LIVE"}}}))["deployments"]["nodes"]
    assert not_live == retired
    staged = await gql("query { projects(where: {stage: {eq: DEVELOPMENT}}) { nodes { name } } }")
    assert staged["projects"]["nodes"] == [{"name": "housing"}]
