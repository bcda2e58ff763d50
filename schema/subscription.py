"""The root Subscription: the change log as it grows, over graphql-transport-ws.

Each field follows the log from the cursor it is given (none: from now on), polling the
store (``resolvers.changes.follow``), so that it hears every gateway process's writes
on either store; each event carries the cursor of its entry, and a client that
subscribes again with the last cursor it received misses nothing and sees nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

import strawberry

from metagate.resolvers import changes
from metagate.resolvers.changes import decode_cursor
from metagate.resolvers.ids import decode_id
from metagate.resolvers.jobs import STATUS
from metagate.schema.changes import Change
from metagate.schema.context import Info
from metagate.schema.types import Job, Run, ServingPerf, wrap
from metagate.store import changes as log
from metagate.store.model import Kind, Node, parse_time


@strawberry.type(description="Runs a change logged to a model; `cursor` is its entry's.")
class RunLogged:
    cursor: str
    at: dt.datetime
    runs: list[Run]


@strawberry.type(description="Serving-perf records a change logged to a deployment; `cursor` is its entry's.")
class ServingPerfLogged:
    cursor: str
    at: dt.datetime
    serving_perf: list[ServingPerf]


@strawberry.type(description="A job's status as a change moved it; `cursor` is its entry's.")
class JobStatusChanged:
    cursor: str
    at: dt.datetime
    status: str
    job: Job


def _created_edges(entry: log.Change, edge_kind: str, end: str, *, to: bool) -> list[str]:
    """The far ends of the ``edge_kind`` edges the entry made at ``end`` (its to end with ``to``)."""
    out = []
    for item in entry.items:
        if item.action is log.Action.CREATED and item.edge is not None and item.edge[0] == edge_kind:
            kind, from_id, to_id = item.edge
            if (to_id if to else from_id) == end:
                out.append(from_id if to else to_id)
    return out


async def _nodes(info: Info, entry: log.Change, ids: Sequence[str]) -> list[Node]:
    """Read once for every subscriber of the process that is sent them."""
    return [n for n in await changes.feed_of(info.context.store).nodes(entry.seq, ids) if n is not None]


def _follow(info: Info, after: str | None, **narrowed: Any) -> AsyncIterator[log.Change]:
    return changes.follow(info.context.store, after=decode_cursor(after), **narrowed)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Each change as it is committed, oldest first, from after `after` (a cursor; none: from now on):"
        " of one of `kinds`, about one of `ids` (with only the items about them), by one of `operations`. Needs the"
        " admin role."
    )
    async def changes(
        self,
        info: Info,
        kinds: list[Kind] | None = None,
        ids: list[strawberry.ID] | None = None,
        operations: list[str] | None = None,
        after: str | None = None,
    ) -> AsyncGenerator[Change, None]:
        nodes = frozenset(decode_id(i, field="ids") for i in ids or ())
        narrowed = {"kinds": tuple(k.value for k in kinds or ()), "operations": tuple(operations or ()), "nodes": nodes}
        async for entry in _follow(info, after, **narrowed):
            yield Change(entry=entry)

    @strawberry.subscription(description="The runs logged to a model, a change at a time, from after `after`.")
    async def run_logged(self, info: Info, model: strawberry.ID, after: str | None = None) -> AsyncGenerator[RunLogged, None]:
        model_id = decode_id(model, Kind.MODEL, field="model")
        async for entry in _follow(info, after, nodes=frozenset({model_id})):
            runs = _created_edges(entry, "run_model", model_id, to=True)
            if runs:
                found = await _nodes(info, entry, runs)
                yield RunLogged(cursor=str(entry.seq), at=parse_time(entry.at), runs=[wrap(n) for n in found])  # type: ignore[misc]

    @strawberry.subscription(
        description="The serving-perf records logged to a deployment, a change at a time, from after `after`."
    )
    async def serving_perf_logged(
        self, info: Info, deployment: strawberry.ID, after: str | None = None
    ) -> AsyncGenerator[ServingPerfLogged, None]:
        deployment_id = decode_id(deployment, Kind.DEPLOYMENT, field="deployment")
        async for entry in _follow(info, after, nodes=frozenset({deployment_id})):
            records = _created_edges(entry, "deployment_servingperf", deployment_id, to=False)
            if records:
                found = await _nodes(info, entry, records)
                yield ServingPerfLogged(
                    cursor=str(entry.seq),
                    at=parse_time(entry.at),
                    serving_perf=[wrap(n) for n in found],  # type: ignore[misc]
                )

    @strawberry.subscription(description="A job's status each time it moves, from after `after`.")
    async def job_status(
        self, info: Info, job: strawberry.ID, after: str | None = None
    ) -> AsyncGenerator[JobStatusChanged, None]:
        job_id = decode_id(job, Kind.JOB, field="job")
        async for entry in _follow(info, after, nodes=frozenset({job_id})):
            for item in entry.items:
                after_value = item.after or {}
                if item.action is log.Action.MOVED and item.node == job_id and after_value.get("topic") == STATUS:
                    for node in await _nodes(info, entry, [job_id]):
                        status = str((after_value.get("value") or {}).get("status"))
                        yield JobStatusChanged(cursor=str(entry.seq), at=parse_time(entry.at), status=status, job=wrap(node))  # type: ignore[arg-type]
