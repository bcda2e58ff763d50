"""Steps over every store adapter: an execution of one phase of a pipeline with what it
read and wrote, logged alone or a whole pipeline in one batch, moved on while it runs,
and walked by lineage from raw data to the deployment it feeds."""

from __future__ import annotations

from typing import Any

from metagate.resolvers.ids import encode_id
from tests.conftest import GraphQLClient
from tests.pipeline import record_pipeline

STEP = """id name phase state startedAt endedAt attributes tags
  inputDatasets { nodes { id name } } outputDatasets { nodes { id name } }
  inputFeaturesets { nodes { id } } outputFeaturesets { nodes { id } }
  outputModels { nodes { id } } inputModels { nodes { id } } outputDeployments { nodes { id } }
  parent { id } job { id } run { id }"""
LOG = f"mutation($i: LogStepInput!) {{ logStep(input: $i) {{ step {{ {STEP} }} }} }}"
LOG_MANY = f"mutation($i: LogStepsInput!) {{ logSteps(input: $i) {{ steps {{ step {{ {STEP} }} }} }} }}"
UPDATE = f"mutation($i: UpdateStepInput!) {{ updateStep(input: $i) {{ step {{ {STEP} }} }} }}"
LINEAGE = """query($id: ID!, $d: LineageDirection!, $k: [NodeKind!]) {
  lineage(id: $id, direction: $d, depth: 12, kinds: $k) { nodes { depth node { id kind name } } } }"""


def _ids(connection: dict[str, Any]) -> list[str]:
    return [n["id"] for n in connection["nodes"]]


async def _dataset(gql: GraphQLClient, name: str) -> str:
    created = await gql("mutation($n: String!) { registerDataset(input: {name: $n}) { dataset { id } } }", n=name)
    return str(created["registerDataset"]["dataset"]["id"])


async def test_a_step_records_what_it_read_and_wrote_and_registers_a_new_dataset_it_wrote(gql: GraphQLClient) -> None:
    raw = await _dataset(gql, "housing-raw")
    step = (
        await gql(
            LOG,
            i={
                "name": "clean",
                "phase": "CLEAN",
                "startedAt": "2026-11-30T10:00:00Z",
                "endedAt": "2026-11-30T10:05:00Z",
                "inputs": [{"id": raw}],
                "outputs": [{"dataset": "housing-clean"}],
                "attributes": {"dropped_rows": 207, "tool": "pandas"},
                "tags": ["nightly"],
            },
        )
    )["logStep"]["step"]
    assert (step["name"], step["phase"], step["state"]) == ("clean", "CLEAN", "SUCCEEDED")
    assert (step["startedAt"], step["endedAt"]) == ("2026-11-30T10:00:00+00:00", "2026-11-30T10:05:00+00:00")
    assert step["attributes"] == {"dropped_rows": 207, "tool": "pandas"} and step["tags"] == ["nightly"]
    assert _ids(step["inputDatasets"]) == [raw]
    [written] = step["outputDatasets"]["nodes"]
    assert written["name"] == "housing-clean"
    # The dataset it wrote is registered, and knows the step that wrote it; the raw one, the step that read it.
    found = await gql(
        """query($n: String!, $r: ID!) { dataset(name: $n) { id producedBy { nodes { id } } consumedBy { nodes { id } } }
             node(id: $r) { ... on Dataset { consumedBy { nodes { id name } } producedBy { nodes { id } } } } }""",
        n="housing-clean",
        r=raw,
    )
    assert found["dataset"]["id"] == written["id"] and _ids(found["dataset"]["producedBy"]) == [step["id"]]
    assert found["dataset"]["consumedBy"]["nodes"] == [] and found["node"]["producedBy"]["nodes"] == []
    assert found["node"]["consumedBy"]["nodes"] == [{"id": step["id"], "name": "clean"}]

    # The same name again (tomorrow's clean step) is a new step writing the same dataset.
    again = await gql(
        LOG, i={"name": "clean", "phase": "CLEAN", "inputs": [{"id": raw}], "outputs": [{"dataset": "housing-clean"}]}
    )
    tomorrow = again["logStep"]["step"]
    assert tomorrow["id"] != step["id"] and _ids(tomorrow["outputDatasets"]) == [written["id"]]
    assert tomorrow["state"] == "SUCCEEDED" and tomorrow["endedAt"] is not None


