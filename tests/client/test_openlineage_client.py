"""The real OpenLineage Python client, its HTTP transport pointed at a running gateway
with a writer's token: the events it emits for a job's run (START, then COMPLETE with
what it read and wrote, under a parent run) land as one step, and lineage runs through
it. A token that may not write is refused, and the client says so."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import uuid

import pytest
import requests
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import parent_run, schema_dataset
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpCompression, HttpConfig, HttpTransport

from metagate_client import Client
from tests.server import Server

PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"


def _token(gateway: Server, role: str) -> str:
    command = [sys.executable, "-m", "metagate", "token", "create", "--name", f"ol-{role}", "--role", role]
    store = gateway.log.parent / "gateway.db"
    return subprocess.run([*command, "--store", str(store)], capture_output=True, text=True, check=True).stdout.strip()


def _client(gateway: Server, token: str, compression: HttpCompression | None = None) -> OpenLineageClient:
    base = gateway.url.removesuffix("/graphql")
    config = HttpConfig(url=base, endpoint="api/v1/lineage", auth=ApiKeyTokenProvider({"apiKey": token}), compression=compression)
    return OpenLineageClient(transport=HttpTransport(config))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


@pytest.mark.parametrize("compression", [None, HttpCompression.GZIP], ids=["plain", "gzip"])
def test_the_openlineage_clients_events_land_as_a_step(
    gateway: Server, mg: Client, unique: str, compression: HttpCompression | None
) -> None:
    ol = _client(gateway, _token(gateway, "writer"), compression)
    dag_run, task_run = str(uuid.uuid4()), str(uuid.uuid4())
    job = Job(namespace="airflow", name=f"clean-{unique}")
    parent = parent_run.ParentRunFacet(
        run=parent_run.Run(runId=dag_run), job=parent_run.Job(namespace="airflow", name=f"dag-{unique}"), producer=PRODUCER
    )
    schema = schema_dataset.SchemaDatasetFacet(fields=[schema_dataset.SchemaDatasetFacetFields(name="price", type="double")])
    raw = InputDataset(namespace="s3://lake", name=f"raw-{unique}", facets={"schema": schema})
    clean = OutputDataset(namespace="s3://lake", name=f"clean-{unique}")
    run = Run(runId=task_run, facets={"parent": parent})
    ol.emit(RunEvent(eventType=RunState.START, eventTime=_now(), run=run, job=job, producer=PRODUCER, inputs=[raw]))
    ol.emit(
        RunEvent(
            eventType=RunState.COMPLETE, eventTime=_now(), run=run, job=job, producer=PRODUCER, inputs=[raw], outputs=[clean]
        )
    )

    step = mg.execute(
        """query($name: String!) { search(text: $name, kinds: [STEP]) { nodes { ... on Step { id name state phase
             parent { name phase } inputDatasets { nodes { name attributes } } outputDatasets { nodes { name } } } } } }""",
        {"name": f"clean-{unique}"},
    )["search"]["nodes"]
    assert len(step) == 1, step
    [found] = step
    assert (found["state"], found["phase"], found["parent"]) == (
        "SUCCEEDED",
        "OTHER",
        {"name": f"dag-{unique}", "phase": "PIPELINE"},
    )
    [read] = found["inputDatasets"]["nodes"]
    assert read["name"] == f"s3://lake/raw-{unique}"
    assert read["attributes"]["openlineage"]["facets"]["schema"]["fields"][0]["name"] == "price"
    assert found["outputDatasets"]["nodes"] == [{"name": f"s3://lake/clean-{unique}"}]
    upstream = {(e.asset.kind, e.asset.name) for e in mg.lineage(found["id"], "upstream").nodes}
    assert upstream == {("dataset", f"s3://lake/raw-{unique}")}


def test_a_token_that_may_not_write_is_refused(gateway: Server, unique: str) -> None:
    ol = _client(gateway, _token(gateway, "reader"))
    event = RunEvent(
        eventType=RunState.START,
        eventTime=_now(),
        run=Run(runId=str(uuid.uuid4())),
        job=Job(namespace="airflow", name=f"refused-{unique}"),
        producer=PRODUCER,
    )
    with pytest.raises(requests.HTTPError, match="403"):
        ol.emit(event)
