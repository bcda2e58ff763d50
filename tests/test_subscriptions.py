"""Subscriptions over graphql-transport-ws against real gateway processes: fed from the
change log with a cursor, so a client whose gateway is killed mid-stream subscribes
again to another process with its last cursor and misses nothing, sees nothing twice;
authenticated and authorized as queries are."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.server import LOG_RUN, Server

pytestmark = pytest.mark.timeout(120)

CHANGES = "subscription($a: String) { changes(after: $a) { cursor operation items { action node } } }"
RUNS = "subscription($m: ID!, $a: String) { runLogged(model: $m, after: $a) { cursor runs { id name } } }"
UPDATE = "mutation($id: ID!, $a: JSON!) { updateAttributes(input: {id: $id, attributes: $a}) { node { id } } }"


@asynccontextmanager
async def subscribed(server: Server, query: str, token: str | None, **variables: Any) -> AsyncIterator[ClientConnection]:
    url = server.url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        init: dict[str, Any] = {"type": "connection_init"}
        if token is not None:
            init["payload"] = {"authorization": f"Bearer {token}"}
        await ws.send(json.dumps(init))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}))
        yield ws


async def _next(ws: ClientConnection) -> dict[str, Any]:
    message = json.loads(await asyncio.wait_for(ws.recv(), 20))
    assert message["type"] == "next", message
    assert "errors" not in message["payload"], message
    return message["payload"]["data"]  # type: ignore[no-any-return]


def _setup(server: Server) -> dict[str, str]:
    project = server.gql('mutation { createProject(input: {name: "p"}) { project { id } } }')["createProject"]["project"]["id"]
    dataset = server.gql('mutation { registerDataset(input: {name: "d"}) { dataset { id } } }')["registerDataset"]["dataset"][
        "id"
    ]
    featureset = server.gql(
        'mutation($d: ID!) { registerFeatureset(input: {name: "f", datasetId: $d}) { featureset { id } } }', d=dataset
    )["registerFeatureset"]["featureset"]["id"]
    model = server.gql('mutation($p: ID!) { registerModel(input: {name: "m", projectId: $p}) { model { id } } }', p=project)[
        "registerModel"
    ]["model"]["id"]
    return {"m": model, "d": dataset, "f": featureset}


async def test_a_subscriber_whose_gateway_is_killed_resumes_from_its_cursor_without_gap_or_repeat(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    first = Server(store)
    token = first.token
    second: Server | None = None
    try:
        ids = await asyncio.to_thread(_setup, first)
        start = first.gql("query { changes(first: 1) { nodes { cursor } } }")["changes"]["nodes"][0]["cursor"]
        seen: list[int] = []
        async with subscribed(first, CHANGES, token, a=start) as ws:
            for n in range(5):
                await asyncio.to_thread(first.gql, UPDATE, id=ids["d"], a={"n": n})
            for _ in range(5):
                seen.append(int((await _next(ws))["changes"]["cursor"]))
            # Written, and the gateway killed before the subscriber hears of them.
            for n in range(5, 8):
                await asyncio.to_thread(first.gql, UPDATE, id=ids["d"], a={"n": n})
            first.kill()
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    seen.append(int((await _next(ws))["changes"]["cursor"]))
        second = Server(store, token)
        # Written while nobody listens.
        for n in range(8, 10):
            await asyncio.to_thread(second.gql, UPDATE, id=ids["d"], a={"n": n})
        async with subscribed(second, CHANGES, token, a=str(seen[-1])) as ws:
            for n in range(10, 12):
                await asyncio.to_thread(second.gql, UPDATE, id=ids["d"], a={"n": n})
            while len(seen) < 12:
                data = (await _next(ws))["changes"]
                assert data["operation"] == "updateAttributes"
                seen.append(int(data["cursor"]))
        assert seen == list(range(int(start) + 1, int(start) + 13))
    finally:
        for server in (first, second):
            if server is not None and server.process.poll() is None:
                server.stop()


async def test_runs_logged_to_a_model_arrive_as_they_commit_and_subscriptions_check_the_token(tmp_path: Path) -> None:
    server = Server(tmp_path / "s.db")
    try:
        ids = await asyncio.to_thread(_setup, server)
        async with subscribed(server, RUNS, server.token, m=ids["m"]) as ws:
            await asyncio.sleep(0.2)  # subscribed from now on: the runs logged after this
            for n in range(3):
                await asyncio.to_thread(server.gql, LOG_RUN, m=ids["m"], d=ids["d"], f=ids["f"], n=f"trial-{n}")
            names = [(await _next(ws))["runLogged"]["runs"][0]["name"] for _ in range(3)]
            assert names == ["trial-0", "trial-1", "trial-2"]
        # No token: the subscription is refused as a query would be.
        async with subscribed(server, CHANGES, None) as ws:
            message = json.loads(await asyncio.wait_for(ws.recv(), 20))
            assert message["type"] == "error", message
            assert message["payload"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        # A token that does not hold closes the connection.
        url = server.url.replace("http://", "ws://") + "/graphql"
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": "Bearer mg_0_nope"}}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 20)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    finally:
        server.stop()


SERVING = """subscription($d: ID!, $a: String) {
  servingPerfLogged(deployment: $d, after: $a) { cursor servingPerf { periodStart metrics } } }"""
JOB = "subscription($j: ID!, $a: String) { jobStatus(job: $j, after: $a) { cursor status job { id state } } }"


async def test_serving_periods_and_job_statuses_arrive_for_their_deployment_and_job_only(tmp_path: Path) -> None:
    server = Server(tmp_path / "s.db")
    try:
        ids = await asyncio.to_thread(_setup, server)

        def prepare() -> tuple[str, str, str]:
            server.gql(LOG_RUN.replace("params: {depth: 3}", 'params: {depth: 3}, deploymentTag: "prod"'), n="r", **ids)
            server.gql(LOG_RUN.replace("params: {depth: 3}", 'params: {depth: 3}, deploymentTag: "beta"'), n="s", **ids)
            register = "mutation($t: String!) { registerDeployment(input: {deploymentTag: $t}) { deployment { id } } }"
            prod = server.gql(register, t="prod")["registerDeployment"]["deployment"]["id"]
            beta = server.gql(register, t="beta")["registerDeployment"]["deployment"]["id"]
            create = "mutation($i: CreateJobInput!) { createJob(input: $i) { job { id } } }"
            project = server.gql('{ project(name: "p") { id } }')["project"]["id"]
            job = server.gql(create, i={"projectId": project, "type": "TRAIN", "modelId": ids["m"]})
            return prod, beta, job["createJob"]["job"]["id"]

        prod, beta, job = await asyncio.to_thread(prepare)
        start = server.gql("query { changes(first: 1) { nodes { cursor } } }")["changes"]["nodes"][0]["cursor"]

        def write() -> None:
            serve = "mutation($i: LogServingPerfInput!) { logServingPerf(input: $i) { servingPerf { id } } }"
            status = "mutation($j: ID!, $s: JobState!) { updateJobStatus(input: {jobId: $j, status: $s}) { job { id } } }"
            for day, deployment in ((1, prod), (2, beta), (3, prod)):
                period = {"periodStart": f"2026-11-0{day}T00:00:00Z", "periodEnd": f"2026-11-0{day + 1}T00:00:00Z"}
                server.gql(serve, i={"deploymentId": deployment, **period, "metrics": {"auc": day / 10}})
            server.gql(status, j=job, s="RUNNING")
            server.gql(status, j=job, s="SUCCEEDED")

        await asyncio.to_thread(write)
        # From a cursor before the writes: what was written for each since, in order.
        async with subscribed(server, SERVING, server.token, d=prod, a=start) as ws:
            got = [(await _next(ws))["servingPerfLogged"] for _ in range(2)]
        assert [g["servingPerf"][0]["periodStart"][:10] for g in got] == ["2026-11-01", "2026-11-03"]
        assert [g["servingPerf"][0]["metrics"] for g in got] == [{"auc": 0.1}, {"auc": 0.3}]
        assert int(got[0]["cursor"]) < int(got[1]["cursor"])
        async with subscribed(server, JOB, server.token, j=job, a=start) as ws:
            statuses = [(await _next(ws))["jobStatus"] for _ in range(2)]
        assert [s["status"] for s in statuses] == ["RUNNING", "SUCCEEDED"]
        assert {s["job"]["id"] for s in statuses} == {job}
    finally:
        server.stop()


async def test_every_message_is_a_text_frame_as_the_protocol_says(tmp_path: Path) -> None:
    """graphql-transport-ws messages are JSON text: a browser's client (graphql-ws)
    reads no binary frame, and gave up after the acknowledgement."""
    server = Server(tmp_path / "s.db")
    try:
        ids = await asyncio.to_thread(_setup, server)
        url = server.url.replace("http://", "ws://") + "/graphql"
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {server.token}"}}))
            ack = await asyncio.wait_for(ws.recv(), 20)
            assert isinstance(ack, str) and json.loads(ack)["type"] == "connection_ack"
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": RUNS, "variables": {"m": ids["m"]}}}))
            await asyncio.sleep(0.2)
            await asyncio.to_thread(server.gql, LOG_RUN, m=ids["m"], d=ids["d"], f=ids["f"], n="trial")
            event = await asyncio.wait_for(ws.recv(), 20)
            assert isinstance(event, str) and json.loads(event)["type"] == "next"
    finally:
        server.stop()
