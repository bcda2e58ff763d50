"""Input checks shared by every mutation and query. Each failure is BAD_USER_INPUT."""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import orjson

from metagate.store.errors import BadUserInput
from metagate.store.model import JSONObject, format_time
from metagate.store.port import METRIC_NAME

MAX_NAME = 200
MAX_TAG = 100
MAX_TAGS = 50
MAX_JSON_BYTES = 64 * 1024
MAX_JSON_DEPTH = 20
# The one range of integers Metagate takes, in attributes, stored JSON and filters alike.
INT64_RANGE = "integers must fit in 64 bits, signed (-2^63 to 2^63 - 1)"


def fits_int64(value: int) -> bool:
    return -(2**63) <= value < 2**63


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" for c in text)


def name(value: str, *, field: str = "name") -> str:
    """A name as it is kept and looked up: composed (NFC, so that "café" typed either way
    is one name), without surrounding spaces, and without control or format characters
    (bidi overrides and isolates, zero-width spaces and joiners, byte-order marks:
    characters that hide or reorder what a name shows)."""
    value = unicodedata.normalize("NFC", value).strip()
    if not value:
        raise BadUserInput(f"{field} must not be empty", field=field)
    if len(value) > MAX_NAME:
        raise BadUserInput(f"{field} is longer than {MAX_NAME} characters", field=field)
    if _has_control(value):
        raise BadUserInput(f"{field} must not contain control characters", field=field)
    if any(unicodedata.category(c) == "Cf" for c in value):
        raise BadUserInput(f"{field} must not contain format characters (bidi controls, zero-width ones)", field=field)
    return value


def text_in_names(value: str | None, *, field: str) -> str | None:
    """Text to find within names: composed as names are, and no longer than one."""
    if value is None:
        return None
    value = unicodedata.normalize("NFC", value)
    if len(value) > MAX_NAME:
        raise BadUserInput(f"{field} is longer than {MAX_NAME} characters, the longest a name is", field=field)
    return value


def attribute_key(value: str, *, field: str) -> str:
    """An attribute's key to look for: taken as stored, whatever its characters (keys
    are the client's JSON, not names), neither empty nor longer than a name."""
    if not value:
        raise BadUserInput(f"{field} must not be empty", field=field)
    if len(value) > MAX_NAME:
        raise BadUserInput(f"{field} is longer than {MAX_NAME} characters", field=field)
    return value


def optional_name(value: str | None, *, field: str) -> str | None:
    return None if value is None else name(value, field=field)


def tags(values: Sequence[str] | None, *, field: str = "tags") -> tuple[str, ...]:
    if not values:
        return ()
    if len(values) > MAX_TAGS:
        raise BadUserInput(f"{field}: at most {MAX_TAGS} tags", field=field)
    out = []
    for tag in values:
        tag = tag.strip()
        if not tag or len(tag) > MAX_TAG or _has_control(tag):
            raise BadUserInput(
                f"{field}: each tag is 1 to {MAX_TAG} characters without control characters",
                field=field,
            )
        out.append(tag)
    return tuple(dict.fromkeys(out))


def _check_json(value: Any, field: str, depth: int = 0) -> None:
    if depth > MAX_JSON_DEPTH:
        raise BadUserInput(f"{field} is nested deeper than {MAX_JSON_DEPTH} levels", field=field)
    if isinstance(value, int) and not isinstance(value, bool) and not fits_int64(value):
        raise BadUserInput(f"{field}: {INT64_RANGE}", field=field)
    if isinstance(value, float) and not math.isfinite(value):
        raise BadUserInput(f"{field} must not contain NaN or Infinity", field=field)
    if isinstance(value, str) and "\x00" in value:
        raise BadUserInput(f"{field} must not contain NUL characters", field=field)
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or "\x00" in key:
                raise BadUserInput(f"{field} keys must be strings without NUL", field=field)
            _check_json(item, field, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, field, depth + 1)
    elif not isinstance(value, (str, int, float, bool, type(None))):
        raise BadUserInput(f"{field} must be JSON", field=field)


def json_object(value: Any, *, field: str = "attributes") -> JSONObject:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadUserInput(f"{field} must be a JSON object", field=field)
    _check_json(value, field)
    if len(orjson.dumps(value)) > MAX_JSON_BYTES:
        raise BadUserInput(f"{field} is larger than {MAX_JSON_BYTES} bytes", field=field)
    return value


def metric_name(value: str, *, field: str = "metric") -> str:
    if not METRIC_NAME.fullmatch(value):
        raise BadUserInput(
            f"{field}: metric names start with a letter or _ and hold letters, digits, _ . : - (at most 128)",
            field=field,
        )
    return value


def metrics(value: Any, *, field: str = "metrics") -> dict[str, float]:
    obj = json_object(value, field=field)
    for key, number in obj.items():
        metric_name(key, field=field)
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise BadUserInput(f"{field}: {key} must be a number", field=field)
    return obj


def time(value: dt.datetime | None, *, field: str = "time") -> str | None:
    # Times without a zone are taken as UTC.
    if value is None:
        return None
    try:
        return format_time(value)
    except ValueError as error:
        raise BadUserInput(f"{field}: {error}", field=field) from None


def page_size(first: int | None, *, default: int, maximum: int) -> int:
    if first is None:
        return default
    if first < 0 or first > maximum:
        raise BadUserInput(f"first must be between 0 and {maximum}", field="first")
    return first


_DURATION = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> dt.timedelta:
    """A span as `30d`, `12h`, `90m`, `2w` or `45s` (one whole number and its unit);
    ValueError otherwise."""
    found = _DURATION.fullmatch(text.strip().lower())
    if found is None or int(found[1]) == 0:
        raise ValueError("must be a whole number above 0 and a unit: s, m, h, d or w (e.g. 30d)")
    return dt.timedelta(seconds=int(found[1]) * _UNITS[found[2]])
