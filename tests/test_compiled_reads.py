"""Differential property test of the read path: random valid selections over random
pipeline graphs, answered by the gateway (the compiled path, one store query) and by
the GraphQL executor with its resolvers, each compared with a small reference
interpreter written here over the same generated graph.

The interpreter knows the API from the schema's documentation, typed again here (the
types' fields, where each navigation field leads, the order of pages and lineage), not
from the code under test: a wrong step, order, encoding or page boundary in either path
shows up as a difference. Answers are compared as JSON bytes, so 3 and 3.0 differ.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import string
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import graphql
import httpx
import orjson
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from metagate.gateway.app import create_app
from metagate.gateway.config import Settings
from metagate.resolvers.queries import Limits
from metagate.schema import build_schema
from metagate.schema.context import make_context
from metagate.store.errors import MetagateError
from metagate.store.model import Edge, Kind, Node
from tests.conftest import opened_store
from tests.test_lineage_property import UPSTREAM_END

# --------------------------------------------------------------------------------------
# The API as documented: each type's own fields and where its navigation leads.
# (name, edge kind, "out" = from -> to / "in", many, target type)
# --------------------------------------------------------------------------------------

KIND_TYPE = {
    "project": "Project",
    "dataset": "Dataset",
    "featureset": "Featureset",
    "run": "Run",
    "model": "Model",
    "modelparams": "ModelParams",
    "devperf": "DevPerf",
    "deployment": "Deployment",
    "servingperf": "ServingPerf",
}
TYPE_KIND = {t: k for k, t in KIND_TYPE.items()}
TYPE_KIND_ENUM = {t: Kind(k) for k, t in KIND_TYPE.items()}
BASE = ("id", "kind", "name", "createdAt", "deletedAt", "deletedReason", "tags", "attributes", "__typename")
OWN: dict[str, tuple[str, ...]] = {
    "Run": ("status", "startTime", "endTime", "tag", "deploymentTag"),
    "ModelParams": ("params",),
    "DevPerf": ("metrics", "metric"),
    "Deployment": ("tag",),
    "ServingPerf": ("periodStart", "periodEnd", "metrics"),
}
NAV: dict[str, tuple[tuple[str, str, str, bool, str], ...]] = {
    "Project": (("models", "project_model", "out", True, "Model"),),
    "Dataset": (("featuresets", "featureset_dataset", "in", True, "Featureset"), ("runs", "run_dataset", "in", True, "Run")),
    "Featureset": (
        ("dataset", "featureset_dataset", "out", False, "Dataset"),
        ("runs", "run_featureset", "in", True, "Run"),
        ("deployments", "deployment_featureset", "in", True, "Deployment"),
    ),
    "Run": (
        ("dataset", "run_dataset", "out", False, "Dataset"),
        ("featureset", "run_featureset", "out", False, "Featureset"),
        ("modelParams", "run_modelparams", "out", False, "ModelParams"),
        ("devPerf", "run_devperf", "out", False, "DevPerf"),
        ("model", "run_model", "out", False, "Model"),
    ),
    "Model": (
        ("project", "project_model", "in", False, "Project"),
        ("runs", "run_model", "in", True, "Run"),
        ("deployments", "deployment_model", "in", True, "Deployment"),
    ),
    "ModelParams": (
        ("run", "run_modelparams", "in", False, "Run"),
        ("deployments", "deployment_modelparams", "in", True, "Deployment"),
    ),
    "DevPerf": (("run", "run_devperf", "in", False, "Run"),),
    "Deployment": (
        ("model", "deployment_model", "out", False, "Model"),
        ("featureset", "deployment_featureset", "out", False, "Featureset"),
        ("modelParams", "deployment_modelparams", "out", False, "ModelParams"),
        ("servingPerf", "deployment_servingperf", "out", True, "ServingPerf"),
    ),
    "ServingPerf": (("deployment", "deployment_servingperf", "in", False, "Deployment"),),
}
METRICS = ("rmse", "acc", "absent")

# --------------------------------------------------------------------------------------
# Random pipelines, written straight into the store.
# --------------------------------------------------------------------------------------

TIMES = [f"2026-11-{day:02d}T10:00:00.{micro:06d}Z" for day in (1, 2, 3) for micro in (0, 250000)]
FLOATS = [0.1 + 0.2, 1e-7, 3.0, 1e16, -0.5, 2.5e300]


def numbers(integral_floats: bool) -> st.SearchStrategy[Any]:
    """Numbers for attributes, params and metrics. ``integral_floats``: with the floats
    of integral value (3.0, 1e16, 2.5e300). A graph for ArangoDB holds none: ArangoDB
    writes such a double in JSON as an integer (3.0 as 3), python-arango-async reads
    JSON only (no VelocyPack, which would keep the type), and no AQL tells 3.0 from 3,
    so free-form JSON holding 3.0 comes back as 3 (see ``ArangoStore.answer``). SQLite
    keeps them."""
    floats = [f for f in FLOATS if integral_floats or not f.is_integer()]
    return st.one_of(st.integers(-5, 5), st.sampled_from(floats))


def attributes(integral_floats: bool) -> st.SearchStrategy[dict[str, Any]]:
    values = st.one_of(
        numbers(integral_floats),
        st.booleans(),
        st.none(),
        st.text(string.ascii_letters + "é☃", max_size=4),
        st.just({"b": [1, "x"]}),
    )
    return st.dictionaries(st.sampled_from(["owner", "note", "n", "ok", "nested", "ü"]), values, max_size=3)


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    # Deleted nodes (deleteNode): id -> (when, the reason given). Every edge with a deleted
    # end is hidden: a live node's navigation, lists, lineage and counts leave it out; a
    # deleted node's navigation follows its hidden edges.
    deleted: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    def hidden(self, e: Edge) -> bool:
        return e.from_id in self.deleted or e.to_id in self.deleted

    def live(self, node: Node) -> bool:
        return node.id not in self.deleted

    def of(self, kind: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind.value == kind]


@st.composite
def graphs(draw: st.DrawFn, integral_floats: bool = True) -> Graph:
    g = Graph()
    number = numbers(integral_floats)
    counter = iter(range(10_000))

    def node(kind: Kind, name: str | None, scope: str = "", **fields: Any) -> Node:
        n = Node(
            id=f"{kind.value}/k{next(counter):04d}{draw(st.sampled_from('ab'))}",
            kind=kind,
            name=name,
            created_at=draw(st.sampled_from(TIMES)),
            scope=scope,
            tags=tuple(draw(st.lists(st.sampled_from(["gold", "beta", "x"]), max_size=2, unique=True))),
            attributes=draw(attributes(integral_floats)),
            fields={k: v for k, v in fields.items() if v is not None},
        )
        g.nodes[n.id] = n
        return n

    def edge(kind: str, a: Node, b: Node) -> None:
        g.edges.append(Edge(kind, a.id, b.id, draw(st.sampled_from(TIMES))))

    projects = [node(Kind.PROJECT, f"proj{i}") for i in range(draw(st.integers(1, 2)))]
    datasets = [node(Kind.DATASET, f"data{i}") for i in range(draw(st.integers(1, 3)))]
    featuresets = []
    for i in range(draw(st.integers(0, 3))):
        f = node(Kind.FEATURESET, f"feat{i}")
        edge("featureset_dataset", f, draw(st.sampled_from(datasets)))
        featuresets.append(f)
    tag = iter(range(1000))
    for p, project in enumerate(projects):
        for m in range(draw(st.integers(0, 2))):
            model = node(Kind.MODEL, f"model{m}", scope=project.id)  # the same name in each project
            edge("project_model", project, model)
            for r in range(draw(st.integers(0, 5))):
                status = draw(st.sampled_from(["RUNNING", "COMPLETED", "FAILED", "", None]))
                run = node(
                    Kind.RUN,
                    f"run{r}",
                    scope=model.id,
                    status=status,
                    startTime=draw(st.sampled_from([None, *TIMES])),
                    tag=draw(st.sampled_from([None, "t1", "t2"])),
                    deploymentTag=f"dt{p}-{next(tag)}" if draw(st.booleans()) else None,
                )
                edge("run_model", run, model)
                edge("run_dataset", run, draw(st.sampled_from(datasets)))
                if featuresets and draw(st.booleans()):
                    edge("run_featureset", run, draw(st.sampled_from(featuresets)))
                if draw(st.booleans()):
                    params = node(Kind.MODELPARAMS, None, scope=run.id, params={"depth": draw(number), "lr": 0.1})
                    edge("run_modelparams", run, params)
                if draw(st.booleans()):
                    metrics = draw(st.dictionaries(st.sampled_from(["rmse", "acc"]), number, max_size=2))
                    perf = node(Kind.DEVPERF, None, scope=run.id, metrics=metrics)
                    edge("run_devperf", run, perf)
            for d in range(draw(st.integers(0, 2))):
                deployment = node(Kind.DEPLOYMENT, f"dep{p}-{m}-{d}", tag=f"dep-tag{p}-{m}-{d}")
                edge("deployment_model", deployment, model)
                if featuresets and draw(st.booleans()):
                    edge("deployment_featureset", deployment, draw(st.sampled_from(featuresets)))
                for s in range(draw(st.integers(0, 3))):
                    perf = node(
                        Kind.SERVINGPERF,
                        None,
                        scope=deployment.id,
                        periodStart=f"2026-11-{s + 1:02d}T00:00:00.000000Z",
                        periodEnd=f"2026-11-{s + 2:02d}T00:00:00.000000Z",
                        metrics={"auc": draw(number)},
                    )
                    edge("deployment_servingperf", deployment, perf)
    for node_id in sorted(g.nodes):
        if draw(st.integers(0, 5)) == 0:
            g.deleted[node_id] = (draw(st.sampled_from(TIMES)), draw(st.sampled_from([None, "wrong data"])))
    return g


# --------------------------------------------------------------------------------------
# The reference interpreter.
# --------------------------------------------------------------------------------------


def gid(node_id: str) -> str:
    return base64.urlsafe_b64encode(node_id.encode()).decode().rstrip("=")


def api_time(stored: Any) -> str | None:
    if not isinstance(stored, str):
        return None
    return dt.datetime.strptime(stored, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC).isoformat()


def cursor(value: Any, node_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([value, node_id])).decode().rstrip("=")


class Reference:
    def __init__(self, g: Graph) -> None:
        self.g = g

    def neighbours(self, node: Node, edge_kind: str, way: str) -> list[Node]:
        # A live node's live edges; a deleted one's, all hidden with it.
        edges = [e for e in self.g.edges if e.kind == edge_kind and self.g.hidden(e) == (node.id in self.g.deleted)]
        if way == "out":
            found = [self.g.nodes[e.to_id] for e in edges if e.from_id == node.id]
        else:
            found = [self.g.nodes[e.from_id] for e in edges if e.to_id == node.id]
        return sorted(found, key=lambda n: (n.created_at, n.id), reverse=True)

    def own(self, node: Node, name: str, args: dict[str, Any]) -> Any:
        f = node.fields
        if name in ("startTime", "endTime", "periodStart", "periodEnd"):
            return api_time(f.get(name))
        if name in ("params", "metrics"):
            return f.get(name, {})
        if name == "status":
            return f.get("status") or None
        if name == "metric":
            value = f.get("metrics", {}).get(args["name"])
            return float(value) if value is not None else None
        return f.get(name)

    def base(self, node: Node, name: str) -> Any:
        deleted_at, reason = self.g.deleted.get(node.id, (None, None))
        return {
            "id": gid(node.id),
            "kind": node.kind.value.upper(),
            "name": node.name,
            "createdAt": api_time(node.created_at),
            "deletedAt": api_time(deleted_at),
            "deletedReason": reason,
            "tags": list(node.tags),
            "attributes": node.attributes,
            "__typename": KIND_TYPE[node.kind.value],
        }[name]


# --------------------------------------------------------------------------------------
# Random selections: each is rendered as GraphQL and evaluated by the reference.
# --------------------------------------------------------------------------------------

Evaluate = Callable[[Reference, Node], list[tuple[str, Any]]]
Page = list[tuple[Node, str]]


class Aliases:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"a{self.n}"


def _after(items: list[tuple[Node, Any]], after: tuple[Any, str] | None, descending: bool) -> list[tuple[Node, Any]]:
    """The items past the position ``after`` (sort value, id) in their order."""
    if after is None:
        return items
    if descending:
        return [(n, v) for n, v in items if (v, n.id) < after]
    return [(n, v) for n, v in items if (v, n.id) > after]


@st.composite
def connection(draw: st.DrawFn, type_name: str, alias: Aliases, depth: int) -> tuple[str, Callable[..., Any]]:
    """A selection of a connection of ``type_name`` nodes: its text, and its answer from
    (reference, page of (node, cursor), has next, has previous)."""
    parts: list[tuple[str, str, Any]] = []
    for part in draw(st.lists(st.sampled_from(["nodes", "edges", "pageInfo", "__typename"]), min_size=1, max_size=3)):
        if part in ("nodes", "edges"):
            parts.append((alias(), part, draw(selection(type_name, alias, depth))))
        elif part == "pageInfo":
            names = ["hasNextPage", "hasPreviousPage", "startCursor", "endCursor", "__typename"]
            parts.append((alias(), part, draw(st.lists(st.sampled_from(names), min_size=1, max_size=5, unique=True))))
        else:
            parts.append((alias(), part, None))
    texts = {
        "nodes": lambda extra: f"nodes {{ {extra[0]} }}",
        "edges": lambda extra: f"edges {{ c: cursor node {{ {extra[0]} }} }}",
        "pageInfo": lambda extra: f"pageInfo {{ {' '.join(extra)} }}",
        "__typename": lambda extra: "__typename",
    }
    text = " ".join(f"{key}: {texts[part](extra)}" for key, part, extra in parts)

    def answer(ref: Reference, items: Page, has_next: bool, has_previous: bool) -> Any:
        out: dict[str, Any] = {}
        for key, part, extra in parts:
            if part == "nodes":
                out[key] = [dict(extra[1](ref, n)) for n, _ in items]
            elif part == "edges":
                out[key] = [{"c": c, "node": dict(extra[1](ref, n))} for n, c in items]
            elif part == "pageInfo":
                info = {
                    "hasNextPage": has_next,
                    "hasPreviousPage": has_previous,
                    "startCursor": items[0][1] if items else None,
                    "endCursor": items[-1][1] if items else None,
                    "__typename": "PageInfo",
                }
                out[key] = {f: info[f] for f in extra}
            else:
                out[key] = f"{type_name}Connection"
        return out

    return text, answer


@st.composite
def selection(draw: st.DrawFn, type_name: str, alias: Aliases, depth: int) -> tuple[str, Evaluate]:
    """A selection on ``type_name``: a node type, or the Node interface."""
    concrete = type_name != "Node"
    fields = [*BASE, *OWN.get(type_name, ())]
    navigation = NAV.get(type_name, ()) if concrete and depth > 0 else ()
    kinds = ["field", "field"] + (["nav", "nav"] if navigation else []) + ([] if concrete else ["fragment"])
    items: list[tuple[str, Evaluate]] = []
    for _ in range(draw(st.integers(1, 4))):
        what = draw(st.sampled_from(kinds))
        key = alias()
        if what == "fragment":
            on = draw(st.sampled_from(sorted(TYPE_KIND)))
            text, inner = draw(selection(on, alias, depth))
            items.append((f"... on {on} {{ {text} }}", _only(on, inner)))
        elif what == "nav":
            name, edge_kind, way, many, target = draw(st.sampled_from(navigation))
            items.append(draw(navigation_field(key, name, edge_kind, way, many, target, alias, depth)))
        else:
            name = draw(st.sampled_from(fields))
            args = {"name": draw(st.sampled_from(METRICS))} if name == "metric" else {}
            text = f'{key}: {name}(name: "{args["name"]}")' if args else f"{key}: {name}"
            items.append((text, _field(key, name, args)))

    def evaluate(ref: Reference, node: Node) -> list[tuple[str, Any]]:
        return [pair for _, each in items for pair in each(ref, node)]

    return " ".join(t for t, _ in items), evaluate


def _only(type_name: str, inner: Evaluate) -> Evaluate:
    return lambda ref, node: inner(ref, node) if KIND_TYPE[node.kind.value] == type_name else []


def _field(key: str, name: str, args: dict[str, Any]) -> Evaluate:
    return lambda ref, node: [(key, ref.base(node, name) if name in BASE else ref.own(node, name, args))]


@st.composite
def navigation_field(
    draw: st.DrawFn, key: str, name: str, edge_kind: str, way: str, many: bool, target: str, alias: Aliases, depth: int
) -> tuple[str, Evaluate]:
    if not many:
        text, inner = draw(selection(target, alias, depth - 1))

        def one(ref: Reference, node: Node) -> list[tuple[str, Any]]:
            found = ref.neighbours(node, edge_kind, way)
            return [(key, dict(inner(ref, found[0])) if found else None)]

        return f"{key}: {name} {{ {text} }}", one
    first = draw(st.integers(1, 4))
    after = draw(st.one_of(st.none(), st.tuples(st.sampled_from(TIMES), st.sampled_from(["", "run/k0004b", "zzz"]))))
    ctext, answer = draw(connection(target, alias, depth - 1))
    arguments = f"first: {first}" + (f', after: "{cursor(*after)}"' if after else "")

    def page(ref: Reference, node: Node) -> list[tuple[str, Any]]:
        items = _after([(n, n.created_at) for n in ref.neighbours(node, edge_kind, way)], after, descending=True)
        shown = [(n, cursor(v, n.id)) for n, v in items[:first]]
        return [(key, answer(ref, shown, len(items) > first, after is not None))]

    return f"{key}: {name}({arguments}) {{ {ctext} }}", page


# --------------------------------------------------------------------------------------
# Roots.
# --------------------------------------------------------------------------------------

LISTS = {"projects": "Project", "datasets": "Dataset", "featuresets": "Featureset", "models": "Model", "runs": "Run"}
LISTS["deployments"] = "Deployment"
Root = tuple[str, Callable[[Reference], Any]]


def _count(ref: Reference, project: Node, what: str) -> int:
    def ends(sources: set[str], edge_kind: str, near: str) -> set[str]:
        far = "to_id" if near == "from_id" else "from_id"
        return {
            getattr(e, far) for e in ref.g.edges if e.kind == edge_kind and getattr(e, near) in sources and not ref.g.hidden(e)
        }

    models = ends({project.id}, "project_model", "from_id")
    runs = ends(models, "run_model", "to_id")
    return {
        "models": len(models),
        "runs": len(runs),
        "datasets": len(ends(runs, "run_dataset", "from_id")),
        "featuresets": len(ends(runs, "run_featureset", "from_id")),
        "deployments": len(ends(models, "deployment_model", "to_id")),
    }[what]


@st.composite
def node_root(draw: st.DrawFn, key: str, g: Graph, alias: Aliases) -> Root:
    target = g.nodes[draw(st.sampled_from(sorted(g.nodes)))]
    own = KIND_TYPE[target.kind.value]
    on = draw(st.sampled_from(["Node", own]))
    text, evaluate = draw(selection(on, alias, 3))
    if on == own:
        text = f"... on {own} {{ {text} }}"  # `node` is of the interface: the type's own fields need a fragment
    return f'{key}: node(id: "{gid(target.id)}") {{ {text} }}', lambda ref: dict(evaluate(ref, target))


@st.composite
def nodes_root(draw: st.DrawFn, key: str, g: Graph, alias: Aliases) -> Root:
    targets = draw(st.lists(st.sampled_from([*sorted(g.nodes), "run/missing"]), max_size=4))
    text, evaluate = draw(selection("Node", alias, 2))
    ids = ", ".join(f'"{gid(t)}"' for t in targets)
    return (
        f"{key}: nodes(ids: [{ids}]) {{ {text} }}",
        lambda ref: [dict(evaluate(ref, ref.g.nodes[t])) if t in ref.g.nodes else None for t in targets],
    )


@st.composite
def lookup_root(draw: st.DrawFn, key: str, g: Graph, alias: Aliases) -> Root:
    named = [n for n in g.nodes.values() if n.name is not None]
    target = draw(st.sampled_from(named))
    field_name = target.kind.value
    scope = ""
    if target.kind in (Kind.MODEL, Kind.RUN):
        argument = "projectId" if target.kind is Kind.MODEL else "modelId"
        scope = f', {argument}: "{gid(target.scope)}"'
    text, evaluate = draw(selection(KIND_TYPE[field_name], alias, 2))
    # A deleted node's name names nothing (it is free for another).
    return (
        f'{key}: {field_name}(name: "{target.name}"{scope}) {{ {text} }}',
        lambda ref: dict(evaluate(ref, target)) if ref.g.live(target) else None,
    )


# The where language: a random tree over a kind, rendered as GraphQL and evaluated here
# from its documented semantics (every test true or false; a missing value fails it).

_TEXT_OPS: dict[str, Callable[[str, Any], bool]] = {
    "eq": lambda v, x: v == x,
    "in": lambda v, x: v in x,
    "contains": lambda v, x: x in v,
    "startsWith": lambda v, x: v.startswith(x),
}
_ORDER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda v, x: v == x,
    "lt": lambda v, x: v < x,
    "lte": lambda v, x: v <= x,
    "gt": lambda v, x: v > x,
    "gte": lambda v, x: v >= x,
}
WhereTest = Callable[[Reference, Node], bool]


def _gql(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_gql(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return orjson.dumps(value).decode()
    return repr(value)


@st.composite
def _text_test(draw: st.DrawFn, values: list[str]) -> tuple[str, Callable[[Any], bool]]:
    op = draw(st.sampled_from(sorted(_TEXT_OPS)))
    operand: Any = draw(st.lists(st.sampled_from(values), max_size=3)) if op == "in" else draw(st.sampled_from(values))
    test = _TEXT_OPS[op]
    return f"{{{op}: {_gql(operand)}}}", lambda v: isinstance(v, str) and test(v, operand)


@st.composite
def _order_test(draw: st.DrawFn, values: list[Any], number: bool) -> tuple[str, Callable[[Any], bool]]:
    ops = draw(st.lists(st.sampled_from(sorted(_ORDER_OPS)), min_size=1, max_size=2, unique=True))
    chosen = [(op, draw(st.sampled_from(values))) for op in ops]

    def holds(v: Any) -> bool:
        if number:
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                return False
        elif not isinstance(v, str):
            return False
        return all(_ORDER_OPS[op](v, x) for op, x in chosen)

    return ", ".join(f"{op}: {_gql(x)}" for op, x in chosen), holds


def _same_scalar(a: Any, b: Any) -> bool:
    if b is None or isinstance(b, bool):
        return a is b
    if isinstance(b, (int, float)):
        return isinstance(a, (int, float)) and not isinstance(a, bool) and a == b
    return isinstance(a, str) and a == b


_TIMES_OWN = frozenset({"startTime", "endTime", "periodStart", "periodEnd"})


@st.composite
def where_tree(draw: st.DrawFn, type_name: str, depth: int = 0) -> tuple[str, WhereTest]:
    """From the test's own table of each type's fields (OWN, NAV), not the product's."""
    choices = ["name", "tags", "createdAt", "attribute"]
    choices += [f for f in OWN.get(type_name, ()) if f not in ("metrics", "params")]
    if depth < 2:
        choices += [nav[0] for nav in NAV.get(type_name, ())] + ["AND", "OR", "NOT"]
    field_name = draw(st.sampled_from(choices))
    if field_name in ("AND", "OR"):
        parts = draw(st.lists(where_tree(type_name, depth + 1), max_size=3))
        combine = all if field_name == "AND" else any
        text = f"{field_name}: [{', '.join('{' + t + '}' for t, _ in parts)}]"
        return text, lambda ref, n: combine(test(ref, n) for _, test in parts)
    if field_name == "NOT":
        inner, test = draw(where_tree(type_name, depth + 1))
        return f"NOT: {{{inner}}}", lambda ref, n: not test(ref, n)
    if field_name == "name":
        text, holds = draw(_text_test(["run1", "model0", "data1", "feat0", "dep0-0-0", "1", "run", "a", "proj"]))
        return f"name: {text}", lambda ref, n: holds(n.name)
    if field_name == "tags":
        text, holds = draw(_text_test(["gold", "beta", "x", "go", "a"]))
        return f"tags: {text}", lambda ref, n: any(holds(t) for t in n.tags)
    if field_name == "createdAt":
        text, holds = draw(_order_test(TIMES, number=False))
        return f"createdAt: {{{text}}}", lambda ref, n: holds(n.created_at)
    if field_name == "attribute":
        key = draw(st.sampled_from(["owner", "note", "n", "ok"]))
        values = [1, -5, 0.5, "a", "é", True, False, None]
        if draw(st.booleans()):
            v = draw(st.sampled_from(values))
            return (
                f'attribute: {{key: "{key}", eq: {_gql(v)}}}',
                lambda ref, n: key in n.attributes and _same_scalar(n.attributes[key], v),
            )
        vs = draw(st.lists(st.sampled_from([x for x in values if x is not None]), max_size=3))
        return (
            f'attribute: {{key: "{key}", in: {_gql(vs)}}}',
            lambda ref, n: key in n.attributes and any(_same_scalar(n.attributes[key], v) for v in vs),
        )
    if field_name == "metric":
        metric = draw(st.sampled_from(["rmse", "acc"]))
        text, holds = draw(_order_test([-1, 0, 0.3, 0.5, 2], number=True))
        return f'metric: {{name: "{metric}", {text}}}', lambda ref, n: holds(n.fields.get("metrics", {}).get(metric))
    if field_name in _TIMES_OWN:
        text, holds = draw(_order_test(TIMES, number=False))
        return f"{field_name}: {{{text}}}", lambda ref, n: holds(n.fields.get(field_name))
    if field_name == "status":
        statuses = draw(st.lists(st.sampled_from(["RUNNING", "COMPLETED", "FAILED"]), min_size=1, max_size=2))
        return f"status: {{in: [{', '.join(statuses)}]}}", lambda ref, n: n.fields.get("status") in statuses
    if field_name in OWN.get(type_name, ()):  # tag, deploymentTag: text
        text, holds = draw(_text_test(["t1", "t2", "dt0-1", "dt", "dep-tag0-0-0", "dep"]))
        return f"{field_name}: {text}", lambda ref, n: holds(n.fields.get(field_name))
    [(_, edge_kind, way, _, target)] = [nav for nav in NAV[type_name] if nav[0] == field_name]
    inner, test = draw(where_tree(target, depth + 1))
    return f"{field_name}: {{{inner}}}", lambda ref, n: any(test(ref, m) for m in ref.neighbours(n, edge_kind, way))


