"""The mutations that record a pipeline's steps: logStep, logSteps and updateStep."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry.scalars import JSON

from metagate.resolvers import steps
from metagate.resolvers.ids import decode_id
from metagate.resolvers.registry import Then
from metagate.schema.context import Context, Info
from metagate.schema.types import ENUMS, TYPES, wrap
from metagate.store.errors import BadUserInput
from metagate.store.model import STEP_ASSETS, Kind

StepPhase = ENUMS["StepPhase"]
JobState = ENUMS["JobState"]
Step = TYPES[Kind.STEP]
_KEY_HELP = "A retry with the same key writes nothing and answers with what the first call wrote."


def _key(ctx: Context, key: str | None) -> str | None:
    from metagate.schema.mutation import _key as namespaced

    return namespaced(ctx, key)


@strawberry.input(
    description="An asset a step read or wrote: its id (a dataset, featureset, model version, model or deployment),"
    " or a dataset's name. A dataset a step writes by name is registered when it is new; one it reads by name must"
    " exist, or be written by an earlier step of the same batch."
)
class AssetInput:
    id: strawberry.ID | None = None
    dataset: str | None = None


@strawberry.input(
    description="One execution of a phase of a pipeline, with what it read (inputs) and wrote (outputs): a step is"
    " derived from its inputs, and its outputs from it. state defaults to SUCCEEDED; a RUNNING step starts now"
    " unless startedAt is given, an ended one ends now unless endedAt is given. parentId is the job or run it ran"
    " in, or the pipeline run (a step of phase PIPELINE) it belongs to."
)
class LogStepInput:
    name: str
    phase: StepPhase  # type: ignore[valid-type]
    state: JobState | None = None  # type: ignore[valid-type]
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    parent_id: strawberry.ID | None = None
    parent_index: int | None = strawberry.field(
        default=None, description="In logSteps: the index of an earlier step of the batch, the pipeline run it belongs to."
    )
    inputs: list[AssetInput] | None = None
    outputs: list[AssetInput] | None = None
    tags: list[str] | None = None
    attributes: JSON | None = None
    idempotency_key: str | None = strawberry.field(default=None, description=_KEY_HELP + " Not in logSteps' steps.")


@strawberry.input(description="Steps in one transaction: all of them, or on any error none.")
class LogStepsInput:
    steps: list[LogStepInput]
    idempotency_key: str | None = strawberry.field(default=None, description=_KEY_HELP)


@strawberry.input(
    description="Moves a step on: PENDING -> RUNNING -> SUCCEEDED, FAILED or CANCELLED (ending sets endedAt, now"
    " unless given), adds what it read and wrote since it was logged, merges attributes into its own."
)
class UpdateStepInput:
    step_id: strawberry.ID
    state: JobState | None = None  # type: ignore[valid-type]
    ended_at: dt.datetime | None = None
    inputs: list[AssetInput] | None = None
    outputs: list[AssetInput] | None = None
    attributes: JSON | None = None
    idempotency_key: str | None = strawberry.field(default=None, description=_KEY_HELP)


@strawberry.type
class LogStepPayload:
    step: Step  # type: ignore[valid-type]


@strawberry.type
class LogStepsPayload:
    steps: list[LogStepPayload]


def _assets(given: list[AssetInput] | None, at: str) -> tuple[steps.AssetRef, ...]:
    return tuple(
        steps.AssetRef(decode_id(a.id, STEP_ASSETS, field=f"{at}[{i}].id") if a.id is not None else None, a.dataset)
        for i, a in enumerate(given or ())
    )


def _value(value: Any) -> Any:
    return getattr(value, "value", value)


def step_spec(input: LogStepInput, at: str = "") -> steps.StepSpec:
    return steps.StepSpec(
        name=input.name,
        phase=_value(input.phase),
        state=_value(input.state),
        started_at=input.started_at,
        ended_at=input.ended_at,
        parent_id=decode_id(input.parent_id, tuple(steps.PARENT_EDGES), field=f"{at}parentId")
        if input.parent_id is not None
        else None,
        parent_index=input.parent_index,
        inputs=_assets(input.inputs, f"{at}inputs"),
        outputs=_assets(input.outputs, f"{at}outputs"),
        tags=tuple(input.tags) if input.tags is not None else None,
        attributes=input.attributes,
    )


async def _log_step(ctx: Context, input: LogStepInput, then: Then | None = None) -> Any:
    if input.parent_index is not None:
        raise BadUserInput("parentIndex is for logSteps; give parentId", field="parentIndex")
    return await steps.log_step(
        ctx.store,
        step=step_spec(input),
        allowed_projects=ctx.allowed_projects,
        idempotency_key=_key(ctx, input.idempotency_key),
        then=then,
    )


async def _log_steps(ctx: Context, input: LogStepsInput, then: Then | None = None) -> Any:
    for i, s in enumerate(input.steps):
        if s.idempotency_key is not None:
            raise BadUserInput(
                f"steps[{i}].idempotencyKey: keys go on the batch, not on its steps", field=f"steps[{i}].idempotencyKey"
            )
    return await steps.log_steps(
        ctx.store,
        steps=[step_spec(s, f"steps[{i}].") for i, s in enumerate(input.steps)],
        allowed_projects=ctx.allowed_projects,
        idempotency_key=_key(ctx, input.idempotency_key),
        then=then,
    )


async def _update_step(ctx: Context, input: UpdateStepInput, then: Then | None = None) -> Any:
    return await steps.update_step(
        ctx.store,
        step_id=decode_id(input.step_id, Kind.STEP, field="stepId"),
        state=_value(input.state),
        ended_at=input.ended_at,
        inputs=_assets(input.inputs, "inputs"),
        outputs=_assets(input.outputs, "outputs"),
        attributes=input.attributes,
        allowed_projects=ctx.allowed_projects,
        idempotency_key=_key(ctx, input.idempotency_key),
        then=then,
    )


# The writes as the compiled path runs them (schema.mutation.WRITES takes these in).
STEP_WRITES: dict[str, tuple[Any, Any]] = {
    "logStep": (_log_step, lambda node: {"step": node.id}),
    "logSteps": (_log_steps, lambda nodes: {"steps": [{"step": n.id} for n in nodes]}),
    "updateStep": (_update_step, lambda node: {"step": node.id}),
}


@strawberry.type
class StepMutation:
    @strawberry.mutation(description="Records one step of a pipeline with what it read and wrote and its parent, in one write.")
    async def log_step(self, info: Info, input: LogStepInput) -> LogStepPayload:
        node = await _log_step(info.context, input)
        info.context.loaders.clear()
        return LogStepPayload(step=wrap(node))

    @strawberry.mutation(
        description="Records a pipeline's steps in one transaction: all of them, or on any error none. A step's"
        " parentIndex names the pipeline run of the batch it belongs to; a dataset an earlier step wrote by name"
        " can be read by name by a later one."
    )
    async def log_steps(self, info: Info, input: LogStepsInput) -> LogStepsPayload:
        nodes = await _log_steps(info.context, input)
        info.context.loaders.clear()
        return LogStepsPayload(steps=[LogStepPayload(step=wrap(n)) for n in nodes])

    @strawberry.mutation(description="Moves a step on (its state, its end) and adds what it read and wrote since.")
    async def update_step(self, info: Info, input: UpdateStepInput) -> LogStepPayload:
        node = await _update_step(info.context, input)
        info.context.loaders.clear()
        return LogStepPayload(step=wrap(node))
