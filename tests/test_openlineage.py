"""OpenLineage ingestion over every store adapter: runs of jobs become steps whose
state follows the events, datasets by namespace and name, facets kept and replaced by
name, parents grouping steps, events kept whole and idempotent, the spec's own example
events accepted, and a malformed event refused with a 400 naming its field and
writing nothing."""

from __future__ import annotations

import asyncio
import gzip
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from click.testing import CliRunner

from metagate.gateway.app import create_app
from metagate.gateway.auth import issue
from metagate.gateway.cli import main
from metagate.gateway.config import Settings
from metagate.resolvers.authz import Role
from metagate.resolvers.ids import encode_id
from metagate.resolvers.openlineage import rebuild
from metagate.store.changes import ChangeQuery
from metagate.store.port import Store
from metagate.store.sqlite import SQLiteStore
from tests.conftest import GraphQLClient

EXAMPLES = Path(__file__).parent / "openlineage"
PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"
RUN_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
STEP = """query($id: ID!) { node(id: $id) { ... on Step { name phase state startedAt endedAt attributes
  inputDatasets { nodes { name attributes } } outputDatasets { nodes { name attributes } }
  parent { id name phase state } steps { nodes { id } } } } }"""


class Lineage:
    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.headers = {"authorization": f"Bearer {token}"}
        self.gql = GraphQLClient(http, token)

    async def post(self, body: Any, **headers: str) -> httpx.Response:
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        return await self.http.post(
            "/api/v1/lineage", content=content, headers={"content-type": "application/json", **self.headers, **headers}
        )

    async def send(self, body: Any) -> dict[str, Any]:
        response = await self.post(body)
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def refused(self, body: Any, status: int = 400) -> dict[str, Any]:
        response = await self.post(body)
        assert response.status_code == status, response.text
        [error] = response.json()["errors"]
        return dict(error["extensions"], message=error["message"])

    async def step(self, run_id: str) -> dict[str, Any]:
        node = (await self.gql(STEP, id=encode_id(f"step/{uuid.UUID(run_id).hex}")))["node"]
        assert node is not None, f"no step for run {run_id}"
        return dict(node)