@st.composite
def list_root(draw: st.DrawFn, key: str, g: Graph, alias: Aliases) -> Root:
    where: WhereTest | None = None
    if draw(st.booleans()):
        name = draw(st.sampled_from(sorted(LISTS)))
        type_name, kinds = LISTS[name], [TYPE_KIND[LISTS[name]]]
        order = draw(st.sampled_from(["CREATED_AT", "NAME", *(["METRIC"] if name == "runs" else [])]))
        descending = draw(st.booleans())
        metric = draw(st.sampled_from(["rmse", "acc"]))
        order_text = f"orderBy: {{field: {order}, direction: {'DESC' if descending else 'ASC'}"
        order_text += f', metric: "{metric}"}}' if order == "METRIC" else "}"
        contains = draw(st.sampled_from([None, "1", "run", "o"]))
        filter_text = f', filter: {{nameContains: "{contains}"}}' if contains else ""
        if draw(st.booleans()):
            where_text, where = draw(where_tree(type_name))
            filter_text += f", where: {{{where_text}}}"
        head, text_kind = f"{name}({order_text}{filter_text}", type_name
    else:
        kinds = draw(st.lists(st.sampled_from(sorted(KIND_TYPE)), min_size=1, max_size=3, unique=True))
        contains = draw(st.sampled_from([None, "1", "data", "e"]))
        order, descending, metric = "CREATED_AT", True, ""
        kinds_text = ", ".join(k.upper() for k in kinds)
        head = f"search(kinds: [{kinds_text}]" + (f', text: "{contains}"' if contains else "")
        text_kind = "Node"  # search answers the interface, whatever the kinds
    first = draw(st.integers(1, 5))
    include_deleted = draw(st.booleans())
    if include_deleted:
        head += ", includeDeleted: true"
    candidates = [
        n
        for n in g.nodes.values()
        if n.kind.value in kinds and (contains is None or (n.name or "").find(contains) >= 0) and (include_deleted or g.live(n))
    ]
    if where is not None:
        candidates = [n for n in candidates if where(Reference(g), n)]
    if contains is not None:
        candidates = [n for n in candidates if n.name is not None]

    def value(n: Node) -> Any:
        if order == "NAME":
            return n.name
        if order == "METRIC":
            perf = Reference(g).neighbours(n, "run_devperf", "out")
            found = perf[0].fields.get("metrics", {}).get(metric) if perf else None
            return float(found) if found is not None else None
        return n.created_at

    items = [(n, value(n)) for n in candidates]
    items = [(n, v) for n, v in items if v is not None]
    items.sort(key=lambda item: (item[1], item[0].id), reverse=descending)
    after = None
    if items and draw(st.booleans()):
        n, v = draw(st.sampled_from(items))
        after = (v, n.id)
    ctext, answer = draw(connection(text_kind, alias, 2))
    arguments = f", first: {first}" + (f', after: "{cursor(*after)}"' if after else "")
    rest = _after(items, after, descending)
    shown = [(n, cursor(v, n.id)) for n, v in rest[:first]]
    return f"{key}: {head}{arguments}) {{ {ctext} }}", lambda ref: answer(ref, shown, len(rest) > first, after is not None)


