"""Chooses the store adapter from a store URL."""

from __future__ import annotations

from metagate.store.port import Store
from metagate.store.sqlite import SQLiteStore


def store_from_url(url: str, *, max_runtime: float | None = None, create: bool = True) -> Store:
    """``sqlite:///relative.db``, ``sqlite:////absolute.db``, ``sqlite:///:memory:``,
    a plain file path (``./metagate.db``, ``:memory:``), or
    ``arangodb+http(s)://user:password@host:8529/database[?graph=name]``.
    ``create=False``: a SQLite file that does not exist is an error, not a new store."""
    if url.startswith("arangodb+"):
        from metagate.store.arango import ArangoStore, parse_url

        return ArangoStore(parse_url(url), max_runtime=max_runtime)
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        path = path.removeprefix("/") if path.startswith("/") else path
        return SQLiteStore(path or "./metagate.db", create=create)
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise ValueError(
            f"unsupported store URL scheme {scheme!r}; use sqlite:///PATH, a file path,"
            " or arangodb+http://user:password@host:8529/database"
        )
    return SQLiteStore(url, create=create)


def redact(url: str) -> str:
    """The store URL as it may be shown: its password replaced by ``***``. Read as text,
    not parsed: a password holding an unescaped ``/``, ``?`` or ``#`` would make a URL
    parser see no password at all (the last ``@`` ends the user information)."""
    scheme, separator, rest = url.partition("://")
    user_info, at, host = rest.rpartition("@")
    if not separator or not at or ":" not in user_info:
        return url
    return f"{scheme}://{user_info.split(':', 1)[0]}:***@{host}"
