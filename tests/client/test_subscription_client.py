"""``AsyncClient.runs_logged`` and ``serving_perf_logged``: an async iterator of the
changes as they commit, which goes on from its last change when the gateway it listens
to is killed and another takes its place, missing none and giving none twice."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from metagate_client import AsyncClient, Forbidden, Logged
from tests.server import Server

pytestmark = pytest.mark.timeout(120)


async def _next(changes: AsyncIterator[Logged]) -> Logged:
    return await asyncio.wait_for(changes.__anext__(), 30)


async def test_runs_logged_go_on_after_the_gateway_is_killed_without_gap_or_repeat(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    first = Server(store)
    second: Server | None = None
    try:
        async with AsyncClient(first.url, first.token, retries=30, backoff=0.05) as mg:
            project = await mg.create_project("housing")
            dataset = await mg.register_dataset("census")
            featureset = await mg.register_featureset("features", dataset)
            model = await mg.register_model("gbr", project)

            async def log(name: str) -> None:
                await mg.log_run(model=model, dataset=dataset, featureset=featureset, name=name)

            await log("before")
            newest = await mg.execute("query { changes(first: 1) { nodes { cursor } } }")
            start = newest["changes"]["nodes"][0]["cursor"]
            await log("r0")  # after the cursor, before the subscription: it comes first
            changes = mg.runs_logged(model, after=start)
            got = [await _next(changes)]
            await log("r1")
            got.append(await _next(changes))
            # The gateway killed while the iterator waits; another takes its place, and
            # runs are logged before and after the iterator is back.
            first.kill()
            second = Server(store, first.token, port=first.port)
            await log("r2")
            got.append(await _next(changes))
            await log("r3")
            got.append(await _next(changes))
            await changes.aclose()  # type: ignore[attr-defined]
        assert [c.nodes[0].name for c in got] == ["r0", "r1", "r2", "r3"]
        cursors = [int(c.cursor) for c in got]
        assert cursors == sorted(set(cursors)) and cursors[0] > int(start)
        assert all(c.nodes[0].kind == "run" and dt.datetime.fromisoformat(c.at) for c in got)
    finally:
        for server in (first, second):
            if server is not None and server.process.poll() is None:
                server.stop()


async def test_serving_perf_logged_from_now_on_and_a_refused_token(tmp_path: Path) -> None:
    server = Server(tmp_path / "s.db")
    try:
        async with AsyncClient(server.url, server.token, retries=1) as mg:
            project = await mg.create_project("housing")
            dataset = await mg.register_dataset("census")
            featureset = await mg.register_featureset("features", dataset)
            model = await mg.register_model("gbr", project)
            await mg.log_run(model=model, dataset=dataset, featureset=featureset, deployment_tag="prod")
            deployment = await mg.register_deployment("prod", deployment_tag="prod")
            changes = mg.serving_perf_logged(deployment)
            waiting = asyncio.ensure_future(_next(changes))
            await asyncio.sleep(0.5)  # subscribed: from now on
            await mg.log_serving_perf(
                deployment=deployment,
                period_start=dt.datetime(2026, 11, 1),
                period_end=dt.datetime(2026, 11, 8),
                metrics={"accuracy": 0.9},
            )
            change = await waiting
            assert [n.kind for n in change.nodes] == ["servingperf"]
            await changes.aclose()  # type: ignore[attr-defined]
        async with AsyncClient(server.url, "mg_0_nope", retries=1) as refused:
            with pytest.raises(Forbidden):
                await _next(refused.runs_logged(deployment))
    finally:
        server.stop()