def _walk(g: Graph, start: str, direction: str, depth: int, include_deleted: bool = False) -> dict[str, int]:
    """Breadth-first: each node reached upstream (or downstream) of ``start`` and its
    least depth, following DESIGN.md's table, along live edges (or every edge)."""
    seen = {start: 0}
    queue = deque([start])
    while queue:
        here = queue.popleft()
        if seen[here] == depth:
            continue
        for e in g.edges:
            up = UPSTREAM_END[e.kind.upper()]
            if up is None or (g.hidden(e) and not include_deleted):
                continue
            upstream, downstream = (e.to_id, e.from_id) if up == "to" else (e.from_id, e.to_id)
            near, far = (downstream, upstream) if direction == "upstream" else (upstream, downstream)
            if near == here and far not in seen:
                seen[far] = seen[here] + 1
                queue.append(far)
    del seen[start]
    return seen


@st.composite
def lineage_root(draw: st.DrawFn, key: str, g: Graph, alias: Aliases) -> Root:
    start = g.nodes[draw(st.sampled_from(sorted(g.nodes)))]
    direction = draw(st.sampled_from(["UPSTREAM", "DOWNSTREAM", "BOTH"]))
    depth = draw(st.integers(1, 6))
    limit = draw(st.integers(1, 12))
    kinds = draw(st.one_of(st.none(), st.lists(st.sampled_from(sorted(KIND_TYPE)), min_size=1, max_size=3, unique=True)))
    include_deleted = draw(st.booleans())
    dirs = ["upstream", "downstream"] if direction == "BOTH" else [direction.lower()]
    entries = [
        (g.nodes[node_id], d, dir_)
        for dir_ in dirs
        for node_id, d in _walk(g, start.id, dir_, depth, include_deleted).items()
        if kinds is None or g.nodes[node_id].kind.value in kinds
    ]
    entries.sort(key=lambda x: (x[1], x[0].kind.value, x[0].created_at, x[0].id))
    kept = entries[:limit]
    kept_ids = {n.id for n, _, _ in kept} | {start.id}
    walkers = [(n.id, d, dir_) for n, d, dir_ in kept] + [(start.id, 0, dir_) for dir_ in dirs]
    followed = set()
    for node_id, d, dir_ in walkers:
        if d >= depth:
            continue
        for e in g.edges:
            up = UPSTREAM_END[e.kind.upper()]
            if up is None or (g.hidden(e) and not include_deleted):
                continue
            upstream, downstream = (e.to_id, e.from_id) if up == "to" else (e.from_id, e.to_id)
            near, far = (downstream, upstream) if dir_ == "upstream" else (upstream, downstream)
            if near == node_id and far in kept_ids:
                followed.add((e.kind, e.from_id, e.to_id, e.created_at))
    edges = sorted(followed)
    root_text, root_eval = draw(selection("Node", alias, 1))
    node_text, node_eval = draw(selection("Node", alias, 1))
    parts = draw(
        st.lists(st.sampled_from(["root", "nodes", "edges", "truncated", "__typename"]), min_size=1, max_size=4, unique=True)
    )
    edge_fields = draw(st.lists(st.sampled_from(["id", "kind", "from", "to", "createdAt"]), min_size=1, max_size=5, unique=True))
    texts = {
        "root": f"root {{ {root_text} }}",
        "nodes": f"nodes {{ depth direction __typename node {{ {node_text} }} }}",
        "edges": f"edges {{ {' '.join(edge_fields)} }}",
        "truncated": "truncated",
        "__typename": "__typename",
    }

    def edge(e: tuple[str, str, str, str]) -> dict[str, Any]:
        kind, a, b, created = e
        values = {
            "id": gid(f"{kind}/{a.partition('/')[2]}-{b.partition('/')[2]}"),
            "kind": kind.upper(),
            "from": gid(a),
            "to": gid(b),
            "createdAt": api_time(created),
        }
        return {f: values[f] for f in edge_fields}

    def answer(ref: Reference) -> dict[str, Any]:
        values = {
            "root": lambda: dict(root_eval(ref, start)),
            "nodes": lambda: [
                {"depth": d, "direction": dir_.upper(), "__typename": "LineageNode", "node": dict(node_eval(ref, n))}
                for n, d, dir_ in kept
            ],
            "edges": lambda: [edge(e) for e in edges],
            "truncated": lambda: len(entries) > limit,
            "__typename": lambda: "Lineage",
        }
        return {part: values[part]() for part in parts}

    arguments = f'id: "{gid(start.id)}", direction: {direction}, depth: {depth}, limit: {limit}'
    if kinds is not None:
        arguments += f", kinds: [{', '.join(k.upper() for k in kinds)}]"
    if include_deleted:
        arguments += ", includeDeleted: true"
    return f"{key}: lineage({arguments}) {{ {' '.join(texts[p] for p in parts)} }}", answer


