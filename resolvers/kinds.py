"""User-defined kinds (Arangopipe's schema extension): an admin declares node kinds, with
an optional JSON Schema for their nodes' attributes, and edge kinds between any two kinds
with the end that is upstream; writers then log nodes of those kinds and link nodes by
those edges. Declarations are data the store keeps: the GraphQL schema stays as it is
(every such node is a CustomNode), and a lineage walk reads a declared edge kind's
direction from its declaration.

Declaring is idempotent: the same declaration again returns the stored one; the same
name declared otherwise is a CONFLICT (a declaration never changes: nodes and edges were
written and walked under it). A node of a declared kind is named uniquely within its
kind; logging a name the kind has returns the stored node and adds the links it does not
have yet. That is registration's rule, not a run's: the node is a named thing, not a
record of one execution, so tags and attributes stated again are not compared (addTags
and updateAttributes change them). Attributes are checked against the kind's schema on every write.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import jsonschema
import orjson
import referencing
import referencing.jsonschema
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema_specifications import REGISTRY as SPECIFICATIONS
from referencing.exceptions import Unresolvable

from metagate.resolvers import validate
from metagate.resolvers.authz import check_project
from metagate.resolvers.registry import Registered, Then, _commit, _inputs, _insert_new, _node, found_free
from metagate.store.errors import BadUserInput, Conflict, NotFound
from metagate.store.model import (
    BUILTIN_KINDS,
    DECLARED_NAME,
    Edge,
    EdgeKindDecl,
    End,
    JSONObject,
    Kind,
    Node,
    NodeKindDecl,
    utcnow,
)
from metagate.store.port import NameKey, Reader, Store, Tx, atomically

if TYPE_CHECKING:
    from referencing._core import Resolver  # the type resolver_with_root returns

MAX_KINDS = 1000  # node kinds, and edge kinds, a store may declare
MAX_LINKS = 1000  # links of one call
MAX_DESCRIPTION = 2000


@dataclass(frozen=True)
class Declared:
    kind: NodeKindDecl | EdgeKindDecl
    created: bool


@dataclass(frozen=True)
class LinkSpec:
    """A link of a node being logged: along ``edge_kind`` to ``to_id`` (the node is the
    edge's from end) or from ``from_id`` (its to end)."""

    edge_kind: str
    from_id: str | None = None
    to_id: str | None = None


@dataclass(frozen=True)
class Linked:
    edge: Edge
    created: bool


def _declared_name(value: str, *, field: str) -> str:
    if not isinstance(value, str) or DECLARED_NAME.fullmatch(value) is None:
        raise BadUserInput(f"{field}: a declared name is 1 to 63 of a-z, 0-9 and _, starting with a letter", field=field)
    return value


def _description(value: str | None) -> str | None:
    if value is not None and len(value) > MAX_DESCRIPTION:
        raise BadUserInput(f"description is longer than {MAX_DESCRIPTION} characters", field="description")
    return value


# A schema's references resolve within it (and to the JSON Schema meta-schemas): the
# registry retrieves nothing, so a reference to another document is refused, not fetched.
_LOCAL = referencing.Registry()


def _validator_class(schema: JSONObject) -> Any:
    return jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)


def _check_schema(schema: Any) -> JSONObject | None:
    if schema is None:
        return None
    schema = validate.json_object(schema, field="schema")
    cls = _validator_class(schema)
    try:
        cls.check_schema(schema)
    except SchemaError as error:
        where = "/".join(str(p) for p in error.absolute_path)
        at = f" at {where}" if where else ""
        raise BadUserInput(f"schema is not a valid JSON Schema{at}: {error.message}", field="schema") from None
    dialect = referencing.jsonschema.specification_with(
        cls.ID_OF(cls.META_SCHEMA) or "urn:unknown-dialect", default=referencing.Specification.OPAQUE
    )
    root = dialect.create_resource(schema)
    _check_references(SPECIFICATIONS.combine(_LOCAL).resolver_with_root(root), root, ())
    return dict(schema)


def _check_references(resolver: Resolver[Any], resource: referencing.Resource[Any], at: tuple[str, ...]) -> None:
    """BAD_USER_INPUT for the first ``$ref`` or ``$dynamicRef`` in ``resource`` or its
    subschemas that does not resolve within the schema."""
    contents = resource.contents
    if not isinstance(contents, dict):
        return
    for keyword in ("$ref", "$dynamicRef"):
        ref = contents.get(keyword)
        if isinstance(ref, str):
            try:
                resolver.lookup(ref)
            except Unresolvable:
                where = f" at {'/'.join(at)}" if at else ""
                raise BadUserInput(
                    f"schema: the reference {ref!r}{where} does not resolve within the schema"
                    " (references to other documents are not fetched)",
                    field="schema",
                ) from None
    # The dialect's subschemas (not every object below a keyword: an enum or a default may
    # hold objects with a "$ref" member that are data), each with its path for the message.
    subschemas = {id(sub.contents): sub for sub in resource.subresources()}
    for path, value in _below(contents, at):
        sub = subschemas.get(id(value))
        if sub is not None:
            _check_references(resolver.in_subresource(sub), sub, path)


