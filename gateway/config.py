"""Settings, read once from the environment (``METAGATE_*``) and an optional ``.env``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from starlette.config import Config

from metagate.resolvers.queries import Limits


@dataclass(frozen=True)
class Settings:
    STORE: str = "./metagate.db"
    HOST: str = "127.0.0.1"
    PORT: int = 8000
    LOG_LEVEL: str = "info"
    AUTH: bool = True
    LIMITS: Limits = field(default_factory=Limits)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _flag(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    words = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
    if value.strip().lower() not in words:
        raise ValueError(f"METAGATE_AUTH must be true or false, not {value!r}")
    return words[value.strip().lower()]


_LIMIT_VARIABLES = {
    "max_page": "MAX_PAGE_SIZE",
    "max_ids": "MAX_IDS",
    "max_lineage_depth": "MAX_LINEAGE_DEPTH",
    "max_lineage_nodes": "MAX_LINEAGE_NODES",
    "max_query_depth": "MAX_QUERY_DEPTH",
    "max_query_tokens": "MAX_QUERY_TOKENS",
    "max_aliases": "MAX_ALIASES",
    "max_batch_runs": "MAX_BATCH_RUNS",
    "max_body_bytes": "MAX_BODY_BYTES",
    "deadline_seconds": "DEADLINE_SECONDS",
}


def load(env_file: str | None = ".env") -> Settings:
    # A missing .env is normal: the environment alone configures the gateway.
    config = Config(env_file if env_file and Path(env_file).is_file() else None, env_prefix="METAGATE_")
    defaults = Settings()
    limits = Limits(
        **{
            name: config(env, cast=type(getattr(defaults.LIMITS, name)), default=getattr(defaults.LIMITS, name))
            for name, env in _LIMIT_VARIABLES.items()
        }
    )
    return Settings(
        STORE=config("STORE", default=defaults.STORE),
        HOST=config("HOST", default=defaults.HOST),
        PORT=config("PORT", cast=int, default=defaults.PORT),
        LOG_LEVEL=config("LOG_LEVEL", default=defaults.LOG_LEVEL),
        AUTH=config("AUTH", cast=_flag, default=defaults.AUTH),
        LIMITS=limits,
    )