@st.composite
def summary_root(draw: st.DrawFn, key: str, g: Graph, alias: Aliases) -> Root:
    project = draw(st.sampled_from(g.of("project")))
    text, evaluate = draw(selection("Project", alias, 2))
    counted = draw(
        st.lists(st.sampled_from(["models", "runs", "datasets", "featuresets", "deployments"]), max_size=5, unique=True)
    )
    body = " ".join([f"p: project {{ {text} }}", *counted])
    return (
        f'{key}: projectSummary(projectId: "{gid(project.id)}") {{ {body} }}',
        lambda ref: {"p": dict(evaluate(ref, project)), **{n: _count(ref, project, n) for n in counted}},
    )


ROOTS = {
    "node": node_root,
    "nodes": nodes_root,
    "lookup": lookup_root,
    "list": list_root,
    "lineage": lineage_root,
    "summary": summary_root,
}


# A root the API answers with an error, as documented: (text, code, the argument named).
# Every root field is non-null, so the operation's data is null; an operation holds at
# most one (the executor reports the first error of a null root, and which one comes
# first among several is not specified).
Failing = tuple[str, str, str]


@st.composite
def failing_root(draw: st.DrawFn, key: str, g: Graph, alias: Aliases) -> Failing:
    some = gid(draw(st.sampled_from(sorted(g.nodes))))
    missing = {k: gid(f"{k}/missing") for k in ("run", "project", "dataset")}
    which = draw(
        st.sampled_from(
            [
                (f'node(id: "{missing["dataset"]}") {{ id }}', "NOT_FOUND", "id"),
                ('node(id: "not an id!") { id }', "BAD_USER_INPUT", "id"),
                (f'nodes(ids: ["{some}", "garbage!"]) {{ id }}', "BAD_USER_INPUT", "ids"),
                (f'lineage(id: "{missing["run"]}") {{ truncated }}', "NOT_FOUND", "id"),
                (f'lineage(id: "{some}", depth: 0) {{ truncated }}', "BAD_USER_INPUT", "depth"),
                (f'lineage(id: "{some}", limit: 0) {{ nodes {{ depth }} }}', "BAD_USER_INPUT", "limit"),
                (f'projectSummary(projectId: "{missing["project"]}") {{ runs }}', "NOT_FOUND", "id"),
                ('runs(first: 2, after: "not a cursor") { nodes { id } }', "BAD_USER_INPUT", "after"),
                ("datasets(first: 101) { nodes { id } }", "BAD_USER_INPUT", "first"),
                ("runs(orderBy: {field: METRIC, direction: ASC}) { nodes { id } }", "BAD_USER_INPUT", "orderBy"),
            ]
        )
    )
    text, code, argument = which
    return f"{key}: {text}", code, argument


