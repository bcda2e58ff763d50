"""The run recorder behind ``Client.run`` and ``AsyncClient.run``: what the block logs,
and the calls that open and record the run, shared by both clients."""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Mapping
from typing import Any

from metagate_client._models import Asset, LoggedRun
from metagate_client._operations import (
    Steps,
    check_finite,
    create_project,
    log_metrics,
    log_run,
    lookup,
    register_dataset,
    register_featureset,
    register_model,
)


class RunRecorder:
    """Collects a run's params and metrics inside a ``run`` block; ``logged`` is the
    recorded run once the block is over."""

    def __init__(
        self, model: Asset, dataset: Asset, featureset: Asset, *, name: str | None, tag: str | None, deployment_tag: str | None
    ) -> None:
        self.params: dict[str, Any] = {}
        self.metrics: dict[str, float] = {}
        self.history: list[dict[str, Any]] = []
        self.logged: LoggedRun | None = None
        self._assets = {"model": model, "dataset": dataset, "featureset": featureset}
        self._labels = {"name": name, "tag": tag, "deployment_tag": deployment_tag}
        self._started = dt.datetime.now(dt.timezone.utc)

    def log_params(self, params: Mapping[str, Any] | None = None, /, **more: Any) -> None:
        """Adds model parameters (a mapping, keywords, or both)."""
        given = {**(params or {}), **more}
        # Refused here, at the line that logged it, rather than when the block ends.
        check_finite(given, "params")
        self.params.update(given)

    def log_perf(self, metrics: Mapping[str, float] | None = None, /, **more: float) -> None:
        """Adds development metrics (a mapping, keywords, or both)."""
        given = {**(metrics or {}), **more}
        check_finite(given, "metrics")
        self.metrics.update(given)

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Adds a point to the metric's history (sent when the block ends, with the run);
        its latest point becomes its value in the run's dev performance."""
        check_finite(value, f"metric {key}")
        self.history.append({"key": key, "value": value, "step": step, "timestamp": dt.datetime.now(dt.timezone.utc)})

    def _finish(self, error: BaseException | None) -> Steps[LoggedRun]:
        """The log_run call for what was recorded: COMPLETED, or FAILED with the error;
        then the metric history, 10,000 points a call."""
        attributes = None
        if error is not None:
            attributes = {"error": "".join(traceback.format_exception_only(type(error), error)).strip()}
        logged = yield from log_run(
            **self._assets,
            **self._labels,
            params=self.params,
            metrics=self.metrics,
            status="COMPLETED" if error is None else "FAILED",
            start_time=self._started,
            end_time=dt.datetime.now(dt.timezone.utc),
            attributes=attributes,
        )
        if self.history:
            yield from log_metrics(logged.run, self.history)
        return logged


def start_run(
    *, project: str, model: str, dataset: str, featureset: str, name: str | None, tag: str | None, deployment_tag: str | None
) -> Steps[RunRecorder]:
    """Registers what the run stands on (idempotently: existing ones are reused)."""
    # Creating a project needs the admin role: a writer's project must already exist.
    project_asset = (yield from lookup("project", project)) or (yield from create_project(project, tags=(), attributes=None))
    model_asset = yield from register_model(model, project_asset, tags=(), attributes=None)
    dataset_asset = yield from register_dataset(dataset, tags=(), attributes=None)
    featureset_asset = yield from register_featureset(featureset, dataset_asset, tags=(), attributes=None)
    return RunRecorder(model_asset, dataset_asset, featureset_asset, name=name, tag=tag, deployment_tag=deployment_tag)