def _below(contents: JSONObject, at: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    # The objects one or two levels below each keyword (items, properties/x, allOf/0).
    found: list[tuple[tuple[str, ...], Any]] = []
    for key, value in contents.items():
        found.append(((*at, key), value))
        if isinstance(value, dict):
            found += [((*at, key, k), v) for k, v in value.items()]
        elif isinstance(value, list):
            found += [((*at, key, str(i)), v) for i, v in enumerate(value)]
    return found


@functools.lru_cache(maxsize=256)
def _validator(schema_text: str) -> Any:
    schema = orjson.loads(schema_text)
    return _validator_class(schema)(schema, registry=_LOCAL)


def check_attributes(kind: NodeKindDecl, attributes: JSONObject, *, field: str = "attributes") -> None:
    """BAD_USER_INPUT naming the first place where ``attributes`` break the kind's schema.
    References are resolved within the schema only: nothing is fetched."""
    if kind.schema is None:
        return
    validator = _validator(orjson.dumps(kind.schema, option=orjson.OPT_SORT_KEYS).decode())
    try:
        error: ValidationError | None = jsonschema.exceptions.best_match(validator.iter_errors(attributes))
    except Unresolvable as unresolvable:
        raise BadUserInput(
            f"{field}: the {kind.name} kind's schema has a reference that does not resolve within it ({unresolvable})",
            field=field,
        ) from None
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        at = f"{field}/{where}" if where else field
        raise BadUserInput(f"{at}: {error.message} (the {kind.name} kind's schema)", field=field)


async def _declarations(reader: Reader) -> tuple[dict[str, NodeKindDecl], dict[str, EdgeKindDecl]]:
    nodes, edges = await reader.declared_kinds()
    return {k.name: k for k in nodes}, {k.name: k for k in edges}


async def declare_node_kind(
    store: Store,
    *,
    name: str,
    description: str | None = None,
    schema: Any = None,
) -> Declared:
    name = _declared_name(name, field="name")
    if name in BUILTIN_KINDS or name == Kind.CUSTOM.value:
        raise BadUserInput(f"name: {name!r} is a kind of the data dictionary", field="name")
    description = _description(description)
    schema = _check_schema(schema)

    async def work(tx: Tx) -> Declared:
        nodes, _ = await _declarations(tx)
        held = nodes.get(name)
        if held is not None:
            differ = [
                f for f, a, b in (("description", held.description, description), ("schema", held.schema, schema)) if a != b
            ]
            if differ:
                raise Conflict(f"node kind {name!r} is declared with another {' and '.join(differ)}", field="name")
            return Declared(held, created=False)
        if len(nodes) >= MAX_KINDS:
            raise BadUserInput(f"at most {MAX_KINDS} node kinds can be declared", field="name")
        declared = NodeKindDecl(name, description, schema, utcnow())
        await found_free(tx.insert_kinds([declared], []))
        return Declared(declared, created=True)

    return await atomically(store, work)


def _end(value: str, nodes: dict[str, NodeKindDecl], *, field: str) -> str:
    if value in BUILTIN_KINDS or value in nodes:
        return value
    raise BadUserInput(f"{field}: {value!r} is neither a kind of the data dictionary nor a declared node kind", field=field)


async def declare_edge_kind(
    store: Store,
    *,
    name: str,
    from_kind: str,
    to_kind: str,
    upstream: End | None,
    description: str | None = None,
) -> Declared:
    name = _declared_name(name, field="name")
    description = _description(description)

    async def work(tx: Tx) -> Declared:
        nodes, edges = await _declarations(tx)
        ends = (_end(from_kind, nodes, field="fromKind"), _end(to_kind, nodes, field="toKind"))
        held = edges.get(name)
        if held is not None:
            stated = {"fromKind": ends[0], "toKind": ends[1], "upstream": upstream, "description": description}
            stored = {
                "fromKind": held.from_kind,
                "toKind": held.to_kind,
                "upstream": held.upstream,
                "description": held.description,
            }
            differ = [f for f in stated if stated[f] != stored[f]]
            if differ:
                raise Conflict(f"edge kind {name!r} is declared with another {', '.join(differ)}", field="name")
            return Declared(held, created=False)
        if len(edges) >= MAX_KINDS:
            raise BadUserInput(f"at most {MAX_KINDS} edge kinds can be declared", field="name")
        declared = EdgeKindDecl(name, ends[0], ends[1], upstream, description, utcnow())
        await found_free(tx.insert_kinds([], [declared]))
        return Declared(declared, created=True)

    return await atomically(store, work)


def kind_name(node: Node) -> str:
    """The kind a node is of as an edge's end names it: a built-in kind's value, or the
    declared kind of a custom node."""
    return str(node.fields.get("kind")) if node.kind is Kind.CUSTOM else node.kind.value


def _edge_kind(edges: dict[str, EdgeKindDecl], name: str, *, field: str) -> EdgeKindDecl:
    declared = edges.get(name)
    if declared is None:
        raise NotFound(f"{field}: no edge kind {name!r} is declared", field=field)
    return declared


def _fits(declared: EdgeKindDecl, from_node: Node, to_node: Node, *, field: str) -> None:
    for end, node, wanted in (("from", from_node, declared.from_kind), ("to", to_node, declared.to_kind)):
        if kind_name(node) != wanted:
            raise BadUserInput(f"{field}: a {declared.name} edge's {end} end is a {wanted}, not a {kind_name(node)}", field=field)


def _edge(declared: EdgeKindDecl, from_node: Node, to_node: Node) -> Edge:
    return Edge(declared.edge_kind, from_node.id, to_node.id, utcnow(), upstream=declared.upstream)


async def _new_edges(tx: Tx, edges: Sequence[Edge]) -> list[Linked]:
    """Writes those of ``edges`` that are not stored yet (each once); each edge as stored,
    and whether it is new."""
    held = await tx.stored_edges(edges)
    fresh: dict[tuple[str, str, str], Edge] = {}
    for edge, at in zip(edges, held):
        if at is None:
            fresh.setdefault((edge.kind, edge.from_id, edge.to_id), edge)
    if fresh:
        await found_free(tx.insert_edges(list(fresh.values())))
    return [Linked(edge, True) if at is None else Linked(replace(edge, created_at=at), False) for edge, at in zip(edges, held)]


async def log_custom_node(
    store: Store,
    *,
    kind: str,
    name: str,
    tags: Any = None,
    attributes: Any = None,
    links: Sequence[LinkSpec] = (),
    allowed_projects: frozenset[str] | None = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
) -> Registered:
    inputs = _inputs(locals())
    inputs["links"] = [(link.edge_kind, link.from_id, link.to_id) for link in links]
    name = validate.name(name)
    tags = validate.tags(tags)
    attributes = validate.json_object(attributes)
    if len(links) > MAX_LINKS:
        raise BadUserInput(f"links: at most {MAX_LINKS} a call", field="links")
    for i, link in enumerate(links):
        if (link.from_id is None) == (link.to_id is None):
            raise BadUserInput(f"links[{i}]: give fromId or toId, not both or neither", field=f"links[{i}]")

    async def work(tx: Tx) -> Registered:
        nodes, edges = await _declarations(tx)
        declared = nodes.get(kind)
        if declared is None:
            raise NotFound(f"kind: no node kind {kind!r} is declared", field="kind")
        [found] = await tx.find_named([NameKey(Kind.CUSTOM, name, kind)])
        node = found[0] if found else None
        created = node is None
        if node is None:
            check_attributes(declared, attributes)
            node = _node(Kind.CUSTOM, name, scope=kind, tags=tags, attributes=attributes, fields={"kind": kind})
        others = await tx.get_nodes([link.from_id or link.to_id or "" for link in links])
        wanted: list[Edge] = []
        for i, (link, other) in enumerate(zip(links, others)):
            at = f"links[{i}]"
            edge_kind = _edge_kind(edges, link.edge_kind, field=f"{at}.edgeKind")
            if other is None:
                raise NotFound(f"{at}: no node with this id", field=f"{at}.{'fromId' if link.from_id else 'toId'}")
            await check_project(tx, allowed_projects, other)
            ends = (other, node) if link.from_id is not None else (node, other)
            _fits(edge_kind, *ends, field=at)
            wanted.append(_edge(edge_kind, *ends))
        if created:
            await _insert_new(tx, [node])
            if wanted:
                await _new_edges_of_new(tx, wanted)
        elif wanted:
            await _new_edges(tx, wanted)
        return Registered(node, created=created)

    return await _commit(store, idempotency_key, "log_custom_node", inputs, work, then)


async def _new_edges_of_new(tx: Tx, edges: Sequence[Edge]) -> None:
    """A new node's edges: none is stored yet; one named twice is written once."""
    await tx.insert_edges(list({(e.kind, e.from_id, e.to_id): e for e in edges}.values()))


async def link_nodes(
    store: Store,
    *,
    edge_kind: str,
    from_id: str,
    to_id: str,
    allowed_projects: frozenset[str] | None = None,
) -> Linked:
    async def work(tx: Tx) -> Linked:
        _, edges = await _declarations(tx)
        declared = _edge_kind(edges, edge_kind, field="edgeKind")
        from_node, to_node = await tx.get_nodes([from_id, to_id])
        if from_node is None:
            raise NotFound("fromId: no node with this id", field="fromId")
        if to_node is None:
            raise NotFound("toId: no node with this id", field="toId")
        for node in (from_node, to_node):
            await check_project(tx, allowed_projects, node)
        _fits(declared, from_node, to_node, field="edgeKind")
        [linked] = await _new_edges(tx, [_edge(declared, from_node, to_node)])
        return linked

    return await atomically(store, work)


async def check_custom_attributes(tx: Tx, node: Node, attributes: JSONObject) -> None:
    """What ``updateAttributes`` would leave a custom node meets its kind's schema."""
    nodes, _ = await _declarations(tx)
    declared = nodes.get(kind_name(node))
    if declared is not None:
        check_attributes(declared, attributes)