Operation = tuple[str, Callable[[Reference], dict[str, Any]], dict[str, Any] | None]


@st.composite
def operations(draw: st.DrawFn, g: Graph) -> Operation:
    """An operation, how the reference answers its data, and the one error it must
    answer instead (``{path, extensions}``), or None."""
    alias = Aliases()
    parts: list[tuple[str, str, Callable[[Reference], Any]]] = []
    error: dict[str, Any] | None = None
    for _ in range(draw(st.integers(1, 3))):
        key = alias()
        which = draw(st.sampled_from([*ROOTS, "__typename", *(["failing"] if error is None else [])]))
        if which == "__typename":
            parts.append((key, f"{key}: __typename", lambda ref: "Query"))
        elif which == "failing":
            text, code, argument = draw(failing_root(key, g, alias))
            parts.append((key, text, lambda ref: None))
            error = {"path": [key], "extensions": {"code": code, "field": argument}}
        else:
            text, evaluate = draw(ROOTS[which](key, g, alias))
            parts.append((key, text, evaluate))
    text = "{ " + " ".join(t for _, t, _ in parts) + " }"
    return text, lambda ref: {key: evaluate(ref) for key, _, evaluate in parts}, error


# --------------------------------------------------------------------------------------
# The test.
# --------------------------------------------------------------------------------------


