"""Jobs over every store adapter: a frozen snapshot, status moves kept with their times,
exact replays that leave the original alone, and an executor's look-up of work."""

from __future__ import annotations

from typing import Any

from metagate.store.port import Store
from tests.conftest import GraphQLClient
from tests.pipeline import Pipeline, record_pipeline

SNAPSHOT = "type state spec env image modelPath hardware { instanceType cpu gpu count extras }"
CREATE = f"""mutation($i: CreateJobInput!) {{ createJob(input: $i) {{ job {{ id {SNAPSHOT} startedAt endedAt
  project {{ id }} model {{ id }} deployment {{ id }} }} }} }}"""
STATUS = """mutation($j: ID!, $s: JobState!, $r: ID, $m: String) {
  updateJobStatus(input: {jobId: $j, status: $s, runId: $r, message: $m}) { job { state startedAt endedAt run { id } } } }"""
REPLAY = (
    f"""mutation($j: ID!) {{ replayJob(input: {{jobId: $j}}) {{ job {{ id {SNAPSHOT} replayOf {{ id }} model {{ id }} }} }} }}"""
)


def _train(pipeline: Pipeline, **extra: Any) -> dict[str, Any]:
    return {
        "projectId": pipeline.project,
        "type": "TRAIN",
        "modelId": pipeline.model,
        "spec": {"entrypoint": "train.py", "args": ["--depth", "3"]},
        "env": {"SEED": "7", "DB_PASSWORD": "secret:prod-db"},
        "image": "registry.example/train:1.4",
        "modelPath": "s3://models/gbr/",
        "hardware": {"instanceType": "m5.xlarge", "cpu": 4, "gpu": 0, "count": 1, "extras": {"spot": True}},
        **extra,
    }


async def test_a_job_moves_through_its_statuses_and_keeps_each_change(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=2)
    job = (await gql(CREATE, i=_train(pipeline)))["createJob"]["job"]
    assert (job["type"], job["state"], job["startedAt"], job["endedAt"]) == ("TRAIN", "PENDING", None, None)
    assert job["env"] == {"SEED": "7", "DB_PASSWORD": "secret:prod-db"} and job["hardware"]["extras"] == {"spot": True}
    assert (job["project"]["id"], job["model"]["id"], job["deployment"]) == (pipeline.project, pipeline.model, None)

    running = (await gql(STATUS, j=job["id"], s="RUNNING"))["updateJobStatus"]["job"]
    assert running["state"] == "RUNNING" and running["startedAt"] and running["endedAt"] is None
    again = (await gql(STATUS, j=job["id"], s="RUNNING"))["updateJobStatus"]["job"]
    assert again == running  # reporting the status it has changes nothing
    done = (await gql(STATUS, j=job["id"], s="SUCCEEDED", r=pipeline.runs[1], m="rmse 0.4"))["updateJobStatus"]["job"]
    assert done["state"] == "SUCCEEDED" and done["endedAt"] >= done["startedAt"] and done["run"] == {"id": pipeline.runs[1]}

    final = await gql.error(STATUS, j=job["id"], s="RUNNING")
    assert (final["extensions"]["code"], final["extensions"]["field"]) == ("CONFLICT", "status")
    history = await gql("query($j: ID!) { node(id: $j) { ... on Job { statusHistory { seq status at reason } } } }", j=job["id"])
    changes = history["node"]["statusHistory"]
    assert [(c["seq"], c["status"], c["reason"]) for c in changes] == [
        (3, "SUCCEEDED", "rmse 0.4"),
        (2, "RUNNING", None),
        (1, "PENDING", None),
    ]
    assert changes[0]["at"] >= changes[1]["at"] >= changes[2]["at"]

    # The run it produced has the job upstream.
    lineage = await gql(
        "query($r: ID!) { lineage(id: $r, direction: UPSTREAM, depth: 1, kinds: [JOB]) { nodes { node { id } } } }",
        r=pipeline.runs[1],
    )
    assert [n["node"]["id"] for n in lineage["lineage"]["nodes"]] == [job["id"]]


