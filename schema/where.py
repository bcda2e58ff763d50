"""The ``where`` filter language of the lists: per kind an input of ``AND``, ``OR``, ``NOT``,
operators on the kind's fields and predicates on its neighbours, made from the data
dictionary (``store.model.KINDS``): a kind's typed fields and navigation fields are its
where's fields too. ``to_where`` makes the store's tree (``store.port.Where``) of it,
checked and bounded, and both adapters compile that tree into the list's one query."""

from __future__ import annotations

import datetime as dt
import enum
import math
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.scalars import JSON

from metagate.resolvers import validate
from metagate.schema.types import RunStatus, field_enum
from metagate.store.errors import BadUserInput
from metagate.store.model import KINDS, Kind, KindSpec, TypedField, ValueType
from metagate.store.port import AllOf, AnyOf, Compare, NotOf, Op, Related, Subject, Where

MAX_WHERE_TERMS = 64  # tests, neighbours and AND/OR/NOT in one where
MAX_WHERE_DEPTH = 4  # neighbour steps within neighbour steps
# How deep conditions nest: one level per AND, OR or NOT, three per neighbour step (a
# subquery). SQLite's parser stack is fixed: 36 nested NOTs, or 4 neighbour steps with 4
# NOTs in each, overflow it; 16 keeps a margin (tests/test_where.py runs the deepest
# shapes allowed).
MAX_WHERE_NESTING = 16
_STEP_NESTING = 3
MAX_IN = 100  # values of one `in`


@strawberry.input(description="Text compared. Every operator given must hold; case and accents count.")
class StringPredicate:
    eq: str | None = None
    in_: list[str] | None = strawberry.field(default=None, name="in")
    contains: str | None = None
    starts_with: str | None = None


@strawberry.input(description="A time compared. Every operator given must hold.")
class TimePredicate:
    eq: dt.datetime | None = None
    in_: list[dt.datetime] | None = strawberry.field(default=None, name="in")
    lt: dt.datetime | None = None
    lte: dt.datetime | None = None
    gt: dt.datetime | None = None
    gte: dt.datetime | None = None


@strawberry.input(description="A run status compared.")
class RunStatusPredicate:
    eq: RunStatus | None = None
    in_: list[RunStatus] | None = strawberry.field(default=None, name="in")


@strawberry.input(description="The metric `name`, a number, compared; a node without it as a number matches none.")
class MetricPredicate:
    name: str
    eq: float | None = None
    lt: float | None = None
    lte: float | None = None
    gt: float | None = None
    gte: float | None = None


@strawberry.input(
    description="The attribute `key` equal to a JSON scalar (`eq`, null included) or to one of several (`in`);"
    " a number equals a number, a boolean a boolean."
)
class AttributePredicate:
    key: str
    eq: JSON | None = strawberry.UNSET
    in_: list[JSON] | None = strawberry.field(default=None, name="in")


_PREDICATES: dict[ValueType, type] = {
    ValueType.TEXT: StringPredicate,
    ValueType.TIME: TimePredicate,
    ValueType.RUN_STATUS: RunStatusPredicate,
    ValueType.METRIC: MetricPredicate,
}
_SUBJECTS = {
    ValueType.TEXT: Subject.TEXT,
    ValueType.TIME: Subject.TIME,
    ValueType.RUN_STATUS: Subject.TEXT,
    ValueType.METRIC: Subject.METRIC,
}
_OPS = (Op.EQ, Op.IN, Op.CONTAINS, Op.STARTS_WITH, Op.LT, Op.LTE, Op.GT, Op.GTE)


def _choice_predicate(f: TypedField) -> str:
    """The name of ``<Enum>Predicate`` (eq, in) for an ENUM field, made once per enum and
    kept in this module's globals, where the where types' annotations are resolved."""
    name = f"{f.enum}Predicate"
    if name not in globals():
        choice = field_enum(f)
        namespace = {
            "__module__": __name__,
            "__qualname__": name,
            "__annotations__": {"eq": choice | None, "in_": list[choice] | None},  # type: ignore[valid-type]
            "eq": None,
            "in_": strawberry.field(default=None, name="in"),
        }
        described = f"A {f.enum} compared (a node without one has {f.default})." if f.default else f"A {f.enum} compared."
        globals()[name] = strawberry.input(type(name, (), namespace), description=described)
    return name