def _answered(data: Any, errors: list[dict[str, Any]] | None) -> bytes:
    """An answer as compared: its data, and each error's path and extensions (its message
    is the product's wording, not the interpreter's)."""
    if not errors:
        return orjson.dumps({"data": data})
    return orjson.dumps({"data": data, "errors": [{"path": e.get("path"), "extensions": e.get("extensions")} for e in errors]})


async def _check(adapter: str, g: Graph, queries: list[Operation]) -> None:
    async with opened_store(adapter) as store:
        async with store.write() as tx:
            await tx.insert_nodes(list(g.nodes.values()))
            await tx.insert_edges(g.edges)
            for node_id, (at, reason) in g.deleted.items():
                await tx.delete_nodes([node_id], at, reason)
        limits = Limits(max_aliases=1000)  # every field is aliased here
        app = create_app(Settings(AUTH=False, LIMITS=limits), store=store)
        schema = build_schema(limits)
        ref = Reference(g)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            for text, expected, error in queries:
                want = _answered(expected(ref), None) if error is None else _answered(None, [error])
                before = getattr(store, "statements", None)
                response = await http.post("/graphql", json={"query": text})
                answer = response.json()
                assert _answered(answer["data"], answer.get("errors")) == want, f"gateway\n{text}\n{answer}"
                if before is not None and error is None:
                    # Answered in one statement: the compiled path, not the resolvers.
                    assert store.statements - before == 1, text  # type: ignore[attr-defined]
                executed = await graphql.graphql(schema._schema, text, context_value=make_context(store, limits, "test"))
                # An error that bubbles to a non-null parent leaves its sibling fields
                # settling in the background (graphql-core's settle_in_background): let
                # them end here, before the store and this example's event loop close,
                # which would leave their resolvers' coroutines never awaited.
                settling = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                await asyncio.gather(*settling, return_exceptions=True)
                # The executor alone, without the schema's extensions: each error's code
                # is that of the error its resolver raised, as the gateway reports it.
                errors = [
                    {"path": e.path, "extensions": {"code": o.code, **o.details} if isinstance(o, MetagateError) else None}
                    for e in executed.errors or []
                    for o in [e.original_error]
                ]
                assert _answered(executed.data, errors) == want, f"executor\n{text}\n{executed.errors}"