async def test_a_replay_has_exactly_the_snapshot_and_leaves_the_original_alone(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    original = (await gql(CREATE, i=_train(pipeline)))["createJob"]["job"]
    await gql(STATUS, j=original["id"], s="RUNNING")
    await gql(STATUS, j=original["id"], s="FAILED", m="out of memory")
    read = f"query($j: ID!) {{ node(id: $j) {{ ... on Job {{ {SNAPSHOT} startedAt endedAt replays {{ nodes {{ id }} }} }} }} }}"
    before = (await gql(read, j=original["id"]))["node"]

    replay = (await gql(REPLAY, j=original["id"]))["replayJob"]["job"]
    snapshot = {k: v for k, v in replay.items() if k not in ("id", "replayOf", "model", "state")}
    assert snapshot == {k: original[k] for k in snapshot}
    assert replay["state"] == "PENDING" and replay["replayOf"] == {"id": original["id"]}
    assert replay["model"] == {"id": pipeline.model}
    after = (await gql(read, j=original["id"]))["node"]
    assert {**after, "replays": None} == {**before, "replays": None} and after["state"] == "FAILED"
    assert after["replays"] == {"nodes": [{"id": replay["id"]}]}
    upstream = await gql(
        "query($j: ID!) { lineage(id: $j, direction: UPSTREAM, kinds: [JOB]) { nodes { node { id } } } }", j=replay["id"]
    )
    assert [n["node"]["id"] for n in upstream["lineage"]["nodes"]] == [original["id"]]


async def test_bad_jobs_are_refused_and_write_nothing(gql: GraphQLClient, store: Store) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    other = await record_pipeline(gql, runs=1, prefix="b-")
    before = await store.count_all()
    for given, code, field in [
        (_train(pipeline, env={"API_TOKEN": "mg_abc123"}), "BAD_USER_INPUT", "env.API_TOKEN"),
        (_train(pipeline, env={"1BAD": "x"}), "BAD_USER_INPUT", "env"),
        (_train(pipeline, type="SERVE", modelId=None), "BAD_USER_INPUT", "deploymentId"),
        (_train(pipeline, modelId=other.model), "BAD_USER_INPUT", "modelId"),
        (_train(pipeline, type="SERVE", deploymentId=other.deployment), "BAD_USER_INPUT", "deploymentId"),
        (_train(pipeline, hardware={"gpu": -2}), "BAD_USER_INPUT", "hardware.gpu"),
    ]:
        error = await gql.error(CREATE, i=given)
        assert (error["extensions"]["code"], error["extensions"]["field"]) == (code, field), given
        assert "mg_abc123" not in str(error)
    assert await store.count_all() == before

    serve = await gql(CREATE, i=_train(pipeline, type="SERVE", modelId=None, deploymentId=pipeline.deployment))
    job = serve["createJob"]["job"]
    assert job["deployment"] == {"id": pipeline.deployment} and job["model"] is None
    await gql(STATUS, j=job["id"], s="RUNNING")
    no_run = await gql.error(STATUS, j=job["id"], s="SUCCEEDED", r=pipeline.runs[0])
    assert (no_run["extensions"]["code"], no_run["extensions"]["field"]) == ("BAD_USER_INPUT", "runId")


async def test_an_executor_finds_pending_jobs_oldest_first(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    other = await record_pipeline(gql, runs=1, prefix="b-")
    made = [(await gql(CREATE, i=_train(p)))["createJob"]["job"]["id"] for p in (pipeline, other, pipeline)]
    serve = await gql(CREATE, i=_train(pipeline, type="SERVE", modelId=None, deploymentId=pipeline.deployment))
    serving = serve["createJob"]["job"]["id"]
    await gql(STATUS, j=made[1], s="RUNNING")

    query = """query($s: JobState, $t: JobType, $p: ID, $after: String) {
      jobs(status: $s, type: $t, projectId: $p, first: 2, after: $after) {
        nodes { id } pageInfo { hasNextPage endCursor } } }"""
    first = (await gql(query, s="PENDING"))["jobs"]
    assert [n["id"] for n in first["nodes"]] == [made[0], made[2]] and first["pageInfo"]["hasNextPage"]
    rest = (await gql(query, s="PENDING", after=first["pageInfo"]["endCursor"]))["jobs"]
    assert [n["id"] for n in rest["nodes"]] == [serving] and not rest["pageInfo"]["hasNextPage"]
    assert [n["id"] for n in (await gql(query, s="PENDING", t="SERVE"))["jobs"]["nodes"]] == [serving]
    assert [n["id"] for n in (await gql(query, p=other.project))["jobs"]["nodes"]] == [made[1]]
    # The executor's answer (hardware makes it) equals the store's one-query answer.
    executed = await gql("query { jobs(status: PENDING, first: 10) { nodes { id hardware { cpu } } } }")
    compiled = await gql("query { jobs(status: PENDING, first: 10) { nodes { id } } }")
    assert [n["id"] for n in executed["jobs"]["nodes"]] == [n["id"] for n in compiled["jobs"]["nodes"]]


async def test_a_train_job_names_only_an_unclaimed_run_of_its_own_model(gql: GraphQLClient, store: Store) -> None:
    pipeline = await record_pipeline(gql, runs=2)
    other = await record_pipeline(gql, runs=1, prefix="b-")
    no_model = await gql.error(CREATE, i=_train(pipeline, modelId=None))
    assert (no_model["extensions"]["code"], no_model["extensions"]["field"]) == ("BAD_USER_INPUT", "modelId")
    first = (await gql(CREATE, i=_train(pipeline)))["createJob"]["job"]["id"]
    second = (await gql(CREATE, i=_train(pipeline)))["createJob"]["job"]["id"]
    for job in (first, second):
        await gql(STATUS, j=job, s="RUNNING")
    before = await store.count_all()
    foreign = await gql.error(STATUS, j=first, s="SUCCEEDED", r=other.runs[0])
    assert (foreign["extensions"]["code"], foreign["extensions"]["field"]) == ("BAD_USER_INPUT", "runId")
    assert await store.count_all() == before

    await gql(STATUS, j=first, s="SUCCEEDED", r=pipeline.runs[0])
    # The executor's retry of its report changes nothing; another job cannot claim the run.
    again = (await gql(STATUS, j=first, s="SUCCEEDED", r=pipeline.runs[0]))["updateJobStatus"]["job"]
    assert again["state"] == "SUCCEEDED" and again["run"] == {"id": pipeline.runs[0]}
    claimed = await gql.error(STATUS, j=second, s="SUCCEEDED", r=pipeline.runs[0])
    assert (claimed["extensions"]["code"], claimed["extensions"]["field"]) == ("CONFLICT", "runId")


async def test_a_serve_job_serves_a_live_deployment_of_its_model(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    other = await record_pipeline(gql, runs=1, prefix="b-")
    serve = _train(pipeline, type="SERVE", modelId=other.model, deploymentId=pipeline.deployment)
    mismatched = await gql.error(CREATE, i=serve)
    assert (mismatched["extensions"]["code"], mismatched["extensions"]["field"]) == ("BAD_USER_INPUT", "modelId")
    job = (await gql(CREATE, i={**serve, "modelId": None}))["createJob"]["job"]["id"]
    await gql("mutation($d: ID!) { retireDeployment(input: {deploymentId: $d}) { deployment { id } } }", d=pipeline.deployment)
    retired = await gql.error(CREATE, i={**serve, "modelId": None})
    assert (retired["extensions"]["code"], retired["extensions"]["field"]) == ("CONFLICT", "deploymentId")
    replay = await gql.error(REPLAY, j=job)
    assert (replay["extensions"]["code"], replay["extensions"]["field"]) == ("CONFLICT", "jobId")


async def test_secrets_are_told_from_their_names_word_by_word(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    for name in ("HF_TOKEN", "db_password", "AWS_SECRET_ACCESS_KEY", "OPENAI_API_KEY", "SSH_PRIVATE_KEY", "GCP_CREDENTIALS"):
        refused = await gql.error(CREATE, i=_train(pipeline, env={name: "plain-value"}))
        assert refused["extensions"]["field"] == f"env.{name}", name
    plain = {"TOKENIZER_PATH": "/models/tok", "KEYSPACE": "ml", "PASSTHROUGH": "1", "MONKEY": "x"}
    job = (await gql(CREATE, i=_train(pipeline, env=plain)))["createJob"]["job"]
    assert job["env"] == plain