@asynccontextmanager
async def lineage_of(store: Store) -> AsyncIterator[Lineage]:
    writer = await issue(store, name="airflow", role=Role.WRITER)
    app = create_app(Settings(), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
        yield Lineage(client, writer.secret)


@pytest.fixture
async def ol(store: Store) -> AsyncIterator[Lineage]:
    async with lineage_of(store) as lineage:
        yield lineage


def run_event(
    run_id: str, event_type: str | None, time: str, *, job: str = "etl.clean", parent: str | None = None, **parts: Any
) -> dict[str, Any]:
    facets: dict[str, Any] = dict(parts.pop("run_facets", {}))
    if parent is not None:
        facets["parent"] = {
            "_producer": PRODUCER,
            "_schemaURL": "https://openlineage.io/spec/facets/1-1-0/ParentRunFacet.json",
            "run": {"runId": parent},
            "job": {"namespace": "airflow", "name": "housing_dag"},
        }
    event: dict[str, Any] = {
        "eventTime": time,
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT,
        "run": {"runId": run_id, "facets": facets},
        "job": {"namespace": "airflow", "name": job, "facets": parts.pop("job_facets", {})},
        **parts,
    }
    if event_type is not None:
        event["eventType"] = event_type
    return event


def dataset(name: str, namespace: str = "s3://lake", **facets: Any) -> dict[str, Any]:
    return {
        "namespace": namespace,
        "name": name,
        "facets": {k: {"_producer": PRODUCER, "_schemaURL": "x", **v} for k, v in facets.items()},
    }


async def test_a_runs_events_make_one_step_whose_state_follows_them_whatever_their_order(ol: Lineage) -> None:
    run = str(uuid.uuid4())
    raw, clean = dataset("raw/houses.csv", schema={"fields": [{"name": "price"}]}), dataset("clean/houses.parquet")
    done = await ol.send(run_event(run, "COMPLETE", "2026-11-30T10:05:00Z", inputs=[raw], outputs=[clean]))
    assert (done["accepted"], done["duplicates"]) == (1, 0)
    assert done["steps"] == [encode_id(f"step/{uuid.UUID(run).hex}")]
    # START arrives after COMPLETE: it sets the start and does not move the state back.
    await ol.send(run_event(run, "START", "2026-11-30T10:00:00+00:00", inputs=[raw]))
    step = await ol.step(run)
    assert (step["name"], step["phase"], step["state"]) == ("etl.clean", "OTHER", "SUCCEEDED")
    assert (step["startedAt"], step["endedAt"]) == ("2026-11-30T10:00:00+00:00", "2026-11-30T10:05:00+00:00")
    [read] = step["inputDatasets"]["nodes"]
    [written] = step["outputDatasets"]["nodes"]
    assert (read["name"], written["name"]) == ("s3://lake/raw/houses.csv", "s3://lake/clean/houses.parquet")
    assert read["attributes"]["openlineage"]["facets"]["schema"]["fields"] == [{"name": "price"}]
    assert step["attributes"]["openlineage"]["namespace"] == "airflow"
    assert step["attributes"]["openlineage"]["runId"] == uuid.UUID(run).hex

    other = str(uuid.uuid4())
    await ol.send(run_event(other, "START", "2026-11-30T11:00:00Z", job="etl.split"))
    assert (await ol.step(other))["state"] == "RUNNING"
    await ol.send(run_event(other, "FAIL", "2026-11-30T11:01:00Z"))
    failed = await ol.step(other)
    assert (failed["state"], failed["endedAt"]) == ("FAILED", "2026-11-30T11:01:00+00:00")
    aborted = str(uuid.uuid4())
    await ol.send([run_event(aborted, "START", "2026-11-30T12:00:00Z"), run_event(aborted, "ABORT", "2026-11-30T12:00:01Z")])
    assert (await ol.step(aborted))["state"] == "CANCELLED"


async def test_facets_replace_the_earlier_one_of_their_name_and_deleted_ones_go(ol: Lineage) -> None:
    run = str(uuid.uuid4())
    first = dataset("t", schema={"fields": [{"name": "a"}]}, documentation={"description": "old"})
    await ol.send(
        run_event(run, "START", "2026-11-30T10:00:00Z", inputs=[first], run_facets={"nominalTime": {"nominalStartTime": "x"}})
    )
    second = dataset("t", schema={"fields": [{"name": "a"}, {"name": "b"}]}, documentation={"_deleted": True})
    await ol.send(
        run_event(run, "COMPLETE", "2026-11-30T10:01:00Z", inputs=[second], run_facets={"errorMessage": {"message": "m"}})
    )
    step = await ol.step(run)
    [read] = step["inputDatasets"]["nodes"]
    facets = read["attributes"]["openlineage"]["facets"]
    assert set(facets) == {"schema"} and facets["schema"]["fields"] == [{"name": "a"}, {"name": "b"}]
    assert set(step["attributes"]["openlineage"]["runFacets"]) == {"nominalTime", "errorMessage"}


async def test_a_parent_run_groups_its_tasks_and_lineage_runs_through_them(ol: Lineage) -> None:
    dag, extract, train = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    raw, features = dataset("raw"), dataset("features")
    await ol.send(
        run_event(extract, "COMPLETE", "2026-11-30T10:01:00Z", job="extract", parent=dag, inputs=[raw], outputs=[features])
    )
    grouped = (await ol.step(extract))["parent"]
    assert (grouped["name"], grouped["phase"], grouped["state"]) == ("housing_dag", "PIPELINE", "RUNNING")
    await ol.send(run_event(train, "COMPLETE", "2026-11-30T10:02:00Z", job="train", parent=dag, inputs=[features]))
    await ol.send(run_event(dag, "COMPLETE", "2026-11-30T10:03:00Z", job="housing_dag"))
    pipeline = await ol.step(dag)
    assert (pipeline["phase"], pipeline["state"]) == ("PIPELINE", "SUCCEEDED")
    assert {n["id"] for n in pipeline["steps"]["nodes"]} == {encode_id(f"step/{uuid.UUID(r).hex}") for r in (extract, train)}

    up = await ol.gql(
        "query($id: ID!) { lineage(id: $id, direction: UPSTREAM) { nodes { depth node { kind name } } } }",
        id=encode_id(f"step/{uuid.UUID(train).hex}"),
    )
    assert [(n["depth"], n["node"]["kind"], n["node"]["name"]) for n in up["lineage"]["nodes"]] == [
        (1, "DATASET", "s3://lake/features"),
        (2, "STEP", "extract"),
        (3, "DATASET", "s3://lake/raw"),
    ]


async def test_an_event_received_again_changes_nothing_and_every_event_is_kept(ol: Lineage, store: Store) -> None:
    run = str(uuid.uuid4())
    start = run_event(run, "START", "2026-11-30T10:00:00Z", outputs=[dataset("out")])
    assert (await ol.send(start))["accepted"] == 1
    before = await ol.step(run)
    again = await ol.send([start, run_event(run, "COMPLETE", "2026-11-30T10:01:00Z"), start])
    assert (again["accepted"], again["duplicates"]) == (1, 2)
    kept = await store.lineage_events(10)
    assert [e.kind for e in kept] == ["RunEvent", "RunEvent"] and kept[0].event == start
    assert (await ol.step(run))["state"] == "SUCCEEDED" and before["state"] == "RUNNING"
    assert await store.lineage_events(10, (kept[0].received_at, kept[0].key)) == kept[1:]


async def test_the_specs_example_events_are_accepted(ol: Lineage) -> None:
    for name in ("serde_example_run_event", "serde_example_dataset_event", "serde_example_job_event", "example_full_event"):
        event = json.loads((EXAMPLES / f"{name}.json").read_text())
        assert (await ol.send(event))["accepted"] == 1, name
    # The run event's START (its time has no zone: UTC) and the full event's COMPLETE.
    started = await ol.step("69f4acab-b87d-4fc0-b27b-8ea950370ff3")
    assert (started["name"], started["state"], started["startedAt"]) == ("name", "RUNNING", "2021-11-03T10:53:52.427343+00:00")
    assert "nominalTime" in started["attributes"]["openlineage"]["runFacets"]
    assert (await ol.step("f69a6e9b-9bac-3c9a-9cf6-eacb70ecc9a9"))["state"] == "SUCCEEDED"
    # The dataset event's and the job event's datasets, with their schema facets.
    found = await ol.gql('{ search(text: "openlineage/", kinds: [DATASET]) { nodes { name attributes } } }')
    facets = {n["name"]: n["attributes"]["openlineage"]["facets"] for n in found["search"]["nodes"]}
    assert set(facets) == {"openlineage/name", "openlineage/dataset_a", "openlineage/dataset_b"}
    assert [f["name"] for f in facets["openlineage/name"]["schema"]["fields"]] == ["a", "b"]
    # The spec's ParentRunFacet example, on a run of ours.
    parent = json.loads((EXAMPLES / "ParentRunFacet_1.json").read_text())
    child = str(uuid.uuid4())
    await ol.send(run_event(child, "START", "2026-11-30T10:00:00Z", run_facets=parent))
    assert (await ol.step(child))["parent"]["name"] == "dbt-job-name"


async def test_the_graph_is_rebuilt_from_the_kept_events_in_another_store(ol: Lineage, store: Store, tmp_path: Path) -> None:
    dag, extract, train = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    raw, features = dataset("raw"), dataset("features", schema={"fields": [{"name": "x"}]})
    sent = [
        run_event(extract, "START", "2026-11-30T10:00:00Z", job="extract", parent=dag, inputs=[raw]),
        run_event(extract, "COMPLETE", "2026-11-30T10:01:00Z", job="extract", parent=dag, outputs=[features]),
        run_event(train, "FAIL", "2026-11-30T10:02:00Z", job="train", parent=dag, inputs=[features]),
        run_event(dag, "COMPLETE", "2026-11-30T10:03:00Z", job="housing_dag"),
    ]
    for event in sent:
        await ol.send(event)
    for name in ("serde_example_run_event", "serde_example_dataset_event", "serde_example_job_event"):
        await ol.send(json.loads((EXAMPLES / f"{name}.json").read_text()))
    runs = [dag, extract, train, "69f4acab-b87d-4fc0-b27b-8ea950370ff3"]
    lineage = "query($id: ID!) { lineage(id: $id, direction: UPSTREAM) { nodes { depth node { kind name } } } }"
    target = SQLiteStore(str(tmp_path / "rebuilt.db"))
    await target.open()
    try:
        done = await rebuild(store, target, page=2)  # four transactions
        assert (done.events, done.applied) == (7, 7)
        assert (await rebuild(store, target, page=2)).applied == 0  # run again: nothing changes
        assert await target.count_all() == await store.count_all()
        assert await target.lineage_events(100) == await store.lineage_events(100)  # each kept as received
        async with lineage_of(target) as rebuilt:
            for run in runs:
                assert await rebuilt.step(run) == await ol.step(run), run
            step = encode_id(f"step/{uuid.UUID(train).hex}")
            assert await rebuilt.gql(lineage, id=step) == await ol.gql(lineage, id=step)
    finally:
        await target.close()


async def test_a_rebuild_applies_the_events_of_one_request_in_their_order(ol: Lineage, store: Store, tmp_path: Path) -> None:
    """A later event's facets replace an earlier one's: a request's events are kept in
    the order they came, and rebuilt in it."""
    runs = [str(uuid.uuid4()) for _ in range(8)]
    for run in runs:
        facets = [{"note": {"_producer": PRODUCER, "_schemaURL": f"{PRODUCER}#note", "text": t}} for t in ("first", "second")]
        await ol.send(
            [
                run_event(run, "START", "2026-11-30T10:00:00Z", run_facets=facets[0], outputs=[dataset(f"d{run}")]),
                run_event(run, "COMPLETE", "2026-11-30T10:01:00Z", run_facets=facets[1]),
            ]
        )
    target = SQLiteStore(str(tmp_path / "rebuilt.db"))
    await target.open()
    try:
        await rebuild(store, target)
        async with lineage_of(target) as rebuilt:
            for run in runs:
                held, made = await ol.step(run), await rebuilt.step(run)
                assert held["attributes"]["openlineage"]["runFacets"]["note"]["text"] == "second"
                assert made == held, run
    finally:
        await target.close()


def test_rebuild_lineage_makes_the_graph_in_the_store_it_is_given(tmp_path: Path) -> None:
    source, target = tmp_path / "kept.db", tmp_path / "rebuilt.db"

    async def send() -> None:
        store = SQLiteStore(str(source))
        await store.open()
        try:
            async with lineage_of(store) as lineage:
                await lineage.send(run_event(str(uuid.uuid4()), "COMPLETE", "2026-11-30T10:00:00Z", inputs=[dataset("raw")]))
        finally:
            await store.close()

    asyncio.run(send())
    runner = CliRunner()
    first = runner.invoke(main, ["rebuild-lineage", "--from", str(source), "--store", str(target)])
    again = runner.invoke(main, ["rebuild-lineage", "--from", str(source), "--store", str(target)])
    assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
    assert first.output.splitlines()[-1] == f"1 kept events read from {source}; 1 applied to {target}"
    assert again.output.splitlines()[-1] == f"1 kept events read from {source}; 0 applied to {target}"

    async def logged() -> list[str | None]:
        store = SQLiteStore(str(target), create=False)
        await store.open()
        try:
            return [c.operation for c in await store.changes(ChangeQuery(10))]
        finally:
            await store.close()

    assert asyncio.run(logged()) == ["rebuild-lineage"]  # the run that applied it; the second wrote nothing
    spelled = runner.invoke(main, ["rebuild-lineage", "--from", str(tmp_path / "." / "kept.db"), "--store", str(source)])
    assert spelled.exit_code != 0 and "the same store" in spelled.output
    missing = runner.invoke(main, ["rebuild-lineage", "--from", str(tmp_path / "none.db"), "--store", str(target)])
    assert missing.exit_code != 0 and "none.db" in missing.output


async def _counts(store: Store) -> dict[str, int]:
    return await store.count_all()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda e: e.pop("eventTime"), "[1].eventTime"),
        (lambda e: e.update(eventTime="yesterday"), "[1].eventTime"),
        (lambda e: e.pop("producer"), "[1].producer"),
        (lambda e: e.pop("schemaURL"), "[1].schemaURL"),
        (lambda e: e["run"].update(runId="not-a-uuid"), "[1].run.runId"),
        (lambda e: e["run"].pop("runId"), "[1].run.runId"),
        (lambda e: e.pop("job"), "[1].job"),
        (lambda e: e["job"].pop("namespace"), "[1].job.namespace"),
        (lambda e: e["job"].update(name=""), "[1].job.name"),
        (lambda e: e.update(eventType="DONE"), "[1].eventType"),
        (lambda e: e.update(inputs={"namespace": "x"}), "[1].inputs"),
        (lambda e: e["inputs"][0].pop("name"), "[1].inputs[0].name"),
        (lambda e: e["inputs"][0].update(facets={"schema": [1]}), "[1].inputs[0].facets.schema"),
        (
            lambda e: e["run"]["facets"].update(parent={"run": {"runId": "x"}, "job": {"namespace": "a", "name": "b"}}),
            "[1].run.facets.parent.run.runId",
        ),
    ],
)
async def test_a_malformed_event_is_a_400_naming_its_field_and_its_batch_writes_nothing(
    ol: Lineage, store: Store, change: Any, field: str
) -> None:
    good = run_event(str(uuid.uuid4()), "START", "2026-11-30T10:00:00Z", inputs=[dataset("in")])
    bad = run_event(str(uuid.uuid4()), "COMPLETE", "2026-11-30T10:00:00Z", inputs=[dataset("in2")])
    change(bad)
    before = await _counts(store)
    error = await ol.refused([good, bad])
    assert (error["code"], error["field"]) == ("BAD_USER_INPUT", field), error
    assert field.removeprefix("[1].").split(".")[0].split("[")[0] in error["message"]
    assert await _counts(store) == before and await store.lineage_events(10) == []