def _where_type(spec: KindSpec) -> type:
    """``<Type>Where``: AND, OR, NOT, the Node fields, the kind's typed fields (but JSON
    ones) and its navigation, each an optional input; all given must hold."""
    name = f"{spec.graphql}Where"
    annotations: dict[str, Any] = {
        "all_of": f"list[{name}] | None",
        "any_of": f"list[{name}] | None",
        "not_": f"{name} | None",
        "name": "StringPredicate | None",
        "created_at": "TimePredicate | None",
        "tags": "StringPredicate | None",
        "attribute": "AttributePredicate | None",
    }
    namespace: dict[str, Any] = {
        "__module__": __name__,
        "__qualname__": name,
        "all_of": strawberry.field(default=None, name="AND", description="Every one matches."),
        "any_of": strawberry.field(default=None, name="OR", description="At least one matches."),
        "not_": strawberry.field(default=None, name="NOT", description="It does not match."),
        "tags": strawberry.field(default=None, description="One of the node's tags matches."),
    }
    for f in spec.fields:
        if f.graphql in annotations:
            raise ValueError(f"{name}.{f.graphql}: the input has a field of that name already")
        if f.type in _PREDICATES or f.type is ValueType.ENUM:
            predicate = _choice_predicate(f) if f.type is ValueType.ENUM else _PREDICATES[f.type].__name__
            annotations[f.graphql] = f"{predicate} | None"
            namespace[f.graphql] = strawberry.field(default=None, name=f.graphql)
    for n in spec.navigation:
        target = KINDS[n.target].graphql
        annotations[n.graphql] = f"{target}Where | None"
        how = "One of the nodes" if n.many else "The node"
        namespace[n.graphql] = strawberry.field(default=None, name=n.graphql, description=f"{how} at `{n.graphql}` matches.")
    for field in annotations:
        namespace.setdefault(field, None)
    namespace["__annotations__"] = annotations
    made: type = strawberry.input(type(name, (), namespace), description=f"Which {spec.graphql} nodes a list keeps.")
    return made


if TYPE_CHECKING:
    # For the type checker, the classes made below from KINDS under their names.
    ProjectWhere = Any
    DatasetWhere = Any
    FeaturesetWhere = Any
    ModelWhere = Any
    RunWhere = Any
    DeploymentWhere = Any
    ModelVersionWhere = Any

WHERES: dict[Kind, type] = {kind: _where_type(spec) for kind, spec in KINDS.items()}
# Module globals under their GraphQL names: the inputs refer to each other by name.
globals().update({cls.__name__: cls for cls in WHERES.values()})


class _Budget:
    def __init__(self) -> None:
        self.terms = 0

    def spend(self, field: str) -> None:
        self.terms += 1
        if self.terms > MAX_WHERE_TERMS:
            raise BadUserInput(f"where: at most {MAX_WHERE_TERMS} conditions", field=field)


def to_where(kind: Kind, given: Any, field: str = "where") -> Where:
    """The store's where tree of a ``<Type>Where`` input; BAD_USER_INPUT naming the part
    that is wrong."""
    return _where(kind, given, field, _Budget(), 0, 0)