async def test_a_pipeline_is_logged_in_one_batch_and_lineage_runs_from_raw_data_to_the_deployment(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    raw = await _dataset(gql, "raw-census")
    batch = {
        "steps": [
            {"name": "housing-pipeline", "phase": "PIPELINE", "state": "SUCCEEDED"},
            {"name": "fetch", "phase": "FETCH", "parentIndex": 0, "inputs": [{"id": raw}], "outputs": [{"dataset": "fetched"}]},
            {
                "name": "clean",
                "phase": "CLEAN",
                "parentIndex": 0,
                "inputs": [{"dataset": "fetched"}],
                "outputs": [{"dataset": "cleaned"}],
            },
            {
                "name": "prepare",
                "phase": "PREPARE",
                "parentIndex": 0,
                "inputs": [{"dataset": "cleaned"}],
                "outputs": [{"id": pipeline.featureset}],
            },
            {
                "name": "train",
                "phase": "TRAIN",
                "parentIndex": 0,
                "inputs": [{"id": pipeline.featureset}],
                "outputs": [{"id": pipeline.model}],
            },
            {
                "name": "deploy",
                "phase": "DEPLOY",
                "parentIndex": 0,
                "inputs": [{"id": pipeline.model}],
                "outputs": [{"id": pipeline.deployment}],
            },
        ]
    }
    logged = [s["step"] for s in (await gql(LOG_MANY, i=batch))["logSteps"]["steps"]]
    assert [s["phase"] for s in logged] == ["PIPELINE", "FETCH", "CLEAN", "PREPARE", "TRAIN", "DEPLOY"]
    assert all(s["parent"] == {"id": logged[0]["id"]} for s in logged[1:]) and logged[0]["parent"] is None
    assert logged[2]["inputDatasets"]["nodes"] == logged[1]["outputDatasets"]["nodes"]

    pipeline_run = await gql(
        "query($id: ID!) { node(id: $id) { ... on Step { steps(first: 10) { nodes { name } } } } }", id=logged[0]["id"]
    )
    assert [n["name"] for n in pipeline_run["node"]["steps"]["nodes"]] == ["deploy", "train", "prepare", "clean", "fetch"]

    # Upstream of the deployment: every step and dataset back to the raw data.
    up = (await gql(LINEAGE, id=pipeline.deployment, d="UPSTREAM", k=None))["lineage"]["nodes"]
    names = {(n["node"]["kind"], n["node"]["name"]) for n in up}
    assert {("STEP", s) for s in ("deploy", "train", "prepare", "clean", "fetch")} <= names
    assert {("DATASET", "cleaned"), ("DATASET", "fetched"), ("DATASET", "raw-census")} <= names
    assert ("STEP", "housing-pipeline") not in names  # a pipeline run groups its steps; it is not their lineage
    depth = {(n["node"]["kind"], n["node"]["name"]): n["depth"] for n in up}
    assert (
        depth[("DATASET", "cleaned")]
        < depth[("STEP", "clean")]
        < depth[("DATASET", "fetched")]
        < depth[("DATASET", "raw-census")]
    )

    # Downstream of the raw data: the deployment it feeds, through the steps.
    down = (await gql(LINEAGE, id=raw, d="DOWNSTREAM", k=["DEPLOYMENT"]))["lineage"]["nodes"]
    assert [n["node"]["id"] for n in down] == [pipeline.deployment]


async def test_a_running_step_is_moved_on_with_what_it_wrote_since(gql: GraphQLClient) -> None:
    raw = await _dataset(gql, "events")
    step = (await gql(LOG, i={"name": "split", "phase": "PREPARE", "state": "RUNNING", "inputs": [{"id": raw}]}))["logStep"][
        "step"
    ]
    assert step["state"] == "RUNNING" and step["startedAt"] is not None and step["endedAt"] is None

    done = (
        await gql(
            UPDATE,
            i={
                "stepId": step["id"],
                "state": "SUCCEEDED",
                "inputs": [{"id": raw}],
                "outputs": [{"dataset": "events-train"}, {"dataset": "events-test"}],
                "attributes": {"ratio": 0.8},
            },
        )
    )["updateStep"]["step"]
    assert done["state"] == "SUCCEEDED" and done["endedAt"] >= done["startedAt"]
    assert sorted(n["name"] for n in done["outputDatasets"]["nodes"]) == ["events-test", "events-train"]
    assert _ids(done["inputDatasets"]) == [raw]  # an input it had adds nothing
    assert done["attributes"] == {"ratio": 0.8}
    # Reporting again what it has changes nothing; a final state is final.
    same = (await gql(UPDATE, i={"stepId": step["id"], "state": "SUCCEEDED"}))["updateStep"]["step"]
    assert same == done
    error = await gql.error(UPDATE, i={"stepId": step["id"], "state": "RUNNING"})
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("CONFLICT", "state")
    # What it wrote cannot become what it read.
    train = next(n["id"] for n in done["outputDatasets"]["nodes"] if n["name"] == "events-train")
    error = await gql.error(UPDATE, i={"stepId": step["id"], "inputs": [{"id": train}]})
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "inputs")


