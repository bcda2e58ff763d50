"""The compiled path's variable coercion answers what graphql-core's answers, for every
input type of the schema: the same coerced values, and the same errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    ListTypeNode,
    NamedTypeNode,
    NameNode,
    OperationDefinitionNode,
    VariableDefinitionNode,
    VariableNode,
    parse,
)
from graphql.execution.values import VariableValues, get_variable_values
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from metagate.schema import build_schema
from metagate.schema.variables import variable_values

SCHEMA: GraphQLSchema = build_schema()._schema
INPUTS = sorted(name for name, t in SCHEMA.type_map.items() if isinstance(t, GraphQLInputObjectType))

_JUNK = st.none() | st.booleans() | st.text(max_size=4) | st.just({"no": 1}) | st.just([])
_NUMBERS = (
    st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 1.0, 1.5, 2.0**31])
)
_TIMES = st.datetimes(timezones=st.none() | st.just(dt.UTC)).map(lambda t: t.isoformat()) | st.sampled_from(
    ["2026-12-03T10:00:00Z", "not a time", "2026-13-01T00:00:00"]
)


def values_of(type_: GraphQLInputType, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values a client might send for ``type_``: mostly fitting it, some not."""
    if isinstance(type_, GraphQLNonNull):
        return values_of(type_.of_type, depth) | st.just(None).filter(lambda _: depth > 0)
    if isinstance(type_, GraphQLList):
        item = values_of(type_.of_type, depth + 1)
        return st.lists(item, max_size=4) | item | _JUNK
    if isinstance(type_, GraphQLInputObjectType):
        if depth > 2:
            return _JUNK
        fields = {name: values_of(field.type, depth + 1) for name, field in type_.fields.items()}
        present = st.fixed_dictionaries({}, optional=fields)
        return present | st.builds(lambda d: {**d, "unknown": 1}, present) | _JUNK
    if isinstance(type_, GraphQLEnumType):
        return st.sampled_from(sorted(type_.values)) | _JUNK
    assert isinstance(type_, GraphQLScalarType)
    if type_.name in ("Float", "Int"):
        return _NUMBERS | _JUNK
    if type_.name == "DateTime":
        return _TIMES | _JUNK
    if type_.name == "JSON":
        return st.recursive(st.none() | st.integers() | st.text(max_size=3), lambda c: st.lists(c, max_size=3), max_leaves=5)
    return st.text(max_size=6) | st.integers(-5, 5) | _JUNK


def _sources(values: VariableValues) -> dict[str, Any]:
    # A signature's type is made afresh from the document each time: compared as printed.
    return {n: (str(s.signature.type), s.signature.default, s.value) for n, s in values.sources.items()}


def _same(type_name: str, value: Any) -> None:
    document = parse(f"query($v: {type_name}) {{ __typename }}")
    [operation] = document.definitions
    assert isinstance(operation, OperationDefinitionNode)
    definitions = operation.variable_definitions
    inputs = {"v": value}
    ours, theirs = variable_values(SCHEMA, definitions, inputs), get_variable_values(SCHEMA, definitions, inputs)
    if isinstance(theirs, list):
        assert isinstance(ours, list)
        assert [e.message for e in ours] == [e.message for e in theirs]
    else:
        assert not isinstance(ours, list), [e.message for e in ours]
        assert ours.coerced == theirs.coerced
        assert _sources(ours) == _sources(theirs)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data(), name=st.sampled_from(INPUTS))
def test_every_input_type_is_coerced_as_graphql_core_coerces_it(data: st.DataObject, name: str) -> None:
    type_ = SCHEMA.type_map[name]
    assert isinstance(type_, GraphQLInputObjectType)
    _same(f"{name}!", data.draw(values_of(GraphQLNonNull(type_)), label=name))


@settings(max_examples=200, deadline=None)
@given(values=st.lists(_NUMBERS, max_size=30) | values_of(GraphQLList(GraphQLNonNull(SCHEMA.type_map["Float"]))))
@example(values=[0.5] * 100 + [float("nan")])
@example(values=[1.0, 2])
@example(values=[True, 1.0])
def test_lists_of_floats_are_coerced_as_graphql_core_coerces_them(values: Any) -> None:
    _same("[Float!]", values)
    _same("[Float]!", values)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(_NUMBERS, max_size=30))
@example(values=[1, 2**31])
@example(values=[1, True])
@example(values=[-(2**31), 2**31 - 1])
def test_lists_of_ints_are_coerced_as_graphql_core_coerces_them(values: Any) -> None:
    _same("[Int!]", values)
    _same("[Int!]!", values)


def test_a_missing_variable_and_a_default_are_graphql_core_s() -> None:
    for text in ("query($v: Int = 3, $w: String) { __typename }", "query($v: Int!) { __typename }"):
        [operation] = parse(text).definitions
        assert isinstance(operation, OperationDefinitionNode)
        ours = variable_values(SCHEMA, operation.variable_definitions, {})
        theirs = get_variable_values(SCHEMA, operation.variable_definitions, {})
        if isinstance(theirs, list):
            assert [e.message for e in ours] == [e.message for e in theirs]  # type: ignore[union-attr]
        else:
            assert not isinstance(ours, list) and ours == theirs


def _nested_type(levels: int) -> VariableDefinitionNode:
    type_node: Any = NamedTypeNode(name=NameNode(value="Float"))
    for _ in range(levels):
        type_node = ListTypeNode(type=type_node)
    return VariableDefinitionNode(variable=VariableNode(name=NameNode(value="v")), type=type_node)


def _nested(levels: int, inner: Any) -> Any:
    for _ in range(levels):
        inner = [inner]
    return inner


TOO_DEEP = ["Variable values are nested too deeply."]


def _deep_where(levels: int, inner: dict[str, Any]) -> dict[str, Any]:
    for _ in range(levels):
        inner = {"NOT": inner}
    return inner


@pytest.mark.parametrize(
    ("what", "definition", "value"),
    [
        ("250 lists", _nested_type(250), _nested(250, 1.0)),
        ("a list of floats below 200 lists", _nested_type(201), _nested(200, [1.0])),
        ("a list of floats at 200 lists", _nested_type(200), _nested(199, [1.0])),
        ("a null list at depth 200", None, _deep_where(199, {"AND": None})),
        ("an empty list at depth 200", None, _deep_where(199, {"AND": []})),
        ("a null list at depth 199", None, _deep_where(198, {"AND": None})),
    ],
)
def test_a_value_nested_too_deeply_is_refused_as_graphql_core_refuses_it(
    what: str, definition: VariableDefinitionNode | None, value: Any
) -> None:
    if definition is None:
        [operation] = parse("query($v: ModelWhere) { __typename }").definitions
        assert isinstance(operation, OperationDefinitionNode)
        [definition] = operation.variable_definitions
    ours = variable_values(SCHEMA, [definition], {"v": value})
    theirs = get_variable_values(SCHEMA, [definition], {"v": value})
    if isinstance(theirs, list):
        assert isinstance(ours, list), what
        assert [e.message for e in ours] == [e.message for e in theirs], what
    else:
        assert not isinstance(ours, list) and ours.coerced == theirs.coerced, what
    accepted = ("a list of floats at 200 lists", "an empty list at depth 200", "a null list at depth 199")
    assert isinstance(theirs, list) == (what not in accepted), what