@st.composite
def cases(draw: st.DrawFn, adapter: str) -> tuple[Graph, list[Operation]]:
    # ArangoDB gives back a stored 3.0 as 3 (see ``numbers``): its graphs hold no such
    # float, SQLite's do.
    g = draw(graphs(integral_floats=adapter != "arangodb"))
    return g, draw(st.lists(operations(g), min_size=1, max_size=6))


@pytest.mark.parametrize("adapter", ["sqlite-memory", "arangodb"])
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_the_compiled_answer_and_the_executors_agree_with_a_reference_interpreter(adapter: str, data: st.DataObject) -> None:
    g, queries = data.draw(cases(adapter), label="case")
    asyncio.run(_check(adapter, g, queries))


def _floats(value: Any) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for v in value.values() for f in _floats(v)]
    if isinstance(value, list):
        return [f for v in value for f in _floats(v)]
    return []


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=cases("arangodb"))
def test_graphs_for_arangodb_hold_no_integral_floats(case: Any) -> None:
    g, _ = case
    for n in g.nodes.values():
        assert not any(f.is_integer() for f in _floats([n.attributes, n.fields])), n


def test_graphs_for_sqlite_hold_integral_floats() -> None:
    assert find(numbers(integral_floats=True), lambda v: isinstance(v, float) and v.is_integer()) == 3.0