async def test_what_is_not_an_event_is_refused_and_a_writer_token_is_needed(ol: Lineage, store: Store) -> None:
    assert (await ol.refused(b"{not json"))["code"] == "BAD_USER_INPUT"
    assert (await ol.refused([]))["code"] == "BAD_USER_INPUT"
    assert (await ol.refused({"eventTime": "2026-11-30T10:00:00Z", "producer": "p", "schemaURL": "s"}))["field"] == "run"
    response = await ol.post(b"<xml/>", **{"content-type": "application/xml"})
    assert response.status_code == 415
    reader = await issue(store, name="ui", role=Role.READER)
    event = run_event(str(uuid.uuid4()), "START", "2026-11-30T10:00:00Z")
    assert (await ol.post(event, authorization=f"Bearer {reader.secret}")).status_code == 403
    assert (await ol.post(event, authorization="Bearer nope")).status_code == 401
    assert await store.lineage_events(10) == []
    # gzip-compressed, as the OpenLineage client's HTTP transport may send it.
    response = await ol.post(gzip.compress(orjson.dumps(event)), **{"content-encoding": "gzip"})
    assert response.status_code == 201 and response.json()["accepted"] == 1
    assert (await ol.post(b"not gzip", **{"content-encoding": "gzip"})).status_code == 400
