"""Global ids and cursors: the opaque strings clients hold."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection
from typing import Any

import orjson

from metagate.store.errors import BadUserInput
from metagate.store.model import Kind, kind_of
from metagate.store.plan import encode_cursor, encode_id
from metagate.store.port import SortKey

__all__ = ["decode_cursor", "decode_id", "encode_cursor", "encode_id"]

_KEY = re.compile(r"[A-Za-z0-9_\-:.@()+,=;$!*'%]{1,254}")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode_id(global_id: str, expect: Kind | Collection[Kind] | None = None, *, field: str = "id") -> str:
    """The store id behind ``global_id``; BAD_USER_INPUT if malformed or of the wrong kind."""
    try:
        node_id = _unb64(global_id).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadUserInput(f"{field}: {global_id[:80]!r} is not a Metagate id", field=field) from None
    kind = kind_of(node_id)
    # Only the canonical spelling is an id: no padding or trailing characters.
    if kind is None or not _KEY.fullmatch(node_id.partition("/")[2]) or encode_id(node_id) != global_id:
        raise BadUserInput(f"{field}: {global_id[:80]!r} is not a Metagate id", field=field)
    allowed = {expect} if isinstance(expect, Kind) else set(expect or ())
    if allowed and kind not in allowed:
        wanted = " or ".join(sorted(k.value for k in allowed))
        raise BadUserInput(f"{field}: expected the id of a {wanted}, got the id of a {kind.value}", field=field)
    return node_id


def decode_cursor(cursor: str | None) -> SortKey | None:
    if cursor is None:
        return None
    try:
        value: Any = orjson.loads(_unb64(cursor))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        value = None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[1], str)
        or not isinstance(value[0], (str, int, float, type(None)))
        or isinstance(value[0], bool)
        or (isinstance(value[0], int) and not -(2**63) <= value[0] < 2**63)
    ):
        raise BadUserInput("after: not a cursor returned by this gateway", field="after")
    return (value[0], value[1])
