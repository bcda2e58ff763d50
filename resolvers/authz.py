"""Who may do what. Roles rank reader < writer < deployer < admin; a writer or a
deployer may be limited to named projects. Every root field of the schema has an entry in ROOT_FIELDS: a field
without one is refused to everybody, so a new operation cannot slip through unchecked."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from metagate.store.errors import Forbidden
from metagate.store.model import Kind, Node, Step
from metagate.store.port import NeighborRequest, Reader


class Role(enum.StrEnum):
    READER = "reader"
    WRITER = "writer"
    # A writer who also moves what serves: the versions deployments serve, their
    # rollbacks, traffic weights, retirements. Like a writer, it may be limited to projects.
    DEPLOYER = "deployer"
    ADMIN = "admin"


_RANK = {Role.READER: 0, Role.WRITER: 1, Role.DEPLOYER: 2, Role.ADMIN: 3}

# Introspection is public: the schema is published with the code.
PUBLIC_FIELDS = frozenset({"__schema", "__type", "__typename"})

ROOT_FIELDS: dict[str, dict[str, Role]] = {
    "Query": {
        name: Role.READER
        for name in (
            "node",
            "nodes",
            "project",
            "dataset",
            "featureset",
            "model",
            "run",
            "deployment",
            "projects",
            "datasets",
            "featuresets",
            "models",
            "runs",
            "deployments",
            "search",
            "lineage",
            "projectSummary",
            "modelVersion",
            "jobs",
            "modelZoo",
            "nodeKinds",
            "edgeKinds",
            "customNodes",
            "history",
        )
    }
    | {"changes": Role.ADMIN},
    "Mutation": {
        "createProject": Role.ADMIN,
        "registerDeployment": Role.ADMIN,
        "registerDataset": Role.WRITER,
        "registerFeatureset": Role.WRITER,
        "registerModel": Role.WRITER,
        "logRun": Role.WRITER,
        "logRuns": Role.WRITER,
        "logServingPerf": Role.WRITER,
        "updateAttributes": Role.WRITER,
        "addTags": Role.WRITER,
        "deleteNode": Role.WRITER,
        "restoreNode": Role.WRITER,
        "updateModel": Role.WRITER,
        "registerModelVersion": Role.WRITER,
        "setModelAlias": Role.WRITER,
        "serveModelVersion": Role.DEPLOYER,
        "rollbackDeployment": Role.DEPLOYER,
        "setTrafficWeights": Role.DEPLOYER,
        "retireDeployment": Role.DEPLOYER,
        "setProjectStage": Role.ADMIN,
        "createJob": Role.WRITER,
        "replayJob": Role.WRITER,
        "updateJobStatus": Role.WRITER,
        "logStep": Role.WRITER,
        "logSteps": Role.WRITER,
        "updateStep": Role.WRITER,
        "logMetrics": Role.WRITER,
        "declareNodeKind": Role.ADMIN,
        "declareEdgeKind": Role.ADMIN,
        "logCustomNode": Role.WRITER,
        "linkNodes": Role.WRITER,
    },
    "Subscription": {
        "changes": Role.ADMIN,
        "runLogged": Role.READER,
        "servingPerfLogged": Role.READER,
        "jobStatus": Role.READER,
    },
}


@dataclass(frozen=True)
class Principal:
    token_id: str | None
    role: Role
    projects: frozenset[str] = frozenset()  # a writer's projects; empty = all
    token_name: str | None = None  # what the change log names the writer by

    def may(self, needed: Role) -> bool:
        return _RANK[self.role] >= _RANK[needed]

    @property
    def allowed_projects(self) -> frozenset[str] | None:
        """The project ids this principal may write to; None when unlimited."""
        return self.projects if self.role in (Role.WRITER, Role.DEPLOYER) and self.projects else None


LOCAL_ADMIN = Principal(token_id=None, role=Role.ADMIN)


def required_role(parent_type: str, field: str) -> Role | None:
    """The role a root field needs; None for a field nobody may call."""
    return ROOT_FIELDS.get(parent_type, {}).get(field)


async def project_of(reader: Reader, node: Node) -> str | None:
    """The project a node belongs to; None for shared kinds (datasets, featuresets)."""
    current: Node | None = node
    seen: set[str] = set()
    while current is not None and current.id not in seen:
        seen.add(current.id)
        if current.kind is Kind.PROJECT:
            return current.id
        if current.kind is Kind.MODEL:
            return current.scope or None
        if current.kind in (Kind.DATASET, Kind.FEATURESET, Kind.CUSTOM):
            # Shared: a node of a declared kind belongs to no project (its scope is its kind).
            return None
        if current.kind is Kind.STEP:
            # A step is of the project it was logged in (see resolvers.steps); else, of the
            # job or run it ran in, or of its pipeline run's.
            if isinstance(current.fields.get("project"), str):
                return str(current.fields["project"])
            # Along live and hidden edges alike: a node's project is where it was made,
            # whatever was deleted on the way (and a deleted node's edges are all hidden).
            pages = await reader.neighbors(
                [
                    NeighborRequest(current.id, e, Step.OUT, 1, from_deleted=hidden)
                    for e in ("step_job", "step_run", "step_parent")
                    for hidden in (False, True)
                ]
            )
            current = next((page.items[0][0] for page in pages if page.items), None)
            continue
        if current.kind is Kind.DEPLOYMENT:
            pages = await reader.neighbors(
                [NeighborRequest(current.id, "deployment_model", Step.OUT, 1, from_deleted=hidden) for hidden in (False, True)]
            )
            current = next((page.items[0][0] for page in pages if page.items), None)
            continue
        # run -> model; modelparams, devperf -> run; servingperf -> deployment (deleted or not)
        [current] = await reader.get_nodes([current.scope], deleted=True) if current.scope else [None]
    return None


async def check_project(reader: Reader, allowed: frozenset[str] | None, node: Node) -> None:
    if allowed is None:
        return
    project = await project_of(reader, node)
    if project is not None and project not in allowed:
        raise Forbidden("this token may not write to that project")
