"""An operation's variables coerced as graphql-core coerces them, faster for long lists
of numbers: a logMetrics batch is thousands of floats and ints, and graphql-core
dispatches on the type of each of them, then walks the whole value once more to check
its depth. Here a list of built-in Float or Int is checked in one pass and kept as it
is. Anything else takes graphql-core's rules, and a value that is not valid (or too
deep, or a variable left to its default) is handed to graphql-core's
``get_variable_values`` whole, so its errors are graphql-core's own."""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Collection, Mapping
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLFloat,
    GraphQLID,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    GraphQLString,
    Undefined,
    VariableDefinitionNode,
    is_leaf_type,
    is_required_input_field,
)
from graphql.execution.get_variable_signature import get_variable_signature
from graphql.execution.values import VariableValues, VariableValueSource, get_variable_values
from graphql.language.parser import MAX_NESTING_DEPTH
from graphql.pyutils import is_iterable
from graphql.type.scalars import GRAPHQL_MAX_INT, GRAPHQL_MIN_INT
from graphql.utilities.coerce_input_value import coerce_default_value

_UNCHANGING = (str, int, float, dt.date, dt.time, dt.timedelta, enum.Enum)  # bool is an int; datetime a date


class _Invalid(Exception):
    """The value is not one graphql-core would accept: graphql-core says why."""


def variable_values(
    schema: GraphQLSchema, definitions: Collection[VariableDefinitionNode], inputs: Mapping[str, Any]
) -> VariableValues | list[GraphQLError]:
    """What ``get_variable_values`` answers for these variables."""
    sources: dict[str, VariableValueSource] = {}
    coerced: dict[str, Any] = {}
    memo: dict[tuple[str, str], Any] = {}
    try:
        for definition in definitions:
            signature = get_variable_signature(schema, definition)
            if isinstance(signature, GraphQLError):
                raise _Invalid
            name = signature.name
            value = inputs.get(name, Undefined)
            if value is Undefined:
                if definition.default_value or isinstance(signature.type, GraphQLNonNull):
                    raise _Invalid
                sources[name] = VariableValueSource(signature)
                continue
            sources[name] = VariableValueSource(signature, value)
            coerced[name] = _coerce(value, signature.type, 0, memo)
    except (_Invalid, RecursionError):
        return get_variable_values(schema, definitions, dict(inputs))
    return VariableValues(sources, coerced)


def _coerce(value: Any, type_: GraphQLInputType, depth: int, memo: dict[tuple[str, str], Any]) -> Any:
    """``coerce_input_value``, raising _Invalid where it answers Undefined. ``memo``
    holds what a text of a scalar other than String and ID came to, where that is a value
    that cannot change (a batch's points share their timestamp, parsed once)."""
    if depth > MAX_NESTING_DEPTH:
        raise _Invalid
    if isinstance(type_, GraphQLNonNull):
        if value is None or value is Undefined:
            raise _Invalid
        type_ = type_.of_type
    elif value is None or value is Undefined:
        if isinstance(type_, GraphQLList) and depth + 1 > MAX_NESTING_DEPTH:
            raise _Invalid  # graphql-core's depth check takes a null list for a list of one null
        return None
    if isinstance(type_, GraphQLList):
        item_type = type_.of_type
        if not is_iterable(value):
            return [_coerce(value, item_type, depth + 1, memo)]
        numbers = _numbers(value, item_type) if depth + 1 <= MAX_NESTING_DEPTH else None
        if numbers is not None:
            return numbers
        return [_coerce(item, item_type, depth + 1, memo) for item in value]
    if isinstance(type_, GraphQLInputObjectType):
        return _object(value, type_, depth, memo)
    if not is_leaf_type(type_):
        raise _Invalid
    remembered = type(value) is str and type_ is not GraphQLString and type_ is not GraphQLID
    if remembered and (type_.name, value) in memo:
        return memo[type_.name, value]
    try:
        out = type_.coerce_input_value(value)
    except Exception as error:  # noqa: BLE001 - graphql-core treats any failure as invalid
        raise _Invalid from error
    if remembered and isinstance(out, _UNCHANGING):
        memo[type_.name, value] = out
    return out


def _object(value: Any, type_: GraphQLInputObjectType, depth: int, memo: dict[tuple[str, str], Any]) -> Any:
    if not isinstance(value, dict) or type_.is_one_of:
        raise _Invalid
    fields = type_.fields
    if any(name not in fields for name, given in value.items() if given is not Undefined):
        raise _Invalid
    out: dict[str, Any] = {}
    for name, field in fields.items():
        given = value.get(name, Undefined)
        if given is Undefined:
            if name in value and depth + 1 > MAX_NESTING_DEPTH:
                raise _Invalid  # graphql-core's depth check counts a field left Undefined too
            if is_required_input_field(field):
                raise _Invalid
            default = coerce_default_value(field)
            if default is not Undefined:
                out[field.out_name or name] = default
        else:
            out[field.out_name or name] = _coerce(given, field.type, depth + 1, memo)
    return type_.out_type(out)


def _numbers(value: Any, item_type: GraphQLInputType) -> list[Any] | None:
    """A list of finite floats for Float, of 32-bit ints for Int, checked in one pass
    and kept as they are (what coercing each would give); None for any other list."""
    leaf = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
    if not isinstance(value, list) or not value:
        return None
    if leaf is GraphQLFloat:
        if all(type(v) is float for v in value) and all(map(math.isfinite, value)):
            return list(value)
    elif leaf is GraphQLInt:
        if all(type(v) is int for v in value) and GRAPHQL_MIN_INT <= min(value) and max(value) <= GRAPHQL_MAX_INT:
            return list(value)
    return None
