"""The step recorders behind ``Client.step`` and ``Client.pipeline`` (and the async
client's): what a block records of one phase of a pipeline, shared by both clients."""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from metagate_client._models import Asset, LoggedStep
from metagate_client._operations import Ref, StepAsset, Steps, _object, check_finite, log_step, update_step


def _error(error: BaseException | None) -> dict[str, Any]:
    return {} if error is None else {"error": "".join(traceback.format_exception_only(type(error), error)).strip()}


def _state(error: BaseException | None) -> str:
    """SUCCEEDED; FAILED on an exception; CANCELLED when interrupted (KeyboardInterrupt,
    a cancelled task, an exit)."""
    if error is None:
        return "SUCCEEDED"
    return "FAILED" if isinstance(error, Exception) else "CANCELLED"


class StepRecorder:
    """Collects what a ``step`` block read and wrote and the attributes it logs;
    ``logged`` is the recorded step once the block is over. A ``str`` among inputs or
    outputs is a dataset's name (a dataset it writes is registered when new); anything
    else is given as the ``Asset`` a call returned."""

    def __init__(
        self,
        name: str,
        phase: str,
        *,
        inputs: Sequence[StepAsset],
        outputs: Sequence[StepAsset],
        parent: LoggedStep | Ref | None,
        tags: Sequence[str],
        attributes: Mapping[str, Any] | None,
    ) -> None:
        self.name = name
        self.phase = phase
        self.inputs: list[StepAsset] = [inputs] if isinstance(inputs, (str, Asset)) else list(inputs)
        self.outputs: list[StepAsset] = [outputs] if isinstance(outputs, (str, Asset)) else list(outputs)
        self.attributes: dict[str, Any] = dict(_object(attributes, "attributes") or {})
        self.logged: LoggedStep | None = None
        self._parent = parent
        self._tags = tags
        self._started = dt.datetime.now(dt.timezone.utc)

    def read(self, *assets: StepAsset) -> None:
        """Adds inputs."""
        self.inputs.extend(assets)

    def wrote(self, *assets: StepAsset) -> None:
        """Adds outputs."""
        self.outputs.extend(assets)

    def log(self, attributes: Mapping[str, Any] | None = None, /, **more: Any) -> None:
        """Adds attributes (a mapping, keywords, or both)."""
        given = {**(attributes or {}), **more}
        check_finite(given, "attributes")
        self.attributes.update(given)

    def _finish(self, error: BaseException | None) -> Steps[LoggedStep]:
        """The logStep call for what was recorded: SUCCEEDED, or FAILED (CANCELLED when
        interrupted) with the error. A step that did not succeed may not have written its
        outputs: they are kept in the attribute ``unwritten`` (ids, and names, which so
        register no dataset), not as outputs."""
        unwritten = (
            {}
            if error is None or not self.outputs
            else {"unwritten": [o.id if isinstance(o, Asset) else o for o in self.outputs]}
        )
        return log_step(
            self.name,
            self.phase,
            state=_state(error),
            started_at=self._started,
            ended_at=dt.datetime.now(dt.timezone.utc),
            parent=self._parent,
            inputs=self.inputs,
            outputs=self.outputs if error is None else (),
            tags=self._tags,
            attributes={**self.attributes, **_error(error), **unwritten},
        )


def start_pipeline(
    name: str, *, parent: Ref | None, tags: Sequence[str], attributes: Mapping[str, Any] | None
) -> Steps[LoggedStep]:
    """A pipeline run, RUNNING from now: the steps given it as ``parent`` belong to it."""
    return log_step(name, "PIPELINE", state="RUNNING", parent=parent, tags=tags, attributes=attributes)


def finish_pipeline(pipeline: LoggedStep, error: BaseException | None) -> Steps[LoggedStep]:
    return update_step(pipeline, state=_state(error), attributes=_error(error) or None)
