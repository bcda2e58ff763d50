"""API tokens: ``mg_<id>_<secret>``. Only a hash of the secret is stored; a presented
token is found by its id and its secret compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from metagate.resolvers.authz import Principal, Role
from metagate.store.errors import BadUserInput, Unauthenticated
from metagate.store.model import Kind, utcnow
from metagate.store.port import NameKey, Store, Token

log = logging.getLogger("metagate")

TOKEN_PATTERN = re.compile(r"mg_([0-9a-f]{16})_([A-Za-z0-9_\-]{43})")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Issued:
    token: Token
    secret: str  # the whole bearer token, shown once


async def issue(store: Store, *, name: str, role: Role, projects: Sequence[str] = ()) -> Issued:
    """Creates a token. ``projects`` (project names) limit a writer or a deployer to
    those projects."""
    if projects and role not in (Role.WRITER, Role.DEPLOYER):
        raise BadUserInput("only writer and deployer tokens are limited to projects")
    project_ids = []
    for project in projects:
        [found] = await store.find_named([NameKey(Kind.PROJECT, project, "")])
        if not found:
            raise BadUserInput(f"no project named {project!r}")
        project_ids.append(found[0].id)
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    token = Token(
        id=token_id,
        name=name,
        role=role.value,
        projects=tuple(project_ids),
        secret_hash=_hash(secret),
        created_at=utcnow(),
    )
    await store.add_token(token)
    return Issued(token, f"mg_{token_id}_{secret}")


class VerifiedTokens:
    """Principals of the tokens verified in the last ``ttl`` seconds. A request whose
    token was verified a moment ago does not wait for one of the store's reader
    connections (which heavy reads may hold) to check it again; a revoked token stops
    working within ``ttl``. Keyed by a hash of the presented token, never the token."""

    def __init__(self, ttl: float = 1.0, size: int = 4096, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.size, self.clock = ttl, size, clock
        self._entries: OrderedDict[str, tuple[float, Principal]] = OrderedDict()

    def get(self, presented: str) -> Principal | None:
        key = _hash(presented)
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self.clock():
            self._entries.pop(key, None)
            return None
        return entry[1]

    def put(self, presented: str, principal: Principal) -> None:
        key = _hash(presented)
        self._entries[key] = (self.clock() + self.ttl, principal)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


async def authenticate(store: Store, authorization: str | None, verified: VerifiedTokens | None = None) -> Principal:
    """The principal behind an ``Authorization: Bearer ...`` header."""
    if not authorization:
        raise Unauthenticated("send an API token: Authorization: Bearer mg_...")
    scheme, _, value = authorization.partition(" ")
    match = TOKEN_PATTERN.fullmatch(value.strip()) if scheme.lower() == "bearer" else None
    if match is None:
        raise Unauthenticated("the Authorization header does not hold a Metagate token")
    known = verified.get(match.group(0)) if verified is not None else None
    if known is not None:
        return known
    token = await store.get_token(match.group(1))
    # Compare a hash even for unknown ids, so that timing tells nothing either way.
    expected = token.secret_hash if token is not None else _hash("")
    matches = hmac.compare_digest(_hash(match.group(2)), expected)
    if token is None or not matches or token.revoked_at is not None:
        raise Unauthenticated("unknown or revoked API token")
    principal = Principal(token_id=token.id, role=Role(token.role), projects=frozenset(token.projects), token_name=token.name)
    if verified is not None:
        verified.put(match.group(0), principal)
    return principal


ADMIN_TOKEN_BANNER = (
    "Metagate created an admin API token. It is shown only this once; keep it safe:\n\n"
    "    {token}\n\n"
    "Send it as `Authorization: Bearer <token>` (in GraphiQL: the Headers tab).\n"
)


def announce_admin_token(secret: str, file: Path, terminal: bool) -> None:
    """Hands the first start's admin token to the operator: on a terminal, shown there;
    otherwise (a service, a container, output a log collector keeps) written to ``file``,
    readable by its owner only, and only the file's path logged."""
    if terminal:
        print(ADMIN_TOKEN_BANNER.format(token=secret), flush=True)
        return
    # A new file, made 0600 and then renamed over the path: a file already there (and
    # anyone holding it open, or a link to it) never sees the token.
    fresh = file.with_name(f".{file.name}.{secrets.token_hex(8)}")
    try:
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, (secret + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(fresh, file)
    except OSError as error:
        fresh.unlink(missing_ok=True)
        log.error(
            "Metagate created an admin API token but could not write it to %s (%s); issue another with"
            " `metagate token create --name admin --role admin`",
            file,
            error.strerror,
        )
        return
    log.warning(
        "Metagate created an admin API token and wrote it to %s, readable by its owner only: read it, then delete the file",
        file,
    )


async def bootstrap_admin(store: Store) -> Issued | None:
    """On first start, with no token at all, creates the admin token (shown once)."""
    if await store.list_tokens():
        return None
    return await issue(store, name="admin (first start)", role=Role.ADMIN)
