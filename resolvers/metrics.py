"""Metric history: a run's metrics over its training, point by point (key, value, step,
timestamp), appended in batches and never changed.

The latest point of each key (the highest step, then the latest timestamp, then the
last logged) is also the key's value in the run's dev performance, so that runs are
filtered and ordered by a metric through the same index as before; a run without dev
performance gets one.

Long histories are read downsampled to at most N points, sampled by row: the points in
order are cut into N - 1 runs of about equal length, the first of each kept, and the
last point always (MLflow's sampler by distinct step collapsed when many points share a
step, mlflow PR #24305).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from metagate.resolvers import validate
from metagate.resolvers.authz import check_project
from metagate.resolvers.registry import (
    Then,
    _commit,
    _edge,
    _inputs,
    _insert_new,
    _node,
    _one_neighbor,
    _updated,
    found_free,
    require,
)
from metagate.store.errors import BadUserInput
from metagate.store.model import Kind, Node, Step, key_of, new_id, utcnow
from metagate.store.port import MetricHistoryQuery, MetricPoint, Store, Tx

MAX_POINTS = 10_000  # points of one logMetrics call (numbered in 4 hex digits after the call's id)
MAX_KEYS = 100  # keys of one logMetrics call
MAX_STEP = 2**63 - 1


@dataclass(frozen=True)
class PointInput:
    key: str
    value: float
    step: int | None = None  # None: 0
    timestamp: dt.datetime | None = None  # None: now


@dataclass(frozen=True)
class SeriesInput:
    """One key's values at their steps (0 for each when not given), logged at one time
    (now when not given): a training loop's buffer, cheaper to send than a point each."""

    key: str
    values: Sequence[float]
    steps: Sequence[int] | None = None
    timestamp: dt.datetime | None = None


@dataclass
class MetricsLogged:
    run: Node
    points: int


def _finite(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _series(run_id: str, series: Sequence[SeriesInput], now: str, ids: Iterator[str]) -> list[MetricPoint]:
    out = []
    for j, s in enumerate(series):
        at = f"series[{j}]"
        key = validate.metric_name(s.key, field=f"{at}.key")
        steps = [0] * len(s.values) if s.steps is None else list(s.steps)
        if len(steps) != len(s.values):
            raise BadUserInput(f"{at}.steps: one step per value ({len(s.values)})", field=f"{at}.steps")
        bad = next((i for i, v in enumerate(s.values) if not _finite(v)), None)
        if bad is not None:
            raise BadUserInput(f"{at}.values[{bad}] must be a finite number", field=f"{at}.values[{bad}]")
        bad = next((i for i, n in enumerate(steps) if not 0 <= n <= MAX_STEP), None)
        if bad is not None:
            raise BadUserInput(f"{at}.steps[{bad}] must be between 0 and 2^63 - 1", field=f"{at}.steps[{bad}]")
        stamp = validate.time(s.timestamp, field=f"{at}.timestamp") or now
        out += [MetricPoint(run_id, key, float(v), n, stamp, i) for v, n, i in zip(s.values, steps, ids)]
    return out


def check_points(run_id: str, points: Sequence[PointInput], series: Sequence[SeriesInput] = ()) -> list[MetricPoint]:
    total = len(points) + sum(len(s.values) for s in series)
    if total == 0:
        raise BadUserInput("metrics: give at least one point (metrics or series)", field="metrics")
    if total > MAX_POINTS:
        raise BadUserInput(f"metrics: at most {MAX_POINTS} points in one call, metrics and series together", field="metrics")
    now = utcnow()
    # Ids grow with each point (a call's, then the next call's: ids are time-ordered), so
    # points of one step and time keep the order they came in; one id a call, numbered.
    call = key_of(new_id(Kind.DEVPERF))
    ids = (f"{call}{n:04x}" for n in range(MAX_POINTS))
    out = []
    for i, p in enumerate(points):
        at = f"metrics[{i}]"
        key = validate.metric_name(p.key, field=f"{at}.key")
        if not _finite(p.value):
            raise BadUserInput(f"{at}.value must be a finite number", field=f"{at}.value")
        step = 0 if p.step is None else p.step
        if not 0 <= step <= MAX_STEP:
            raise BadUserInput(f"{at}.step must be between 0 and 2^63 - 1", field=f"{at}.step")
        stamp = validate.time(p.timestamp, field=f"{at}.timestamp") or now
        out.append(MetricPoint(run_id, key, float(p.value), step, stamp, next(ids)))
    out += _series(run_id, series, now, ids)
    if len({p.key for p in out}) > MAX_KEYS:
        raise BadUserInput(f"metrics: at most {MAX_KEYS} keys in one call", field="metrics")
    return out


async def log_metrics(
    store: Store,
    *,
    run_id: str,
    points: Sequence[PointInput] = (),
    series: Sequence[SeriesInput] = (),
    allowed_projects: frozenset[str] | None = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
) -> MetricsLogged:
    """Appends points to a run's metric history and moves each key's latest value into
    its dev performance, in one transaction."""
    inputs = _inputs(locals())
    checked = check_points(run_id, points, series)

    async def work(tx: Tx) -> Node:
        run = await require(tx, run_id, Kind.RUN, field="runId")
        await check_project(tx, allowed_projects, run)
        # Two writers appending to one history at once: the store's unique position
        # refuses the second, which runs again after the first.
        await found_free(tx.insert_metric_points(checked))
        # Each key's latest point, as stored now (the newest point of a call may not be it).
        keys = sorted({p.key for p in checked})
        held = await tx.metric_history([MetricHistoryQuery(run.id, k, 1, newest_first=True) for k in keys])
        latest = {k: page[0] for k, page in zip(keys, held) if page}
        perf = await _one_neighbor(tx, run.id, "run_devperf", Step.OUT)
        if perf is None:
            perf = _node(Kind.DEVPERF, None, scope=run.id, fields={"metrics": {k: p.value for k, p in latest.items()}})
            await _insert_new(tx, [perf])
            await tx.insert_edges([_edge("run_devperf", run, perf)])
        else:
            metrics = {**(perf.fields.get("metrics") or {}), **{k: p.value for k, p in latest.items()}}
            if metrics != perf.fields.get("metrics"):
                await _updated(tx, perf, fields={**perf.fields, "metrics": metrics})
        return run

    async def logged(tx: Tx, run: Node) -> None:
        if then is not None:
            await then(tx, MetricsLogged(run, len(checked)))

    run = await _commit(store, idempotency_key, "log_metrics", inputs, work, logged)
    return MetricsLogged(run, len(checked))


def downsampled(points: Sequence[MetricPoint], most: int) -> list[MetricPoint]:
    """At most ``most`` of the points (in order), sampled by row: ``most - 1`` even runs'
    first points, and the last point. The stores do the same in their queries; this is
    their reference."""
    n = len(points)
    if n <= most:
        return list(points)
    if most == 1:
        return [points[-1]]
    tiles = most - 1
    return [p for i, p in enumerate(points[:-1]) if i * tiles // (n - 1) != (i - 1) * tiles // (n - 1) or i == 0] + [points[-1]]
