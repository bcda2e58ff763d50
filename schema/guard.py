"""Checks every root field against the caller's role before it runs."""

from __future__ import annotations

from typing import Any

from strawberry.extensions import SchemaExtension

from resolvers.authz import PUBLIC_FIELDS, required_role
from store.errors import Forbidden, Unauthenticated


class Guard(SchemaExtension):
    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        if info.path.prev is None and info.field_name not in PUBLIC_FIELDS:
            context = info.context
            principal = context.principal
            if principal is None:
                raise context.auth_error or Unauthenticated("send an API token: Authorization: Bearer mg_...")
            needed = required_role(info.parent_type.name, info.field_name)
            if needed is None:
                raise Forbidden(f"{info.field_name} has no access rule; nobody may call it")
            if not principal.may(needed):
                raise Forbidden(f"{info.field_name} needs the {needed.value} role; this token is {principal.role.value}")
        return _next(root, info, *args, **kwargs)
