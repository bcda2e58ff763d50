"""Checks every root field against the caller's role before it runs.

The check wraps the resolvers of the root fields themselves, in the built schema, rather
than running as a per-field hook: nested fields are reached only through a root field,
and a hook would be called for each of them (thousands in a page of nested lineage)."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLSchema, default_field_resolver

from metagate.resolvers.authz import PUBLIC_FIELDS, required_role
from metagate.store.errors import Forbidden, Unauthenticated


def check(info: Any) -> None:
    """Raises unless the caller may call the root field `info` is about."""
    if info.field_name in PUBLIC_FIELDS:
        return
    context = info.context
    principal = context.principal
    if principal is None:
        raise context.auth_error or Unauthenticated("send an API token: Authorization: Bearer mg_...")
    needed = required_role(info.parent_type.name, info.field_name)
    if needed is None:
        raise Forbidden(f"{info.field_name} has no access rule; nobody may call it")
    if not principal.may(needed):
        raise Forbidden(f"{info.field_name} needs the {needed.value} role; this token is {principal.role.value}")


def guard(schema: GraphQLSchema) -> None:
    """Puts the check in front of the resolver of every root field of `schema`."""
    for root in (schema.query_type, schema.mutation_type, schema.subscription_type):
        if root is None:
            continue
        for field in root.fields.values():
            if root is schema.subscription_type and field.subscribe is not None:
                # Checked as the subscription starts, before anything is read.
                field.subscribe = _guarded(field.subscribe)
            else:
                field.resolve = _guarded(field.resolve or default_field_resolver)


def _guarded(resolve: Any) -> Any:
    def guarded(root: Any, info: Any, **arguments: Any) -> Any:
        check(info)
        return resolve(root, info, **arguments)

    guarded.__wrapped__ = resolve  # type: ignore[attr-defined]
    return guarded