async def test_a_step_belongs_to_the_job_or_run_it_ran_in(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    in_run = (await gql(LOG, i={"name": "evaluate", "phase": "EVALUATE", "parentId": pipeline.runs[0]}))["logStep"]["step"]
    assert in_run["run"] == {"id": pipeline.runs[0]} and in_run["job"] is None
    job = (
        await gql(
            "mutation($p: ID!, $m: ID!) { createJob(input: {projectId: $p, type: TRAIN, modelId: $m}) { job { id } } }",
            p=pipeline.project,
            m=pipeline.model,
        )
    )["createJob"]["job"]["id"]
    in_job = (await gql(LOG, i={"name": "train", "phase": "TRAIN", "parentId": job}))["logStep"]["step"]
    assert in_job["job"] == {"id": job}
    listed = await gql(
        "query($r: ID!, $j: ID!) { run: node(id: $r) { ... on Run { steps { nodes { id } } } }"
        " job: node(id: $j) { ... on Job { steps { nodes { id } } } } }",
        r=pipeline.runs[0],
        j=job,
    )
    assert _ids(listed["run"]["steps"]) == [in_run["id"]] and _ids(listed["job"]["steps"]) == [in_job["id"]]
    # Only a pipeline run (phase PIPELINE) groups steps.
    error = await gql.error(LOG, i={"name": "x", "phase": "OTHER", "parentId": in_run["id"]})
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "parentId")


async def _count(gql: GraphQLClient) -> tuple[int, int]:
    found = await gql('{ datasets(first: 100) { nodes { id } } search(text: "", kinds: [STEP], first: 100) { nodes { id } } }')
    return len(found["datasets"]["nodes"]), len(found["search"]["nodes"])


async def test_a_bad_step_in_a_batch_writes_nothing_and_names_its_field(gql: GraphQLClient) -> None:
    raw = await _dataset(gql, "raw")
    before = await _count(gql)
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"name": "b", "phase": "CLEAN", "inputs": [{"dataset": "nowhere"}]}, "NOT_FOUND", "steps[1].inputs[0]"),
        (
            {"name": "b", "phase": "CLEAN", "inputs": [{"id": raw}], "outputs": [{"id": raw}]},
            "BAD_USER_INPUT",
            "steps[1].outputs",
        ),
        ({"name": "b", "phase": "CLEAN", "inputs": [{}]}, "BAD_USER_INPUT", "steps[1].inputs[0]"),
        ({"name": "b", "phase": "CLEAN", "parentIndex": 1}, "BAD_USER_INPUT", "steps[1].parentIndex"),
        (
            {"name": "b", "phase": "CLEAN", "state": "RUNNING", "endedAt": "2026-01-01T00:00:00Z"},
            "BAD_USER_INPUT",
            "steps[1].endedAt",
        ),
        (
            {"name": "b", "phase": "CLEAN", "startedAt": "2026-01-02T00:00:00Z", "endedAt": "2026-01-01T00:00:00Z"},
            "BAD_USER_INPUT",
            "steps[1].endedAt",
        ),
        ({"name": " ", "phase": "CLEAN"}, "BAD_USER_INPUT", "steps[1].name"),
    ]
    for bad, code, field in cases:
        first = {"name": "a", "phase": "FETCH", "inputs": [{"id": raw}], "outputs": [{"dataset": "fetched-once"}]}
        error = await gql.error(LOG_MANY, i={"steps": [first, bad]})
        assert (error["extensions"]["code"], error["extensions"]["field"]) == (code, field), bad
        assert await _count(gql) == before, bad
    missing = encode_id("dataset/" + "f" * 32)
    error = await gql.error(LOG, i={"name": "a", "phase": "CLEAN", "inputs": [{"id": missing}]})
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("NOT_FOUND", "inputs[0]")
    error = await gql.error(LOG, i={"name": "a", "phase": "CLEAN", "outputs": [{"id": encode_id("run/" + "f" * 32)}]})
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "outputs[0].id")
    assert await _count(gql) == before


