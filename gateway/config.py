"""Settings, read once from the environment (``METAGATE_*``) and an optional ``.env``.

A value that cannot be used is a :class:`SettingError` naming the setting and what it
accepts; every bad value is reported, not just the first. ``METAGATE_*`` names that
are not settings are returned as warnings with the closest known name, since a
misspelled setting would otherwise be ignored without a word.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from starlette.config import Config

from metagate.resolvers.queries import Limits
from metagate.resolvers.validate import parse_duration

PREFIX = "METAGATE_"


@dataclass(frozen=True)
class Settings:
    STORE: str = "./metagate.db"
    HOST: str = "127.0.0.1"
    PORT: int = 8000
    LOG_LEVEL: str = "info"
    AUTH: bool = True
    # Serving: processes, and what a connection may hold of them.
    WORKERS: int = 1
    MAX_CONNECTIONS: int = 1000
    HEADER_TIMEOUT_SECONDS: float = 10.0
    BODY_TIMEOUT_SECONDS: float = 30.0
    SHUTDOWN_SECONDS: float = 20.0
    # The built web UI (``make ui``); empty: ui/dist of the checkout the gateway runs from.
    UI_DIR: str = ""
    # How long a deleted node is kept before the gateway purges it for good (`30d`);
    # empty: kept until `metagate gc` is run.
    RETENTION: str = ""
    LIMITS: Limits = field(default_factory=Limits)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


class SettingError(ValueError):
    """One or more settings cannot be used; ``problems`` has one line for each, and
    ``warnings`` the unknown names found beside them."""

    def __init__(self, problems: list[str], warnings: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.warnings = warnings


# The limits a deployment may change, by their environment names.
LIMIT_VARIABLES = {
    "MAX_PAGE_SIZE": "max_page",
    "MAX_IDS": "max_ids",
    "MAX_LINEAGE_DEPTH": "max_lineage_depth",
    "MAX_LINEAGE_NODES": "max_lineage_nodes",
    "MAX_QUERY_DEPTH": "max_query_depth",
    "MAX_QUERY_TOKENS": "max_query_tokens",
    "MAX_ALIASES": "max_aliases",
    "MAX_QUERY_COST": "max_query_cost",
    "MAX_BATCH_RUNS": "max_batch_runs",
    "MAX_BODY_BYTES": "max_body_bytes",
    "MAX_RESPONSE_BYTES": "max_response_bytes",
    "DEADLINE_SECONDS": "deadline_seconds",
}
# The settings held by Settings itself, beside the limits.
PLAIN_VARIABLES = (
    "STORE",
    "HOST",
    "PORT",
    "LOG_LEVEL",
    "AUTH",
    "WORKERS",
    "MAX_CONNECTIONS",
    "HEADER_TIMEOUT_SECONDS",
    "BODY_TIMEOUT_SECONDS",
    "SHUTDOWN_SECONDS",
    "UI_DIR",
    "RETENTION",
)
SERVER_VARIABLES = (*PLAIN_VARIABLES, *LIMIT_VARIABLES)
# Read by the client (metagate-client), not by the gateway: known, so not warned about.
CLIENT_VARIABLES = ("URL", "TOKEN")
# The test suite's own variables (METAGATE_TEST_ARANGO_URL, ...).
TEST_PREFIX = PREFIX + "TEST_"
LOG_LEVELS = ("debug", "info", "warning", "error")
_FLAGS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def defaults() -> dict[str, str]:
    """Every server setting's environment name and its default, as text."""
    base = Settings()
    values: dict[str, Any] = {name: getattr(base, name) for name in PLAIN_VARIABLES}
    values.update({env: getattr(base.LIMITS, attr) for env, attr in LIMIT_VARIABLES.items()})
    return {PREFIX + name: str(value).lower() if isinstance(value, bool) else str(value) for name, value in values.items()}


def _flag(text: str) -> bool:
    if text.strip().lower() not in _FLAGS:
        raise ValueError("must be true or false")
    return _FLAGS[text.strip().lower()]


def _port(text: str) -> int:
    value = _whole(text)
    if not 1 <= value <= 65535:
        raise ValueError("must be a port number from 1 to 65535")
    return value


def _whole(text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError("must be a whole number") from None
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError("must be a number of seconds") from None
    if not 0 < value < float("inf"):
        raise ValueError("must be a number of seconds above 0")
    return value


def _log_level(text: str) -> str:
    if text.strip().lower() not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return text.strip().lower()


def _text(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text.strip()


def _host(text: str) -> str:
    # [::1] as in a URL is the address ::1.
    return _text(text).removeprefix("[").removesuffix("]")


def _retention(text: str) -> str:
    if text.strip():
        parse_duration(text)
    return text.strip()


def unknown_names(names: Mapping[str, str]) -> list[str]:
    """A warning for each ``METAGATE_*`` name that no part of Metagate reads."""
    known = [PREFIX + name for name in (*SERVER_VARIABLES, *CLIENT_VARIABLES)]
    warnings = []
    for name in sorted(names):
        if not name.startswith(PREFIX) or name in known or name.startswith(TEST_PREFIX):
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else "; the settings are listed in .env.example"
        warnings.append(f"{name} is not a Metagate setting and is ignored{hint}")
    return warnings


@dataclass(frozen=True)
class Loaded:
    settings: Settings
    warnings: list[str]


PARSERS: dict[str, Callable[[str], Any]] = {
    "STORE": _text,
    "HOST": _host,
    "PORT": _port,
    "LOG_LEVEL": _log_level,
    "AUTH": _flag,
    "WORKERS": _whole,
    "MAX_CONNECTIONS": _whole,
    "HEADER_TIMEOUT_SECONDS": _seconds,
    "BODY_TIMEOUT_SECONDS": _seconds,
    "SHUTDOWN_SECONDS": _seconds,
    "UI_DIR": _text,
    "RETENTION": _retention,
    **{env: _seconds if isinstance(getattr(Limits(), attr), float) else _whole for env, attr in LIMIT_VARIABLES.items()},
}


def read(env_file: str | None = ".env", environ: Mapping[str, str] | None = None, names: Collection[str] | None = None) -> Loaded:
    """The settings, and a warning for each unknown ``METAGATE_*`` name in the
    environment or in ``env_file``. ``names``: the settings to read (by default all);
    the others keep their defaults and are not checked, so that a command is not
    refused for a setting it does not use. Raises :class:`SettingError` for bad values."""
    environ = os.environ if environ is None else environ
    # A missing .env is normal: the environment alone configures the gateway.
    config = Config(env_file if env_file and Path(env_file).is_file() else None, environ=environ, env_prefix=PREFIX)
    problems: list[str] = []
    values: dict[str, Any] = {}
    for name, parse in PARSERS.items():
        raw = config(name, default=None) if names is None or name in names else None
        if raw is None:
            continue
        try:
            values[name] = parse(str(raw))
        except ValueError as error:
            problems.append(f"{PREFIX}{name} {error}, not {raw!r}")
    warnings = unknown_names({**config.file_values, **environ})
    if problems:
        raise SettingError(problems, warnings)
    limits = Limits(**{attr: values[env] for env, attr in LIMIT_VARIABLES.items() if env in values})
    plain = {name: values[name] for name in PLAIN_VARIABLES if name in values}
    return Loaded(Settings(**plain, LIMITS=limits), warnings)


def load(env_file: str | None = ".env") -> Settings:
    """The settings alone (for callers that do not report warnings)."""
    return read(env_file).settings