def _where(kind: Kind, given: Any, at: str, budget: _Budget, depth: int, nesting: int) -> Where:
    spec = KINDS[kind]
    parts: list[Where] = []
    budget.spend(at)
    if nesting > MAX_WHERE_NESTING:
        raise BadUserInput(
            f"where: conditions nest at most {MAX_WHERE_NESTING} levels deep (AND, OR and NOT one each,"
            f" a neighbour {_STEP_NESTING})",
            field=at,
        )
    inner = nesting + 1
    if given.all_of is not None:
        parts.append(AllOf(tuple(_where(kind, g, f"{at}.AND[{i}]", budget, depth, inner) for i, g in enumerate(given.all_of))))
    if given.any_of is not None:
        parts.append(AnyOf(tuple(_where(kind, g, f"{at}.OR[{i}]", budget, depth, inner) for i, g in enumerate(given.any_of))))
    if given.not_ is not None:
        parts.append(NotOf(_where(kind, given.not_, f"{at}.NOT", budget, depth, inner)))
    if given.name is not None:
        parts += _tests(Subject.NAME, None, given.name, f"{at}.name", budget)
    if given.created_at is not None:
        parts += _tests(Subject.CREATED_AT, None, given.created_at, f"{at}.createdAt", budget)
    if given.tags is not None:
        parts += _tests(Subject.TAG, None, given.tags, f"{at}.tags", budget)
    if given.attribute is not None:
        parts += _attribute(given.attribute, f"{at}.attribute", budget)
    for f in spec.fields:
        value = getattr(given, f.graphql, None) if f.type in _PREDICATES or f.type is ValueType.ENUM else None
        if value is not None:
            key = f.key
            if f.type is ValueType.METRIC:
                key = validate.metric_name(value.name, field=f"{at}.{f.graphql}.name")
            if f.type is ValueType.ENUM:
                parts += _tests(Subject.CHOICE, key, value, f"{at}.{f.graphql}", budget, f.default)
            else:
                parts += _tests(_SUBJECTS[f.type], key, value, f"{at}.{f.graphql}", budget)
    for n in spec.navigation:
        value = getattr(given, n.graphql, None)
        if value is not None:
            if depth + 1 > MAX_WHERE_DEPTH:
                raise BadUserInput(f"where: at most {MAX_WHERE_DEPTH} neighbour steps deep", field=f"{at}.{n.graphql}")
            inside = _where(n.target, value, f"{at}.{n.graphql}", budget, depth + 1, nesting + _STEP_NESTING)
            parts.append(Related(n.edge_kind, n.step, inside))
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def _tests(
    subject: Subject, key: str | None, predicate: Any, at: str, budget: _Budget, default: str | None = None
) -> list[Where]:
    """The comparisons of one predicate; one without an operator says nothing to compare."""
    tests: list[Where] = []
    for op in _OPS:
        value = getattr(predicate, "in_" if op is Op.IN else _python_name(op), None)
        if value is None:
            continue
        budget.spend(at)
        field = f"{at}.{op.value}"
        if op is Op.IN:
            if len(value) > MAX_IN:
                raise BadUserInput(f"{field}: at most {MAX_IN} values", field=field)
            value = tuple(_operand(subject, v, field) for v in value)
        else:
            value = _operand(subject, value, field)
            if op in (Op.CONTAINS, Op.STARTS_WITH) and value == "":
                raise BadUserInput(f"{field}: give at least one character", field=field)
        tests.append(Compare(subject, op, value, key, default))
    if not tests:
        raise BadUserInput(f"{at}: give at least one operator", field=at)
    return tests


def _python_name(op: Op) -> str:
    return "starts_with" if op is Op.STARTS_WITH else op.value


def _operand(subject: Subject, value: Any, field: str) -> Any:
    if isinstance(value, dt.datetime):
        return validate.time(value, field=field)
    if isinstance(value, enum.Enum):  # RunStatus, and the data dictionary's ENUM fields
        return value.value
    if isinstance(value, str):
        # Composed (NFC) and no longer than a name, as names are kept.
        value = validate.text_in_names(value, field=field)
    if isinstance(value, float) and not math.isfinite(value):
        raise BadUserInput(f"{field}: compare with a finite number (not NaN or Infinity)", field=field)
    return value


def _attribute(given: Any, at: str, budget: _Budget) -> list[Where]:
    tests: list[Where] = []
    key = validate.attribute_key(given.key, field=f"{at}.key")
    if given.eq is not strawberry.UNSET:
        budget.spend(at)
        tests.append(Compare(Subject.ATTRIBUTE, Op.EQ, _scalar(given.eq, f"{at}.eq"), key))
    if given.in_ is not None:
        budget.spend(at)
        if len(given.in_) > MAX_IN:
            raise BadUserInput(f"{at}.in: at most {MAX_IN} values", field=f"{at}.in")
        tests.append(Compare(Subject.ATTRIBUTE, Op.IN, tuple(_scalar(v, f"{at}.in") for v in given.in_), key))
    if not tests:
        raise BadUserInput(f"{at}: give eq or in", field=at)
    return tests


def _scalar(value: Any, field: str) -> Any:
    if isinstance(value, (dict, list)):
        raise BadUserInput(f"{field}: compare with a string, number, boolean or null", field=field)
    if isinstance(value, float) and not math.isfinite(value):
        raise BadUserInput(f"{field}: compare with a finite number (not NaN or Infinity)", field=field)
    if isinstance(value, int) and not isinstance(value, bool) and not validate.fits_int64(value):
        raise BadUserInput(f"{field}: {validate.INT64_RANGE}", field=field)
    return value