async def test_an_asset_is_an_input_or_an_output_however_it_is_named(gql: GraphQLClient) -> None:
    raw = await _dataset(gql, "sales")
    # Read by name and written by id (or the other way round) is the same dataset: refused.
    for inputs, outputs in (([{"dataset": "sales"}], [{"id": raw}]), ([{"id": raw}], [{"dataset": "sales"}])):
        error = await gql.error(LOG, i={"name": "x", "phase": "CLEAN", "inputs": inputs, "outputs": outputs})
        assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "outputs"), inputs
    # Written by name and by id in one step: one edge.
    step = (await gql(LOG, i={"name": "fix", "phase": "CLEAN", "outputs": [{"dataset": "sales"}, {"id": raw}]}))["logStep"][
        "step"
    ]
    assert _ids(step["outputDatasets"]) == [raw]
    moved = (await gql(UPDATE, i={"stepId": step["id"], "outputs": [{"id": raw}, {"dataset": "sales"}]}))["updateStep"]["step"]
    assert _ids(moved["outputDatasets"]) == [raw]


async def test_lineage_through_a_feedback_loop_answers_each_node_once_and_never_the_start(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    data = await _dataset(gql, "clicks")
    # A model trained on the clicks writes its predictions back into them: a loop.
    await gql(LOG, i={"name": "train", "phase": "TRAIN", "inputs": [{"id": data}], "outputs": [{"id": pipeline.model}]})
    await gql(LOG, i={"name": "score", "phase": "INFERENCE", "inputs": [{"id": pipeline.model}], "outputs": [{"id": data}]})
    for direction in ("UPSTREAM", "DOWNSTREAM"):
        found = (await gql(LINEAGE, id=data, d=direction, k=None))["lineage"]["nodes"]
        ids = [n["node"]["id"] for n in found]
        assert data not in ids, direction
        assert len(ids) == len(set(ids)), direction
        assert pipeline.model in ids, direction


async def test_a_step_that_is_still_running_has_no_end(gql: GraphQLClient) -> None:
    step = (await gql(LOG, i={"name": "fetch", "phase": "FETCH", "state": "PENDING"}))["logStep"]["step"]
    error = await gql.error(UPDATE, i={"stepId": step["id"], "state": "RUNNING", "endedAt": "2030-01-01T00:00:00Z"})
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "endedAt")
    again = (await gql("query($id: ID!) { node(id: $id) { ... on Step { state endedAt } } }", id=step["id"]))["node"]
    assert again == {"state": "PENDING", "endedAt": None}


async def test_a_batch_of_steps_is_bounded_in_steps_and_in_links(gql: GraphQLClient) -> None:
    raw = await _dataset(gql, "wide")
    wide = {"name": "fan", "phase": "PREPARE", "inputs": [{"id": raw}], "outputs": [{"dataset": f"part-{i}"} for i in range(999)]}
    error = await gql.error(LOG_MANY, i={"steps": [wide] * 11})
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "steps")
    assert "10000" in error["message"]
    light = "mutation($i: LogStepsInput!) { logSteps(input: $i) { steps { step { id } } } }"
    error = await gql.error(light, i={"steps": [{"name": "s", "phase": "OTHER"}] * 1001})
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "steps")
    assert (await gql("{ datasets(first: 5) { nodes { name } } }"))["datasets"]["nodes"] == [{"name": "wide"}]


async def test_an_empty_parent_id_is_a_bad_id_not_no_parent(gql: GraphQLClient) -> None:
    error = await gql.error(LOG, i={"name": "x", "phase": "OTHER", "parentId": ""})
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "parentId")