@st.composite
def where_cases(draw: st.DrawFn, adapter: str) -> tuple[Graph, list[Operation]]:
    """Lists filtered by random where trees, several conditions at the top."""
    g = draw(graphs(integral_floats=adapter != "arangodb"))
    queries = []
    for i in range(4):
        name = draw(st.sampled_from(sorted(LISTS)))
        kind = TYPE_KIND_ENUM[LISTS[name]]
        parts = draw(st.lists(where_tree(LISTS[name]), min_size=1, max_size=3))
        combine = draw(st.sampled_from(["AND", "OR"]))
        text = f"{combine}: [{', '.join('{' + t + '}' for t, _ in parts)}]"
        test = all if combine == "AND" else any

        def answer(ref: Reference, name: str = name, kind: Kind = kind, parts: Any = parts, test: Any = test) -> dict[str, Any]:
            kept = [n for n in ref.g.nodes.values() if n.kind is kind and ref.g.live(n) and test(t(ref, n) for _, t in parts)]
            kept.sort(key=lambda n: (n.created_at, n.id), reverse=True)
            return {"nodes": [{"id": gid(n.id)} for n in kept]}

        queries.append((f"w{i}: {name}(first: 100, where: {{{text}}}) {{ nodes {{ id }} }}", answer))
    text = "{ " + " ".join(q for q, _ in queries) + " }"
    return g, [(text, lambda ref: {f"w{i}": a(ref) for i, (_, a) in enumerate(queries)}, None)]


@pytest.mark.parametrize("adapter", ["sqlite-memory", "arangodb"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_where_trees_keep_what_the_reference_keeps(adapter: str, data: st.DataObject) -> None:
    g, queries = data.draw(where_cases(adapter), label="case")
    asyncio.run(_check(adapter, g, queries))
