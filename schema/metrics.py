"""logMetrics: points of a run's metric history, appended in batches."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry

from metagate.resolvers import metrics
from metagate.resolvers.ids import decode_id
from metagate.resolvers.registry import Then
from metagate.schema.context import Context, Info
from metagate.schema.types import Run, wrap
from metagate.store.model import Kind

_KEY_HELP = "A retry with the same key writes nothing and answers with what the first call wrote."


def _key(ctx: Context, key: str | None) -> str | None:
    from metagate.schema.mutation import _key as namespaced

    return namespaced(ctx, key)


@strawberry.input(description="A metric's value at a step of training; step defaults to 0, timestamp to now.")
class MetricPointInput:
    key: str
    value: float
    step: int | None = None
    timestamp: dt.datetime | None = None


@strawberry.input(
    description="One key's values at their steps (steps, when given, one per value; 0 for each otherwise), all logged at"
    " one timestamp (now unless given): a training loop's buffer of a metric, cheaper to send and to read in than a"
    " MetricPointInput per value."
)
class MetricSeriesInput:
    key: str
    values: list[float]
    steps: list[int] | None = None
    timestamp: dt.datetime | None = None


@strawberry.input(
    description="Points appended to a run's metric history (never changed afterwards); each key's latest point (highest"
    " step, then timestamp, then the last logged) becomes its value in the run's dev performance."
)
class LogMetricsInput:
    run_id: strawberry.ID
    metrics: list[MetricPointInput] = strawberry.field(default_factory=list)
    series: list[MetricSeriesInput] = strawberry.field(
        default_factory=list, description="Points given a key at a time; with metrics, at most 10,000 in one call."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=_KEY_HELP)


@strawberry.type
class LogMetricsPayload:
    run: Run
    points: int = strawberry.field(description="How many points were appended.")


async def _log_metrics(ctx: Context, input: dict[str, Any], then: Then | None = None) -> Any:
    """logMetrics from graphql-core's coerced input (its field names, camelCase): a
    batch's thousands of points are not made into strawberry input objects first."""
    return await metrics.log_metrics(
        ctx.store,
        run_id=decode_id(input["runId"], Kind.RUN, field="runId"),
        points=[metrics.PointInput(p["key"], p["value"], p.get("step"), p.get("timestamp")) for p in input.get("metrics", ())],
        series=[metrics.SeriesInput(s["key"], s["values"], s.get("steps"), s.get("timestamp")) for s in input.get("series", ())],
        allowed_projects=ctx.allowed_projects,
        idempotency_key=_key(ctx, input.get("idempotencyKey")),
        then=then,
    )


def _raw(input: LogMetricsInput) -> dict[str, Any]:
    """The strawberry input as graphql-core's coerced value."""
    return {
        "runId": input.run_id,
        "metrics": [{"key": p.key, "value": p.value, "step": p.step, "timestamp": p.timestamp} for p in input.metrics],
        "series": [{"key": s.key, "values": s.values, "steps": s.steps, "timestamp": s.timestamp} for s in input.series],
        "idempotencyKey": input.idempotency_key,
    }


METRIC_WRITES: dict[str, tuple[Any, Any]] = {
    "logMetrics": (_log_metrics, lambda logged: {"run": logged.run.id, "points": logged.points}),
}


@strawberry.type
class MetricMutation:
    @strawberry.mutation(description="Appends points to a run's metric history, in one write.")
    async def log_metrics(self, info: Info, input: LogMetricsInput) -> LogMetricsPayload:
        logged = await _log_metrics(info.context, _raw(input))
        info.context.loaders.clear()
        return LogMetricsPayload(run=wrap(logged.run), points=logged.points)  # type: ignore[arg-type]
